// The nest.v1 API through a real gRPC server on 127.0.0.1:0 and real C++
// stubs, with a simulated cluster (store, SimDriver hosts, FakeAgents and
// the controller) behind it.
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <set>
#include <thread>

#include "absl/strings/match.h"
#include "doctest/doctest.h"
#include "nest/v1/common.pb.h"
#include "nest/v1/container.grpc.pb.h"
#include "nest/v1/event.grpc.pb.h"
#include "nest/v1/host.grpc.pb.h"
#include "nest/v1/image.grpc.pb.h"
#include "nest/v1/placement.grpc.pb.h"
#include "nest/v1/vm.grpc.pb.h"
#include "nest/v1/vm_group.grpc.pb.h"
#include "nest/v1/workload.grpc.pb.h"
#include "tests/api/api_fixture.h"

namespace nest::api {
namespace {

using testing::ApiFixture;
using testing::ApiFixtureOptions;
namespace v1 = ::nest::v1;

struct Client {
  explicit Client(const std::string& address)
      : ch(grpc::CreateChannel(address, grpc::InsecureChannelCredentials())),
        hosts(v1::HostService::NewStub(ch)),
        groups(v1::VmGroupService::NewStub(ch)),
        vms(v1::VmService::NewStub(ch)),
        workloads(v1::WorkloadService::NewStub(ch)),
        containers(v1::ContainerService::NewStub(ch)),
        images(v1::ImageService::NewStub(ch)),
        events(v1::EventService::NewStub(ch)),
        placement(v1::PlacementService::NewStub(ch)) {}
  std::shared_ptr<grpc::Channel> ch;
  std::unique_ptr<v1::HostService::Stub> hosts;
  std::unique_ptr<v1::VmGroupService::Stub> groups;
  std::unique_ptr<v1::VmService::Stub> vms;
  std::unique_ptr<v1::WorkloadService::Stub> workloads;
  std::unique_ptr<v1::ContainerService::Stub> containers;
  std::unique_ptr<v1::ImageService::Stub> images;
  std::unique_ptr<v1::EventService::Stub> events;
  std::unique_ptr<v1::PlacementService::Stub> placement;
};

// A context with a deadline, so a hung server fails the test instead of
// hanging it.
struct Ctx : grpc::ClientContext {
  Ctx() { set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20)); }
};

// Field paths of the BadRequest in a status's details.
std::set<std::string> Fields(const grpc::Status& s) {
  std::set<std::string> out;
  v1::RpcStatus st;
  if (!st.ParseFromString(s.error_details())) return out;
  for (const auto& any : st.details()) {
    if (any.type_url() != "type.googleapis.com/google.rpc.BadRequest") continue;
    v1::BadRequest bad;
    if (!bad.ParseFromString(any.value())) continue;
    for (const auto& v : bad.field_violations()) out.insert(v.field());
  }
  return out;
}

v1::VmGroupSpec GroupSpec(int min = 1, int max = 3) {
  v1::VmGroupSpec s;
  s.mutable_shape()->set_vcpus(1);
  s.mutable_shape()->set_memory("256Mi");
  s.set_min_vms(min);
  s.set_max_vms(max);
  return s;
}

v1::WorkloadSpec WorkSpec(const std::string& group = "web", int replicas = 2,
                          const std::string& image = "hello") {
  v1::WorkloadSpec s;
  s.set_image(image);
  s.set_group(group);
  s.set_replicas(replicas);
  s.mutable_resources()->set_cpu("100m");
  s.mutable_resources()->set_memory("32Mi");
  s.set_restart_policy(v1::RESTART_POLICY_ALWAYS);
  return s;
}

struct World {
  explicit World(ApiFixtureOptions o = {}) : f(o), c(f.address()) {
    control::ImageBlob hello{"sha256:" + std::string(64, 'a'), "tar",
                             {"/bin/echo"}, {"hi"}, {}, "/"};
    f.images.Add("hello", hello);
  }
  grpc::Status CreateHost(const std::string& name) {
    Ctx ctx;
    v1::CreateHostRequest req;
    req.set_name(name);
    req.set_uri("sim://" + name);
    v1::CreateHostResponse resp;
    return c.hosts->CreateHost(&ctx, req, &resp);
  }
  grpc::Status CreateGroup(const std::string& name, v1::VmGroupSpec spec,
                           v1::VmGroup* out = nullptr) {
    Ctx ctx;
    v1::CreateVmGroupRequest req;
    req.set_name(name);
    *req.mutable_spec() = spec;
    v1::CreateVmGroupResponse resp;
    grpc::Status s = c.groups->CreateVmGroup(&ctx, req, &resp);
    if (out) *out = resp.group();
    return s;
  }
  grpc::Status CreateWorkload(const std::string& name, v1::WorkloadSpec spec,
                              v1::Workload* out = nullptr,
                              const std::string& request_id = "") {
    Ctx ctx;
    v1::CreateWorkloadRequest req;
    req.set_name(name);
    req.mutable_options()->set_request_id(request_id);
    *req.mutable_spec() = spec;
    v1::CreateWorkloadResponse resp;
    grpc::Status s = c.workloads->CreateWorkload(&ctx, req, &resp);
    if (out) *out = resp.workload();
    return s;
  }
  std::vector<v1::Container> Containers(const std::string& workload = "") {
    Ctx ctx;
    v1::ListContainersRequest req;
    req.set_workload(workload);
    v1::ListContainersResponse resp;
    REQUIRE(c.containers->ListContainers(&ctx, req, &resp).ok());
    return {resp.containers().begin(), resp.containers().end()};
  }
  // Host h1, group web, workload hello x2, converged.
  void Running() {
    REQUIRE(CreateHost("h1").ok());
    REQUIRE(CreateGroup("web", GroupSpec()).ok());
    REQUIRE(CreateWorkload("hello", WorkSpec()).ok());
    f.Converge();
  }
  ApiFixture f;
  Client c;
};

TEST_CASE("hosts: create validates, get, list pages, cordon, drain, delete") {
  World w;
  {
    Ctx ctx;
    v1::CreateHostRequest req;
    req.set_name("Bad_Name");
    req.set_uri("http://example.com");
    v1::CreateHostResponse resp;
    grpc::Status s = w.c.hosts->CreateHost(&ctx, req, &resp);
    CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK(Fields(s) == std::set<std::string>{"name", "uri"});
  }
  {
    Ctx ctx;
    v1::CreateHostRequest req;
    req.set_name("h0");
    req.set_uri("qemu+tcp://10.0.0.2/nowhere");
    v1::CreateHostResponse resp;
    grpc::Status s = w.c.hosts->CreateHost(&ctx, req, &resp);
    CHECK(Fields(s) == std::set<std::string>{"uri"});
  }
  {
    Ctx ctx;
    v1::CreateHostRequest req;
    req.set_name("h0");
    req.set_uri("qemu+tls://host.example/system");
    (*req.mutable_labels())["zone"] = "a";
    v1::CreateHostResponse resp;
    REQUIRE(w.c.hosts->CreateHost(&ctx, req, &resp).ok());
    CHECK(resp.host().meta().name() == "h0");
    CHECK(resp.host().meta().generation() == 1);
    CHECK(resp.host().meta().labels().at("zone") == "a");
    CHECK(resp.host().state() == v1::HOST_STATE_READY);
  }
  CHECK(w.CreateHost("h0").error_code() == grpc::StatusCode::ALREADY_EXISTS);
  REQUIRE(w.CreateHost("h1").ok());
  REQUIRE(w.CreateHost("h2").ok());
  {
    std::vector<std::string> names;
    std::string token;
    int pages = 0;
    do {
      Ctx ctx;
      v1::ListHostsRequest req;
      req.mutable_page()->set_page_size(2);
      req.mutable_page()->set_page_token(token);
      v1::ListHostsResponse resp;
      REQUIRE(w.c.hosts->ListHosts(&ctx, req, &resp).ok());
      CHECK(resp.hosts_size() <= 2);
      for (const auto& h : resp.hosts()) names.push_back(h.meta().name());
      token = resp.next_page_token();
      ++pages;
    } while (!token.empty() && pages < 10);
    CHECK(pages == 2);
    CHECK(names == std::vector<std::string>{"h0", "h1", "h2"});
  }
  {
    Ctx ctx;
    v1::CordonHostRequest req;
    req.set_name("h0");
    v1::CordonHostResponse resp;
    REQUIRE(w.c.hosts->CordonHost(&ctx, req, &resp).ok());
    CHECK(resp.host().state() == v1::HOST_STATE_CORDONED);
    CHECK(resp.host().meta().generation() == 2);
  }
  {
    Ctx ctx;
    v1::DrainHostRequest req;
    req.set_name("h0");
    req.mutable_options()->set_expected_generation(1);  // stale
    v1::DrainHostResponse resp;
    CHECK(w.c.hosts->DrainHost(&ctx, req, &resp).error_code() ==
          grpc::StatusCode::FAILED_PRECONDITION);
  }
  {
    Ctx ctx;
    v1::UncordonHostRequest req;
    req.set_name("h0");
    v1::UncordonHostResponse resp;
    REQUIRE(w.c.hosts->UncordonHost(&ctx, req, &resp).ok());
    CHECK(resp.host().state() == v1::HOST_STATE_READY);
  }
  {
    Ctx ctx;
    v1::GetHostRequest req;
    req.set_name("nope");
    v1::GetHostResponse resp;
    CHECK(w.c.hosts->GetHost(&ctx, req, &resp).error_code() ==
          grpc::StatusCode::NOT_FOUND);
  }
  {
    Ctx ctx;
    v1::DeleteHostRequest req;
    req.set_name("h2");
    v1::DeleteHostResponse resp;
    CHECK(w.c.hosts->DeleteHost(&ctx, req, &resp).ok());
    Ctx ctx2;
    CHECK(w.c.hosts->DeleteHost(&ctx2, req, &resp).error_code() ==
          grpc::StatusCode::NOT_FOUND);
  }
}

TEST_CASE("a host with VMs cannot be deleted; its VM count shows") {
  World w;
  w.Running();
  Ctx ctx;
  v1::DeleteHostRequest req;
  req.set_name("h1");
  v1::DeleteHostResponse resp;
  grpc::Status s = w.c.hosts->DeleteHost(&ctx, req, &resp);
  CHECK(s.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
  CHECK(absl::StrContains(s.error_message(), "drain"));
  Ctx ctx2;
  v1::GetHostRequest get;
  get.set_name("h1");
  v1::GetHostResponse host;
  REQUIRE(w.c.hosts->GetHost(&ctx2, get, &host).ok());
  CHECK(host.host().vm_count() >= 1);
  CHECK(host.host().allocated().memory() != "0Mi");
}

TEST_CASE("groups: every bad field is named; update, stale generation, scale") {
  World w;
  v1::VmGroupSpec bad;
  bad.mutable_shape()->set_vcpus(0);
  bad.mutable_shape()->set_memory("lots");
  bad.mutable_shape()->set_disk("-1Gi");
  bad.set_policy(static_cast<v1::PlacementPolicy>(42));
  bad.set_min_vms(-1);
  bad.set_max_vms(0);
  bad.set_desired_vms(7);
  bad.set_scale_up_cooldown_s(-5);
  grpc::Status s = w.CreateGroup("Web!", bad);
  REQUIRE(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(Fields(s) ==
        std::set<std::string>{"name", "spec.shape.vcpus", "spec.shape.memory",
                              "spec.shape.disk", "spec.policy", "spec.min_vms",
                              "spec.max_vms", "spec.desired_vms",
                              "spec.scale_up_cooldown_s"});
  v1::VmGroupSpec no_memory = GroupSpec();
  no_memory.mutable_shape()->clear_memory();
  CHECK(Fields(w.CreateGroup("web", no_memory)) ==
        std::set<std::string>{"spec.shape.memory"});

  v1::VmGroup g;
  REQUIRE(w.CreateGroup("web", GroupSpec(), &g).ok());
  CHECK(g.meta().generation() == 1);
  CHECK(g.spec().shape().memory() == "256Mi");
  CHECK(g.spec().shape().disk() == "1Gi");
  CHECK(g.spec().policy() == v1::PLACEMENT_POLICY_BINPACK);
  CHECK(w.CreateGroup("web", GroupSpec()).error_code() ==
        grpc::StatusCode::ALREADY_EXISTS);

  {
    Ctx ctx;
    v1::UpdateVmGroupRequest req;
    req.set_name("web");
    *req.mutable_spec() = GroupSpec(1, 5);
    req.mutable_options()->set_expected_generation(1);
    v1::UpdateVmGroupResponse resp;
    REQUIRE(w.c.groups->UpdateVmGroup(&ctx, req, &resp).ok());
    CHECK(resp.group().meta().generation() == 2);
    CHECK(resp.group().spec().max_vms() == 5);
    Ctx again;
    grpc::Status stale = w.c.groups->UpdateVmGroup(&again, req, &resp);
    CHECK(stale.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
    CHECK(absl::StrContains(stale.error_message(), "generation 2"));
  }
  {
    Ctx ctx;
    v1::ScaleVmGroupRequest req;
    req.set_name("web");
    req.set_desired_vms(9);
    v1::ScaleVmGroupResponse resp;
    grpc::Status out = w.c.groups->ScaleVmGroup(&ctx, req, &resp);
    CHECK(out.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK(Fields(out) == std::set<std::string>{"desired_vms"});
    Ctx ok;
    req.set_desired_vms(3);
    REQUIRE(w.c.groups->ScaleVmGroup(&ok, req, &resp).ok());
    CHECK(resp.group().spec().desired_vms() == 3);
  }
  {
    Ctx ctx;
    v1::ListVmGroupsRequest req;
    v1::ListVmGroupsResponse resp;
    REQUIRE(w.c.groups->ListVmGroups(&ctx, req, &resp).ok());
    REQUIRE(resp.groups_size() == 1);
    CHECK(resp.groups(0).meta().tenant() == "default");
  }
}

TEST_CASE("group delete: refused while targeted, then VMs go and the row with them") {
  World w;
  w.Running();
  Ctx ctx;
  v1::DeleteVmGroupRequest req;
  req.set_name("web");
  v1::DeleteVmGroupResponse resp;
  grpc::Status s = w.c.groups->DeleteVmGroup(&ctx, req, &resp);
  CHECK(s.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
  CHECK(absl::StrContains(s.error_message(), "hello"));

  Ctx del;
  v1::DeleteWorkloadRequest dw;
  dw.set_name("hello");
  v1::DeleteWorkloadResponse dwr;
  REQUIRE(w.c.workloads->DeleteWorkload(&del, dw, &dwr).ok());
  Ctx again;
  REQUIRE(w.c.groups->DeleteVmGroup(&again, req, &resp).ok());
  {
    Ctx get;
    v1::GetVmGroupRequest g;
    g.set_name("web");
    v1::GetVmGroupResponse gr;
    REQUIRE(w.c.groups->GetVmGroup(&get, g, &gr).ok());
    CHECK(absl::StrContains(gr.group().status().message(), "deleting"));
  }
  auto snap = w.f.store->ReadSnapshot();
  REQUIRE(snap.ok());
  REQUIRE(snap->vms.size() == 1);
  CHECK(snap->vms[0].desired == store::VmDesiredState::kDeleted);
  // What the controller does once a VM is torn down: forget its row. (The
  // teardown itself is the controller's, tested in tests/control.)
  REQUIRE(w.f.store->Write([&](store::WriteTx& tx) {
    return tx.DeleteVm(snap->vms[0].id, 0);
  }).ok());
  // The next look at a deleting group without VMs removes its row.
  Ctx get;
  v1::GetVmGroupRequest g;
  g.set_name("web");
  v1::GetVmGroupResponse gr;
  CHECK(w.c.groups->GetVmGroup(&get, g, &gr).error_code() ==
        grpc::StatusCode::NOT_FOUND);
}

TEST_CASE("workloads: every bad field is named with its proto path") {
  World w;
  REQUIRE(w.CreateGroup("web", GroupSpec()).ok());
  v1::WorkloadSpec bad;
  bad.set_replicas(-1);
  bad.mutable_resources()->set_cpu("fast");
  bad.mutable_resources()->set_memory("0");
  bad.mutable_resources()->set_disk("1.5Mi");
  bad.set_restart_policy(static_cast<v1::RestartPolicy>(9));
  bad.set_isolation(static_cast<v1::Isolation>(9));
  bad.set_priority(5000);
  bad.set_stop_grace_s(-1);
  bad.set_max_unavailable(-1);
  (*bad.mutable_env())["1BAD"] = "x";
  auto* p = bad.add_ports();
  p->set_container_port(0);
  p->set_host_port(70000);
  p->set_protocol("sctp");
  grpc::Status s = w.CreateWorkload("x_y", bad);
  REQUIRE(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(Fields(s) ==
        std::set<std::string>{
            "name", "spec.image", "spec.replicas", "spec.resources.cpu",
            "spec.resources.memory", "spec.resources.disk",
            "spec.restart_policy", "spec.isolation", "spec.priority",
            "spec.stop_grace_s", "spec.max_unavailable", "spec.group",
            "spec.env[\"1BAD\"]", "spec.ports[0].container_port",
            "spec.ports[0].host_port", "spec.ports[0].protocol"});
  // References are checked once the spec itself is valid.
  grpc::Status refs = w.CreateWorkload("x", WorkSpec("nowhere", 1, "nothing"));
  CHECK(refs.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(Fields(refs) == std::set<std::string>{"spec.group", "spec.image"});
}

TEST_CASE("workloads: create, get, list, update with generations, scale") {
  World w;
  REQUIRE(w.CreateGroup("web", GroupSpec()).ok());
  v1::Workload created;
  REQUIRE(w.CreateWorkload("hello", WorkSpec(), &created).ok());
  CHECK(created.meta().generation() == 1);
  CHECK(created.spec().resources().cpu() == "100m");
  CHECK(w.CreateWorkload("hello", WorkSpec()).error_code() ==
        grpc::StatusCode::ALREADY_EXISTS);
  {
    Ctx ctx;
    v1::UpdateWorkloadRequest req;
    req.set_name("hello");
    *req.mutable_spec() = WorkSpec("web", 4);
    req.mutable_options()->set_expected_generation(1);
    v1::UpdateWorkloadResponse resp;
    REQUIRE(w.c.workloads->UpdateWorkload(&ctx, req, &resp).ok());
    CHECK(resp.workload().spec().replicas() == 4);
    CHECK(resp.workload().meta().generation() == 2);
    Ctx stale;
    *req.mutable_spec() = WorkSpec("web", 5);
    CHECK(w.c.workloads->UpdateWorkload(&stale, req, &resp).error_code() ==
          grpc::StatusCode::FAILED_PRECONDITION);
  }
  {
    Ctx ctx;
    v1::ScaleWorkloadRequest req;
    req.set_name("hello");
    req.set_replicas(1);
    req.mutable_options()->set_expected_generation(2);
    v1::ScaleWorkloadResponse resp;
    REQUIRE(w.c.workloads->ScaleWorkload(&ctx, req, &resp).ok());
    CHECK(resp.workload().spec().replicas() == 1);
    Ctx bad;
    req.set_replicas(-3);
    grpc::Status s = w.c.workloads->ScaleWorkload(&bad, req, &resp);
    CHECK(Fields(s) == std::set<std::string>{"replicas"});
    Ctx missing;
    req.set_name("nope");
    req.set_replicas(1);
    CHECK(w.c.workloads->ScaleWorkload(&missing, req, &resp).error_code() ==
          grpc::StatusCode::NOT_FOUND);
  }
  {
    Ctx ctx;
    v1::ListWorkloadsRequest req;
    v1::ListWorkloadsResponse resp;
    REQUIRE(w.c.workloads->ListWorkloads(&ctx, req, &resp).ok());
    REQUIRE(resp.workloads_size() == 1);
    CHECK(resp.workloads(0).meta().generation() == 3);
  }
}

TEST_CASE("idempotent create: same request_id replays; another body is rejected") {
  World w;
  REQUIRE(w.CreateGroup("web", GroupSpec()).ok());
  v1::Workload first, second;
  REQUIRE(w.CreateWorkload("hello", WorkSpec(), &first, "req-1").ok());
  int64_t seq = w.f.store->LastEventSeq();
  REQUIRE(w.CreateWorkload("hello", WorkSpec(), &second, "req-1").ok());
  CHECK(first.SerializeAsString() == second.SerializeAsString());
  CHECK(w.f.store->LastEventSeq() == seq);  // nothing written
  grpc::Status other = w.CreateWorkload("hello", WorkSpec("web", 7), nullptr, "req-1");
  CHECK(other.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  // Without a request id, the second create is a conflict.
  CHECK(w.CreateWorkload("hello", WorkSpec()).error_code() ==
        grpc::StatusCode::ALREADY_EXISTS);
  Ctx ctx;
  v1::ListWorkloadsRequest req;
  v1::ListWorkloadsResponse resp;
  REQUIRE(w.c.workloads->ListWorkloads(&ctx, req, &resp).ok());
  CHECK(resp.workloads_size() == 1);
}

TEST_CASE("concurrent retries with one request_id create exactly one object") {
  World w;
  REQUIRE(w.CreateGroup("web", GroupSpec()).ok());
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      if (w.CreateWorkload("hello", WorkSpec(), nullptr, "same").ok()) ++ok;
    });
  }
  for (auto& t : threads) t.join();
  CHECK(ok.load() == 8);
  Ctx ctx;
  v1::ListEventsRequest req;
  req.set_kind("workload");
  v1::ListEventsResponse resp;
  REQUIRE(w.c.events->ListEvents(&ctx, req, &resp).ok());
  CHECK(resp.events_size() == 1);
}

TEST_CASE("workload delete removes its container rows in one go") {
  World w;
  w.Running();
  REQUIRE(w.Containers("hello").size() == 2);
  Ctx ctx;
  v1::DeleteWorkloadRequest req;
  req.set_name("hello");
  req.mutable_options()->set_expected_generation(99);
  v1::DeleteWorkloadResponse resp;
  CHECK(w.c.workloads->DeleteWorkload(&ctx, req, &resp).error_code() ==
        grpc::StatusCode::FAILED_PRECONDITION);
  CHECK(w.Containers("hello").size() == 2);
  Ctx again;
  req.mutable_options()->set_expected_generation(0);
  REQUIRE(w.c.workloads->DeleteWorkload(&again, req, &resp).ok());
  CHECK(w.Containers().empty());
  // The controller then stops what still runs in the guest.
  w.f.Converge(2);
  auto snap = w.f.store->ReadSnapshot();
  REQUIRE(snap.ok());
  REQUIRE(snap->vms.size() == 1);
  auto agent = w.f.agents.Agent(snap->vms[0].id);
  REQUIRE(agent != nullptr);
  auto listed = agent->ListContainers();
  REQUIRE(listed.ok());
  CHECK(listed->empty());
}

v1::ApplyRequest ApplyOf(const v1::VmGroupSpec& g, const v1::WorkloadSpec& wl) {
  v1::ApplyRequest req;
  auto* o1 = req.add_objects()->mutable_workload();  // order: workload first
  o1->set_name("hello");
  *o1->mutable_spec() = wl;
  auto* o2 = req.add_objects()->mutable_group();
  o2->set_name("web");
  *o2->mutable_spec() = g;
  return req;
}

TEST_CASE("apply: create, unchanged, update with a diff; dry run writes nothing") {
  World w;
  v1::ApplyResponse resp;
  {
    Ctx ctx;
    REQUIRE(w.c.workloads->Apply(&ctx, ApplyOf(GroupSpec(), WorkSpec()), &resp).ok());
    REQUIRE(resp.changes_size() == 2);
    CHECK(resp.changes(0).kind() == "Workload");
    CHECK(resp.changes(0).action() == v1::APPLY_ACTION_CREATE);
    CHECK(resp.changes(1).kind() == "VmGroup");
    CHECK(resp.changes(1).action() == v1::APPLY_ACTION_CREATE);
    CHECK(resp.changes(1).generation() == 1);
  }
  {
    // Quantities written differently are the same value.
    v1::VmGroupSpec g = GroupSpec();
    g.mutable_shape()->set_memory("0.25Gi");
    Ctx ctx;
    REQUIRE(w.c.workloads->Apply(&ctx, ApplyOf(g, WorkSpec()), &resp).ok());
    CHECK(resp.changes(0).action() == v1::APPLY_ACTION_UNCHANGED);
    CHECK(resp.changes(1).action() == v1::APPLY_ACTION_UNCHANGED);
  }
  int64_t seq = w.f.store->LastEventSeq();
  {
    v1::ApplyRequest req = ApplyOf(GroupSpec(), WorkSpec("web", 5));
    req.set_dry_run(true);
    Ctx ctx;
    REQUIRE(w.c.workloads->Apply(&ctx, req, &resp).ok());
    CHECK(resp.changes(0).action() == v1::APPLY_ACTION_UPDATE);
    REQUIRE(resp.changes(0).diff_size() == 1);
    CHECK(resp.changes(0).diff(0) == "replicas: 2 -> 5");
    CHECK(w.f.store->LastEventSeq() == seq);
    Ctx get;
    v1::GetWorkloadRequest g;
    g.set_name("hello");
    v1::GetWorkloadResponse gr;
    REQUIRE(w.c.workloads->GetWorkload(&get, g, &gr).ok());
    CHECK(gr.workload().spec().replicas() == 2);
  }
  {
    Ctx ctx;
    REQUIRE(w.c.workloads->Apply(&ctx, ApplyOf(GroupSpec(), WorkSpec("web", 5)),
                                 &resp).ok());
    CHECK(resp.changes(0).action() == v1::APPLY_ACTION_UPDATE);
    CHECK(resp.changes(0).generation() == 2);
    CHECK(resp.changes(1).action() == v1::APPLY_ACTION_UNCHANGED);
  }
  {
    // What Get returns applies as a no-op (nestctl get -o yaml | apply).
    Ctx get;
    v1::GetWorkloadRequest g;
    g.set_name("hello");
    v1::GetWorkloadResponse gr;
    REQUIRE(w.c.workloads->GetWorkload(&get, g, &gr).ok());
    Ctx getg;
    v1::GetVmGroupRequest gg;
    gg.set_name("web");
    v1::GetVmGroupResponse ggr;
    REQUIRE(w.c.groups->GetVmGroup(&getg, gg, &ggr).ok());
    Ctx ctx;
    REQUIRE(w.c.workloads->Apply(
        &ctx, ApplyOf(ggr.group().spec(), gr.workload().spec()), &resp).ok());
    CHECK(resp.changes(0).action() == v1::APPLY_ACTION_UNCHANGED);
    CHECK(resp.changes(1).action() == v1::APPLY_ACTION_UNCHANGED);
  }
  {
    // Bad objects are named by their index; nothing is written.
    v1::ApplyRequest req = ApplyOf(GroupSpec(), WorkSpec("web", 5));
    req.mutable_objects(0)->mutable_workload()->mutable_spec()->set_replicas(-1);
    req.mutable_objects(1)->mutable_group()->mutable_spec()->set_max_vms(0);
    Ctx ctx;
    grpc::Status s = w.c.workloads->Apply(&ctx, req, &resp);
    CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK(Fields(s) == std::set<std::string>{"objects[0].workload.spec.replicas",
                                             "objects[1].group.spec.max_vms"});
  }
}

TEST_CASE("events: list, and Watch resumes after a disconnect exactly once, in order") {
  World w;
  REQUIRE(w.CreateGroup("web", GroupSpec()).ok());
  int64_t start = w.f.store->LastEventSeq();
  std::vector<int64_t> got;
  {
    Ctx ctx;
    v1::WatchEventsRequest req;
    req.set_after_seq(start);
    auto reader = w.c.events->Watch(&ctx, req);
    REQUIRE(w.CreateWorkload("a", WorkSpec()).ok());
    REQUIRE(w.CreateWorkload("b", WorkSpec()).ok());
    REQUIRE(w.CreateWorkload("c", WorkSpec()).ok());
    v1::Event e;
    for (int i = 0; i < 2 && reader->Read(&e); ++i) got.push_back(e.seq());
    ctx.TryCancel();  // disconnect after two events
    while (reader->Read(&e)) {
    }
    (void)reader->Finish();
  }
  REQUIRE(got.size() == 2);
  // Missed while disconnected.
  REQUIRE(w.CreateWorkload("d", WorkSpec()).ok());
  int64_t end = w.f.store->LastEventSeq();
  {
    Ctx ctx;
    v1::WatchEventsRequest req;
    req.set_after_seq(got.back());
    auto reader = w.c.events->Watch(&ctx, req);
    v1::Event e;
    while (got.back() < end && reader->Read(&e)) got.push_back(e.seq());
    ctx.TryCancel();
    (void)reader->Finish();
  }
  std::vector<int64_t> want;
  for (int64_t s = start + 1; s <= end; ++s) want.push_back(s);
  CHECK(got == want);

  Ctx list;
  v1::ListEventsRequest lr;
  lr.set_after_seq(start);
  lr.set_kind("workload");
  v1::ListEventsResponse resp;
  REQUIRE(w.c.events->ListEvents(&list, lr, &resp).ok());
  REQUIRE(resp.events_size() == 4);
  CHECK(resp.events(0).name() == "a");
  CHECK(resp.events(0).reason() == "Created");
  CHECK(resp.events(3).name() == "d");
}

TEST_CASE("Watch filters by kind and name and still delivers live events") {
  World w;
  REQUIRE(w.CreateGroup("web", GroupSpec()).ok());
  Ctx ctx;
  v1::WatchEventsRequest req;
  req.set_from_oldest(true);
  req.set_kind("workload");
  req.set_name("b");
  auto reader = w.c.events->Watch(&ctx, req);
  REQUIRE(w.CreateWorkload("a", WorkSpec()).ok());
  REQUIRE(w.CreateWorkload("b", WorkSpec()).ok());
  v1::Event e;
  REQUIRE(reader->Read(&e));
  CHECK(e.kind() == "workload");
  CHECK(e.name() == "b");
  ctx.TryCancel();
  (void)reader->Finish();
}

TEST_CASE("Watch from a pruned sequence is OUT_OF_RANGE naming the oldest kept") {
  World w;
  REQUIRE(w.CreateGroup("web", GroupSpec()).ok());
  REQUIRE(w.CreateWorkload("a", WorkSpec()).ok());
  w.f.clock.Advance(absl::Hours(2));
  REQUIRE(w.CreateWorkload("b", WorkSpec()).ok());
  auto pruned = w.f.store->PruneEvents(w.f.clock.Now() - absl::Hours(1));
  REQUIRE(pruned.ok());
  REQUIRE(*pruned >= 2);
  auto oldest = w.f.store->OldestEventSeq();
  REQUIRE(oldest.ok());
  Ctx ctx;
  v1::WatchEventsRequest req;
  req.set_after_seq(1);
  auto reader = w.c.events->Watch(&ctx, req);
  v1::Event e;
  CHECK_FALSE(reader->Read(&e));
  grpc::Status s = reader->Finish();
  CHECK(s.error_code() == grpc::StatusCode::OUT_OF_RANGE);
  CHECK(absl::StrContains(s.error_message(), std::to_string(*oldest)));
}

TEST_CASE("cancelling a Watch stops its handler promptly") {
  World w;
  auto& streams = *w.f.services.streams;
  Ctx ctx;
  v1::WatchEventsRequest req;
  auto reader = w.c.events->Watch(&ctx, req);
  reader->WaitForInitialMetadata();  // the watch is established
  REQUIRE(streams.AwaitTotalAtLeast(1, absl::Seconds(10)));
  CHECK(streams.active() == 1);
  auto t0 = absl::Now();
  ctx.TryCancel();
  CHECK(streams.AwaitActiveAtMost(0, absl::Seconds(5)));
  CHECK(absl::Now() - t0 < absl::Seconds(2));
  (void)reader->Finish();
}

TEST_CASE("containers: list, get, logs, exec, stats through the VM's agent") {
  World w;
  w.Running();
  auto cs = w.Containers("hello");
  REQUIRE(cs.size() == 2);
  const v1::Container& c0 = cs[0];
  CHECK(c0.state() == v1::CONTAINER_STATE_RUNNING);
  CHECK(c0.image() == "hello");
  CHECK(!c0.vm().empty());
  CHECK(c0.host() == "h1");
  auto agent = w.f.agents.Agent(VmId(c0.vm()));
  REQUIRE(agent != nullptr);
  REQUIRE(agent->AppendOutput(c0.meta().name(), "one\ntwo\nthree\n").ok());
  {
    Ctx ctx;
    v1::GetContainerRequest req;
    req.set_name(c0.meta().name());
    v1::GetContainerResponse resp;
    REQUIRE(w.c.containers->GetContainer(&ctx, req, &resp).ok());
    CHECK(resp.container().workload() == "hello");
    Ctx nf;
    req.set_name("nope");
    CHECK(w.c.containers->GetContainer(&nf, req, &resp).error_code() ==
          grpc::StatusCode::NOT_FOUND);
  }
  {
    Ctx ctx;
    v1::StreamLogsRequest req;
    req.set_name(c0.meta().name());
    req.set_tail_lines(2);
    auto reader = w.c.containers->StreamLogs(&ctx, req);
    std::string data;
    v1::StreamLogsResponse r;
    while (reader->Read(&r)) data += r.data();
    REQUIRE(reader->Finish().ok());
    CHECK(data == "two\nthree\n");
  }
  {
    Ctx ctx;
    v1::ExecRequest req;
    req.set_name(c0.meta().name());
    req.add_command("/bin/true");
    v1::ExecResponse resp;
    REQUIRE(w.c.containers->Exec(&ctx, req, &resp).ok());
    CHECK(resp.exit_code() == 0);
    Ctx bad;
    req.clear_command();
    req.set_timeout_s(-1);
    grpc::Status s = w.c.containers->Exec(&bad, req, &resp);
    CHECK(Fields(s) == std::set<std::string>{"command", "timeout_s"});
  }
  {
    Ctx ctx;
    v1::GetContainerStatsRequest req;
    v1::GetContainerStatsResponse resp;
    REQUIRE(w.c.containers->GetContainerStats(&ctx, req, &resp).ok());
    CHECK(resp.stats_size() == 2);
    CHECK(resp.stats(0).memory_limit_bytes() == 32 * 1024 * 1024);
  }
}

TEST_CASE("following logs: new output streams, and cancel frees the handler") {
  World w;
  w.Running();
  auto cs = w.Containers("hello");
  REQUIRE(!cs.empty());
  auto agent = w.f.agents.Agent(VmId(cs[0].vm()));
  REQUIRE(agent != nullptr);
  REQUIRE(agent->AppendOutput(cs[0].meta().name(), "before\n").ok());
  auto& streams = *w.f.services.streams;
  Ctx ctx;
  v1::StreamLogsRequest req;
  req.set_name(cs[0].meta().name());
  req.set_follow(true);
  auto reader = w.c.containers->StreamLogs(&ctx, req);
  v1::StreamLogsResponse r;
  REQUIRE(reader->Read(&r));
  CHECK(r.data() == "before\n");
  REQUIRE(agent->AppendOutput(cs[0].meta().name(), "after\n").ok());
  REQUIRE(reader->Read(&r));
  CHECK(r.data() == "after\n");
  CHECK(streams.active() == 1);
  ctx.TryCancel();
  CHECK(streams.AwaitActiveAtMost(0, absl::Seconds(5)));
  (void)reader->Finish();
}

TEST_CASE("without a controller, logs/exec/stats are UNAVAILABLE") {
  ApiFixtureOptions o;
  o.controller = false;
  World w(o);
  REQUIRE(w.CreateGroup("web", GroupSpec()).ok());
  REQUIRE(w.CreateWorkload("hello", WorkSpec()).ok());
  // A container row, as the controller would have written it.
  REQUIRE(w.f.store->Write([](store::WriteTx& tx) -> absl::Status {
    store::Container c;
    c.id = ContainerId("hello-aaaaa");
    c.tenant = TenantId("default");
    c.workload = WorkloadId("hello");
    return tx.CreateContainer(c).status();
  }).ok());
  Ctx ctx;
  v1::ExecRequest req;
  req.set_name("hello-aaaaa");
  req.add_command("/bin/true");
  v1::ExecResponse resp;
  CHECK(w.c.containers->Exec(&ctx, req, &resp).error_code() ==
        grpc::StatusCode::UNAVAILABLE);
}

TEST_CASE("images: import, list, delete refused while used") {
  World w;
  REQUIRE(w.CreateGroup("web", GroupSpec()).ok());
  {
    Ctx ctx;
    v1::ImportImageRequest req;
    req.set_name("bad name");
    v1::ImportImageResponse resp;
    grpc::Status s = w.c.images->ImportImage(&ctx, req, &resp);
    CHECK(Fields(s) == std::set<std::string>{"name", "source"});
  }
  {
    Ctx ctx;
    v1::ImportImageRequest req;
    req.set_name("busybox");
    req.set_source("/srv/images/busybox.tar");
    req.mutable_options()->set_request_id("import-1");
    v1::ImportImageResponse resp;
    REQUIRE(w.c.images->ImportImage(&ctx, req, &resp).ok());
    CHECK(absl::StartsWith(resp.image().digest(), "sha256:"));
    v1::ImportImageResponse replay;
    Ctx again;
    REQUIRE(w.c.images->ImportImage(&again, req, &replay).ok());
    CHECK(replay.SerializeAsString() == resp.SerializeAsString());
    Ctx dup;
    req.clear_options();
    CHECK(w.c.images->ImportImage(&dup, req, &resp).error_code() ==
          grpc::StatusCode::ALREADY_EXISTS);
  }
  {
    Ctx ctx;
    v1::ListImagesRequest req;
    v1::ListImagesResponse resp;
    REQUIRE(w.c.images->ListImages(&ctx, req, &resp).ok());
    REQUIRE(resp.images_size() == 1);
    CHECK(resp.images(0).meta().name() == "busybox");
  }
  REQUIRE(w.CreateWorkload("bb", WorkSpec("web", 1, "busybox")).ok());
  Ctx ctx;
  v1::DeleteImageRequest req;
  req.set_name("busybox");
  v1::DeleteImageResponse resp;
  grpc::Status s = w.c.images->DeleteImage(&ctx, req, &resp);
  CHECK(s.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
  CHECK(absl::StrContains(s.error_message(), "bb"));
  Ctx del;
  v1::DeleteWorkloadRequest dw;
  dw.set_name("bb");
  v1::DeleteWorkloadResponse dwr;
  REQUIRE(w.c.workloads->DeleteWorkload(&del, dw, &dwr).ok());
  Ctx again;
  REQUIRE(w.c.images->DeleteImage(&again, req, &resp).ok());
}

TEST_CASE("VMs: list, get, stop and start set desired state; console log") {
  std::string log_path;
  ApiFixtureOptions o;
  testing::TempDir logs;
  o.commands.console_log_path = [&logs](const VmId& vm) {
    return logs.path + "/" + vm.str() + ".log";
  };
  World w(o);
  w.Running();
  Ctx ctx;
  v1::ListVmsRequest req;
  req.set_group("web");
  v1::ListVmsResponse resp;
  REQUIRE(w.c.vms->ListVms(&ctx, req, &resp).ok());
  REQUIRE(resp.vms_size() == 1);
  const v1::Vm& vm = resp.vms(0);
  CHECK(vm.state() == v1::VM_STATE_RUNNING);
  CHECK(vm.host() == "h1");
  CHECK(vm.memory() == "256Mi");
  CHECK(vm.containers() == 2);
  {
    Ctx c2;
    v1::GetConsoleLogRequest lr;
    lr.set_name(vm.meta().name());
    v1::GetConsoleLogResponse lresp;
    CHECK(w.c.vms->GetConsoleLog(&c2, lr, &lresp).error_code() ==
          grpc::StatusCode::UNAVAILABLE);
    std::ofstream(logs.path + "/" + vm.meta().name() + ".log") << "boot\nready\n";
    Ctx c3;
    lr.set_tail_bytes(6);
    REQUIRE(w.c.vms->GetConsoleLog(&c3, lr, &lresp).ok());
    CHECK(lresp.data() == "ready\n");
  }
  {
    Ctx c2;
    v1::StopVmRequest sr;
    sr.set_name(vm.meta().name());
    v1::StopVmResponse sresp;
    REQUIRE(w.c.vms->StopVm(&c2, sr, &sresp).ok());
    CHECK(absl::StrContains(sresp.vm().message(), "desired stopped"));
    Ctx c3;
    v1::StartVmRequest st;
    st.set_name(vm.meta().name());
    v1::StartVmResponse stresp;
    REQUIRE(w.c.vms->StartVm(&c3, st, &stresp).ok());
    CHECK(!absl::StrContains(stresp.vm().message(), "desired"));
  }
  {
    Ctx c2;
    v1::GetVmRequest g;
    g.set_name("nope");
    v1::GetVmResponse gr;
    CHECK(w.c.vms->GetVm(&c2, g, &gr).error_code() == grpc::StatusCode::NOT_FOUND);
  }
}

TEST_CASE("placement: Explain names the reasons; DryRun plans without writing") {
  World w;
  w.Running();
  v1::WorkloadSpec big = WorkSpec("web", 1);
  big.mutable_resources()->set_memory("4Gi");  // larger than any VM of web
  REQUIRE(w.CreateWorkload("big", big).ok());
  {
    Ctx ctx;
    v1::ExplainRequest req;
    req.set_workload("big");
    v1::ExplainResponse resp;
    REQUIRE(w.c.placement->Explain(&ctx, req, &resp).ok());
    CHECK(resp.pending() == 1);
    CHECK(resp.reasons_size() > 0);
    CHECK(!resp.suggestion().empty());
    Ctx missing;
    req.set_workload("nope");
    CHECK(w.c.placement->Explain(&missing, req, &resp).error_code() ==
          grpc::StatusCode::NOT_FOUND);
    Ctx empty;
    req.clear_workload();
    CHECK(Fields(w.c.placement->Explain(&empty, req, &resp)) ==
          std::set<std::string>{"workload"});
  }
  REQUIRE(w.CreateWorkload("more", WorkSpec("web", 2)).ok());
  int64_t seq = w.f.store->LastEventSeq();
  Ctx ctx;
  v1::DryRunRequest req;
  v1::DryRunResponse resp;
  REQUIRE(w.c.placement->DryRun(&ctx, req, &resp).ok());
  int placed = 0;
  for (const auto& a : resp.actions()) placed += a.action() == "place_container";
  CHECK(placed == 2);
  REQUIRE(resp.unplaceable_size() == 1);
  CHECK(resp.unplaceable(0).workload() == "big");
  CHECK(w.f.store->LastEventSeq() == seq);
}

}  // namespace
}  // namespace nest::api
