// The gRPC connection nestctl uses: one channel (plaintext, TLS or mutual
// TLS), one stub per service, and contexts that carry the deadline and the
// bearer token.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "nest/v1/container.grpc.pb.h"
#include "nest/v1/event.grpc.pb.h"
#include "nest/v1/host.grpc.pb.h"
#include "nest/v1/image.grpc.pb.h"
#include "nest/v1/placement.grpc.pb.h"
#include "nest/v1/quota.grpc.pb.h"
#include "nest/v1/token.grpc.pb.h"
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
  // TLS: PEM file of the CA that signed nestd's certificate (--tls-ca);
  // empty means plaintext.
  std::string tls_ca;
  // Mutual TLS: this client's PEM certificate and private key (--tls-cert,
  // --tls-key); both or neither, and only with tls_ca.
  std::string tls_cert;
  std::string tls_key;
  // The name nestd's certificate must carry when it is not the host part
  // of `server` (--tls-server-name); only with tls_ca.
  std::string tls_server_name;
};

// The channel credentials `options` ask for: TLS when tls_ca is set,
// plaintext otherwise. Reads the PEM files; INVALID_ARGUMENT naming the
// flag and the file when one is missing, unreadable or not PEM.
[[nodiscard]] absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>>
ChannelCredentialsFor(const ClientOptions& options);

// `status` (from a call over a client made with `options`) with a hint
// when the server was unavailable in a way a TLS mismatch explains.
absl::Status ExplainTransportError(const absl::Status& status,
                                   const ClientOptions& options);

// Thread-safe after construction (stubs and channels are).
class Client {
 public:
  // Connects lazily (the first call dials); fails only on the options, as
  // ChannelCredentialsFor does.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Client>> Create(
      ClientOptions options);

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
  nest::v1::TokenService::Stub& tokens() { return *tokens_; }
  nest::v1::QuotaService::Stub& quotas() { return *quotas_; }

 private:
  Client(ClientOptions options,
         std::shared_ptr<grpc::ChannelCredentials> credentials);

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
  std::unique_ptr<nest::v1::TokenService::Stub> tokens_;
  std::unique_ptr<nest::v1::QuotaService::Stub> quotas_;
};

}  // namespace nest::cli
