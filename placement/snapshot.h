// Snapshot: an indexed, mutable copy of the cluster that placement reads.
// Schedule() only reads it; the caller commits a Plan with Apply() before
// the next decision (cheap: O(actions), no rebuild).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "core/status.h"
#include "placement/bucket_index.h"
#include "placement/model.h"

namespace nest::placement {

struct HostRec {
  Host spec;
  Resources allocatable;  // (capacity - reserved) * overcommit
  Resources used;         // shapes (+ VMM overhead) of its VMs
  int vm_count = 0;
  Resources free() const { return allocatable - used; }
};

struct VmRec {
  Vm spec;  // spec.containers are the containers placed so far
  int group = -1;
  int group_pos = -1;  // position in GroupRec::vms: its key in the index
  int host = -1;
  Resources used;        // sum of the containers' requests
  int dedicated = 0;     // containers with Isolation::kDedicated
  bool retired = false;  // simulation: no longer takes containers
  Resources free() const { return spec.shape - used; }
  // What the VM takes from its host.
  Resources HostDemand() const;
};

struct GroupRec {
  Group spec;
  std::vector<int> vms;  // every VM of the group, retired included
  int live_vms = 0;      // not retired
  // Live VMs by free memory; items are positions in `vms`, so the index
  // stays dense per group.
  BucketIndex by_free_memory;
  std::map<std::string, int> vms_per_domain;  // spread_label value -> VMs
};

// A tenant's quota and what its live VMs hold against it.
struct TenantRec {
  TenantQuota quota;
  int live_vms = 0;
  Resources used;  // host demands (shape + VMM overhead) of live VMs
  // Empty when one more VM of `demand` fits; otherwise names the limit,
  // e.g. "vms 2 of 2".
  std::string Exceeded(const Resources& demand) const;
};

// Memory a VM of `shape` and `overhead_mib` takes from its host.
Resources VmHostDemand(const Resources& shape, int64_t overhead_mib);

// Thread-compatible: concurrent const access is safe, mutation needs
// external synchronization. Copyable (Schedule copies once per call when a
// pending list needs several decisions).
class Snapshot {
 public:
  // Validates ids (unique, non-empty), references (VM host and group) and
  // resources (non-negative), then indexes everything.
  [[nodiscard]] static absl::StatusOr<Snapshot> Build(
      const ClusterState& state);

  // ---- Reads ----
  int host_count() const { return static_cast<int>(hosts_.size()); }
  int vm_count() const { return static_cast<int>(vms_.size()); }
  int group_count() const { return static_cast<int>(groups_.size()); }
  const HostRec& host(int i) const { return hosts_[i]; }
  const VmRec& vm(int i) const { return vms_[i]; }
  const GroupRec& group(int i) const { return groups_[i]; }
  std::optional<int> FindHost(const HostId& id) const;
  std::optional<int> FindVm(const VmId& id) const;
  std::optional<int> FindGroup(const GroupId& id) const;
  // nullptr when the tenant has no quota.
  const TenantRec* tenant(const TenantId& id) const;

  // Dense index of a workload that has placed replicas, or -1.
  int WorkloadIndex(const WorkloadId& id) const;
  // Replicas of workload `w` (from WorkloadIndex) on a VM / host.
  int ReplicasOnVm(int w, int vm) const;
  int ReplicasOnHost(int w, int host) const;

  // Ready hosts bucketed by free memory.
  const BucketIndex& ready_hosts() const { return ready_hosts_; }
  // Values of `label` over ready hosts (the spread domains).
  const std::set<std::string>& Domains(const std::string& label) const;
  // Distinct host demands of every group's VM shape: a leftover that none
  // of these fit is stranded.
  const std::vector<Resources>& known_vm_demands() const {
    return known_vm_demands_;
  }
  // A VM id not used in the snapshot, derived from the group id.
  VmId FreshVmId(int group) const;

  // ---- Commits ----
  [[nodiscard]] absl::Status Apply(const Plan& plan);
  [[nodiscard]] absl::Status Apply(const Action& action);
  [[nodiscard]] absl::StatusOr<int> AddVm(const CreateVm& vm);
  [[nodiscard]] absl::Status AddContainer(int vm, const Container& c);
  // Removes and returns the container.
  [[nodiscard]] absl::StatusOr<Container> RemoveContainer(
      int vm, const ContainerId& id);

  // ---- Simulation knobs (sizing) ----
  void SetRetired(int vm, bool retired);
  void SetGroupMax(int group, int max_vms) {
    groups_[group].spec.max_vms = max_vms;
  }
  // Lifts a tenant's quota (sizing asks what it would take).
  void ClearQuota(const TenantId& id) { tenants_.erase(id.str()); }

 private:
  Snapshot() = default;
  absl::Status AddVmRec(Vm vm);
  void Reindex(int vm);
  void ReindexHost(int host);
  void CountReplica(const Container& c, int vm, int delta);
  void CountTenantVm(const VmRec& r, int delta);

  std::vector<HostRec> hosts_;
  std::vector<VmRec> vms_;
  std::vector<GroupRec> groups_;
  absl::flat_hash_map<std::string, int> host_by_id_;
  absl::flat_hash_map<std::string, int> vm_by_id_;
  absl::flat_hash_map<std::string, int> group_by_id_;
  absl::flat_hash_map<std::string, int> workload_by_id_;
  absl::flat_hash_map<std::string, TenantRec> tenants_;  // with a quota
  // (workload << 32 | vm or host) -> replicas.
  absl::flat_hash_map<uint64_t, int> vm_replicas_;
  absl::flat_hash_map<uint64_t, int> host_replicas_;
  BucketIndex ready_hosts_;
  std::map<std::string, std::set<std::string>> domains_;
  std::vector<Resources> known_vm_demands_;
};

}  // namespace nest::placement
