#include "tests/api/health_check.h"

#include <grpcpp/generic/generic_stub.h>

#include <chrono>
#include <future>
#include <vector>

namespace nest::api {

grpc::Status HealthCheck(const std::shared_ptr<grpc::Channel>& channel,
                         std::string* reply) {
  grpc::GenericStub stub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  grpc::Slice empty(std::string{});
  grpc::ByteBuffer request(&empty, 1);
  grpc::ByteBuffer response;
  std::promise<grpc::Status> done;
  stub.UnaryCall(&ctx, "/grpc.health.v1.Health/Check", grpc::StubOptions(),
                 &request, &response,
                 [&done](grpc::Status s) { done.set_value(std::move(s)); });
  grpc::Status s = done.get_future().get();
  std::vector<grpc::Slice> slices;
  if (s.ok() && response.Dump(&slices).ok()) {
    for (const auto& slice : slices) {
      reply->append(reinterpret_cast<const char*>(slice.begin()), slice.size());
    }
  }
  return s;
}

}  // namespace nest::api
