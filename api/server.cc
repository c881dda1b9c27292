#include "api/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/resource_quota.h>
#include <grpcpp/support/server_interceptor.h>

#include <chrono>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace nest::api {
namespace {

namespace exp = grpc::experimental;

// Counts each RPC once, when its status is sent: the method is the full
// path ("/nest.v1.WorkloadService/Apply"), a bounded set, and the code is
// the canonical name ("NOT_FOUND").
class MetricsInterceptor final : public exp::Interceptor {
 public:
  MetricsInterceptor(const ApiMetrics* m, std::string method)
      : m_(m), method_(std::move(method)) {}

  void Intercept(exp::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            exp::InterceptionHookPoints::PRE_SEND_STATUS)) {
      auto code =
          static_cast<absl::StatusCode>(methods->GetSendStatus().error_code());
      m_->requests->With({method_, absl::StatusCodeToString(code)}).Inc();
      m_->seconds->With({method_}).Observe(
          std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                        start_)
              .count());
    }
    methods->Proceed();
  }

 private:
  const ApiMetrics* m_;
  const std::string method_;
  const std::chrono::steady_clock::time_point start_ =
      std::chrono::steady_clock::now();
};

class MetricsInterceptorFactory final
    : public exp::ServerInterceptorFactoryInterface {
 public:
  explicit MetricsInterceptorFactory(const ApiMetrics* m) : m_(m) {}
  exp::Interceptor* CreateServerInterceptor(exp::ServerRpcInfo* info) override {
    return new MetricsInterceptor(m_, info->method());
  }

 private:
  const ApiMetrics* m_;
};

}  // namespace

absl::StatusOr<ApiMetrics> ApiMetrics::Register(metrics::Registry& r) {
  ApiMetrics m;
  NEST_ASSIGN_OR_RETURN(
      m.requests, r.AddCounter("nest_api_requests_total",
                               "gRPC requests answered, by method and code.",
                               {"method", "code"}));
  NEST_ASSIGN_OR_RETURN(
      m.seconds,
      r.AddHistogram("nest_api_request_duration_seconds",
                     "Time from a request's arrival to its status.", {"method"},
                     metrics::ExponentialBuckets(0.0005, 4, 10)));
  return m;
}

Server::~Server() { Shutdown(); }

void Server::Shutdown() {
  if (!server_) return;
  if (auto* health = server_->GetHealthCheckService()) {
    health->SetServingStatus(false);
  }
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  server_->Wait();
  server_.reset();
}

absl::StatusOr<std::unique_ptr<Server>> StartServer(
    const ServerOptions& options, const std::vector<grpc::Service*>& services) {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();

  grpc::ServerBuilder builder;
  int port = 0;
  auto creds = options.credentials ? options.credentials
                                   : grpc::InsecureServerCredentials();
  builder.AddListeningPort(options.listen_address, creds, &port);
  builder.SetMaxReceiveMessageSize(options.max_receive_bytes);
  grpc::ResourceQuota quota("nest-api");
  quota.SetMaxThreads(options.max_threads);
  builder.SetResourceQuota(quota);
  for (grpc::Service* s : services) builder.RegisterService(s);
  if (options.metrics != nullptr) {
    std::vector<std::unique_ptr<exp::ServerInterceptorFactoryInterface>> f;
    f.push_back(std::make_unique<MetricsInterceptorFactory>(options.metrics));
    builder.experimental().SetInterceptorCreators(std::move(f));
  }

  auto server = std::unique_ptr<Server>(new Server);
  server->server_ = builder.BuildAndStart();
  if (!server->server_ || port == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options.listen_address,
                     " (address in use or not an address of this machine?)"));
  }
  server->port_ = port;
  return server;
}

}  // namespace nest::api
