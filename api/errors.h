// Translation between absl::Status (used everywhere below api/) and
// grpc::Status (on the wire). This is the only place that does it.
#pragma once

#include <grpcpp/support/status.h>

#include "core/status.h"

namespace nest::api {

// Maps the code and message one to one. INVALID_ARGUMENT statuses carrying
// core::FieldViolation payloads also get a grpc-status-details-bin trailer:
// a google.rpc.Status (nest.v1.RpcStatus) with a google.rpc.BadRequest
// listing every violation. An absl status with code UNKNOWN becomes
// INTERNAL: user mistakes must never surface as a bare UNKNOWN.
grpc::Status ToGrpcStatus(const absl::Status& status);

// The reverse, for clients written in C++ (tests, nestctl): the code and
// message, and BadRequest violations re-attached as core payloads.
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace nest::api
