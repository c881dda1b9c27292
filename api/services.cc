// HostService, VmGroupService, VmService and ImageService, plus the
// factory and the stream tracker.
#include "api/services.h"

#include <algorithm>

#include "api/services_internal.h"
#include "nest/v1/host.grpc.pb.h"
#include "nest/v1/image.grpc.pb.h"
#include "nest/v1/vm.grpc.pb.h"
#include "nest/v1/vm_group.grpc.pb.h"

namespace nest::api {

using grpc::ServerContext;
using grpc::Status;
using internal::Encode;
using internal::Reply;

void StreamTracker::Enter() {
  absl::MutexLock l(&mu_);
  ++active_;
  ++total_;
}
void StreamTracker::Exit() {
  absl::MutexLock l(&mu_);
  --active_;
}
int StreamTracker::active() const {
  absl::MutexLock l(&mu_);
  return active_;
}
int StreamTracker::total() const {
  absl::MutexLock l(&mu_);
  return total_;
}
bool StreamTracker::AwaitActiveAtMost(int n, absl::Duration timeout) const {
  absl::MutexLock l(&mu_);
  auto cond = [this, n]()
                  ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return active_ <= n; };
  return mu_.AwaitWithTimeout(absl::Condition(&cond), timeout);
}
bool StreamTracker::AwaitTotalAtLeast(int n, absl::Duration timeout) const {
  absl::MutexLock l(&mu_);
  auto cond = [this, n]()
                  ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return total_ >= n; };
  return mu_.AwaitWithTimeout(absl::Condition(&cond), timeout);
}

std::vector<grpc::Service*> Services::raw() const {
  std::vector<grpc::Service*> out;
  for (const auto& s : owned) out.push_back(s.get());
  return out;
}

Services MakeServices(control::Commands& commands,
                      const ServiceOptions& options) {
  Services s;
  s.gate = std::make_unique<Gate>(commands, options.auth);
  Gate& g = *s.gate;
  s.streams = std::make_shared<StreamTracker>();
  s.owned.push_back(internal::MakeHostService(g));
  s.owned.push_back(internal::MakeVmGroupService(g));
  s.owned.push_back(internal::MakeVmService(g));
  s.owned.push_back(internal::MakeWorkloadService(g));
  s.owned.push_back(internal::MakeContainerService(g, s.streams));
  s.owned.push_back(internal::MakeImageService(g));
  s.owned.push_back(internal::MakeEventService(g, s.streams, options));
  s.owned.push_back(internal::MakePlacementService(g));
  s.owned.push_back(internal::MakeUsageService(g));
  s.owned.push_back(internal::MakeTokenService(g));
  s.owned.push_back(internal::MakeQuotaService(g));
  return s;
}

namespace internal {

absl::Time DeadlineOf(const grpc::ServerContext* ctx) {
  auto d = ctx->deadline();
  if (d == std::chrono::system_clock::time_point::max()) {
    return absl::Now() + absl::Hours(24 * 365);
  }
  return absl::FromChrono(d);
}

int64_t ExecTimeoutWithin(int64_t timeout_s, absl::Time deadline,
                          absl::Time now) {
  if (timeout_s < 0 || timeout_s > 3600) return timeout_s;
  int64_t wanted = timeout_s == 0 ? 30 : timeout_s;
  int64_t left = absl::ToInt64Seconds(absl::Ceil(
      std::max(deadline - now, absl::ZeroDuration()), absl::Seconds(1)));
  return std::clamp<int64_t>(left, 1, wanted);
}

namespace {

// ---- Hosts
// -------------------------------------------------------------------

class HostServiceImpl final : public v1::HostService::Service {
 public:
  explicit HostServiceImpl(Gate& g) : gate_(g) {}

  Status CreateHost(ServerContext* ctx, const v1::CreateHostRequest* req,
                    v1::CreateHostResponse* resp) override {
    auto c = gate_.Enter(ctx, "CreateHost");
    if (!c.ok()) return ToGrpcStatus(c.status());
    return Reply(
        c->CreateHost(MetaOf("CreateHost", *req, req->options()),
                      FromProto(*req), HostEncoder<v1::CreateHostResponse>()),
        resp);
  }
  Status GetHost(ServerContext* ctx, const v1::GetHostRequest* req,
                 v1::GetHostResponse* resp) override {
    auto c = gate_.Enter(ctx, "GetHost");
    if (!c.ok()) return ToGrpcStatus(c.status());
    auto h = c->GetHost(req->name());
    if (!h.ok()) return ToGrpcStatus(h.status());
    *resp->mutable_host() = ToProto(*h);
    return Status::OK;
  }
  Status ListHosts(ServerContext* ctx, const v1::ListHostsRequest* req,
                   v1::ListHostsResponse* resp) override {
    auto c = gate_.Enter(ctx, "ListHosts");
    if (!c.ok()) return ToGrpcStatus(c.status());
    auto page = c->ListHosts(ListOf(req->page()));
    if (!page.ok()) return ToGrpcStatus(page.status());
    for (const auto& h : page->items) *resp->add_hosts() = ToProto(h);
    resp->set_next_page_token(page->next_page_token);
    return Status::OK;
  }
  Status DeleteHost(ServerContext* ctx, const v1::DeleteHostRequest* req,
                    v1::DeleteHostResponse* resp) override {
    auto c = gate_.Enter(ctx, "DeleteHost");
    if (!c.ok()) return ToGrpcStatus(c.status());
    return Reply(
        c->DeleteHost(MetaOf("DeleteHost", *req, req->options()), req->name()),
        resp);
  }
  Status CordonHost(ServerContext* ctx, const v1::CordonHostRequest* req,
                    v1::CordonHostResponse* resp) override {
    auto c = gate_.Enter(ctx, "CordonHost");
    if (!c.ok()) return ToGrpcStatus(c.status());
    return Reply(c->SetHostState(MetaOf("CordonHost", *req, req->options()),
                                 req->name(), store::HostState::kCordoned,
                                 HostEncoder<v1::CordonHostResponse>()),
                 resp);
  }
  Status UncordonHost(ServerContext* ctx, const v1::UncordonHostRequest* req,
                      v1::UncordonHostResponse* resp) override {
    auto c = gate_.Enter(ctx, "UncordonHost");
    if (!c.ok()) return ToGrpcStatus(c.status());
    return Reply(c->SetHostState(MetaOf("UncordonHost", *req, req->options()),
                                 req->name(), store::HostState::kReady,
                                 HostEncoder<v1::UncordonHostResponse>()),
                 resp);
  }
  Status DrainHost(ServerContext* ctx, const v1::DrainHostRequest* req,
                   v1::DrainHostResponse* resp) override {
    auto c = gate_.Enter(ctx, "DrainHost");
    if (!c.ok()) return ToGrpcStatus(c.status());
    return Reply(c->SetHostState(MetaOf("DrainHost", *req, req->options()),
                                 req->name(), store::HostState::kDraining,
                                 HostEncoder<v1::DrainHostResponse>()),
                 resp);
  }

 private:
  template <typename Resp>
  static control::Encoder<control::HostView> HostEncoder() {
    return Encode<Resp, control::HostView>(
        [](Resp& r, const control::HostView& v) {
          *r.mutable_host() = ToProto(v);
        });
  }
  Gate& gate_;
};

// ---- VM groups
// -----------------------------------------------------------------

class VmGroupServiceImpl final : public v1::VmGroupService::Service {
 public:
  explicit VmGroupServiceImpl(Gate& g) : gate_(g) {}

  Status CreateVmGroup(ServerContext* ctx, const v1::CreateVmGroupRequest* req,
                       v1::CreateVmGroupResponse* resp) override {
    auto c = gate_.Enter(ctx, "CreateVmGroup");
    if (!c.ok()) return ToGrpcStatus(c.status());
    return Reply(c->CreateGroup(MetaOf("CreateVmGroup", *req, req->options()),
                                req->name(), FromProto(req->spec()),
                                GroupEncoder<v1::CreateVmGroupResponse>()),
                 resp);
  }
  Status GetVmGroup(ServerContext* ctx, const v1::GetVmGroupRequest* req,
                    v1::GetVmGroupResponse* resp) override {
    auto c = gate_.Enter(ctx, "GetVmGroup");
    if (!c.ok()) return ToGrpcStatus(c.status());
    auto g = c->GetGroup(req->name());
    if (!g.ok()) return ToGrpcStatus(g.status());
    *resp->mutable_group() = ToProto(*g);
    return Status::OK;
  }
  Status ListVmGroups(ServerContext* ctx, const v1::ListVmGroupsRequest* req,
                      v1::ListVmGroupsResponse* resp) override {
    auto c = gate_.Enter(ctx, "ListVmGroups");
    if (!c.ok()) return ToGrpcStatus(c.status());
    auto page = c->ListGroups(ListOf(req->page()));
    if (!page.ok()) return ToGrpcStatus(page.status());
    for (const auto& g : page->items) *resp->add_groups() = ToProto(g);
    resp->set_next_page_token(page->next_page_token);
    return Status::OK;
  }
  Status UpdateVmGroup(ServerContext* ctx, const v1::UpdateVmGroupRequest* req,
                       v1::UpdateVmGroupResponse* resp) override {
    auto c = gate_.Enter(ctx, "UpdateVmGroup");
    if (!c.ok()) return ToGrpcStatus(c.status());
    return Reply(c->UpdateGroup(MetaOf("UpdateVmGroup", *req, req->options()),
                                req->name(), FromProto(req->spec()),
                                GroupEncoder<v1::UpdateVmGroupResponse>()),
                 resp);
  }
  Status DeleteVmGroup(ServerContext* ctx, const v1::DeleteVmGroupRequest* req,
                       v1::DeleteVmGroupResponse* resp) override {
    auto c = gate_.Enter(ctx, "DeleteVmGroup");
    if (!c.ok()) return ToGrpcStatus(c.status());
    return Reply(c->DeleteGroup(MetaOf("DeleteVmGroup", *req, req->options()),
                                req->name()),
                 resp);
  }
  Status ScaleVmGroup(ServerContext* ctx, const v1::ScaleVmGroupRequest* req,
                      v1::ScaleVmGroupResponse* resp) override {
    auto c = gate_.Enter(ctx, "ScaleVmGroup");
    if (!c.ok()) return ToGrpcStatus(c.status());
    return Reply(c->ScaleGroup(MetaOf("ScaleVmGroup", *req, req->options()),
                               req->name(), req->desired_vms(),
                               GroupEncoder<v1::ScaleVmGroupResponse>()),
                 resp);
  }

 private:
  template <typename Resp>
  static control::Encoder<control::GroupView> GroupEncoder() {
    return Encode<Resp, control::GroupView>(
        [](Resp& r, const control::GroupView& v) {
          *r.mutable_group() = ToProto(v);
        });
  }
  Gate& gate_;
};

// ---- VMs
// -------------------------------------------------------------------------

class VmServiceImpl final : public v1::VmService::Service {
 public:
  explicit VmServiceImpl(Gate& g) : gate_(g) {}

  Status GetVm(ServerContext* ctx, const v1::GetVmRequest* req,
               v1::GetVmResponse* resp) override {
    auto c = gate_.Enter(ctx, "GetVm");
    if (!c.ok()) return ToGrpcStatus(c.status());
    auto vm = c->GetVm(req->name());
    if (!vm.ok()) return ToGrpcStatus(vm.status());
    *resp->mutable_vm() = ToProto(*vm);
    return Status::OK;
  }
  Status ListVms(ServerContext* ctx, const v1::ListVmsRequest* req,
                 v1::ListVmsResponse* resp) override {
    auto c = gate_.Enter(ctx, "ListVms");
    if (!c.ok()) return ToGrpcStatus(c.status());
    auto page = c->ListVms(ListOf(req->page()), req->group(), req->host());
    if (!page.ok()) return ToGrpcStatus(page.status());
    for (const auto& vm : page->items) *resp->add_vms() = ToProto(vm);
    resp->set_next_page_token(page->next_page_token);
    return Status::OK;
  }
  Status StopVm(ServerContext* ctx, const v1::StopVmRequest* req,
                v1::StopVmResponse* resp) override {
    auto c = gate_.Enter(ctx, "StopVm");
    if (!c.ok()) return ToGrpcStatus(c.status());
    return Reply(c->SetVmDesired(MetaOf("StopVm", *req, req->options()),
                                 req->name(), store::VmDesiredState::kStopped,
                                 VmEncoder<v1::StopVmResponse>()),
                 resp);
  }
  Status StartVm(ServerContext* ctx, const v1::StartVmRequest* req,
                 v1::StartVmResponse* resp) override {
    auto c = gate_.Enter(ctx, "StartVm");
    if (!c.ok()) return ToGrpcStatus(c.status());
    return Reply(c->SetVmDesired(MetaOf("StartVm", *req, req->options()),
                                 req->name(), store::VmDesiredState::kRunning,
                                 VmEncoder<v1::StartVmResponse>()),
                 resp);
  }
  Status DeleteVm(ServerContext* ctx, const v1::DeleteVmRequest* req,
                  v1::DeleteVmResponse* resp) override {
    auto c = gate_.Enter(ctx, "DeleteVm");
    if (!c.ok()) return ToGrpcStatus(c.status());
    return Reply(
        c->SetVmDesired(MetaOf("DeleteVm", *req, req->options()), req->name(),
                        store::VmDesiredState::kDeleted, nullptr),
        resp);
  }
  Status GetConsoleLog(ServerContext* ctx, const v1::GetConsoleLogRequest* req,
                       v1::GetConsoleLogResponse* resp) override {
    auto c = gate_.Enter(ctx, "GetConsoleLog");
    if (!c.ok()) return ToGrpcStatus(c.status());
    auto data = c->ConsoleLog(req->name(), req->tail_bytes());
    if (!data.ok()) return ToGrpcStatus(data.status());
    resp->set_data(std::move(*data));
    return Status::OK;
  }

 private:
  template <typename Resp>
  static control::Encoder<control::VmView> VmEncoder() {
    return Encode<Resp, control::VmView>([](Resp& r, const control::VmView& v) {
      *r.mutable_vm() = ToProto(v);
    });
  }
  Gate& gate_;
};

// ---- Images
// ------------------------------------------------------------------------

class ImageServiceImpl final : public v1::ImageService::Service {
 public:
  explicit ImageServiceImpl(Gate& g) : gate_(g) {}

  Status ImportImage(ServerContext* ctx, const v1::ImportImageRequest* req,
                     v1::ImportImageResponse* resp) override {
    auto c = gate_.Enter(ctx, "ImportImage");
    if (!c.ok()) return ToGrpcStatus(c.status());
    return Reply(
        c->ImportImage(
            MetaOf("ImportImage", *req, req->options()), req->name(),
            req->source(),
            Encode<v1::ImportImageResponse, control::ImageView>(
                [](v1::ImportImageResponse& r, const control::ImageView& v) {
                  *r.mutable_image() = ToProto(v);
                })),
        resp);
  }
  Status ListImages(ServerContext* ctx, const v1::ListImagesRequest* req,
                    v1::ListImagesResponse* resp) override {
    auto c = gate_.Enter(ctx, "ListImages");
    if (!c.ok()) return ToGrpcStatus(c.status());
    auto page = c->ListImages(ListOf(req->page()));
    if (!page.ok()) return ToGrpcStatus(page.status());
    for (const auto& i : page->items) *resp->add_images() = ToProto(i);
    resp->set_next_page_token(page->next_page_token);
    return Status::OK;
  }
  Status DeleteImage(ServerContext* ctx, const v1::DeleteImageRequest* req,
                     v1::DeleteImageResponse* resp) override {
    auto c = gate_.Enter(ctx, "DeleteImage");
    if (!c.ok()) return ToGrpcStatus(c.status());
    return Reply(c->DeleteImage(MetaOf("DeleteImage", *req, req->options()),
                                req->name()),
                 resp);
  }

 private:
  Gate& gate_;
};

}  // namespace

std::unique_ptr<grpc::Service> MakeHostService(Gate& g) {
  return std::make_unique<HostServiceImpl>(g);
}
std::unique_ptr<grpc::Service> MakeVmGroupService(Gate& g) {
  return std::make_unique<VmGroupServiceImpl>(g);
}
std::unique_ptr<grpc::Service> MakeVmService(Gate& g) {
  return std::make_unique<VmServiceImpl>(g);
}
std::unique_ptr<grpc::Service> MakeImageService(Gate& g) {
  return std::make_unique<ImageServiceImpl>(g);
}

}  // namespace internal
}  // namespace nest::api
