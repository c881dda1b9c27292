#include "api/http_server.h"

#include <httplib.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/sha256.h"

namespace nest::api {
namespace {

constexpr char kExpositionType[] = "text/plain; version=0.0.4; charset=utf-8";

// Constant-time comparison of two equal-length hex digests.
bool SameDigest(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= a[i] ^ b[i];
  return diff == 0;
}

}  // namespace

HttpServer::~HttpServer() { Shutdown(); }

void HttpServer::Shutdown() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

absl::StatusOr<std::unique_ptr<HttpServer>> StartHttpServer(
    const HttpOptions& options) {
  NEST_ASSIGN_OR_RETURN(HostPort address,
                        SplitHostPort("--http-listen", options.listen_address));
  const std::string& host = address.host;
  int port = address.port;
  if (!IsLoopbackHost(host) && options.token_sha256.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--http-listen ", options.listen_address,
        " is not a loopback address: /metrics names every tenant's objects, "
        "so give --metrics-token-file or listen on 127.0.0.1"));
  }
  auto out = std::unique_ptr<HttpServer>(new HttpServer);
  out->server_ = std::make_unique<httplib::Server>();
  httplib::Server& svr = *out->server_;
  const metrics::Registry* registry = options.registry;
  std::string want = options.token_sha256;
  svr.Get("/metrics", [registry, want](const httplib::Request& req,
                                       httplib::Response& res) {
    if (!want.empty()) {
      std::string auth = req.get_header_value("Authorization");
      constexpr absl::string_view kBearer = "Bearer ";
      if (!absl::StartsWith(auth, kBearer) ||
          !SameDigest(Sha256Hex(auth.substr(kBearer.size())), want)) {
        res.status = 401;
        res.set_header("WWW-Authenticate", "Bearer");
        res.set_content("401 Unauthorized: /metrics needs a bearer token\n",
                        "text/plain");
        return;
      }
    }
    if (registry == nullptr) {
      res.status = 503;
      res.set_content("no metrics registry\n", "text/plain");
      return;
    }
    auto text = registry->Render();
    if (!text.ok()) {
      res.status = 500;
      res.set_content(std::string(text.status().message()) + "\n",
                      "text/plain");
      return;
    }
    res.set_content(*text, kExpositionType);
  });
  svr.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok\n", "text/plain");
  });
  if (port == 0) {
    port = svr.bind_to_any_port(host);
  } else if (!svr.bind_to_port(host, port)) {
    port = -1;
  }
  if (port <= 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options.listen_address,
                     " (address in use or not an address of this machine?)"));
  }
  out->port_ = port;
  out->thread_ = std::thread([&svr] { svr.listen_after_bind(); });
  return out;
}

}  // namespace nest::api
