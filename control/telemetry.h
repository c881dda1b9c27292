// What Nest measures about itself and its workloads, for /metrics and
// `nestctl top`:
//  - ControlMetrics: live instruments the controller and commands update
//    (placement decision time, reconcile step durations and errors, scale
//    decisions);
//  - UsageSampler: a background sampler of every running VM's hypervisor
//    counters (libvirt) and every container's cgroup counters (the agent),
//    kept in memory so a scrape or a `top` costs no guest round trip;
//  - AddClusterCollector: scrape-time families computed from the store
//    (host capacity/allocated/free, objects by state) and the sampler.
// Label values are object names and fixed enums only, so the number of
// series is bounded by the number of objects.
#pragma once

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "control/placement_bridge.h"
#include "core/clock.h"
#include "core/ids.h"
#include "core/metrics.h"
#include "store/store.h"
#include "vmm/driver.h"

namespace nest::control {

class Controller;

struct ControlMetrics {
  metrics::HistogramFamily* placement_seconds = nullptr;  // no labels
  metrics::HistogramFamily* reconcile_seconds = nullptr;  // {step}
  metrics::CounterFamily* reconcile_errors = nullptr;     // {step}
  metrics::CounterFamily* scale_decisions = nullptr;      // {group, direction}

  // Registers Nest's control-plane families in `r`.
  [[nodiscard]] static absl::StatusOr<ControlMetrics> Register(
      metrics::Registry& r);
};

struct VmUsage {
  VmId vm;
  TenantId tenant;
  GroupId group;
  HostId host;
  vmm::VmStats stats;
  // Average cores used between the last two samples; known from the
  // second sample of a VM on (0 before).
  double cpu_cores = 0;
  bool cpu_known = false;
  // The guest's memory as its agent reports it; 0 when it did not answer.
  int64_t memory_total_bytes = 0;
  int64_t memory_available_bytes = 0;
};

struct ContainerUsage {
  ContainerId container;
  TenantId tenant;
  WorkloadId workload;
  VmId vm;
  double cpu_seconds = 0;
  double cpu_cores = 0;  // as for VmUsage
  int64_t memory_bytes = 0;
  int64_t pids = 0;
};

struct UsageSample {
  absl::Time at = absl::InfinitePast();    // when the last sample finished
  std::vector<VmUsage> vms;                // sorted by vm id
  std::vector<ContainerUsage> containers;  // sorted by container id
};

// Samples running VMs through the controller's drivers and agents.
// Thread-safe. Start() runs SampleOnce every `interval` until Stop() or
// destruction.
class UsageSampler {
 public:
  UsageSampler(store::Store& store, Controller& controller, Clock& clock,
               absl::Duration interval);
  ~UsageSampler();
  UsageSampler(const UsageSampler&) = delete;
  UsageSampler& operator=(const UsageSampler&) = delete;

  void Start();
  void Stop();
  // One sample of every running VM and its containers. A VM or agent that
  // does not answer is left out of this sample (and logged at debug).
  [[nodiscard]] absl::Status SampleOnce();
  UsageSample Latest() const;

 private:
  store::Store& store_;
  Controller& controller_;
  Clock& clock_;
  const absl::Duration interval_;

  mutable absl::Mutex mu_;
  UsageSample latest_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

// Adds the scrape-time families: hosts' capacity, allocation and free space
// per resource; hosts, VMs and containers by state; and, when `sampler` is
// set, per-VM and per-container usage. `params` must be the placement
// parameters the controller uses, so "free" means what placement sees.
void AddClusterCollector(metrics::Registry& r, store::Store& store,
                         const UsageSampler* sampler, PlacementParams params);

}  // namespace nest::control
