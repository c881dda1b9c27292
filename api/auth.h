// Who may call what: every RPC authenticates its caller's bearer token and
// checks the caller's role against the RPC's access level, then acts
// through Commands scoped to the caller's tenant, so another tenant's
// objects are simply not there (NOT_FOUND, never PERMISSION_DENIED).
//
// Thread-safety: Gate is thread-safe (Commands is).
#pragma once

#include <grpcpp/grpcpp.h>

#include <string>

#include "absl/strings/string_view.h"
#include "control/commands.h"

namespace nest::api {

enum class Access { kRead, kWrite, kOperator, kDenied };

// The access level of an RPC by its method name ("CreateHost"); kDenied for
// a name it does not know (default deny).
Access AccessOf(absl::string_view rpc);

enum class AuthMode {
  kTokens,  // every call needs an active token (nestd)
  // No token needed: every call acts as an operator of the default tenant.
  // For tests of other layers only.
  kTrustAll,
};

class Gate {
 public:
  Gate(control::Commands& base, AuthMode mode) : base_(base), mode_(mode) {}

  // The commands acting for the caller of `rpc`, or UNAUTHENTICATED (no,
  // malformed, unknown or revoked token) or PERMISSION_DENIED (the role
  // may not call `rpc`).
  [[nodiscard]] absl::StatusOr<control::Commands> Enter(
      const grpc::ServerContext* ctx, absl::string_view rpc);
  // The same for a caller known by its bearer token's secret (the
  // dashboard's HTTP requests), with the same errors.
  [[nodiscard]] absl::StatusOr<control::Commands> EnterWithToken(
      absl::string_view token, absl::string_view rpc);

 private:
  control::Commands& base_;
  const AuthMode mode_;
};

}  // namespace nest::api
