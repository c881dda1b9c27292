// Workload health checks (issue 10): the checks on user input, their part
// of Apply's diff, what the agent is asked to run, and what "available"
// means for a replica (in its VIP, counted by rollouts and `ready`).
#pragma once

#include <string>

#include "agent/types.h"
#include "control/commands.h"
#include "core/field_errors.h"
#include "store/types.h"

namespace nest::control {

// The stored check for `in` (none when !in.set). Violations are named under
// `at` ("spec.health_check.") and name the field and what was expected.
store::HealthCheck ToHealthCheck(const HealthCheckInput& in,
                                 const std::string& at, FieldErrors& errors);

// One line for Apply's diff and revision summaries: "none",
// "http :8080/healthz every 10s", "exec [\"test\", \"-f\", \"/ok\"] ...".
std::string HealthCheckText(const store::HealthCheck& h);

// What the agent runs for `h` (kind kNone for none).
agent::HealthCheck ToAgentHealthCheck(const store::HealthCheck& h);

// A replica that is running and, when it was started with a check,
// healthy: it receives VIP traffic and counts toward rollouts and `ready`.
// (A replica of an earlier template without a check stays available while
// a rollout adds one.)
bool Available(const store::Container& c);

agent::Health ToAgentHealth(store::ContainerHealth h);
store::ContainerHealth FromAgentHealth(agent::Health h);

}  // namespace nest::control
