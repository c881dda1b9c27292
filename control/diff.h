// The pure halves of the reconcilers (STYLE.md 3): each computes what
// should change from the whole desired and observed state, and applies
// nothing. The Controller applies the result.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "core/ids.h"
#include "core/rng.h"
#include "store/types.h"
#include "vmm/driver.h"

namespace nest::control {

// ---- Containers: desired replicas vs container rows --------------------

struct ContainerDiff {
  // New replicas to insert (pending, unplaced).
  std::vector<store::Container> create;
  // Surplus replicas to retire (desired -> deleted), and those replaced by
  // a rollout or a drain (see RollOut in diff.cc). Deleting a workload
  // deletes its rows in the same transaction; the container sync then stops
  // whatever still runs in a guest without a row.
  std::vector<ContainerId> retire;
  // Exited replicas whose restart policy and back-off say: run again.
  std::vector<ContainerId> restart;
};

// Restart back-off after the n-th restart: 1 s, 2 s, 4 s ... capped at 60 s.
absl::Duration RestartBackoff(int64_t restarts);

// "<base>-<5 random [a-z0-9]>", not in `taken`, a DNS-1123 label (base is
// cut to 57 characters).
std::string NewSuffixedId(absl::string_view base,
                          const std::set<std::string>& taken, Rng& rng);

// Container ids are "<workload>-<5 random [a-z0-9]>", unique in `taken`.
ContainerId NewContainerId(const WorkloadId& workload,
                           const std::set<std::string>& taken, Rng& rng);

ContainerDiff DiffContainers(const store::Snapshot& s, absl::Time now,
                             Rng& rng);

// ---- VMs: VM rows vs what the hosts report -----------------------------

// What one host's driver reported, by VM id, plus the VMs whose agent the
// controller is connected to.
struct ObservedHost {
  bool reachable = false;
  std::map<VmId, vmm::VmState> vms;  // owned domains only
};

struct Observed {
  std::map<HostId, ObservedHost> hosts;
  std::set<VmId> agents;  // connected agent sessions
  std::set<VmId> busy;    // a boot/attach/teardown is in flight
};

struct VmDiff {
  std::vector<VmId> boot;      // no domain yet: create and wait for hello
  std::vector<VmId> attach;    // domain running, no agent session
  std::vector<VmId> recreate;  // domain stopped or crashed: undefine, boot
  std::vector<VmId> teardown;  // desired deleted: stop, undefine, release
  // Owned domains with no VM row (left by a crash between steps).
  std::vector<std::pair<HostId, VmId>> orphans;
  // Rows whose observed state should change (e.g. host unreachable).
  std::vector<std::pair<VmId, store::VmObservedState>> observe;
  // VM rows to delete: torn down, nothing left on the host.
  std::vector<VmId> forget;
};

VmDiff DiffVms(const store::Snapshot& s, const Observed& observed);

}  // namespace nest::control
