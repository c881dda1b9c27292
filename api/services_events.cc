// EventService (list and the resumable Watch stream), PlacementService and
// UsageService.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "api/services_internal.h"
#include "nest/v1/event.grpc.pb.h"
#include "nest/v1/placement.grpc.pb.h"
#include "nest/v1/usage.grpc.pb.h"

namespace nest::api::internal {
namespace {

using grpc::ServerContext;
using grpc::Status;

class EventServiceImpl final : public v1::EventService::Service {
 public:
  EventServiceImpl(Gate& g, std::shared_ptr<StreamTracker> streams,
                   const ServiceOptions& options)
      : gate_(g), streams_(std::move(streams)), options_(options) {}

  Status ListEvents(ServerContext* ctx, const v1::ListEventsRequest* req,
                    v1::ListEventsResponse* resp) override {
    auto c = gate_.Enter(ctx, "ListEvents");
    if (!c.ok()) return ToGrpcStatus(c.status());
    control::EventFilter f;
    f.after_seq = req->after_seq();
    f.limit = req->limit() == 0 ? 100 : req->limit();
    f.kind = req->kind();
    f.name = req->name();
    auto events = c->ListEvents(f);
    if (!events.ok()) return ToGrpcStatus(events.status());
    for (const auto& e : *events) *resp->add_events() = ToProto(e);
    return Status::OK;
  }

  // Delivers every event after the resume point exactly once, in order:
  // first what is already committed (in batches), then live events as they
  // commit. The position only moves past events that were either sent or
  // filtered out by a query that could see them.
  Status Watch(ServerContext* ctx, const v1::WatchEventsRequest* req,
               grpc::ServerWriter<v1::Event>* writer) override {
    auto c = gate_.Enter(ctx, "Watch");
    if (!c.ok()) return ToGrpcStatus(c.status());
    StreamScope scope(*streams_);
    int64_t after = 0;
    if (req->from_oldest()) {
      auto oldest = c->OldestEventSeq();
      if (!oldest.ok()) return ToGrpcStatus(oldest.status());
      after = *oldest - 1;
    } else if (req->after_seq() > 0) {
      after = req->after_seq();
    } else if (req->after_seq() < 0) {
      FieldErrors errors;
      errors.Add("after_seq",
                 absl::StrCat("must be >= 0, got ", req->after_seq()));
      return ToGrpcStatus(errors.ToStatus());
    } else {
      after = c->LastEventSeq();
    }
    control::EventFilter f;
    f.limit = options_.watch_batch;
    f.kind = req->kind();
    f.name = req->name();
    // Headers go out at once, so a client knows the watch is established
    // (and that OUT_OF_RANGE was not the answer) before any event.
    bool first = true;
    while (!ctx->IsCancelled()) {
      int64_t committed = c->LastEventSeq();
      f.after_seq = after;
      auto events = c->ListEvents(f);
      if (!events.ok()) return ToGrpcStatus(events.status());
      if (first) {
        writer->SendInitialMetadata();
        first = false;
      }
      for (const auto& e : *events) {
        if (!writer->Write(ToProto(e))) return Status::OK;  // client gone
        after = e.seq;
      }
      if (static_cast<int64_t>(events->size()) == f.limit) continue;
      // Everything up to `committed` was visible to that query.
      after = std::max(after, committed);
      c->WaitForEvents(after, options_.watch_poll);
    }
    return Status(grpc::StatusCode::CANCELLED, "watch cancelled by the client");
  }

 private:
  Gate& gate_;
  std::shared_ptr<StreamTracker> streams_;
  const ServiceOptions options_;
};

class UsageServiceImpl final : public v1::UsageService::Service {
 public:
  explicit UsageServiceImpl(Gate& g) : gate_(g) {}

  Status GetUsage(ServerContext* ctx, const v1::GetUsageRequest*,
                  v1::GetUsageResponse* resp) override {
    auto c = gate_.Enter(ctx, "GetUsage");
    if (!c.ok()) return ToGrpcStatus(c.status());
    auto usage = c->Usage();
    if (!usage.ok()) return ToGrpcStatus(usage.status());
    *resp = ToProto(*usage);
    return Status::OK;
  }

 private:
  Gate& gate_;
};

class PlacementServiceImpl final : public v1::PlacementService::Service {
 public:
  explicit PlacementServiceImpl(Gate& g) : gate_(g) {}

  Status Explain(ServerContext* ctx, const v1::ExplainRequest* req,
                 v1::ExplainResponse* resp) override {
    auto c = gate_.Enter(ctx, "Explain");
    if (!c.ok()) return ToGrpcStatus(c.status());
    if (req->workload().empty()) {
      FieldErrors errors;
      errors.Add("workload", "is required: the workload to explain");
      return ToGrpcStatus(errors.ToStatus());
    }
    auto v = c->Explain(req->workload());
    if (!v.ok()) return ToGrpcStatus(v.status());
    *resp = ToProto(*v);
    return Status::OK;
  }
  Status DryRun(ServerContext* ctx, const v1::DryRunRequest*,
                v1::DryRunResponse* resp) override {
    auto c = gate_.Enter(ctx, "DryRun");
    if (!c.ok()) return ToGrpcStatus(c.status());
    auto v = c->DryRun();
    if (!v.ok()) return ToGrpcStatus(v.status());
    for (const auto& a : v->actions) *resp->add_actions() = ToProto(a);
    for (const auto& u : v->unplaceable) *resp->add_unplaceable() = ToProto(u);
    return Status::OK;
  }

 private:
  Gate& gate_;
};

}  // namespace

std::unique_ptr<grpc::Service> MakeEventService(
    Gate& g, std::shared_ptr<StreamTracker> streams,
    const ServiceOptions& options) {
  return std::make_unique<EventServiceImpl>(g, std::move(streams), options);
}
std::unique_ptr<grpc::Service> MakePlacementService(Gate& g) {
  return std::make_unique<PlacementServiceImpl>(g);
}
std::unique_ptr<grpc::Service> MakeUsageService(Gate& g) {
  return std::make_unique<UsageServiceImpl>(g);
}

}  // namespace nest::api::internal
