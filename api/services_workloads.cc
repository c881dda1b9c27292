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
  explicit WorkloadServiceImpl(control::Commands& c) : c_(c) {}

  Status CreateWorkload(ServerContext*, const v1::CreateWorkloadRequest* req,
                        v1::CreateWorkloadResponse* resp) override {
    return Reply(
        c_.CreateWorkload(MetaOf("CreateWorkload", *req, req->options()),
                          req->name(), FromProto(req->spec()),
                          WorkloadEncoder<v1::CreateWorkloadResponse>()),
        resp);
  }
  Status GetWorkload(ServerContext*, const v1::GetWorkloadRequest* req,
                     v1::GetWorkloadResponse* resp) override {
    auto w = c_.GetWorkload(req->name());
    if (!w.ok()) return ToGrpcStatus(w.status());
    *resp->mutable_workload() = ToProto(*w);
    return Status::OK;
  }
  Status ListWorkloads(ServerContext*, const v1::ListWorkloadsRequest* req,
                       v1::ListWorkloadsResponse* resp) override {
    auto page = c_.ListWorkloads(ListOf(req->page()));
    if (!page.ok()) return ToGrpcStatus(page.status());
    for (const auto& w : page->items) *resp->add_workloads() = ToProto(w);
    resp->set_next_page_token(page->next_page_token);
    return Status::OK;
  }
  Status UpdateWorkload(ServerContext*, const v1::UpdateWorkloadRequest* req,
                        v1::UpdateWorkloadResponse* resp) override {
    return Reply(
        c_.UpdateWorkload(MetaOf("UpdateWorkload", *req, req->options()),
                          req->name(), FromProto(req->spec()),
                          WorkloadEncoder<v1::UpdateWorkloadResponse>()),
        resp);
  }
  Status DeleteWorkload(ServerContext*, const v1::DeleteWorkloadRequest* req,
                        v1::DeleteWorkloadResponse* resp) override {
    return Reply(
        c_.DeleteWorkload(MetaOf("DeleteWorkload", *req, req->options()),
                          req->name()),
        resp);
  }
  Status ScaleWorkload(ServerContext*, const v1::ScaleWorkloadRequest* req,
                       v1::ScaleWorkloadResponse* resp) override {
    return Reply(c_.ScaleWorkload(MetaOf("ScaleWorkload", *req, req->options()),
                                  req->name(), req->replicas(),
                                  WorkloadEncoder<v1::ScaleWorkloadResponse>()),
                 resp);
  }
  Status Apply(ServerContext*, const v1::ApplyRequest* req,
               v1::ApplyResponse* resp) override {
    return Reply(c_.Apply(MetaOf("Apply", *req, req->options()),
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
  control::Commands& c_;
};

class ContainerServiceImpl final : public v1::ContainerService::Service {
 public:
  ContainerServiceImpl(control::Commands& c,
                       std::shared_ptr<StreamTracker> streams)
      : c_(c), streams_(std::move(streams)) {}

  Status GetContainer(ServerContext*, const v1::GetContainerRequest* req,
                      v1::GetContainerResponse* resp) override {
    auto c = c_.GetContainer(req->name());
    if (!c.ok()) return ToGrpcStatus(c.status());
    *resp->mutable_container() = ToProto(*c);
    return Status::OK;
  }
  Status ListContainers(ServerContext*, const v1::ListContainersRequest* req,
                        v1::ListContainersResponse* resp) override {
    auto page =
        c_.ListContainers(ListOf(req->page()), req->workload(), req->vm());
    if (!page.ok()) return ToGrpcStatus(page.status());
    for (const auto& c : page->items) *resp->add_containers() = ToProto(c);
    resp->set_next_page_token(page->next_page_token);
    return Status::OK;
  }
  Status StreamLogs(
      ServerContext* ctx, const v1::StreamLogsRequest* req,
      grpc::ServerWriter<v1::StreamLogsResponse>* writer) override {
    StreamScope scope(*streams_);
    absl::Status st = c_.Logs(
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
    std::vector<std::string> cmd(req->command().begin(), req->command().end());
    auto r = c_.Exec(
        req->name(), cmd,
        ExecTimeoutWithin(req->timeout_s(), DeadlineOf(ctx), absl::Now()));
    if (!r.ok()) return ToGrpcStatus(r.status());
    resp->set_exit_code(r->exit_code);
    // The agent returns stdout and stderr interleaved, as one output.
    resp->set_stdout(r->output);
    if (r->timed_out) resp->set_stderr("nest: the command timed out\n");
    return Status::OK;
  }
  Status GetContainerStats(ServerContext*,
                           const v1::GetContainerStatsRequest* req,
                           v1::GetContainerStatsResponse* resp) override {
    auto stats = c_.Stats(req->name());
    if (!stats.ok()) return ToGrpcStatus(stats.status());
    for (const auto& s : *stats) *resp->add_stats() = ToProto(s);
    return Status::OK;
  }

 private:
  control::Commands& c_;
  std::shared_ptr<StreamTracker> streams_;
};

}  // namespace

std::unique_ptr<grpc::Service> MakeWorkloadService(control::Commands& c) {
  return std::make_unique<WorkloadServiceImpl>(c);
}
std::unique_ptr<grpc::Service> MakeContainerService(
    control::Commands& c, std::shared_ptr<StreamTracker> streams) {
  return std::make_unique<ContainerServiceImpl>(c, std::move(streams));
}

}  // namespace nest::api::internal
