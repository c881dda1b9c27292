// Utilization targets of a VM group: how many VMs keep the average load of
// the group's VMs near a target percent of their vCPUs and memory. A pure
// decision, like Kubernetes' HorizontalPodAutoscaler:
//
//   desired = ceil(vms * average / target)   for each target that is set,
//
// the larger of the two, and no change while every average is within the
// tolerance of its target (the hysteresis band: a load that wanders inside
// it never resizes the group). Bounded by the group's min/max and its
// cooldowns; never on partial data (a VM without a sample yet); never a
// scale-down while containers wait for room. The controller gathers the
// input and applies the result (controller_autoscale.cc): a scale-up
// raises the group's desired size, a scale-down drains VMs whose
// containers fit elsewhere.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "control/telemetry.h"

namespace nest::control {

// One running VM's load as fractions of its shape (1 = all of it); unset
// while unknown.
struct VmLoad {
  std::optional<double> cpu;
  std::optional<double> memory;
};

// The load of `u` for a VM of `vcpus`: CPU from the hypervisor (known from
// the second sample of the VM on), memory in use as its guest reports it
// (unknown when its agent did not answer).
VmLoad LoadOf(const VmUsage& u, int64_t vcpus);

struct UtilizationInput {
  int64_t target_cpu_percent = 0;     // 0: no target
  int64_t target_memory_percent = 0;  // 0: no target
  int64_t tolerance_percent = 10;     // in percent of the target
  int64_t min_vms = 0;
  int64_t max_vms = 0;
  // The group's VMs, all running and none draining, and one load for each
  // of those that has been sampled.
  int64_t vms = 0;
  std::vector<VmLoad> loads;
  // Containers of the group wait for room: no scale-down.
  bool waiting = false;
  // When the group's cooldowns allow the next scale-up / scale-down.
  absl::Time up_allowed_at = absl::InfinitePast();
  absl::Time down_allowed_at = absl::InfinitePast();
  absl::Time now = absl::InfinitePast();
};

struct UtilizationDecision {
  int64_t desired = 0;  // the VM count to go to; `vms` for no change
  // Why, for the group's event ("+1: average CPU 92% of 2 VMs is above the
  // 60% target (±10%)"), or why nothing changes (for the log).
  std::string reason;
};

// Never scales below max(min_vms, 1): an empty group has nothing to
// measure.
UtilizationDecision DecideUtilization(const UtilizationInput& in);

}  // namespace nest::control
