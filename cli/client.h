// The gRPC connection nestctl uses: one channel, one stub per service, and
// contexts that carry the deadline and the bearer token.
#pragma once

#include <memory>
#include <string>

#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "nest/v1/container.grpc.pb.h"
#include "nest/v1/event.grpc.pb.h"
#include "nest/v1/host.grpc.pb.h"
#include "nest/v1/image.grpc.pb.h"
#include "nest/v1/placement.grpc.pb.h"
#include "nest/v1/usage.grpc.pb.h"
#include "nest/v1/vm.grpc.pb.h"
#include "nest/v1/vm_group.grpc.pb.h"
#include "nest/v1/workload.grpc.pb.h"

namespace nest::cli {

struct ClientOptions {
  std::string server = "127.0.0.1:7443";
  // Sent as "authorization: Bearer TOKEN" when non-empty.
  std::string token;
  // Deadline of each unary call.
  absl::Duration timeout = absl::Seconds(30);
};

// Thread-safe after construction (stubs and channels are).
class Client {
 public:
  explicit Client(ClientOptions options);

  // A fresh context: with the per-call deadline unless `streaming` (watch,
  // follow and wait loops end on their own terms), plus the token.
  std::unique_ptr<grpc::ClientContext> Context(bool streaming = false) const;

  const ClientOptions& options() const { return options_; }
  nest::v1::HostService::Stub& hosts() { return *hosts_; }
  nest::v1::VmGroupService::Stub& groups() { return *groups_; }
  nest::v1::VmService::Stub& vms() { return *vms_; }
  nest::v1::WorkloadService::Stub& workloads() { return *workloads_; }
  nest::v1::ContainerService::Stub& containers() { return *containers_; }
  nest::v1::ImageService::Stub& images() { return *images_; }
  nest::v1::EventService::Stub& events() { return *events_; }
  nest::v1::PlacementService::Stub& placement() { return *placement_; }
  nest::v1::UsageService::Stub& usage() { return *usage_; }

 private:
  ClientOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<nest::v1::HostService::Stub> hosts_;
  std::unique_ptr<nest::v1::VmGroupService::Stub> groups_;
  std::unique_ptr<nest::v1::VmService::Stub> vms_;
  std::unique_ptr<nest::v1::WorkloadService::Stub> workloads_;
  std::unique_ptr<nest::v1::ContainerService::Stub> containers_;
  std::unique_ptr<nest::v1::ImageService::Stub> images_;
  std::unique_ptr<nest::v1::EventService::Stub> events_;
  std::unique_ptr<nest::v1::PlacementService::Stub> placement_;
  std::unique_ptr<nest::v1::UsageService::Stub> usage_;
};

}  // namespace nest::cli
