// Errors as nestctl shows them: one line, then field violations, and an exit
// code scripts can rely on.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "core/field_errors.h"
#include "core/status.h"
#include "grpcpp/support/status.h"

namespace nest::cli {

// Exit codes, documented in `nestctl --help`.
inline constexpr int kExitOk = 0;
inline constexpr int kExitServer = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitNotFound = 3;
inline constexpr int kExitConflict = 4;
inline constexpr int kExitUnavailable = 5;

// One bad field, as in google.rpc.BadRequest.FieldViolation; the same type
// core's FieldErrors collects.
using FieldViolation = ::nest::FieldViolation;

// Payload type URL under which violations travel inside an absl::Status
// (the serialized nest.v1.BadRequest), the same URL gRPC servers use.
inline constexpr absl::string_view kBadRequestTypeUrl =
    "type.googleapis.com/google.rpc.BadRequest";

// An INVALID_ARGUMENT status carrying `violations` as a BadRequest payload.
absl::Status InvalidWithViolations(
    absl::string_view message, const std::vector<FieldViolation>& violations);

// The violations attached to `status`: a BadRequest payload, or else the
// payload of core's FieldErrors (empty when there are none).
std::vector<FieldViolation> ViolationsOf(const absl::Status& status);

// Converts a gRPC status to an absl::Status with the same code and message,
// decoding the grpc-status-details-bin details (an RpcStatus) so BadRequest
// field violations survive as a payload. `what` prefixes the message
// ("list workloads").
absl::Status FromGrpc(const grpc::Status& status, absl::string_view what);

// The exit code for `status`: 0 ok, 1 server-side failure, 2 usage or
// validation error, 3 not found, 4 conflict, 5 unavailable or timeout.
int ExitCodeFor(const absl::Status& status);

// Prints "error: MESSAGE" and one indented line per field violation.
void PrintError(const absl::Status& status, std::ostream& err);

}  // namespace nest::cli
