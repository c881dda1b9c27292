#include "tests/cli/fake_nest.h"

#include <map>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/message_differencer.h"
#include "nest/v1/container.grpc.pb.h"
#include "nest/v1/event.grpc.pb.h"
#include "nest/v1/host.grpc.pb.h"
#include "nest/v1/image.grpc.pb.h"
#include "nest/v1/placement.grpc.pb.h"
#include "nest/v1/usage.grpc.pb.h"
#include "nest/v1/vm.grpc.pb.h"
#include "nest/v1/vm_group.grpc.pb.h"
#include "nest/v1/workload.grpc.pb.h"

namespace nest::cli::testing {
namespace {

namespace v1 = ::nest::v1;
using grpc::ServerContext;
using grpc::Status;
using grpc::StatusCode;

constexpr int64_t kEpoch = 1767225600;  // 2026-01-01T00:00:00Z
constexpr int kPageSize = 1;            // every list paginates

Status NotFound(absl::string_view kind, const std::string& name) {
  return Status(StatusCode::NOT_FOUND,
                absl::StrCat(kind, " \"", name, "\" not found"));
}

// INVALID_ARGUMENT with a BadRequest in grpc-status-details-bin.
Status BadRequest(
    const std::string& message,
    const std::vector<std::pair<std::string, std::string>>& violations) {
  v1::BadRequest bad;
  for (const auto& [field, description] : violations) {
    auto* fv = bad.add_field_violations();
    fv->set_field(field);
    fv->set_description(description);
  }
  v1::RpcStatus rpc;
  rpc.set_code(static_cast<int>(StatusCode::INVALID_ARGUMENT));
  rpc.set_message(message);
  auto* any = rpc.add_details();
  any->set_type_url("type.googleapis.com/google.rpc.BadRequest");
  any->set_value(bad.SerializeAsString());
  return Status(StatusCode::INVALID_ARGUMENT, message, rpc.SerializeAsString());
}

std::string FieldText(const google::protobuf::Message& m,
                      const google::protobuf::FieldDescriptor* f) {
  std::string out;
  const auto* r = m.GetReflection();
  if (!f->is_repeated()) {
    google::protobuf::TextFormat::PrintFieldValueToString(m, f, -1, &out);
    return out;
  }
  std::vector<std::string> parts;
  for (int i = 0; i < r->FieldSize(m, f); ++i) {
    std::string s;
    google::protobuf::TextFormat::PrintFieldValueToString(m, f, i, &s);
    parts.push_back(s);
  }
  return absl::StrCat("[", absl::StrJoin(parts, ", "), "]");
}

// "replicas: 2 -> 3" for each top-level spec field that differs.
std::vector<std::string> Diff(const google::protobuf::Message& before,
                              const google::protobuf::Message& after) {
  std::vector<std::string> out;
  const auto* d = before.GetDescriptor();
  for (int i = 0; i < d->field_count(); ++i) {
    std::string a = FieldText(before, d->field(i));
    std::string b = FieldText(after, d->field(i));
    if (a != b)
      out.push_back(absl::StrCat(d->field(i)->name(), ": ", a, " -> ", b));
  }
  return out;
}

template <typename T>
void Page(const std::map<std::string, T>& items, const std::string& token,
          google::protobuf::RepeatedPtrField<T>* out, std::string* next) {
  int start = 0;
  if (!token.empty()) (void)absl::SimpleAtoi(token, &start);
  int i = 0;
  for (const auto& [name, item] : items) {
    if (i >= start && i < start + kPageSize) *out->Add() = item;
    ++i;
  }
  if (start + kPageSize < i) *next = absl::StrCat(start + kPageSize);
}

}  // namespace

struct FakeNest::State {
  mutable absl::Mutex mu;
  std::map<std::string, v1::Host> hosts ABSL_GUARDED_BY(mu);
  std::map<std::string, v1::VmGroup> groups ABSL_GUARDED_BY(mu);
  std::map<std::string, v1::Vm> vms ABSL_GUARDED_BY(mu);
  std::map<std::string, v1::Workload> workloads ABSL_GUARDED_BY(mu);
  std::map<std::string, v1::Container> containers ABSL_GUARDED_BY(mu);
  std::map<std::string, v1::Image> images ABSL_GUARDED_BY(mu);
  std::vector<v1::Event> events ABSL_GUARDED_BY(mu);
  int writes ABSL_GUARDED_BY(mu) = 0;
  std::string authorization ABSL_GUARDED_BY(mu);
  // HoldRollout: reads to hold the next change of a workload for, and the
  // reads left for changes being held (-1: forever).
  std::map<std::string, int> holds ABSL_GUARDED_BY(mu);
  std::map<std::string, int> held ABSL_GUARDED_BY(mu);

  void Touch(ServerContext* ctx) ABSL_LOCKS_EXCLUDED(mu) {
    absl::MutexLock l(&mu);
    authorization.clear();
    auto it = ctx->client_metadata().find("authorization");
    if (it != ctx->client_metadata().end()) {
      authorization.assign(it->second.data(), it->second.size());
    }
  }

  void Event(const std::string& kind, const std::string& name,
             const std::string& reason, const std::string& message)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    v1::Event e;
    e.set_seq(static_cast<int64_t>(events.size()) + 1);
    e.mutable_time()->set_seconds(kEpoch + e.seq());
    e.set_kind(kind);
    e.set_name(name);
    e.set_tenant("default");
    e.set_reason(reason);
    e.set_message(message);
    events.push_back(e);
  }

  static void Meta(v1::ObjectMeta* m, const std::string& name) {
    m->set_name(name);
    m->set_tenant("default");
    m->set_generation(m->generation() + 1);
    m->mutable_create_time()->set_seconds(kEpoch);
    m->mutable_update_time()->set_seconds(kEpoch);
  }

  void Converge(const std::string& name) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    v1::Workload& w = workloads[name];
    for (auto it = containers.begin(); it != containers.end();) {
      it = it->second.workload() == name ? containers.erase(it) : ++it;
    }
    w.clear_status();
    w.mutable_status()->set_observed_generation(w.meta().generation());
    if (w.spec().image() == "stuck") {
      w.mutable_status()->set_pending(w.spec().replicas());
      w.mutable_status()->set_message("no capacity: memory on 1 of 1 hosts");
      return;
    }
    w.mutable_status()->set_running(w.spec().replicas());
    w.mutable_status()->set_ready(w.spec().replicas());
    for (int i = 0; i < w.spec().replicas(); ++i) {
      v1::Container c;
      Meta(c.mutable_meta(), absl::StrCat(name, "-", i));
      c.set_workload(name);
      c.set_vm("web-1");
      c.set_host("local");
      c.set_state(v1::CONTAINER_STATE_RUNNING);
      c.set_image(w.spec().image());
      c.mutable_start_time()->set_seconds(kEpoch + 60);
      containers[c.meta().name()] = c;
    }
  }

  void PutGroup(const std::string& name, const v1::VmGroupSpec& spec)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    v1::VmGroup& g = groups[name];
    Meta(g.mutable_meta(), name);
    *g.mutable_spec() = spec;
    g.mutable_status()->set_vms_running(
        std::max(spec.min_vms(), spec.desired_vms()));
    ++writes;
  }

  void PutWorkload(const std::string& name, const v1::WorkloadSpec& spec)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    v1::Workload& w = workloads[name];
    int64_t before = w.meta().generation();
    Meta(w.mutable_meta(), name);
    *w.mutable_spec() = spec;
    ++writes;
    auto hold = holds.find(name);
    if (hold == holds.end() || before == 0) {
      Converge(name);
      return;
    }
    // The previous spec's replicas keep running (the counts may be met)
    // and none runs this generation yet.
    w.mutable_status()->set_observed_generation(before);
    w.mutable_status()->set_ready(0);
    held[name] = hold->second;
    holds.erase(hold);
  }

  // A read of a held workload: converges it once its reads are used up.
  void Read(const std::string& name) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    auto it = held.find(name);
    if (it == held.end() || it->second < 0) return;
    if (it->second-- > 0) return;
    held.erase(it);
    Converge(name);
  }
};

namespace {

using StateT = FakeNest::State;

class HostSvc final : public v1::HostService::Service {
 public:
  explicit HostSvc(StateT* s) : s_(s) {}
  Status CreateHost(ServerContext* ctx, const v1::CreateHostRequest* req,
                    v1::CreateHostResponse* resp) override {
    s_->Touch(ctx);
    if (req->uri().rfind("qemu", 0) != 0) {
      return BadRequest("invalid host", {{"uri",
                                          "must be a libvirt qemu URI such as "
                                          "qemu:///system, got \"" +
                                              req->uri() + "\""}});
    }
    absl::MutexLock l(&s_->mu);
    if (s_->hosts.count(req->name())) {
      return Status(StatusCode::ALREADY_EXISTS,
                    "host \"" + req->name() + "\" already exists");
    }
    v1::Host& h = s_->hosts[req->name()];
    StateT::Meta(h.mutable_meta(), req->name());
    h.mutable_meta()->set_tenant("");
    h.mutable_meta()->mutable_labels()->insert(req->labels().begin(),
                                               req->labels().end());
    h.set_uri(req->uri());
    h.set_pool(req->pool());
    h.set_state(v1::HOST_STATE_READY);
    ++s_->writes;
    s_->Event("Host", req->name(), "Added", "host added");
    *resp->mutable_host() = h;
    return Status::OK;
  }
  Status GetHost(ServerContext* ctx, const v1::GetHostRequest* req,
                 v1::GetHostResponse* resp) override {
    s_->Touch(ctx);
    absl::MutexLock l(&s_->mu);
    auto it = s_->hosts.find(req->name());
    if (it == s_->hosts.end()) return NotFound("host", req->name());
    *resp->mutable_host() = it->second;
    return Status::OK;
  }
  Status ListHosts(ServerContext* ctx, const v1::ListHostsRequest* req,
                   v1::ListHostsResponse* resp) override {
    s_->Touch(ctx);
    absl::MutexLock l(&s_->mu);
    Page(s_->hosts, req->page().page_token(), resp->mutable_hosts(),
         resp->mutable_next_page_token());
    return Status::OK;
  }
  Status DeleteHost(ServerContext* ctx, const v1::DeleteHostRequest* req,
                    v1::DeleteHostResponse*) override {
    s_->Touch(ctx);
    absl::MutexLock l(&s_->mu);
    if (!s_->hosts.erase(req->name())) return NotFound("host", req->name());
    ++s_->writes;
    return Status::OK;
  }
  Status CordonHost(ServerContext* ctx, const v1::CordonHostRequest* req,
                    v1::CordonHostResponse* resp) override {
    return SetState(ctx, req->name(), v1::HOST_STATE_CORDONED,
                    resp->mutable_host());
  }
  Status UncordonHost(ServerContext* ctx, const v1::UncordonHostRequest* req,
                      v1::UncordonHostResponse* resp) override {
    return SetState(ctx, req->name(), v1::HOST_STATE_READY,
                    resp->mutable_host());
  }
  Status DrainHost(ServerContext* ctx, const v1::DrainHostRequest* req,
                   v1::DrainHostResponse* resp) override {
    return SetState(ctx, req->name(), v1::HOST_STATE_DRAINING,
                    resp->mutable_host());
  }

 private:
  Status SetState(ServerContext* ctx, const std::string& name,
                  v1::HostState state, v1::Host* out) {
    s_->Touch(ctx);
    absl::MutexLock l(&s_->mu);
    auto it = s_->hosts.find(name);
    if (it == s_->hosts.end()) return NotFound("host", name);
    it->second.set_state(state);
    ++s_->writes;
    *out = it->second;
    return Status::OK;
  }
  StateT* s_;
};

class GroupSvc final : public v1::VmGroupService::Service {
 public:
  explicit GroupSvc(StateT* s) : s_(s) {}
  Status GetVmGroup(ServerContext* ctx, const v1::GetVmGroupRequest* req,
                    v1::GetVmGroupResponse* resp) override {
    s_->Touch(ctx);
    absl::MutexLock l(&s_->mu);
    auto it = s_->groups.find(req->name());
    if (it == s_->groups.end()) return NotFound("group", req->name());
    *resp->mutable_group() = it->second;
    return Status::OK;
  }
  Status ListVmGroups(ServerContext* ctx, const v1::ListVmGroupsRequest* req,
                      v1::ListVmGroupsResponse* resp) override {
    s_->Touch(ctx);
    absl::MutexLock l(&s_->mu);
    Page(s_->groups, req->page().page_token(), resp->mutable_groups(),
         resp->mutable_next_page_token());
    return Status::OK;
  }
  Status DeleteVmGroup(ServerContext* ctx, const v1::DeleteVmGroupRequest* req,
                       v1::DeleteVmGroupResponse*) override {
    s_->Touch(ctx);
    absl::MutexLock l(&s_->mu);
    if (!s_->groups.count(req->name())) return NotFound("group", req->name());
    for (const auto& [name, w] : s_->workloads) {
      if (w.spec().group() == req->name()) {
        return Status(StatusCode::FAILED_PRECONDITION,
                      "group \"" + req->name() + "\" still runs workload \"" +
                          name + "\"");
      }
    }
    s_->groups.erase(req->name());
    ++s_->writes;
    return Status::OK;
  }
  Status ScaleVmGroup(ServerContext* ctx, const v1::ScaleVmGroupRequest* req,
                      v1::ScaleVmGroupResponse* resp) override {
    s_->Touch(ctx);
    absl::MutexLock l(&s_->mu);
    auto it = s_->groups.find(req->name());
    if (it == s_->groups.end()) return NotFound("group", req->name());
    v1::VmGroupSpec spec = it->second.spec();
    if (req->desired_vms() > spec.max_vms()) {
      return BadRequest(
          "invalid scale",
          {{"desired_vms", "must be at most max_vms (" +
                               std::to_string(spec.max_vms()) + ")"}});
    }
    spec.set_desired_vms(req->desired_vms());
    s_->PutGroup(req->name(), spec);
    *resp->mutable_group() = s_->groups[req->name()];
    return Status::OK;
  }
  StateT* s_;
};

class VmSvc final : public v1::VmService::Service {
 public:
  explicit VmSvc(StateT* s) : s_(s) {}
  Status ListVms(ServerContext* ctx, const v1::ListVmsRequest* req,
                 v1::ListVmsResponse* resp) override {
    s_->Touch(ctx);
    absl::MutexLock l(&s_->mu);
    Page(s_->vms, req->page().page_token(), resp->mutable_vms(),
         resp->mutable_next_page_token());
    return Status::OK;
  }
  Status GetVm(ServerContext* ctx, const v1::GetVmRequest* req,
               v1::GetVmResponse* resp) override {
    s_->Touch(ctx);
    absl::MutexLock l(&s_->mu);
    auto it = s_->vms.find(req->name());
    if (it == s_->vms.end()) return NotFound("vm", req->name());
    *resp->mutable_vm() = it->second;
    return Status::OK;
  }
  // The console is the VM's name and the tail asked for, without a newline.
  Status GetConsoleLog(ServerContext* ctx, const v1::GetConsoleLogRequest* req,
                       v1::GetConsoleLogResponse* resp) override {
    s_->Touch(ctx);
    absl::MutexLock l(&s_->mu);
    if (!s_->vms.count(req->name())) return NotFound("vm", req->name());
    resp->set_data(
        absl::StrCat("console of ", req->name(), " tail ", req->tail_bytes()));
    return Status::OK;
  }
  StateT* s_;
};

class WorkloadSvc final : public v1::WorkloadService::Service {
 public:
  explicit WorkloadSvc(StateT* s) : s_(s) {}
  Status GetWorkload(ServerContext* ctx, const v1::GetWorkloadRequest* req,
                     v1::GetWorkloadResponse* resp) override {
    s_->Touch(ctx);
    absl::MutexLock l(&s_->mu);
    auto it = s_->workloads.find(req->name());
    if (it == s_->workloads.end()) return NotFound("workload", req->name());
    s_->Read(req->name());
    *resp->mutable_workload() = it->second;
    return Status::OK;
  }
  Status ListWorkloads(ServerContext* ctx, const v1::ListWorkloadsRequest* req,
                       v1::ListWorkloadsResponse* resp) override {
    s_->Touch(ctx);
    absl::MutexLock l(&s_->mu);
    Page(s_->workloads, req->page().page_token(), resp->mutable_workloads(),
         resp->mutable_next_page_token());
    return Status::OK;
  }
  Status DeleteWorkload(ServerContext* ctx,
                        const v1::DeleteWorkloadRequest* req,
                        v1::DeleteWorkloadResponse*) override {
    s_->Touch(ctx);
    absl::MutexLock l(&s_->mu);
    if (!s_->workloads.erase(req->name())) {
      return NotFound("workload", req->name());
    }
    ++s_->writes;
    s_->Event("Workload", req->name(), "Deleted", "workload deleted");
    return Status::OK;
  }
  Status ScaleWorkload(ServerContext* ctx, const v1::ScaleWorkloadRequest* req,
                       v1::ScaleWorkloadResponse* resp) override {
    s_->Touch(ctx);
    absl::MutexLock l(&s_->mu);
    auto it = s_->workloads.find(req->name());
    if (it == s_->workloads.end()) return NotFound("workload", req->name());
    v1::WorkloadSpec spec = it->second.spec();
    spec.set_replicas(req->replicas());
    s_->PutWorkload(req->name(), spec);
    *resp->mutable_workload() = s_->workloads[req->name()];
    return Status::OK;
  }
  Status Apply(ServerContext* ctx, const v1::ApplyRequest* req,
               v1::ApplyResponse* resp) override {
    s_->Touch(ctx);
    absl::MutexLock l(&s_->mu);
    std::vector<std::pair<std::string, std::string>> bad;
    for (int i = 0; i < req->objects_size(); ++i) {
      const auto& o = req->objects(i);
      if (!o.has_workload()) continue;
      const auto& spec = o.workload().spec();
      std::string at = absl::StrCat("objects[", i, "].workload.spec.");
      if (!s_->images.count(spec.image())) {
        bad.push_back({at + "image", "image \"" + spec.image() +
                                         "\" is not imported (nestctl image "
                                         "import)"});
      }
      bool group_known =
          spec.group().empty() || s_->groups.count(spec.group()) > 0;
      for (const auto& other : req->objects()) {
        if (other.has_group() && other.group().name() == spec.group()) {
          group_known = true;
        }
      }
      if (!group_known) {
        bad.push_back(
            {at + "group", "group \"" + spec.group() + "\" does not exist"});
      }
    }
    if (!bad.empty()) {
      return BadRequest(absl::StrCat(bad.size(), " invalid field",
                                     bad.size() == 1 ? "" : "s"),
                        bad);
    }
    for (const auto& o : req->objects()) {
      v1::ApplyChange* ch = resp->add_changes();
      const google::protobuf::Message* before = nullptr;
      const google::protobuf::Message* after = nullptr;
      if (o.has_group()) {
        ch->set_kind("VmGroup");
        ch->set_name(o.group().name());
        auto it = s_->groups.find(o.group().name());
        if (it != s_->groups.end()) before = &it->second.spec();
        after = &o.group().spec();
      } else {
        ch->set_kind("Workload");
        ch->set_name(o.workload().name());
        auto it = s_->workloads.find(o.workload().name());
        if (it != s_->workloads.end()) before = &it->second.spec();
        after = &o.workload().spec();
      }
      if (before == nullptr) {
        ch->set_action(v1::APPLY_ACTION_CREATE);
      } else if (google::protobuf::util::MessageDifferencer::Equals(*before,
                                                                    *after)) {
        ch->set_action(v1::APPLY_ACTION_UNCHANGED);
        continue;
      } else {
        ch->set_action(v1::APPLY_ACTION_UPDATE);
        for (auto& d : Diff(*before, *after)) ch->add_diff(d);
      }
      if (req->dry_run()) continue;
      if (o.has_group()) {
        s_->PutGroup(o.group().name(), o.group().spec());
        s_->Event("VmGroup", o.group().name(), "Applied", "group applied");
      } else {
        s_->PutWorkload(o.workload().name(), o.workload().spec());
        s_->Event("Workload", o.workload().name(), "Applied",
                  "workload applied");
      }
    }
    return Status::OK;
  }
  StateT* s_;
};

class ContainerSvc final : public v1::ContainerService::Service {
 public:
  explicit ContainerSvc(StateT* s) : s_(s) {}
  Status GetContainer(ServerContext* ctx, const v1::GetContainerRequest* req,
                      v1::GetContainerResponse* resp) override {
    s_->Touch(ctx);
    absl::MutexLock l(&s_->mu);
    auto it = s_->containers.find(req->name());
    if (it == s_->containers.end()) return NotFound("container", req->name());
    *resp->mutable_container() = it->second;
    return Status::OK;
  }
  Status ListContainers(ServerContext* ctx,
                        const v1::ListContainersRequest* req,
                        v1::ListContainersResponse* resp) override {
    s_->Touch(ctx);
    absl::MutexLock l(&s_->mu);
    Page(s_->containers, req->page().page_token(), resp->mutable_containers(),
         resp->mutable_next_page_token());
    return Status::OK;
  }
  Status StreamLogs(ServerContext* ctx, const v1::StreamLogsRequest* req,
                    grpc::ServerWriter<v1::StreamLogsResponse>* w) override {
    s_->Touch(ctx);
    {
      absl::MutexLock l(&s_->mu);
      if (!s_->containers.count(req->name())) {
        return NotFound("container", req->name());
      }
    }
    v1::StreamLogsResponse out;
    out.set_stream("stdout");
    out.set_data("hello from nest\n");
    w->Write(out);
    out.set_stream("stderr");
    out.set_data("a warning\n");
    w->Write(out);
    return Status::OK;
  }
  Status Exec(ServerContext* ctx, const v1::ExecRequest* req,
              v1::ExecResponse* resp) override {
    s_->Touch(ctx);
    {
      absl::MutexLock l(&s_->mu);
      if (!s_->containers.count(req->name())) {
        return NotFound("container", req->name());
      }
    }
    // "exit N" exits with N; anything else echoes its words.
    int code = 0;
    if (req->command_size() == 2 && req->command(0) == "exit") {
      (void)absl::SimpleAtoi(req->command(1), &code);
      resp->set_stderr("exiting\n");
    } else {
      resp->set_stdout(absl::StrJoin(req->command(), " ") + "\n");
    }
    resp->set_exit_code(code);
    return Status::OK;
  }
  StateT* s_;
};

class ImageSvc final : public v1::ImageService::Service {
 public:
  explicit ImageSvc(StateT* s) : s_(s) {}
  Status ImportImage(ServerContext* ctx, const v1::ImportImageRequest* req,
                     v1::ImportImageResponse* resp) override {
    s_->Touch(ctx);
    absl::MutexLock l(&s_->mu);
    v1::Image& img = s_->images[req->name()];
    StateT::Meta(img.mutable_meta(), req->name());
    img.set_digest("sha256:" + std::string(64, 'a'));
    img.set_size_bytes(3 << 20);
    img.set_layers(1);
    img.mutable_import_time()->set_seconds(kEpoch);
    ++s_->writes;
    *resp->mutable_image() = img;
    return Status::OK;
  }
  Status ListImages(ServerContext* ctx, const v1::ListImagesRequest* req,
                    v1::ListImagesResponse* resp) override {
    s_->Touch(ctx);
    absl::MutexLock l(&s_->mu);
    Page(s_->images, req->page().page_token(), resp->mutable_images(),
         resp->mutable_next_page_token());
    return Status::OK;
  }
  Status DeleteImage(ServerContext* ctx, const v1::DeleteImageRequest* req,
                     v1::DeleteImageResponse*) override {
    s_->Touch(ctx);
    absl::MutexLock l(&s_->mu);
    if (!s_->images.erase(req->name())) return NotFound("image", req->name());
    ++s_->writes;
    return Status::OK;
  }
  StateT* s_;
};

class EventSvc final : public v1::EventService::Service {
 public:
  explicit EventSvc(StateT* s) : s_(s) {}
  Status ListEvents(ServerContext* ctx, const v1::ListEventsRequest* req,
                    v1::ListEventsResponse* resp) override {
    s_->Touch(ctx);
    absl::MutexLock l(&s_->mu);
    for (const auto& e : s_->events) {
      if (e.seq() <= req->after_seq()) continue;
      if (!req->name().empty() && e.name() != req->name()) continue;
      if (!req->kind().empty() && e.kind() != req->kind()) continue;
      if (req->limit() > 0 && resp->events_size() >= req->limit()) break;
      *resp->add_events() = e;
    }
    return Status::OK;
  }
  // Replays what the request asks for and ends; with neither after_seq nor
  // from_oldest it sends the newest event as if it had just happened.
  Status Watch(ServerContext* ctx, const v1::WatchEventsRequest* req,
               grpc::ServerWriter<v1::Event>* w) override {
    s_->Touch(ctx);
    std::vector<v1::Event> send;
    {
      absl::MutexLock l(&s_->mu);
      if (req->after_seq() == 0 && !req->from_oldest()) {
        if (!s_->events.empty()) send.push_back(s_->events.back());
      } else {
        for (const auto& e : s_->events) {
          if (req->from_oldest() || e.seq() > req->after_seq()) {
            send.push_back(e);
          }
        }
      }
    }
    for (const auto& e : send) w->Write(e);
    return Status::OK;
  }
  StateT* s_;
};

class PlacementSvc final : public v1::PlacementService::Service {
 public:
  explicit PlacementSvc(StateT* s) : s_(s) {}
  Status Explain(ServerContext* ctx, const v1::ExplainRequest* req,
                 v1::ExplainResponse* resp) override {
    s_->Touch(ctx);
    absl::MutexLock l(&s_->mu);
    auto it = s_->workloads.find(req->workload());
    if (it == s_->workloads.end()) return NotFound("workload", req->workload());
    resp->set_workload(req->workload());
    resp->set_pending(it->second.status().pending());
    if (it->second.status().pending() > 0) {
      auto* r = resp->add_reasons();
      r->set_reason("memory");
      r->set_count(1);
      r->set_unit("hosts");
      resp->set_suggestion("one more host with 256Mi free");
    }
    return Status::OK;
  }
  StateT* s_;
};

// One host, one VM, every container at 1.25 CPU-seconds and 12 MiB.
class UsageSvc final : public v1::UsageService::Service {
 public:
  explicit UsageSvc(StateT* s) : s_(s) {}
  Status GetUsage(ServerContext* ctx, const v1::GetUsageRequest*,
                  v1::GetUsageResponse* resp) override {
    s_->Touch(ctx);
    absl::MutexLock l(&s_->mu);
    resp->mutable_sampled_at()->set_seconds(1767225600);
    auto* h = resp->add_hosts();
    h->set_host("local");
    h->set_state("ready");
    h->mutable_capacity()->set_cpu("4");
    h->mutable_capacity()->set_memory("8Gi");
    h->mutable_allocated()->set_cpu("1");
    h->mutable_allocated()->set_memory("320Mi");
    h->set_vms(1);
    h->set_cpu_cores(0.5);
    h->set_memory_bytes(200 << 20);
    auto* vm = resp->add_vms();
    vm->set_vm("web-1");
    vm->set_group("web");
    vm->set_host("local");
    vm->set_vcpus(1);
    vm->set_cpu_cores(0.5);
    vm->set_cpu_seconds(30);
    vm->set_memory_bytes(200 << 20);
    for (const auto& [name, c] : s_->containers) {
      auto* u = resp->add_containers();
      u->set_container(name);
      u->set_workload(c.workload());
      u->set_vm("web-1");
      u->set_cpu_cores(0.25);
      u->set_cpu_seconds(1.25);
      u->set_memory_bytes(12 << 20);
      u->set_pids(1);
    }
    return Status::OK;
  }
  StateT* s_;
};

}  // namespace

FakeNest::FakeNest() : state_(std::make_unique<State>()) {
  StateT* s = state_.get();
  services_[0] = std::make_unique<HostSvc>(s);
  services_[1] = std::make_unique<GroupSvc>(s);
  services_[2] = std::make_unique<VmSvc>(s);
  services_[3] = std::make_unique<WorkloadSvc>(s);
  services_[4] = std::make_unique<ContainerSvc>(s);
  services_[5] = std::make_unique<ImageSvc>(s);
  services_[6] = std::make_unique<EventSvc>(s);
  services_[7] = std::make_unique<PlacementSvc>(s);
  services_[8] = std::make_unique<UsageSvc>(s);
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                           &port_);
  for (auto& svc : services_) builder.RegisterService(svc.get());
  server_ = builder.BuildAndStart();
}

FakeNest::~FakeNest() { server_->Shutdown(); }

std::string FakeNest::address() const {
  return absl::StrCat("127.0.0.1:", port_);
}

int FakeNest::writes() const {
  absl::MutexLock l(&state_->mu);
  return state_->writes;
}

std::string FakeNest::last_authorization() const {
  absl::MutexLock l(&state_->mu);
  return state_->authorization;
}

void FakeNest::HoldRollout(const std::string& workload, int reads) {
  absl::MutexLock l(&state_->mu);
  state_->holds[workload] = reads;
}

void FakeNest::Seed() {
  absl::MutexLock l(&state_->mu);
  v1::Host& h = state_->hosts["local"];
  State::Meta(h.mutable_meta(), "local");
  h.mutable_meta()->set_tenant("");
  (*h.mutable_meta()->mutable_labels())["zone"] = "a";
  h.set_uri("qemu:///system");
  h.set_state(v1::HOST_STATE_READY);
  h.mutable_capacity()->set_cpu("4");
  h.mutable_capacity()->set_memory("8Gi");
  h.mutable_allocated()->set_cpu("1");
  h.mutable_allocated()->set_memory("256Mi");
  h.set_accel("tcg");
  h.set_vm_count(1);
  for (const char* name : {"hello", "httpd", "stuck"}) {
    v1::Image& img = state_->images[name];
    State::Meta(img.mutable_meta(), name);
    img.set_digest(
        "sha256:0123456789abcdef0123456789abcdef0123456789abcdef"
        "0123456789abcdef");
    img.set_size_bytes(1536 * 1024);
    img.set_layers(1);
    img.mutable_import_time()->set_seconds(kEpoch);
  }
  v1::Vm& vm = state_->vms["web-1"];
  State::Meta(vm.mutable_meta(), "web-1");
  vm.set_group("web");
  vm.set_host("local");
  vm.set_state(v1::VM_STATE_RUNNING);
  vm.set_vcpus(1);
  vm.set_memory("256Mi");
  vm.set_address("10.88.0.2");
  vm.set_boot_attempts(1);
  state_->Event("Host", "local", "Ready", "host ready (tcg)");
}

}  // namespace nest::cli::testing
