#include "api/server.h"

#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include "doctest/doctest.h"

namespace nest::api {
namespace {

TEST_CASE("server binds port 0 on loopback and can be shut down") {
  ServerOptions opts;
  opts.listen_address = "127.0.0.1:0";
  auto server = StartServer(opts, {});
  REQUIRE(server.ok());
  CHECK((*server)->port() > 0);
  auto channel =
      grpc::CreateChannel("127.0.0.1:" + std::to_string((*server)->port()),
                          grpc::InsecureChannelCredentials());
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

}  // namespace
}  // namespace nest::api
