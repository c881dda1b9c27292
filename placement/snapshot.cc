#include "placement/snapshot.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace nest::placement {
namespace {

// Enough buckets that a bucket holds a few dozen of 10,000 hosts, few
// enough that skipping empty ones costs nothing.
constexpr int kHostBuckets = 256;
constexpr int kVmBuckets = 32;

uint64_t Key(int w, int i) {
  return (static_cast<uint64_t>(w) << 32) | static_cast<uint32_t>(i);
}

absl::Status CheckResources(absl::string_view what, const std::string& id,
                            const Resources& r) {
  if (r.any_negative()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " ", id, " must have non-negative resources, got ",
                     r.ToString()));
  }
  return absl::OkStatus();
}

}  // namespace

absl::string_view HostStateName(HostState s) {
  switch (s) {
    case HostState::kReady:
      return "ready";
    case HostState::kCordoned:
      return "cordoned";
    case HostState::kDraining:
      return "draining";
    case HostState::kDown:
      return "down";
  }
  return "unknown";
}

Resources VmHostDemand(const Resources& shape, int64_t overhead_mib) {
  Resources r = shape;
  r[Dim::kMemoryMiB] += overhead_mib;
  return r;
}

Resources VmRec::HostDemand() const {
  return VmHostDemand(spec.shape, spec.vmm_overhead_mib);
}

absl::StatusOr<Snapshot> Snapshot::Build(const ClusterState& state) {
  Snapshot s;
  int64_t max_free_memory = 1;
  for (const Host& h : state.hosts) {
    if (h.id.empty()) return absl::InvalidArgumentError("host id is empty");
    NEST_RETURN_IF_ERROR(CheckResources("host", h.id.str(), h.capacity));
    NEST_RETURN_IF_ERROR(CheckResources("host", h.id.str(), h.reserved));
    HostRec rec;
    rec.spec = h;
    for (int d = 0; d < kDims; ++d) {
      double ratio = h.overcommit[d];
      if (!(ratio > 0)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "host ", h.id.str(), " overcommit for ",
            DimName(static_cast<Dim>(d)), " must be > 0, got ", ratio));
      }
      int64_t base = std::max<int64_t>(h.capacity.v[d] - h.reserved.v[d], 0);
      rec.allocatable.v[d] =
          static_cast<int64_t>(std::floor(static_cast<double>(base) * ratio));
    }
    max_free_memory = std::max(max_free_memory, rec.allocatable.memory_mib());
    if (!s.host_by_id_.emplace(h.id.str(), s.hosts_.size()).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("host id ", h.id.str(), " is not unique"));
    }
    s.hosts_.push_back(std::move(rec));
  }
  s.ready_hosts_ = BucketIndex(max_free_memory, kHostBuckets);

  for (const Group& g : state.groups) {
    if (g.id.empty()) return absl::InvalidArgumentError("group id is empty");
    NEST_RETURN_IF_ERROR(CheckResources("group", g.id.str(), g.shape));
    if (g.min_vms < 0 || g.max_vms < g.min_vms) {
      return absl::InvalidArgumentError(absl::StrCat(
          "group ", g.id.str(), " needs 0 <= min_vms <= max_vms, got ",
          g.min_vms, " and ", g.max_vms));
    }
    if (!s.group_by_id_.emplace(g.id.str(), s.groups_.size()).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("group id ", g.id.str(), " is not unique"));
    }
    GroupRec rec;
    rec.spec = g;
    rec.by_free_memory = BucketIndex(g.shape.memory_mib(), kVmBuckets);
    s.groups_.push_back(std::move(rec));
    Resources demand = VmHostDemand(g.shape, g.vmm_overhead_mib);
    if (std::find(s.known_vm_demands_.begin(), s.known_vm_demands_.end(),
                  demand) == s.known_vm_demands_.end()) {
      s.known_vm_demands_.push_back(demand);
    }
    if (!g.spread_label.empty()) s.domains_[g.spread_label];
  }
  for (auto& [label, values] : s.domains_) {
    for (const HostRec& h : s.hosts_) {
      auto it = h.spec.labels.find(label);
      if (h.spec.state == HostState::kReady && it != h.spec.labels.end()) {
        values.insert(it->second);
      }
    }
  }
  for (const TenantQuota& q : state.quotas) {
    for (const auto& [dim, v] :
         {std::pair{"vms", q.vms}, std::pair{"milli_cpu", q.milli_cpu},
          std::pair{"memory_mib", q.memory_mib}}) {
      if (v && *v < 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("quota of tenant ", q.tenant.str(), ": ", dim,
                         " must be >= 0, got ", *v));
      }
    }
    TenantRec rec;
    rec.quota = q;
    if (!s.tenants_.emplace(q.tenant.str(), std::move(rec)).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("tenant ", q.tenant.str(), " has more than one quota"));
    }
  }
  for (const Vm& vm : state.vms) NEST_RETURN_IF_ERROR(s.AddVmRec(vm));
  for (int h = 0; h < s.host_count(); ++h) s.ReindexHost(h);
  return s;
}

absl::Status Snapshot::AddVmRec(Vm vm) {
  if (vm.id.empty()) return absl::InvalidArgumentError("vm id is empty");
  NEST_RETURN_IF_ERROR(CheckResources("vm", vm.id.str(), vm.shape));
  std::optional<int> host = FindHost(vm.host);
  if (!host) {
    return absl::InvalidArgumentError(
        absl::StrCat("vm ", vm.id.str(), " must be on a known host, got \"",
                     vm.host.str(), "\""));
  }
  std::optional<int> group = FindGroup(vm.group);
  if (!group) {
    return absl::InvalidArgumentError(absl::StrCat(
        "vm ", vm.id.str(), " must belong to a known group, got \"",
        vm.group.str(), "\""));
  }
  int idx = vm_count();
  if (!vm_by_id_.emplace(vm.id.str(), idx).second) {
    return absl::InvalidArgumentError(
        absl::StrCat("vm id ", vm.id.str(), " is not unique"));
  }
  VmRec rec;
  rec.group = *group;
  rec.host = *host;
  std::vector<Container> containers = std::move(vm.containers);
  rec.spec = std::move(vm);
  vms_.push_back(std::move(rec));
  VmRec& r = vms_.back();
  HostRec& h = hosts_[r.host];
  h.used += r.HostDemand();
  ++h.vm_count;
  GroupRec& g = groups_[r.group];
  r.group_pos = static_cast<int>(g.vms.size());
  g.vms.push_back(idx);
  ++g.live_vms;
  CountTenantVm(r, 1);
  if (!g.spec.spread_label.empty()) {
    auto it = h.spec.labels.find(g.spec.spread_label);
    if (it != h.spec.labels.end()) ++g.vms_per_domain[it->second];
  }
  for (const Container& c : containers) {
    NEST_RETURN_IF_ERROR(AddContainer(idx, c));
  }
  Reindex(idx);
  return absl::OkStatus();
}

std::optional<int> Snapshot::FindHost(const HostId& id) const {
  auto it = host_by_id_.find(id.str());
  if (it == host_by_id_.end()) return std::nullopt;
  return it->second;
}
std::optional<int> Snapshot::FindVm(const VmId& id) const {
  auto it = vm_by_id_.find(id.str());
  if (it == vm_by_id_.end()) return std::nullopt;
  return it->second;
}
std::optional<int> Snapshot::FindGroup(const GroupId& id) const {
  auto it = group_by_id_.find(id.str());
  if (it == group_by_id_.end()) return std::nullopt;
  return it->second;
}

int Snapshot::WorkloadIndex(const WorkloadId& id) const {
  auto it = workload_by_id_.find(id.str());
  return it == workload_by_id_.end() ? -1 : it->second;
}

int Snapshot::ReplicasOnVm(int w, int vm) const {
  if (w < 0) return 0;
  auto it = vm_replicas_.find(Key(w, vm));
  return it == vm_replicas_.end() ? 0 : it->second;
}

int Snapshot::ReplicasOnHost(int w, int host) const {
  if (w < 0) return 0;
  auto it = host_replicas_.find(Key(w, host));
  return it == host_replicas_.end() ? 0 : it->second;
}

const std::set<std::string>& Snapshot::Domains(const std::string& label) const {
  static const std::set<std::string> kNone;
  auto it = domains_.find(label);
  return it == domains_.end() ? kNone : it->second;
}

VmId Snapshot::FreshVmId(int group) const {
  const std::string& base = groups_[group].spec.id.str();
  for (size_t n = groups_[group].vms.size() + 1;; ++n) {
    std::string id = absl::StrCat(base, "-", n);
    if (!vm_by_id_.contains(id)) return VmId(std::move(id));
  }
}

void Snapshot::CountReplica(const Container& c, int vm, int delta) {
  if (c.workload.empty()) return;
  auto [it, inserted] = workload_by_id_.emplace(
      c.workload.str(), static_cast<int>(workload_by_id_.size()));
  int w = it->second;
  auto bump = [delta](absl::flat_hash_map<uint64_t, int>& m, uint64_t k) {
    int& n = m[k];
    n += delta;
    if (n <= 0) m.erase(k);
  };
  bump(vm_replicas_, Key(w, vm));
  bump(host_replicas_, Key(w, vms_[vm].host));
}

void Snapshot::Reindex(int vm) {
  VmRec& r = vms_[vm];
  GroupRec& g = groups_[r.group];
  if (r.retired) {
    g.by_free_memory.Erase(r.group_pos);
  } else {
    g.by_free_memory.Update(r.group_pos, r.free().memory_mib());
  }
}

void Snapshot::ReindexHost(int host) {
  const HostRec& h = hosts_[host];
  if (h.spec.state != HostState::kReady) return;
  ready_hosts_.Update(host, h.free().memory_mib());
}

absl::Status Snapshot::Apply(const Plan& plan) {
  for (const Action& a : plan.actions) NEST_RETURN_IF_ERROR(Apply(a));
  return absl::OkStatus();
}

absl::Status Snapshot::Apply(const Action& action) {
  if (const auto* create = std::get_if<CreateVm>(&action)) {
    return AddVm(*create).status();
  }
  if (const auto* place = std::get_if<PlaceContainer>(&action)) {
    std::optional<int> vm = FindVm(place->vm);
    if (!vm) {
      return absl::InvalidArgumentError(absl::StrCat(
          "PlaceContainer needs a known vm, got \"", place->vm.str(), "\""));
    }
    return AddContainer(*vm, place->container);
  }
  const auto& stop = std::get<StopContainer>(action);
  std::optional<int> vm = FindVm(stop.vm);
  if (!vm) {
    return absl::InvalidArgumentError(absl::StrCat(
        "StopContainer needs a known vm, got \"", stop.vm.str(), "\""));
  }
  return RemoveContainer(*vm, stop.container).status();
}

absl::StatusOr<int> Snapshot::AddVm(const CreateVm& create) {
  Vm vm;
  vm.id = create.vm;
  vm.group = create.group;
  vm.tenant = create.tenant;
  vm.host = create.host;
  vm.shape = create.shape;
  vm.vmm_overhead_mib = create.vmm_overhead_mib;
  NEST_RETURN_IF_ERROR(AddVmRec(std::move(vm)));
  int idx = vm_count() - 1;
  ReindexHost(vms_[idx].host);
  return idx;
}

absl::Status Snapshot::AddContainer(int vm, const Container& c) {
  NEST_RETURN_IF_ERROR(CheckResources("container", c.id.str(), c.requests));
  VmRec& r = vms_[vm];
  r.used += c.requests;
  if (c.isolation == Isolation::kDedicated) ++r.dedicated;
  r.spec.containers.push_back(c);
  CountReplica(c, vm, +1);
  Reindex(vm);
  return absl::OkStatus();
}

absl::StatusOr<Container> Snapshot::RemoveContainer(int vm,
                                                    const ContainerId& id) {
  VmRec& r = vms_[vm];
  auto it = std::find_if(r.spec.containers.begin(), r.spec.containers.end(),
                         [&](const Container& c) { return c.id == id; });
  if (it == r.spec.containers.end()) {
    return absl::NotFoundError(absl::StrCat("container ", id.str(),
                                            " is not on vm ", r.spec.id.str()));
  }
  Container c = std::move(*it);
  r.spec.containers.erase(it);
  r.used -= c.requests;
  if (c.isolation == Isolation::kDedicated) --r.dedicated;
  CountReplica(c, vm, -1);
  Reindex(vm);
  return c;
}

void Snapshot::SetRetired(int vm, bool retired) {
  VmRec& r = vms_[vm];
  if (r.retired == retired) return;
  r.retired = retired;
  groups_[r.group].live_vms += retired ? -1 : 1;
  CountTenantVm(r, retired ? -1 : 1);
  Reindex(vm);
}

void Snapshot::CountTenantVm(const VmRec& r, int delta) {
  auto it = tenants_.find(r.spec.tenant.str());
  if (it == tenants_.end()) return;
  it->second.live_vms += delta;
  if (delta > 0) {
    it->second.used += r.HostDemand();
  } else {
    it->second.used -= r.HostDemand();
  }
}

const TenantRec* Snapshot::tenant(const TenantId& id) const {
  auto it = tenants_.find(id.str());
  return it == tenants_.end() ? nullptr : &it->second;
}

std::string TenantRec::Exceeded(const Resources& demand) const {
  if (quota.vms && live_vms + 1 > *quota.vms) {
    return absl::StrCat("vms ", live_vms, " of ", *quota.vms);
  }
  if (quota.milli_cpu &&
      used.milli_cpu() + demand.milli_cpu() > *quota.milli_cpu) {
    return absl::StrCat("vcpus ", used.milli_cpu() / 1000.0, " + ",
                        demand.milli_cpu() / 1000.0, " > ",
                        *quota.milli_cpu / 1000.0);
  }
  if (quota.memory_mib &&
      used.memory_mib() + demand.memory_mib() > *quota.memory_mib) {
    return absl::StrCat("memory ", used.memory_mib(), " + ",
                        demand.memory_mib(), " > ", *quota.memory_mib, " MiB");
  }
  return "";
}

}  // namespace nest::placement
