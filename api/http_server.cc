#include "api/http_server.h"

#include <httplib.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/sha256.h"

namespace nest::api {
namespace {

constexpr char kExpositionType[] = "text/plain; version=0.0.4; charset=utf-8";

// "host:port" or "[v6]:port".
absl::Status SplitAddress(const std::string& address, std::string* host,
                          int* port) {
  size_t colon = address.rfind(':');
  int p = -1;
  if (colon == std::string::npos || colon == 0 ||
      !absl::SimpleAtoi(address.substr(colon + 1), &p) || p < 0 || p > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("--http-listen must be HOST:PORT (port 0-65535), got \"",
                     address, "\""));
  }
  *host = address.substr(0, colon);
  if (host->size() > 2 && host->front() == '[' && host->back() == ']') {
    *host = host->substr(1, host->size() - 2);
  }
  *port = p;
  return absl::OkStatus();
}

// Constant-time comparison of two equal-length hex digests.
bool SameDigest(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= a[i] ^ b[i];
  return diff == 0;
}

}  // namespace

bool IsLoopbackHost(const std::string& host) {
  return host == "localhost" || host == "::1" || absl::StartsWith(host, "127.");
}

HttpServer::~HttpServer() { Shutdown(); }

void HttpServer::Shutdown() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

absl::StatusOr<std::unique_ptr<HttpServer>> StartHttpServer(
    const HttpOptions& options) {
  std::string host;
  int port = 0;
  NEST_RETURN_IF_ERROR(SplitAddress(options.listen_address, &host, &port));
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
