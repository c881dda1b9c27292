// A client of grpc.health.v1.Health/Check for tests that need one RPC
// against a server with no services registered.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

namespace nest::api {

// Calls Health/Check (no health stubs are generated, so by hand: the empty
// HealthCheckRequest asks about the whole server) with a 5 s deadline; on
// success `reply` holds the serialized HealthCheckResponse.
grpc::Status HealthCheck(const std::shared_ptr<grpc::Channel>& channel,
                         std::string* reply);

}  // namespace nest::api
