// Helpers and factories shared by the services_*.cc files.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "api/convert.h"
#include "api/errors.h"
#include "api/auth.h"
#include "api/services.h"
#include "control/commands.h"

namespace nest::api::internal {

// Turns a mutation's result into the RPC's answer: the response bytes (new
// or replayed) parse into `resp`.
template <typename Resp>
grpc::Status Reply(const absl::StatusOr<control::Written>& w, Resp* resp) {
  if (!w.ok()) return ToGrpcStatus(w.status());
  if (!resp->ParseFromString(w->response)) {
    return ToGrpcStatus(absl::InternalError(
        "the stored response of this request does not parse"));
  }
  return grpc::Status::OK;
}

// An encoder that puts `ToProto(view)` into a fresh `Resp` via `set`.
template <typename Resp, typename View, typename Set>
control::Encoder<View> Encode(Set set) {
  return [set](const View& v) {
    Resp r;
    set(r, v);
    return SerializeDeterministic(r);
  };
}

// Enters/exits the stream tracker for the lifetime of a handler.
class StreamScope {
 public:
  explicit StreamScope(StreamTracker& t) : t_(t) { t_.Enter(); }
  ~StreamScope() { t_.Exit(); }
  StreamScope(const StreamScope&) = delete;
  StreamScope& operator=(const StreamScope&) = delete;

 private:
  StreamTracker& t_;
};

// The client's deadline, or far in the future when it set none.
absl::Time DeadlineOf(const grpc::ServerContext* ctx);

// An exec's timeout_s (0: 30 s) shortened to end by the client's
// `deadline` (rounded up to whole seconds, at least 1), so a command does
// not keep running after the call that waits for it is gone. Values out of
// range are returned as they are, for control/ to reject with the field.
int64_t ExecTimeoutWithin(int64_t timeout_s, absl::Time deadline,
                          absl::Time now);

std::unique_ptr<grpc::Service> MakeHostService(Gate& g);
std::unique_ptr<grpc::Service> MakeVmGroupService(Gate& g);
std::unique_ptr<grpc::Service> MakeVmService(Gate& g);
std::unique_ptr<grpc::Service> MakeImageService(Gate& g);
std::unique_ptr<grpc::Service> MakeWorkloadService(Gate& g);
std::unique_ptr<grpc::Service> MakeContainerService(
    Gate& g, std::shared_ptr<StreamTracker> streams);
std::unique_ptr<grpc::Service> MakeEventService(
    Gate& g, std::shared_ptr<StreamTracker> streams,
    const ServiceOptions& options);
std::unique_ptr<grpc::Service> MakePlacementService(Gate& g);
std::unique_ptr<grpc::Service> MakeUsageService(Gate& g);
std::unique_ptr<grpc::Service> MakeTokenService(Gate& g);
std::unique_ptr<grpc::Service> MakeQuotaService(Gate& g);

}  // namespace nest::api::internal
