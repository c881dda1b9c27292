#include "api/http_server.h"

#include <httplib.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace nest::api {
namespace {

constexpr char kExpositionType[] = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace

HttpServer::~HttpServer() { Shutdown(); }

void HttpServer::Shutdown() {
  // Live streams end first, or stop() would wait for them.
  if (dashboard_) dashboard_->Stop();
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

absl::StatusOr<std::unique_ptr<HttpServer>> StartHttpServer(
    const HttpOptions& options) {
  NEST_ASSIGN_OR_RETURN(HostPort address,
                        SplitHostPort("--http-listen", options.listen_address));
  const std::string& host = address.host;
  int port = address.port;
  if (!IsLoopbackHost(host) && !options.authorize) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--http-listen ", options.listen_address,
        " is not a loopback address, and /metrics names every tenant's "
        "objects: it needs an operator token there, or listen on 127.0.0.1"));
  }
  auto out = std::unique_ptr<HttpServer>(new HttpServer);
  out->server_ = std::make_unique<httplib::Server>();
  httplib::Server& svr = *out->server_;
  const metrics::Registry* registry = options.registry;
  auto authorize = options.authorize;
  svr.Get("/metrics", [registry, authorize](const httplib::Request& req,
                                            httplib::Response& res) {
    if (authorize) {
      std::string auth = req.get_header_value("Authorization");
      constexpr absl::string_view kBearer = "Bearer ";
      absl::Status s =
          absl::StartsWith(auth, kBearer)
              ? authorize(absl::string_view(auth).substr(kBearer.size()))
              : absl::UnauthenticatedError("no bearer token");
      if (!s.ok()) {
        bool forbidden = absl::IsPermissionDenied(s);
        res.status = forbidden ? 403 : 401;
        if (!forbidden) res.set_header("WWW-Authenticate", "Bearer");
        res.set_content(
            absl::StrCat(res.status, forbidden ? " Forbidden" : " Unauthorized",
                         ": /metrics needs an operator token: ", s.message(),
                         "\n"),
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
  if (options.dashboard.commands != nullptr) {
    if (options.dashboard.clock == nullptr) {
      return absl::InvalidArgumentError("the dashboard needs a clock");
    }
    // Live streams hold a thread each (bounded by max_streams), and so does
    // every idle keep-alive connection until its timeout: a browser opens
    // several per page. Too few threads and a page load queues behind
    // connections that a navigation left idle.
    int threads = options.dashboard.max_streams + 24;
    svr.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
    svr.set_keep_alive_timeout(2);
    out->dashboard_ = std::make_unique<Dashboard>(options.dashboard);
    out->dashboard_->Register(svr);
  }
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
