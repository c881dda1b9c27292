// Listen addresses: "HOST:PORT" parsing and the loopback test that decides
// whether a port may serve without TLS (gRPC) or without a token (/metrics).
#pragma once

#include <string>

#include "absl/strings/string_view.h"
#include "core/status.h"

namespace nest::api {

struct HostPort {
  std::string host;  // without the brackets of "[v6]:port"
  int port = 0;
};

// Parses "host:port" or "[v6]:port" (port 0-65535). Errors name `flag`.
[[nodiscard]] absl::StatusOr<HostPort> SplitHostPort(absl::string_view flag,
                                                     absl::string_view address);

// True for 127.0.0.0/8, ::1 and "localhost". Anything else, including
// wildcards (0.0.0.0, ::) and names that merely resolve to loopback, is
// reachable from elsewhere as far as this test is concerned.
bool IsLoopbackHost(absl::string_view host);

}  // namespace nest::api
