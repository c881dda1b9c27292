// Autoscale sizing, by simulation with the same checkers and packer that
// Schedule uses (never by dividing totals).
#pragma once

#include <vector>

#include "core/rng.h"
#include "placement/model.h"
#include "placement/snapshot.h"
#include "placement/stack.h"

namespace nest::placement {

struct ScaleUp {
  int new_vms = 0;                       // VMs the pending containers need
  std::vector<CreateVm> vms;             // where they would go
  std::vector<ContainerId> unplaceable;  // fit nowhere even with new VMs
  bool exceeds_max = false;  // current + new_vms > the group's max_vms
  // The new VMs would take the tenant past its quota (TenantRec::Exceeded
  // of the first one that does not pass, e.g. "vms 3 of 3"); empty if not.
  std::string exceeds_quota;
};

// Simulates Schedule on a copy of `s` with the group's max_vms and its
// tenant's quota lifted, for
// the containers of `pending` that belong to `group`. NotFound for an
// unknown group.
[[nodiscard]] absl::StatusOr<ScaleUp> SizeScaleUp(
    const Snapshot& s, const GroupId& group,
    const std::vector<Container>& pending, Rng& rng,
    const Options& options = {});

struct ScaleDown {
  std::vector<VmId> removable;  // can be emptied and stopped
  // How to empty them: StopContainer then PlaceContainer per container.
  std::vector<Action> moves;
};

// Which VMs of `group` can be emptied because their containers fit in the
// group's other VMs (same checkers), without going below min_vms. Tries
// the emptiest VMs first; each success is committed before the next try.
[[nodiscard]] absl::StatusOr<ScaleDown> SizeScaleDown(
    const Snapshot& s, const GroupId& group, Rng& rng,
    const Options& options = {});

}  // namespace nest::placement
