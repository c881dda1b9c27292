// Translation between the store's view and placement's model: one place
// that knows how store rows become placement hosts, VMs and containers, and
// how a Plan becomes store rows.
#pragma once

#include <map>
#include <set>
#include <string>
#include <utility>

#include "core/rng.h"
#include "placement/model.h"
#include "store/types.h"

namespace nest::control {

struct PlacementParams {
  int64_t vmm_overhead_mib = 64;
  Resources host_reserved;
};

struct PlacementInput {
  placement::ClusterState state;
  placement::Pending pending;
  // Placement group id -> (tenant, group) in the store.
  std::map<std::string, std::pair<TenantId, GroupId>> groups;
  // Pending containers that cannot be asked about (no such group), with a
  // message for their row.
  std::map<ContainerId, std::string> invalid;
};

// Placement keys groups and workloads by "tenant/name" so that equal names
// in different tenants never mix.
std::string ScopedKey(const TenantId& tenant, absl::string_view name);

// The VM shape of a store group.
Resources GroupShape(const store::VmGroup& g);

PlacementInput BuildPlacementInput(const store::Snapshot& s,
                                   const PlacementParams& params);

// VM ids are "<group>-<5 random [a-z0-9]>", unique in `taken`.
VmId NewVmId(const GroupId& group, const std::set<std::string>& taken,
             Rng& rng);

}  // namespace nest::control
