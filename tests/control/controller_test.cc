#include "control/controller.h"

#include <stdlib.h>
#include <unistd.h>

#include <filesystem>

#include "control/sim.h"
#include "doctest/doctest.h"
#include "tests/control/cluster_util.h"

namespace nest::control {
namespace {

using store::ContainerObservedState;
using store::VmObservedState;

// A small cluster on simulated hosts: group web (1 vCPU, 256 MiB, 1..3
// VMs), workloads hello x3 (never restarted) and httpd x2.
struct Cluster : testing::SimParts {
  std::unique_ptr<Controller> controller;

  Cluster() {
    ImageBlob hello{"sha256:" + std::string(64, 'a'),
                    "tar",
                    {"/bin/echo"},
                    {"hi"},
                    {},
                    "/"};
    images.Add("hello", hello);
    ImageBlob httpd{"sha256:" + std::string(64, 'b'),
                    "tar",
                    {"/bin/httpd"},
                    {"-f"},
                    {},
                    "/"};
    images.Add("httpd", httpd);
    REQUIRE(
        store
            ->Write([](store::WriteTx& tx) -> absl::Status {
              NEST_RETURN_IF_ERROR(testing::SeedHostAndGroup(tx));
              for (auto [name, replicas] :
                   {std::pair<const char*, int>{"hello", 3}, {"httpd", 2}}) {
                store::Workload w;
                w.tenant = TenantId("default");
                w.name = WorkloadId(name);
                w.image = name;
                w.replicas = replicas;
                w.requests = Resources::Of(100, 32, 0);
                w.target_group = GroupId("web");
                w.restart_policy = std::string(name) == "hello"
                                       ? store::RestartPolicy::kNever
                                       : store::RestartPolicy::kAlways;
                NEST_RETURN_IF_ERROR(tx.CreateWorkload(w).status());
              }
              return absl::OkStatus();
            })
            .ok());
    NewController();
  }

  void NewController() {
    controller.reset();
    controller =
        std::make_unique<Controller>(*store, hosts, provisioner, agents, images,
                                     clock, testing::TestControllerOptions());
  }

  // Passes until nothing changes (bounded), letting VM operations finish.
  void Converge(int passes = 8) {
    for (int i = 0; i < passes; ++i) {
      (void)controller->ReconcileOnce();
      controller->AwaitIdle();
    }
  }

  store::Snapshot Snap() { return *store->ReadSnapshot(); }

  int Count(ContainerObservedState st) {
    int n = 0;
    for (const auto& c : Snap().containers) n += c.observed == st;
    return n;
  }

  std::vector<vmm::VmInfo> Domains(bool foreign = false) {
    auto d = hosts.Host(HostId("h1"));
    REQUIRE(d != nullptr);
    return *d->List(foreign);
  }
};

TEST_CASE("converges from empty: VMs running, every replica running") {
  Cluster c;
  c.Converge();
  store::Snapshot s = c.Snap();
  REQUIRE(s.vms.size() == 1);
  CHECK(s.vms[0].observed == VmObservedState::kRunning);
  CHECK(s.vms[0].group == GroupId("web"));
  CHECK(c.Domains().size() == 1);
  REQUIRE(s.containers.size() == 5);
  CHECK(c.Count(ContainerObservedState::kRunning) == 5);
  auto agent = c.agents.Agent(s.vms[0].id);
  REQUIRE(agent != nullptr);
  auto listed = agent->ListContainers();
  REQUIRE(listed.ok());
  CHECK(listed->size() == 5);
  // Host capacity was read from the driver's facts.
  CHECK(s.hosts[0].capacity.milli_cpu() > 0);
}

TEST_CASE("exit codes are recorded; restart policy never keeps them done") {
  Cluster c;
  c.Converge();
  store::Snapshot s = c.Snap();
  auto agent = c.agents.Agent(s.vms[0].id);
  int exited = 0;
  for (const auto& row : s.containers) {
    if (row.workload == WorkloadId("hello")) {
      REQUIRE(
          agent->SimulateExit(row.id.str(), exited == 0 ? 0 : 3, false).ok());
      ++exited;
    }
  }
  c.clock.Advance(absl::Minutes(5));
  c.Converge();
  s = c.Snap();
  int ok = 0, failed = 0;
  for (const auto& row : s.containers) {
    if (row.workload != WorkloadId("hello")) continue;
    CHECK(row.restarts == 0);
    REQUIRE(row.exit_code.has_value());
    if (*row.exit_code == 0) {
      CHECK(row.observed == ContainerObservedState::kExited);
      ++ok;
    } else {
      CHECK(row.observed == ContainerObservedState::kFailed);
      CHECK(*row.exit_code == 3);
      ++failed;
    }
  }
  CHECK(ok == 1);
  CHECK(failed == 2);
  CHECK(s.containers.size() == 5);  // no replacement replicas
}

TEST_CASE("restart policy always restarts an exited container in place") {
  Cluster c;
  c.Converge();
  store::Snapshot s = c.Snap();
  auto agent = c.agents.Agent(s.vms[0].id);
  ContainerId victim;
  for (const auto& row : s.containers) {
    if (row.workload == WorkloadId("httpd")) victim = row.id;
  }
  REQUIRE(agent->SimulateExit(victim.str(), 137, true).ok());
  c.Converge(2);
  auto row = *[&] {
    for (const auto& r : c.Snap().containers) {
      if (r.id == victim) return std::optional<store::Container>(r);
    }
    return std::optional<store::Container>();
  }();
  CHECK(row.observed == ContainerObservedState::kFailed);
  CHECK(row.message.find("OOM") != std::string::npos);
  c.clock.Advance(absl::Seconds(2));
  c.Converge();
  for (const auto& r : c.Snap().containers) {
    if (r.id != victim) continue;
    CHECK(r.observed == ContainerObservedState::kRunning);
    CHECK(r.restarts == 1);
  }
  CHECK(c.Snap().containers.size() == 5);
}

TEST_CASE("a failed boot is retried after the delay and leaves one VM") {
  Cluster c;
  c.agents.FailNextBoots(1, absl::DeadlineExceededError("guest silent"));
  c.Converge(3);
  store::Snapshot s = c.Snap();
  REQUIRE(s.vms.size() == 1);
  CHECK(s.vms[0].observed == VmObservedState::kFailed);
  CHECK(s.vms[0].message == "guest silent");
  CHECK(c.Domains().empty());
  c.clock.Advance(absl::Seconds(10));
  c.Converge();
  s = c.Snap();
  REQUIRE(s.vms.size() == 1);
  CHECK(s.vms[0].observed == VmObservedState::kRunning);
  CHECK(s.vms[0].boot_attempts == 2);
  CHECK(c.Domains().size() == 1);
  CHECK(c.Count(ContainerObservedState::kRunning) == 5);
}

TEST_CASE("a restarted controller re-adopts: no duplicate VM or container") {
  Cluster c;
  c.Converge();
  int64_t boots = c.agents.boots();
  c.NewController();  // the daemon restarted; hosts and guests kept running
  c.Converge();
  store::Snapshot s = c.Snap();
  CHECK(s.vms.size() == 1);
  CHECK(c.Domains().size() == 1);
  CHECK(c.agents.boots() == boots);
  CHECK(s.containers.size() == 5);
  CHECK(c.Count(ContainerObservedState::kRunning) == 5);
  auto listed = c.agents.Agent(s.vms[0].id)->ListContainers();
  CHECK(listed->size() == 5);
}

TEST_CASE("foreign domains are left alone; owned orphans are removed") {
  Cluster c;
  c.Converge();
  auto host = c.hosts.Host(HostId("h1"));
  host->AddForeignVm("someone-elses");
  vmm::VmSpec stray;
  stray.id = VmId("web-stray");
  stray.kernel_path = "/k";
  stray.initrd_path = "/i";
  REQUIRE(host->Create(stray).ok());
  c.Converge();
  auto all = c.Domains(true);
  bool foreign = false, orphan = false;
  for (const auto& d : all) {
    foreign |= !d.owned && d.name == "someone-elses";
    orphan |= d.id == VmId("web-stray");
  }
  CHECK(foreign);
  CHECK_FALSE(orphan);
  CHECK(c.Snap().vms.size() == 1);
}

TEST_CASE("scaling down retires replicas in the guest and in the store") {
  Cluster c;
  c.Converge();
  REQUIRE(c.store
              ->Write([](store::WriteTx& tx) -> absl::Status {
                NEST_ASSIGN_OR_RETURN(
                    auto w,
                    tx.GetWorkload(TenantId("default"), WorkloadId("httpd")));
                w.replicas = 0;
                return tx.UpdateWorkload(w, 0).status();
              })
              .ok());
  c.Converge();
  store::Snapshot s = c.Snap();
  CHECK(s.containers.size() == 3);
  auto listed = c.agents.Agent(s.vms[0].id)->ListContainers();
  CHECK(listed->size() == 3);
}

TEST_CASE("a changed spec rolls out: replaced within max_unavailable") {
  Cluster c;
  c.Converge();
  int64_t gen = 0;
  REQUIRE(c.store
              ->Write([&](store::WriteTx& tx) -> absl::Status {
                NEST_ASSIGN_OR_RETURN(
                    auto w,
                    tx.GetWorkload(TenantId("default"), WorkloadId("httpd")));
                w.image = "hello";  // a new spec: every replica is replaced
                NEST_ASSIGN_OR_RETURN(auto next, tx.UpdateWorkload(w, 0));
                gen = next.meta.generation;
                return absl::OkStatus();
              })
              .ok());
  // httpd: 2 replicas, max_unavailable 1, max_surge 1 (the defaults).
  bool done = false;
  for (int pass = 0; pass < 40 && !done; ++pass) {
    (void)c.controller->ReconcileOnce();
    c.controller->AwaitIdle();
    c.clock.Advance(absl::Seconds(11));  // past stop_grace_s
    int serving = 0, live = 0, current = 0;
    for (const auto& row : c.Snap().containers) {
      if (row.workload != WorkloadId("httpd") ||
          row.desired != store::ContainerDesiredState::kRunning) {
        continue;
      }
      ++live;
      serving += row.observed == ContainerObservedState::kRunning;
      current += row.spec_generation == gen &&
                 row.observed == ContainerObservedState::kRunning;
    }
    CHECK(serving >= 1);  // replicas - max_unavailable
    CHECK(live <= 3);     // replicas + max_surge
    done = current == 2 && live == 2;
  }
  CHECK(done);
  c.Converge();
  store::Snapshot s = c.Snap();
  int httpd_rows = 0;
  for (const auto& row : s.containers) {
    httpd_rows += row.workload == WorkloadId("httpd");
  }
  CHECK(httpd_rows == 2);
  // In the guest: the two new replicas, the three hello runs, nothing old.
  auto listed = c.agents.Agent(s.vms[0].id)->ListContainers();
  REQUIRE(listed.ok());
  CHECK(listed->size() == 5);
}

TEST_CASE("an agent failure mid-start converges without duplicates") {
  Cluster c;
  c.Converge(2);  // VM booted; some containers may have started
  store::Snapshot s = c.Snap();
  REQUIRE(s.vms.size() == 1);
  auto agent = c.agents.Agent(s.vms[0].id);
  agent->SetReachable(false);
  c.Converge(2);
  agent->SetReachable(true);
  c.clock.Advance(absl::Seconds(10));
  c.Converge();
  s = c.Snap();
  CHECK(s.vms.size() == 1);
  CHECK(s.containers.size() == 5);
  CHECK(c.Count(ContainerObservedState::kRunning) == 5);
  CHECK(agent->ListContainers()->size() == 5);
}

TEST_CASE("an unreachable host goes down after the grace period") {
  Cluster c;
  c.Converge();
  c.hosts.SetUnreachable(HostId("h1"), true);
  c.NewController();  // forget the connection so it must reconnect
  c.Converge(2);
  CHECK(c.Snap().hosts[0].state == store::HostState::kReady);
  c.clock.Advance(absl::Minutes(2));
  c.Converge(2);
  store::Snapshot s = c.Snap();
  CHECK(s.hosts[0].state == store::HostState::kDown);
  CHECK(s.vms[0].observed == VmObservedState::kUnknown);
  c.hosts.SetUnreachable(HostId("h1"), false);
  c.clock.Advance(absl::Seconds(10));
  c.Converge();
  s = c.Snap();
  CHECK(s.hosts[0].state == store::HostState::kReady);
  CHECK(s.vms[0].observed == VmObservedState::kRunning);
  CHECK(s.vms.size() == 1);
}

TEST_CASE("a host whose calls hang stalls no pass and goes down") {
  Cluster c;
  c.hosts.SetMayBlock(true);
  ControllerOptions opts = testing::TestControllerOptions();
  opts.host_probe_timeout = absl::Milliseconds(200);
  c.controller = std::make_unique<Controller>(
      *c.store, c.hosts, c.provisioner, c.agents, c.images, c.clock, opts);
  c.Converge();
  REQUIRE(c.Count(ContainerObservedState::kRunning) == 5);
  std::shared_ptr<vmm::SimDriver> h1 = c.hosts.Host(HostId("h1"));
  h1->SetListHang(true);
  // Each pass gives up on the host at the deadline instead of waiting.
  absl::Time start = absl::Now();
  for (int i = 0; i < 3; ++i) (void)c.controller->ReconcileOnce();
  CHECK(absl::Now() - start < absl::Seconds(5));
  CHECK(c.Snap().hosts[0].state == store::HostState::kReady);
  c.clock.Advance(absl::Minutes(2));  // past host_down_grace
  (void)c.controller->ReconcileOnce();
  store::Snapshot s = c.Snap();
  CHECK(s.hosts[0].state == store::HostState::kDown);
  // The call answers again: once the hung call has returned (on its own
  // thread), a fresh probe lists the host and it is back.
  h1->SetListHang(false);
  c.clock.Advance(absl::Seconds(10));
  absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (c.Snap().hosts[0].state != store::HostState::kReady &&
         absl::Now() < deadline) {
    (void)c.controller->ReconcileOnce();
    c.controller->AwaitIdle();
    absl::SleepFor(absl::Milliseconds(10));
  }
  CHECK(c.Snap().hosts[0].state == store::HostState::kReady);
}

}  // namespace
}  // namespace nest::control

namespace nest::control {
namespace {

TEST_CASE("deleting a workload's rows stops its containers in the guest") {
  Cluster c;
  c.Converge();
  REQUIRE(c.store
              ->Write([](store::WriteTx& tx) -> absl::Status {
                store::ListQuery q;
                q.tenant = TenantId("default");
                q.workload = WorkloadId("httpd");
                NEST_ASSIGN_OR_RETURN(auto page, tx.ListContainers(q));
                for (const auto& row : page.items) {
                  NEST_RETURN_IF_ERROR(tx.DeleteContainer(row.id, 0));
                }
                return tx.DeleteWorkload(TenantId("default"),
                                         WorkloadId("httpd"), 0);
              })
              .ok());
  c.Converge(2);
  store::Snapshot s = c.Snap();
  CHECK(s.containers.size() == 3);
  auto listed = c.agents.Agent(s.vms[0].id)->ListContainers();
  REQUIRE(listed.ok());
  CHECK(listed->size() == 3);
  for (const auto& info : *listed) CHECK(info.id.rfind("hello-", 0) == 0);
}

}  // namespace
}  // namespace nest::control

namespace nest::control {
namespace {

TEST_CASE("Stop ends the loop after its pass and leaves VMs running") {
  Cluster c;
  c.controller->Start();
  c.Converge();  // passes are serialized with the loop's own
  c.controller->Stop();
  store::Snapshot s = c.Snap();
  REQUIRE(s.vms.size() == 1);
  CHECK(s.vms[0].observed == VmObservedState::kRunning);
  auto domains = c.Domains();
  REQUIRE(domains.size() == 1);
  CHECK(domains[0].state == vmm::VmState::kRunning);
  CHECK(c.Count(ContainerObservedState::kRunning) == 5);
  auto agent = c.agents.Agent(s.vms[0].id);
  CHECK(agent->ListContainers()->size() == 5);
  CHECK_FALSE(agent->powered_off());
  // Stopping is not a change: nothing was written on the way out.
  int64_t seq = c.store->LastEventSeq();
  c.NewController();
  CHECK(c.store->LastEventSeq() == seq);
}

}  // namespace
}  // namespace nest::control
