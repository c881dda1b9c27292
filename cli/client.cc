#include "cli/client.h"

#include "absl/strings/str_cat.h"

namespace nest::cli {

Client::Client(ClientOptions options) : options_(std::move(options)) {
  // TLS arrives with the security issue; until then the API listens in the
  // clear on loopback.
  channel_ =
      grpc::CreateChannel(options_.server, grpc::InsecureChannelCredentials());
  hosts_ = nest::v1::HostService::NewStub(channel_);
  groups_ = nest::v1::VmGroupService::NewStub(channel_);
  vms_ = nest::v1::VmService::NewStub(channel_);
  workloads_ = nest::v1::WorkloadService::NewStub(channel_);
  containers_ = nest::v1::ContainerService::NewStub(channel_);
  images_ = nest::v1::ImageService::NewStub(channel_);
  events_ = nest::v1::EventService::NewStub(channel_);
  placement_ = nest::v1::PlacementService::NewStub(channel_);
  usage_ = nest::v1::UsageService::NewStub(channel_);
}

std::unique_ptr<grpc::ClientContext> Client::Context(bool streaming) const {
  auto ctx = std::make_unique<grpc::ClientContext>();
  if (!streaming) {
    ctx->set_deadline(absl::ToChronoTime(absl::Now() + options_.timeout));
  }
  if (!options_.token.empty()) {
    ctx->AddMetadata("authorization", absl::StrCat("Bearer ", options_.token));
  }
  return ctx;
}

}  // namespace nest::cli
