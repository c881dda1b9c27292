// The placement model: plain structs the control plane fills from the store,
// and the Plan that Schedule() returns. Nothing here does work; Snapshot
// (snapshot.h) indexes a ClusterState and Schedule (schedule.h) decides.
#pragma once

#include <array>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/ids.h"
#include "core/resources.h"
#include "placement/labels.h"

namespace nest::placement {

enum class HostState { kReady, kCordoned, kDraining, kDown };
enum class GroupPolicy { kBinpack, kSpread };
enum class Isolation { kShared, kDedicated };
// Replicas of one workload on distinct VMs, or on distinct hosts (which
// implies distinct VMs).
enum class AntiAffinity { kNone, kDistinctVms, kDistinctHosts };

absl::string_view HostStateName(HostState s);

// Default overcommit: CPU 4.0, memory 1.0, disk 1.0 (indexed by Dim).
inline constexpr std::array<double, kDims> kDefaultOvercommit = {4.0, 1.0, 1.0};

struct Host {
  HostId id;
  Resources capacity;
  // Held back for the host itself (kernel, libvirt, ...); subtracted before
  // overcommit is applied.
  Resources reserved;
  Labels labels;  // e.g. {"zone": "a", "rack": "r12", "ssd": "true"}
  HostState state = HostState::kReady;
  std::array<double, kDims> overcommit = kDefaultOvercommit;
};

// A container, pending or already placed. Requests count against the VM's
// shape; VMs count against hosts.
struct Container {
  ContainerId id;
  WorkloadId workload;
  TenantId tenant;
  GroupId group;  // the VM group whose VMs may hold it
  Resources requests;
  int priority = 0;          // higher wins; may preempt lower
  bool best_effort = false;  // may be evicted by any higher priority
  Isolation isolation = Isolation::kShared;
  AntiAffinity anti_affinity = AntiAffinity::kNone;
  // All must hold on the host that runs the container's VM.
  std::vector<LabelConstraint> constraints;
};

struct Vm {
  VmId id;
  GroupId group;
  TenantId tenant;
  HostId host;
  Resources shape;  // what the guest gets; containers pack into this
  // QEMU/VMM memory on the host on top of shape.memory.
  int64_t vmm_overhead_mib = 0;
  std::vector<Container> containers;
  // Being drained (scale-down): keeps what it holds, takes nothing new.
  bool cordoned = false;
};

struct Group {
  GroupId id;
  TenantId tenant;
  Resources shape;               // shape of every VM of the group
  int64_t vmm_overhead_mib = 0;  // overhead of each new VM
  int min_vms = 0;
  int max_vms = std::numeric_limits<int>::max();
  GroupPolicy policy = GroupPolicy::kBinpack;
  // With a non-empty spread_label, new VMs keep the per-value VM counts
  // within max_skew of each other (values: those of ready hosts).
  std::string spread_label;
  int max_skew = 1;
  // Constraints on every host that runs a VM of the group.
  std::vector<LabelConstraint> host_constraints;
};

// What one tenant's VMs may add up to; placement never creates a VM past
// it (the autoscaler stops and explains instead). Unset = unlimited.
// Memory counts each VM's VMM overhead as well as its shape.
struct TenantQuota {
  TenantId tenant;
  std::optional<int64_t> vms;
  std::optional<int64_t> milli_cpu;
  std::optional<int64_t> memory_mib;
};

// Everything Snapshot::Build needs. Order does not matter; ids must be
// unique and references must resolve.
struct ClusterState {
  std::vector<Host> hosts;
  std::vector<Group> groups;
  std::vector<Vm> vms;
  std::vector<TenantQuota> quotas;  // at most one per tenant
};

struct Pending {
  std::vector<Container> containers;
};

// ---- The plan ----------------------------------------------------------

// Start a new VM of `group` on `host`. `vm` is a fresh id chosen by the
// planner (unique in the snapshot); later actions refer to it.
struct CreateVm {
  VmId vm;
  GroupId group;
  TenantId tenant;
  HostId host;
  Resources shape;
  int64_t vmm_overhead_mib = 0;
  friend bool operator==(const CreateVm&, const CreateVm&) = default;
};

struct PlaceContainer {
  Container container;
  VmId vm;
  HostId host;
  friend bool operator==(const PlaceContainer& a, const PlaceContainer& b) {
    return a.container.id == b.container.id && a.vm == b.vm && a.host == b.host;
  }
};

// Evict a running container (preemption or scale-down). The control plane
// re-queues it as pending if its workload still wants it.
struct StopContainer {
  ContainerId container;
  VmId vm;
  std::string reason;
  friend bool operator==(const StopContainer&, const StopContainer&) = default;
};

using Action = std::variant<CreateVm, PlaceContainer, StopContainer>;

struct ReasonCount {
  std::string reason;
  int count = 0;
  friend bool operator==(const ReasonCount&, const ReasonCount&) = default;
};

// The smallest change found that would let the request fit.
struct Suggestion {
  enum class Kind {
    kRaiseGroupMax,     // one more VM of the group would fit on `hosts`
    kReadyHost,         // a cordoned/draining/down host would fit
    kFreeHostCapacity,  // `missing` more on `host` would fit a new VM
    kRelaxConstraints,  // `hosts` would fit without the label constraints
    kGrowShape,         // the group's VM shape is smaller than the request
    kAddHost,           // no existing host can ever take a VM of the group
    kRaiseTenantQuota,  // one more VM of the group would pass the quota
  };
  Kind kind;
  int hosts = 0;      // how many hosts the change would open
  HostId host;        // kFreeHostCapacity: the host closest to fitting
  Resources missing;  // kFreeHostCapacity / kGrowShape / kAddHost
  std::string text;   // one human line, e.g. "one more VM of group web ..."
};

// Why a request is pending, as data for the API.
struct Explanation {
  ContainerId container;
  // VMs of the request's group, by the first checker that rejected each.
  std::vector<ReasonCount> vms;
  // Hosts, for a new VM of the group, by the first rejecting checker.
  std::vector<ReasonCount> hosts;
  std::optional<Suggestion> smallest_change;

  // "memory: 9812 hosts, anti-affinity: 3 VMs; one more VM of group ..."
  std::string ToString() const;
};

struct Plan {
  std::vector<Action> actions;
  std::vector<Explanation> unplaced;  // one per request that cannot run now
};

}  // namespace nest::placement
