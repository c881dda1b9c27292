// The dashboard's JSON documents, built from control::Commands acting for
// the caller, so every list is already scoped to the caller's tenant (see
// api/auth.h). Field names are the contract with web/*.js.
#pragma once

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "api/dashboard_history.h"
#include "control/commands.h"

namespace nest::api::dashboard {

// Everything the packing view and the lists draw: the groups, VMs,
// workloads and containers of every scope (one tenant each), the hosts
// when `hosts` is given (an operator's commands), and `seq`, the last event
// seq read before listing. Resources are arrays [milli_cpu, memory_mib,
// disk_mib]. No "now": the caller adds it (WithNow), so a document can be
// served again while no event has happened.
[[nodiscard]] absl::StatusOr<std::string> ClusterJson(
    std::vector<control::Commands>& scopes, control::Commands* hosts,
    int64_t seq);

// `doc` (a JSON object) with "now": `now` in front.
std::string WithNow(const std::string& doc, absl::Time now);

// One workload, its replicas, its events and, when replicas are pending,
// the scheduler's explanation.
[[nodiscard]] absl::StatusOr<std::string> WorkloadJson(control::Commands& c,
                                                       const std::string& name,
                                                       absl::Time now);

// One group, its VMs, its events and its size history.
[[nodiscard]] absl::StatusOr<std::string> GroupJson(
    control::Commands& c, const std::string& name,
    const std::vector<GroupSample>& history, absl::Time now);

// One event as the live stream sends it.
std::string EventJson(const store::Event& e);

}  // namespace nest::api::dashboard
