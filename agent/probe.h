// One health probe of a container (issue 10): what HealthMonitor runs each
// period. A probe returns OK when it passes and otherwise an error whose
// message is the reason, shown to users as the container's health_message
// ("connect 10.88.0.5:80: Connection refused", "GET
// http://127.0.0.1:8080/healthz: status 503", "exit 1: not ready").
//
// Every probe returns within its timeout (plus scheduling slack): the
// network ones hold one deadline for the whole exchange, not one per read.
// Thread-safe: no shared state.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "agent/types.h"
#include "core/status.h"

namespace nest::agent {

// A TCP connect to `address` (IPv4 dotted quad):`port` completes.
[[nodiscard]] absl::Status ProbeTcp(const std::string& address, int port,
                                    absl::Duration timeout);

// An HTTP/1.1 GET of `path` on `address`:`port` answers with a status in
// 200..399. Only the status line is read; the body is not waited for, and
// redirects are not followed (a 3xx passes).
[[nodiscard]] absl::Status ProbeHttp(const std::string& address, int port,
                                     const std::string& path,
                                     absl::Duration timeout);

// Runs a command in a container (ContainerRuntime::Exec).
using ExecFunction = std::function<absl::StatusOr<ExecResult>(
    const std::string& id, const std::vector<std::string>& args,
    const ExecOptions& options)>;

// `args` run in container `id` through `exec` exit with status 0 within
// `timeout`.
[[nodiscard]] absl::Status ProbeExec(const ExecFunction& exec,
                                     const std::string& id,
                                     const std::vector<std::string>& args,
                                     absl::Duration timeout);

// The probe `check` asks for, on container `id` reachable at `address`
// (empty: 127.0.0.1, the guest's own namespace). OK for kind kNone.
[[nodiscard]] absl::Status RunProbe(const HealthCheck& check,
                                    const std::string& id,
                                    const std::string& address,
                                    const ExecFunction& exec);

}  // namespace nest::agent
