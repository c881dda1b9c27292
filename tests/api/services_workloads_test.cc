// WorkloadService: validation, generations, idempotency and Apply.
// Through a real gRPC server on 127.0.0.1:0 and real C++ stubs, with a
// simulated cluster behind it (tests/api/api_world.h).
#include <atomic>
#include <thread>

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
  CHECK(Fields(s) == std::set<std::string>{
                         "name", "spec.image", "spec.replicas",
                         "spec.resources.cpu", "spec.resources.memory",
                         "spec.resources.disk", "spec.restart_policy",
                         "spec.isolation", "spec.priority", "spec.stop_grace_s",
                         "spec.max_unavailable", "spec.group",
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

TEST_CASE(
    "idempotent create: same request_id replays; another body is rejected") {
  World w;
  REQUIRE(w.CreateGroup("web", GroupSpec()).ok());
  v1::Workload first, second;
  REQUIRE(w.CreateWorkload("hello", WorkSpec(), &first, "req-1").ok());
  int64_t seq = w.f.store->LastEventSeq();
  REQUIRE(w.CreateWorkload("hello", WorkSpec(), &second, "req-1").ok());
  CHECK(first.SerializeAsString() == second.SerializeAsString());
  CHECK(w.f.store->LastEventSeq() == seq);  // nothing written
  grpc::Status other =
      w.CreateWorkload("hello", WorkSpec("web", 7), nullptr, "req-1");
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

TEST_CASE(
    "apply: create, unchanged, update with a diff; dry run writes nothing") {
  World w;
  v1::ApplyResponse resp;
  {
    Ctx ctx;
    REQUIRE(w.c.workloads->Apply(&ctx, ApplyOf(GroupSpec(), WorkSpec()), &resp)
                .ok());
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
    REQUIRE(w.c.workloads
                ->Apply(&ctx, ApplyOf(GroupSpec(), WorkSpec("web", 5)), &resp)
                .ok());
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
    REQUIRE(w.c.workloads
                ->Apply(&ctx, ApplyOf(ggr.group().spec(), gr.workload().spec()),
                        &resp)
                .ok());
    CHECK(resp.changes(0).action() == v1::APPLY_ACTION_UNCHANGED);
    CHECK(resp.changes(1).action() == v1::APPLY_ACTION_UNCHANGED);
  }
  {
    // Bad objects are named by their index; nothing is written.
    v1::ApplyRequest req = ApplyOf(GroupSpec(), WorkSpec("web", 5));
    req.mutable_objects(0)->mutable_workload()->mutable_spec()->set_replicas(
        -1);
    req.mutable_objects(1)->mutable_group()->mutable_spec()->set_max_vms(0);
    Ctx ctx;
    grpc::Status s = w.c.workloads->Apply(&ctx, req, &resp);
    CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK(Fields(s) ==
          std::set<std::string>{"objects[0].workload.spec.replicas",
                                "objects[1].group.spec.max_vms"});
  }
}

// Writes a replica of workload "hello" as the controller records one: its
// state and the workload generation it runs.
void PutReplica(World& w, const std::string& id, int64_t generation,
                store::ContainerDesiredState desired =
                    store::ContainerDesiredState::kRunning) {
  REQUIRE(w.f.store
              ->Write([&](store::WriteTx& tx) -> absl::Status {
                store::Container c;
                auto cur = tx.GetContainer(ContainerId(id));
                if (cur.ok()) c = *cur;
                c.id = ContainerId(id);
                c.tenant = TenantId("default");
                c.workload = WorkloadId("hello");
                c.desired = desired;
                c.observed = store::ContainerObservedState::kRunning;
                c.spec_generation = generation;
                if (cur.ok()) return tx.UpdateContainer(c, 0).status();
                return tx.CreateContainer(c).status();
              })
              .ok());
}

TEST_CASE("observed_generation stays old until replicas run the new one") {
  ApiFixtureOptions o;
  o.controller = false;  // the test plays the controller
  World w(o);
  REQUIRE(w.CreateGroup("web", GroupSpec()).ok());
  REQUIRE(w.CreateWorkload("hello", WorkSpec()).ok());
  v1::Workload got = w.GetWorkload("hello");
  CHECK(got.status().observed_generation() == 1);  // nothing runs yet
  CHECK(got.status().ready() == 0);
  PutReplica(w, "hello-aaaaa", 1);
  PutReplica(w, "hello-bbbbb", 1);
  got = w.GetWorkload("hello");
  CHECK(got.status().observed_generation() == 1);
  CHECK(got.status().ready() == 2);

  Ctx ctx;
  v1::UpdateWorkloadRequest req;
  req.set_name("hello");
  *req.mutable_spec() = WorkSpec();
  req.mutable_spec()->mutable_resources()->set_cpu("200m");
  v1::UpdateWorkloadResponse resp;
  REQUIRE(w.c.workloads->UpdateWorkload(&ctx, req, &resp).ok());
  // The old replicas still run: the counts are met, the generation is not.
  CHECK(resp.workload().meta().generation() == 2);
  CHECK(resp.workload().status().observed_generation() == 1);
  CHECK(resp.workload().status().running() == 2);
  CHECK(resp.workload().status().ready() == 0);

  PutReplica(w, "hello-aaaaa", 2);
  got = w.GetWorkload("hello");
  CHECK(got.status().observed_generation() == 1);
  CHECK(got.status().ready() == 1);
  PutReplica(w, "hello-bbbbb", 2);
  got = w.GetWorkload("hello");
  CHECK(got.status().observed_generation() == 2);
  CHECK(got.status().ready() == 2);
  // A replica being retired does not hold the workload back.
  PutReplica(w, "hello-ccccc", 1, store::ContainerDesiredState::kDeleted);
  got = w.GetWorkload("hello");
  CHECK(got.status().observed_generation() == 2);
  CHECK(got.status().running() == 2);
}

TEST_CASE("a change of replicas alone keeps the running replicas current") {
  ApiFixtureOptions o;
  o.controller = false;  // the test plays the controller
  World w(o);
  REQUIRE(w.CreateGroup("web", GroupSpec()).ok());
  REQUIRE(w.CreateWorkload("hello", WorkSpec()).ok());
  PutReplica(w, "hello-aaaaa", 1);
  PutReplica(w, "hello-bbbbb", 1);
  {
    Ctx ctx;
    v1::ScaleWorkloadRequest req;
    req.set_name("hello");
    req.set_replicas(3);
    v1::ScaleWorkloadResponse resp;
    REQUIRE(w.c.workloads->ScaleWorkload(&ctx, req, &resp).ok());
    CHECK(resp.workload().meta().generation() == 2);
    CHECK(resp.workload().status().observed_generation() == 2);
    CHECK(resp.workload().status().ready() == 2);
  }
  {
    Ctx ctx;
    v1::ApplyResponse resp;
    REQUIRE(w.c.workloads
                ->Apply(&ctx, ApplyOf(GroupSpec(), WorkSpec("web", 4)), &resp)
                .ok());
    CHECK(resp.changes(0).generation() == 3);
    CHECK(w.GetWorkload("hello").status().observed_generation() == 3);
  }
  {
    Ctx ctx;
    v1::ListEventsRequest req;
    req.set_kind("container");
    req.set_name("hello-aaaaa");
    v1::ListEventsResponse resp;
    REQUIRE(w.c.events->ListEvents(&ctx, req, &resp).ok());
    REQUIRE(resp.events_size() == 3);  // created, carried twice
    CHECK(resp.events(2).reason() == "SpecUnchanged");
  }
  // Another environment is a new spec: the replicas still run the old one.
  Ctx ctx;
  v1::UpdateWorkloadRequest req;
  req.set_name("hello");
  *req.mutable_spec() = WorkSpec("web", 4);
  (*req.mutable_spec()->mutable_env())["GREETING"] = "hi";
  v1::UpdateWorkloadResponse resp;
  REQUIRE(w.c.workloads->UpdateWorkload(&ctx, req, &resp).ok());
  CHECK(resp.workload().meta().generation() == 4);
  CHECK(resp.workload().status().observed_generation() == 3);
  CHECK(resp.workload().status().ready() == 0);
  // A scale now does not make them current: they ran generation 3, not 4.
  Ctx scale;
  v1::ScaleWorkloadRequest sr;
  sr.set_name("hello");
  sr.set_replicas(5);
  v1::ScaleWorkloadResponse sresp;
  REQUIRE(w.c.workloads->ScaleWorkload(&scale, sr, &sresp).ok());
  CHECK(sresp.workload().meta().generation() == 5);
  CHECK(sresp.workload().status().observed_generation() == 3);
  CHECK(sresp.workload().status().ready() == 0);
}

TEST_CASE(
    "through the controller: replicas restarted from the new spec count") {
  World w;
  w.Running();  // hello x2 at generation 1
  REQUIRE(w.GetWorkload("hello").status().ready() == 2);
  Ctx ctx;
  v1::UpdateWorkloadRequest req;
  req.set_name("hello");
  *req.mutable_spec() = WorkSpec();
  (*req.mutable_spec()->mutable_env())["GREETING"] = "hi";
  v1::UpdateWorkloadResponse resp;
  REQUIRE(w.c.workloads->UpdateWorkload(&ctx, req, &resp).ok());
  CHECK(resp.workload().status().observed_generation() == 1);
  CHECK(resp.workload().status().running() == 2);
  CHECK(resp.workload().status().ready() == 0);
  // The controller starts a replica from the spec it reads then: a
  // restart after the old process exits runs generation 2.
  for (const auto& c : w.Containers("hello")) {
    auto agent = w.f.agents.Agent(VmId(c.vm()));
    REQUIRE(agent != nullptr);
    REQUIRE(agent->SimulateExit(c.meta().name(), 0, false).ok());
  }
  for (int i = 0; i < 10 && w.GetWorkload("hello").status().ready() < 2; ++i) {
    w.f.clock.Advance(absl::Seconds(5));  // past the restart backoff
    w.f.Converge(2);
  }
  v1::Workload got = w.GetWorkload("hello");
  CHECK(got.status().observed_generation() == 2);
  CHECK(got.status().ready() == 2);
}

}  // namespace
}  // namespace nest::api
