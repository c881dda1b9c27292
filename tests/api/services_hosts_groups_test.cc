// HostService, VmGroupService and VmService.
// Through a real gRPC server on 127.0.0.1:0 and real C++ stubs, with a
// simulated cluster behind it (tests/api/api_world.h).
#include <fstream>

#include "absl/strings/match.h"
#include "tests/api/api_world.h"

namespace nest::api {
namespace {

using testing::ApiFixtureOptions;
using testing::Ctx;
using testing::Fields;
using testing::GroupSpec;
using testing::WorkSpec;
using testing::World;
namespace v1 = ::nest::v1;

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

TEST_CASE("groups: utilization targets are checked, stored and shown") {
  World w;
  v1::VmGroupSpec bad = GroupSpec();
  bad.set_target_cpu_percent(150);
  bad.set_target_memory_percent(-1);
  bad.set_utilization_tolerance_percent(101);
  grpc::Status s = w.CreateGroup("web", bad);
  REQUIRE(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(Fields(s) ==
        std::set<std::string>{"spec.target_cpu_percent",
                              "spec.target_memory_percent",
                              "spec.utilization_tolerance_percent"});
  CHECK(absl::StrContains(
      s.error_message(),
      "spec.target_cpu_percent must be 0 (off) or 1..100, got 150"));

  v1::VmGroupSpec spec = GroupSpec();
  spec.set_target_cpu_percent(60);
  v1::VmGroup g;
  REQUIRE(w.CreateGroup("web", spec, &g).ok());
  CHECK(g.spec().target_cpu_percent() == 60);
  CHECK(g.spec().target_memory_percent() == 0);
  CHECK(g.spec().utilization_tolerance_percent() == 10);  // the default

  Ctx ctx;
  v1::UpdateVmGroupRequest req;
  req.set_name("web");
  *req.mutable_spec() = spec;
  req.mutable_spec()->set_target_cpu_percent(0);
  req.mutable_spec()->set_target_memory_percent(75);
  req.mutable_spec()->set_utilization_tolerance_percent(20);
  v1::UpdateVmGroupResponse resp;
  REQUIRE(w.c.groups->UpdateVmGroup(&ctx, req, &resp).ok());
  CHECK(resp.group().spec().target_cpu_percent() == 0);
  CHECK(resp.group().spec().target_memory_percent() == 75);
  CHECK(resp.group().spec().utilization_tolerance_percent() == 20);
}

TEST_CASE(
    "group delete: refused while targeted, then VMs go and the row with them") {
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
  REQUIRE(w.f.store
              ->Write([&](store::WriteTx& tx) {
                return tx.DeleteVm(snap->vms[0].id, 0);
              })
              .ok());
  // The next look at a deleting group without VMs removes its row.
  Ctx get;
  v1::GetVmGroupRequest g;
  g.set_name("web");
  v1::GetVmGroupResponse gr;
  CHECK(w.c.groups->GetVmGroup(&get, g, &gr).error_code() ==
        grpc::StatusCode::NOT_FOUND);
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
    std::ofstream(logs.path + "/" + vm.meta().name() + ".log")
        << "boot\nready\n";
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
    CHECK(w.c.vms->GetVm(&c2, g, &gr).error_code() ==
          grpc::StatusCode::NOT_FOUND);
  }
}

TEST_CASE("drain marks a host draining; DeleteVm sets the VM to deleted") {
  ApiFixtureOptions o;
  o.controller = false;
  World w(o);
  REQUIRE(w.CreateHost("h1").ok());
  REQUIRE(w.CreateGroup("web", GroupSpec()).ok());
  w.PutVm("web-aaaaa", "web", "h1");
  {
    Ctx get;
    v1::GetHostRequest gr;
    gr.set_name("h1");
    v1::GetHostResponse host;
    REQUIRE(w.c.hosts->GetHost(&get, gr, &host).ok());
    const int64_t gen = host.host().meta().generation();
    Ctx ctx;
    v1::DrainHostRequest req;
    req.set_name("h1");
    req.mutable_options()->set_expected_generation(gen);
    v1::DrainHostResponse resp;
    REQUIRE(w.c.hosts->DrainHost(&ctx, req, &resp).ok());
    CHECK(resp.host().state() == v1::HOST_STATE_DRAINING);
    CHECK(resp.host().meta().generation() == gen + 1);
    Ctx missing;
    req.set_name("nope");
    req.clear_options();
    CHECK(w.c.hosts->DrainHost(&missing, req, &resp).error_code() ==
          grpc::StatusCode::NOT_FOUND);
  }
  Ctx list;
  v1::ListVmsRequest lr;
  v1::ListVmsResponse vms;
  REQUIRE(w.c.vms->ListVms(&list, lr, &vms).ok());
  REQUIRE(vms.vms_size() == 1);
  const std::string id = vms.vms(0).meta().name();
  {
    Ctx ctx;
    v1::DeleteVmRequest req;
    req.set_name(id);
    req.mutable_options()->set_expected_generation(
        vms.vms(0).meta().generation() + 7);  // stale
    v1::DeleteVmResponse resp;
    CHECK(w.c.vms->DeleteVm(&ctx, req, &resp).error_code() ==
          grpc::StatusCode::FAILED_PRECONDITION);
    Ctx ok;
    req.clear_options();
    REQUIRE(w.c.vms->DeleteVm(&ok, req, &resp).ok());
    Ctx missing;
    req.set_name("nope");
    CHECK(w.c.vms->DeleteVm(&missing, req, &resp).error_code() ==
          grpc::StatusCode::NOT_FOUND);
  }
  auto snap = w.f.store->ReadSnapshot();
  REQUIRE(snap.ok());
  REQUIRE(snap->vms.size() == 1);
  CHECK(snap->vms[0].desired == store::VmDesiredState::kDeleted);
}

}  // namespace
}  // namespace nest::api
