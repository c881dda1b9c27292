// WorkloadService (including Apply) and ContainerService.
#include "api/services_internal.h"
#include "nest/v1/container.grpc.pb.h"
#include "nest/v1/workload.grpc.pb.h"

namespace nest::api::internal {
namespace {

using grpc::ServerContext;
using grpc::Status;

class WorkloadServiceImpl final : public v1::WorkloadService::Service {
 public:
  explicit WorkloadServiceImpl(Gate& g) : gate_(g) {}

  Status CreateWorkload(ServerContext* ctx, const v1::CreateWorkloadRequest* req,
                        v1::CreateWorkloadResponse* resp) override {
    auto c = gate_.Enter(ctx, "CreateWorkload");
    if (!c.ok()) return ToGrpcStatus(c.status());
    return Reply(
        c->CreateWorkload(MetaOf("CreateWorkload", *req, req->options()),
                          req->name(), FromProto(req->spec()),
                          WorkloadEncoder<v1::CreateWorkloadResponse>()),
        resp);
  }
  Status GetWorkload(ServerContext* ctx, const v1::GetWorkloadRequest* req,
                     v1::GetWorkloadResponse* resp) override {
    auto c = gate_.Enter(ctx, "GetWorkload");
    if (!c.ok()) return ToGrpcStatus(c.status());
    auto w = c->GetWorkload(req->name());
    if (!w.ok()) return ToGrpcStatus(w.status());
    *resp->mutable_workload() = ToProto(*w);
    return Status::OK;
  }
  Status ListWorkloads(ServerContext* ctx, const v1::ListWorkloadsRequest* req,
                       v1::ListWorkloadsResponse* resp) override {
    auto c = gate_.Enter(ctx, "ListWorkloads");
    if (!c.ok()) return ToGrpcStatus(c.status());
    auto page = c->ListWorkloads(ListOf(req->page()));
    if (!page.ok()) return ToGrpcStatus(page.status());
    for (const auto& w : page->items) *resp->add_workloads() = ToProto(w);
    resp->set_next_page_token(page->next_page_token);
    return Status::OK;
  }
  Status UpdateWorkload(ServerContext* ctx, const v1::UpdateWorkloadRequest* req,
                        v1::UpdateWorkloadResponse* resp) override {
    auto c = gate_.Enter(ctx, "UpdateWorkload");
    if (!c.ok()) return ToGrpcStatus(c.status());
    return Reply(
        c->UpdateWorkload(MetaOf("UpdateWorkload", *req, req->options()),
                          req->name(), FromProto(req->spec()),
                          WorkloadEncoder<v1::UpdateWorkloadResponse>()),
        resp);
  }
  Status DeleteWorkload(ServerContext* ctx, const v1::DeleteWorkloadRequest* req,
                        v1::DeleteWorkloadResponse* resp) override {
    auto c = gate_.Enter(ctx, "DeleteWorkload");
    if (!c.ok()) return ToGrpcStatus(c.status());
    return Reply(
        c->DeleteWorkload(MetaOf("DeleteWorkload", *req, req->options()),
                          req->name()),
        resp);
  }
  Status ScaleWorkload(ServerContext* ctx, const v1::ScaleWorkloadRequest* req,
                       v1::ScaleWorkloadResponse* resp) override {
    auto c = gate_.Enter(ctx, "ScaleWorkload");
    if (!c.ok()) return ToGrpcStatus(c.status());
    return Reply(c->ScaleWorkload(MetaOf("ScaleWorkload", *req, req->options()),
                                  req->name(), req->replicas(),
                                  WorkloadEncoder<v1::ScaleWorkloadResponse>()),
                 resp);
  }
  Status ListWorkloadRevisions(
      ServerContext* ctx, const v1::ListWorkloadRevisionsRequest* req,
      v1::ListWorkloadRevisionsResponse* resp) override {
    auto c = gate_.Enter(ctx, "ListWorkloadRevisions");
    if (!c.ok()) return ToGrpcStatus(c.status());
    auto revs = c->ListRevisions(req->name());
    if (!revs.ok()) return ToGrpcStatus(revs.status());
    for (const auto& r : revs->revisions) *resp->add_revisions() = ToProto(r);
    resp->set_current_revision(revs->current_revision);
    return Status::OK;
  }
  Status RollbackWorkload(ServerContext* ctx,
                          const v1::RollbackWorkloadRequest* req,
                          v1::RollbackWorkloadResponse* resp) override {
    auto c = gate_.Enter(ctx, "RollbackWorkload");
    if (!c.ok()) return ToGrpcStatus(c.status());
    return Reply(
        c->RollbackWorkload(
            MetaOf("RollbackWorkload", *req, req->options()), req->name(),
            req->to_revision(),
            Encode<v1::RollbackWorkloadResponse, control::RollbackView>(
                [](v1::RollbackWorkloadResponse& r,
                   const control::RollbackView& v) {
                  *r.mutable_workload() = ToProto(v.workload);
                  r.set_rolled_back_to(v.rolled_back_to);
                  r.set_unchanged(v.unchanged);
                })),
        resp);
  }
  Status Apply(ServerContext* ctx, const v1::ApplyRequest* req,
               v1::ApplyResponse* resp) override {
    auto c = gate_.Enter(ctx, "Apply");
    if (!c.ok()) return ToGrpcStatus(c.status());
    return Reply(c->Apply(MetaOf("Apply", *req, req->options()),
                          FromProto(req->objects()), req->dry_run(),
                          [](const std::vector<control::ApplyChange>& changes) {
                            v1::ApplyResponse r;
                            for (const auto& ch : changes)
                              *r.add_changes() = ToProto(ch);
                            return SerializeDeterministic(r);
                          }),
                 resp);
  }

 private:
  template <typename Resp>
  static control::Encoder<control::WorkloadView> WorkloadEncoder() {
    return Encode<Resp, control::WorkloadView>(
        [](Resp& r, const control::WorkloadView& v) {
          *r.mutable_workload() = ToProto(v);
        });
  }
  Gate& gate_;
};

class ContainerServiceImpl final : public v1::ContainerService::Service {
 public:
  ContainerServiceImpl(Gate& g,
                       std::shared_ptr<StreamTracker> streams)
      : gate_(g), streams_(std::move(streams)) {}

  Status GetContainer(ServerContext* ctx, const v1::GetContainerRequest* req,
                      v1::GetContainerResponse* resp) override {
    auto c = gate_.Enter(ctx, "GetContainer");
    if (!c.ok()) return ToGrpcStatus(c.status());
    auto got = c->GetContainer(req->name());
    if (!got.ok()) return ToGrpcStatus(got.status());
    *resp->mutable_container() = ToProto(*got);
    return Status::OK;
  }
  Status ListContainers(ServerContext* ctx, const v1::ListContainersRequest* req,
                        v1::ListContainersResponse* resp) override {
    auto c = gate_.Enter(ctx, "ListContainers");
    if (!c.ok()) return ToGrpcStatus(c.status());
    auto page =
        c->ListContainers(ListOf(req->page()), req->workload(), req->vm());
    if (!page.ok()) return ToGrpcStatus(page.status());
    for (const auto& c : page->items) *resp->add_containers() = ToProto(c);
    resp->set_next_page_token(page->next_page_token);
    return Status::OK;
  }
  Status StreamLogs(
      ServerContext* ctx, const v1::StreamLogsRequest* req,
      grpc::ServerWriter<v1::StreamLogsResponse>* writer) override {
    auto c = gate_.Enter(ctx, "StreamLogs");
    if (!c.ok()) return ToGrpcStatus(c.status());
    StreamScope scope(*streams_);
    absl::Status st = c->Logs(
        req->name(), req->follow(), req->tail_lines(),
        [&](absl::string_view data) {
          v1::StreamLogsResponse r;
          r.set_data(std::string(data));
          // The agent interleaves stdout and stderr into one stream.
          r.set_stream("stdout");
          return writer->Write(r) && !ctx->IsCancelled();
        },
        [ctx] { return ctx->IsCancelled(); }, DeadlineOf(ctx));
    if (ctx->IsCancelled())
      return Status(grpc::StatusCode::CANCELLED, "cancelled");
    return ToGrpcStatus(st);
  }
  Status Exec(ServerContext* ctx, const v1::ExecRequest* req,
              v1::ExecResponse* resp) override {
    auto c = gate_.Enter(ctx, "Exec");
    if (!c.ok()) return ToGrpcStatus(c.status());
    std::vector<std::string> cmd(req->command().begin(), req->command().end());
    auto r = c->Exec(
        req->name(), cmd,
        ExecTimeoutWithin(req->timeout_s(), DeadlineOf(ctx), absl::Now()));
    if (!r.ok()) return ToGrpcStatus(r.status());
    resp->set_exit_code(r->exit_code);
    // The agent returns stdout and stderr interleaved, as one output.
    resp->set_stdout(r->output);
    if (r->timed_out) resp->set_stderr("nest: the command timed out\n");
    return Status::OK;
  }
  Status GetContainerStats(ServerContext* ctx,
                           const v1::GetContainerStatsRequest* req,
                           v1::GetContainerStatsResponse* resp) override {
    auto c = gate_.Enter(ctx, "GetContainerStats");
    if (!c.ok()) return ToGrpcStatus(c.status());
    auto stats = c->Stats(req->name());
    if (!stats.ok()) return ToGrpcStatus(stats.status());
    for (const auto& s : *stats) *resp->add_stats() = ToProto(s);
    return Status::OK;
  }

 private:
  Gate& gate_;
  std::shared_ptr<StreamTracker> streams_;
};

}  // namespace

std::unique_ptr<grpc::Service> MakeWorkloadService(Gate& g) {
  return std::make_unique<WorkloadServiceImpl>(g);
}
std::unique_ptr<grpc::Service> MakeContainerService(
    Gate& g, std::shared_ptr<StreamTracker> streams) {
  return std::make_unique<ContainerServiceImpl>(g, std::move(streams));
}

}  // namespace nest::api::internal
