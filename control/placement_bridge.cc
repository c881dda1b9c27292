#include "control/placement_bridge.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "control/diff.h"

namespace nest::control {
namespace {

placement::HostState ToPlacement(store::HostState s) {
  switch (s) {
    case store::HostState::kReady:
      return placement::HostState::kReady;
    case store::HostState::kCordoned:
      return placement::HostState::kCordoned;
    case store::HostState::kDraining:
      return placement::HostState::kDraining;
    case store::HostState::kDown:
      return placement::HostState::kDown;
  }
  return placement::HostState::kDown;
}

}  // namespace

std::string ScopedKey(const TenantId& tenant, absl::string_view name) {
  return absl::StrCat(tenant.str(), "/", name);
}

Resources GroupShape(const store::VmGroup& g) {
  return Resources::Of(g.vcpus * 1000, g.memory_mib, g.disk_mib);
}

PlacementInput BuildPlacementInput(const store::Snapshot& s,
                                   const PlacementParams& params) {
  PlacementInput in;
  std::set<std::string> host_ids;
  for (const auto& h : s.hosts) {
    placement::Host ph;
    ph.id = h.name;
    ph.capacity = h.capacity;
    // Never reserve more than there is: a small host just gets no room.
    ph.reserved = params.host_reserved;
    for (int d = 0; d < kDims; ++d) {
      if (ph.reserved.v[d] > h.capacity.v[d])
        ph.reserved.v[d] = h.capacity.v[d];
    }
    ph.labels = h.labels;
    ph.state = ToPlacement(h.state);
    in.state.hosts.push_back(std::move(ph));
    host_ids.insert(h.name.str());
  }
  for (const auto& t : s.tenants) {
    const store::Quota& q = t.quota;
    if (!q.vms && !q.vcpus && !q.memory_mib) continue;
    placement::TenantQuota pq;
    pq.tenant = t.name;
    pq.vms = q.vms;
    if (q.vcpus) pq.milli_cpu = *q.vcpus * 1000;
    pq.memory_mib = q.memory_mib;
    in.state.quotas.push_back(std::move(pq));
  }
  std::map<std::string, const store::VmGroup*> groups;
  for (const auto& g : s.groups) {
    std::string key = ScopedKey(g.tenant, g.name.str());
    groups[key] = &g;
    in.groups[key] = {g.tenant, g.name};
    placement::Group pg;
    pg.id = GroupId(key);
    pg.tenant = g.tenant;
    pg.shape = GroupShape(g);
    pg.vmm_overhead_mib = params.vmm_overhead_mib;
    pg.min_vms = static_cast<int>(std::max(g.min_size, g.desired_size));
    if (g.max_size > 0) pg.max_vms = static_cast<int>(g.max_size);
    pg.policy = g.placement == store::PlacementPolicy::kSpread
                    ? placement::GroupPolicy::kSpread
                    : placement::GroupPolicy::kBinpack;
    pg.spread_label = g.spread_label;
    in.state.groups.push_back(std::move(pg));
  }
  std::map<std::string, const store::Workload*> workloads;
  for (const auto& w : s.workloads) {
    workloads[ScopedKey(w.tenant, w.name.str())] = &w;
  }
  std::map<std::string, placement::Vm*> vms;
  in.state.vms.reserve(s.vms.size());
  for (const auto& v : s.vms) {
    if (v.desired == store::VmDesiredState::kDeleted || v.host.empty() ||
        !host_ids.count(v.host.str())) {
      continue;
    }
    auto g = groups.find(ScopedKey(v.tenant, v.group.str()));
    if (g == groups.end()) continue;
    placement::Vm pv;
    pv.id = v.id;
    pv.group = GroupId(g->first);
    pv.tenant = v.tenant;
    pv.host = v.host;
    pv.shape = GroupShape(*g->second);
    pv.vmm_overhead_mib = params.vmm_overhead_mib;
    pv.cordoned = v.cordoned;
    in.state.vms.push_back(std::move(pv));
  }
  for (auto& pv : in.state.vms) vms[pv.id.str()] = &pv;

  for (const auto& c : s.containers) {
    if (c.desired != store::ContainerDesiredState::kRunning) continue;
    auto w = workloads.find(ScopedKey(c.tenant, c.workload.str()));
    if (w == workloads.end()) continue;
    const store::Workload& wl = *w->second;
    placement::Container pc;
    pc.id = c.id;
    pc.workload = WorkloadId(w->first);
    pc.tenant = c.tenant;
    pc.group = GroupId(ScopedKey(c.tenant, wl.target_group.str()));
    pc.requests = wl.requests;
    pc.priority = static_cast<int>(wl.priority);
    pc.isolation = wl.isolation == store::Isolation::kDedicated
                       ? placement::Isolation::kDedicated
                       : placement::Isolation::kShared;
    // Containers of a VM share its network namespace, so two replicas
    // listening on the same port cannot share a VM.
    if (!wl.ports.empty()) {
      pc.anti_affinity = placement::AntiAffinity::kDistinctVms;
    }
    if (!c.vm.empty()) {
      auto vm = vms.find(c.vm.str());
      if (vm != vms.end()) vm->second->containers.push_back(std::move(pc));
      continue;
    }
    // Finished replicas hold no resources and need no place.
    if (c.observed == store::ContainerObservedState::kExited) continue;
    if (!groups.count(pc.group.str())) {
      in.invalid[c.id] =
          absl::StrCat("VM group \"", wl.target_group.str(),
                       "\" of workload \"", wl.name.str(), "\" does not exist");
      continue;
    }
    in.pending.containers.push_back(std::move(pc));
  }
  return in;
}

VmId NewVmId(const GroupId& group, const std::set<std::string>& taken,
             Rng& rng) {
  return VmId(NewSuffixedId(group.str(), taken, rng));
}

}  // namespace nest::control
