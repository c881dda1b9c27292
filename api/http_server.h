// nestd's HTTP port: /metrics in the Prometheus text format and the web
// dashboard (api/dashboard.h). Served by cpp-httplib on its own threads.
//
// /metrics names every tenant's objects, so it needs an operator's bearer
// token unless the server listens on loopback only: StartHttpServer refuses
// a non-loopback address without a token check.
//
// Thread-safety: HttpServer is thread-safe; destruction stops it.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/string_view.h"
#include "api/address.h"
#include "api/dashboard.h"
#include "core/metrics.h"
#include "core/status.h"

namespace httplib {
class Server;
}

namespace nest::api {

struct HttpOptions {
  // "127.0.0.1:7444"; port 0 picks a free port (see HttpServer::port()).
  std::string listen_address = "127.0.0.1:7444";
  // Admits a request by its bearer token (the text after "Bearer "): OK
  // lets it in, PERMISSION_DENIED answers 403, anything else 401. Null: no
  // token needed, which only a loopback address may do.
  std::function<absl::Status(absl::string_view token)> authorize;
  // What /metrics renders; must outlive the server.
  const metrics::Registry* registry = nullptr;
  // The dashboard, when dashboard.commands is set. It needs a token of its
  // own (any role) even on loopback, whatever `authorize` says.
  DashboardOptions dashboard;
};

class HttpServer {
 public:
  ~HttpServer();
  int port() const { return port_; }
  void Shutdown();

 private:
  friend absl::StatusOr<std::unique_ptr<HttpServer>> StartHttpServer(
      const HttpOptions&);
  std::unique_ptr<Dashboard> dashboard_;  // outlives server_'s handlers
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
};

// INVALID_ARGUMENT for a malformed address or a non-loopback one without a
// token; UNAVAILABLE when the address cannot be bound.
[[nodiscard]] absl::StatusOr<std::unique_ptr<HttpServer>> StartHttpServer(
    const HttpOptions& options);

}  // namespace nest::api
