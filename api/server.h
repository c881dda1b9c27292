// The gRPC server's hygiene in one place: health service, reflection, a
// bounded receive size and a bounded thread pool.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "core/metrics.h"
#include "core/status.h"

namespace nest::api {

// Per-RPC instruments: requests by method and code, and their duration.
struct ApiMetrics {
  metrics::CounterFamily* requests = nullptr;   // {method, code}
  metrics::HistogramFamily* seconds = nullptr;  // {method}

  [[nodiscard]] static absl::StatusOr<ApiMetrics> Register(
      metrics::Registry& r);
};

struct ServerOptions {
  // "127.0.0.1:7443"; port 0 picks a free port (see Server::port()).
  std::string listen_address = "127.0.0.1:7443";
  int max_receive_bytes = 16 * 1024 * 1024;
  // Upper bound on threads serving synchronous RPCs.
  int max_threads = 16;
  // TLS or mutual TLS (LoadServerCredentials in api/tls.h); null means
  // plaintext, which CheckTransport allows only on loopback or --insecure.
  std::shared_ptr<grpc::ServerCredentials> credentials;
  // Where every finished RPC is counted; none when null. Must outlive the
  // server.
  const ApiMetrics* metrics = nullptr;
};

// A running server. Thread-safe. Destruction shuts it down, cancelling
// in-flight RPCs after a short grace period.
class Server {
 public:
  ~Server();
  int port() const { return port_; }
  // Marks the server not serving in the health service, then stops.
  void Shutdown();

 private:
  friend absl::StatusOr<std::unique_ptr<Server>> StartServer(
      const ServerOptions&, const std::vector<grpc::Service*>&);
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

// Starts serving `services` (not owned; they must outlive the server).
[[nodiscard]] absl::StatusOr<std::unique_ptr<Server>> StartServer(
    const ServerOptions& options, const std::vector<grpc::Service*>& services);

}  // namespace nest::api
