// Small builders for placement tests.
#pragma once

#include <string>
#include <variant>
#include <vector>

#include "doctest/doctest.h"
#include "placement/model.h"
#include "placement/snapshot.h"

namespace nest::placement::testing {

inline Host MakeHost(const std::string& id, int64_t cpu_milli, int64_t mem,
                     Labels labels = {}) {
  Host h;
  h.id = HostId(id);
  h.capacity = Resources::Of(cpu_milli, mem, 100000);
  h.labels = std::move(labels);
  h.overcommit = {1.0, 1.0, 1.0};
  return h;
}

inline Group MakeGroup(const std::string& id, const std::string& tenant,
                       int64_t cpu_milli, int64_t mem) {
  Group g;
  g.id = GroupId(id);
  g.tenant = TenantId(tenant);
  g.shape = Resources::Of(cpu_milli, mem, 1000);
  return g;
}

inline Container MakeContainer(const std::string& id, const std::string& group,
                               const std::string& tenant, int64_t cpu_milli,
                               int64_t mem, const std::string& workload = "w") {
  Container c;
  c.id = ContainerId(id);
  c.group = GroupId(group);
  c.tenant = TenantId(tenant);
  c.workload = WorkloadId(workload);
  c.requests = Resources::Of(cpu_milli, mem, 0);
  return c;
}

inline Vm MakeVm(const std::string& id, const Group& g,
                 const std::string& host) {
  Vm v;
  v.id = VmId(id);
  v.group = g.id;
  v.tenant = g.tenant;
  v.host = HostId(host);
  v.shape = g.shape;
  v.vmm_overhead_mib = g.vmm_overhead_mib;
  return v;
}

inline Snapshot MustBuild(const ClusterState& state) {
  absl::StatusOr<Snapshot> s = Snapshot::Build(state);
  REQUIRE_MESSAGE(s.ok(), s.status().ToString());
  return *std::move(s);
}

template <typename T>
std::vector<T> ActionsOf(const Plan& plan) {
  std::vector<T> out;
  for (const Action& a : plan.actions) {
    if (const T* t = std::get_if<T>(&a)) out.push_back(*t);
  }
  return out;
}

}  // namespace nest::placement::testing
