#include "api/server.h"

#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include <string>
#include <vector>

#include "api/services_internal.h"
#include "doctest/doctest.h"
#include "tests/api/health_check.h"

namespace nest::api {
namespace {

using metrics::HistogramSample;

// A plaintext channel to `server` on loopback.
std::shared_ptr<grpc::Channel> PlaintextChannel(const Server& server) {
  return grpc::CreateChannel("127.0.0.1:" + std::to_string(server.port()),
                             grpc::InsecureChannelCredentials());
}

TEST_CASE("server binds port 0 on loopback and can be shut down") {
  ServerOptions opts;
  opts.listen_address = "127.0.0.1:0";
  auto server = StartServer(opts, {});
  REQUIRE(server.ok());
  CHECK((*server)->port() > 0);
  auto channel = PlaintextChannel(**server);
  CHECK(channel->WaitForConnected(std::chrono::system_clock::now() +
                                  std::chrono::seconds(5)));
  (*server)->Shutdown();
}

TEST_CASE("a bad listen address is a clear error") {
  ServerOptions opts;
  opts.listen_address = "203.0.113.1:1";  // TEST-NET-3: not ours
  auto server = StartServer(opts, {});
  REQUIRE_FALSE(server.ok());
  CHECK(server.status().code() == absl::StatusCode::kUnavailable);
  CHECK(std::string(server.status().message()).find("203.0.113.1:1") !=
        std::string::npos);
}

TEST_CASE("the gRPC health service answers SERVING") {
  ServerOptions opts;
  opts.listen_address = "127.0.0.1:0";
  auto server = StartServer(opts, {});
  REQUIRE(server.ok());
  auto channel = PlaintextChannel(**server);
  std::string reply;
  grpc::Status s = HealthCheck(channel, &reply);
  REQUIRE_MESSAGE(s.ok(), s.error_message());
  // HealthCheckResponse{status: SERVING}: field 1, varint 1.
  CHECK(reply == std::string("\x08\x01", 2));
}

TEST_CASE("every answered RPC is counted by method and code") {
  metrics::Registry registry;
  auto m = ApiMetrics::Register(registry);
  REQUIRE(m.ok());
  ServerOptions opts;
  opts.listen_address = "127.0.0.1:0";
  opts.metrics = &*m;
  auto server = StartServer(opts, {});
  REQUIRE(server.ok());
  auto channel = PlaintextChannel(**server);
  std::string reply;
  REQUIRE(HealthCheck(channel, &reply).ok());
  reply.clear();
  REQUIRE(HealthCheck(channel, &reply).ok());
  (*server)->Shutdown();
  const std::string method = "/grpc.health.v1.Health/Check";
  CHECK(m->requests->With({method, "OK"}).value() == 2);
  HistogramSample h = m->seconds->With({method}).Snapshot();
  uint64_t n = 0;
  for (uint64_t c : h.counts) n += c;
  CHECK(n == 2);
  CHECK(h.sum >= 0);
}

TEST_CASE("an exec's timeout ends by the client's deadline") {
  absl::Time now = absl::FromUnixSeconds(1000);
  absl::Time far = now + absl::Hours(1);
  CHECK(internal::ExecTimeoutWithin(0, far, now) == 30);
  CHECK(internal::ExecTimeoutWithin(600, far, now) == 600);
  CHECK(internal::ExecTimeoutWithin(600, now + absl::Seconds(5), now) == 5);
  CHECK(internal::ExecTimeoutWithin(0, now + absl::Milliseconds(2500), now) ==
        3);
  CHECK(internal::ExecTimeoutWithin(60, now - absl::Seconds(1), now) == 1);
  // Out of range: control/ names the field.
  CHECK(internal::ExecTimeoutWithin(-1, now + absl::Seconds(5), now) == -1);
  CHECK(internal::ExecTimeoutWithin(4000, now + absl::Seconds(5), now) == 4000);
}

}  // namespace
}  // namespace nest::api
