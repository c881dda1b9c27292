// The autoscaler on simulated hosts with a fake clock: scale-up sized by
// the pending containers and bounded by max and cooldown, scale-down that
// drains (replacement first) and never goes below the minimum, and
// hysteresis against a load that comes and goes.
#include <map>
#include <memory>
#include <set>
#include <string>

#include "control/controller.h"
#include "control/sim.h"
#include "doctest/doctest.h"
#include "tests/control/cluster_util.h"

namespace nest::control {
namespace {

using store::ContainerDesiredState;
using store::ContainerObservedState;

// Group web (1 vCPU / 256 MiB VMs, min..max, cooldowns in seconds) and
// workload "app" of `replicas` x `milli_cpu`.
struct Scaler : testing::SimParts {
  std::unique_ptr<Controller> controller;

  Scaler(int64_t min, int64_t max, int64_t replicas, int64_t milli_cpu,
         int64_t up_cooldown_s, int64_t down_cooldown_s) {
    images.Add("httpd", testing::HttpdImage());
    REQUIRE(store
                ->Write([&](store::WriteTx& tx) -> absl::Status {
                  NEST_RETURN_IF_ERROR(testing::SeedHostAndGroup(tx));
                  NEST_ASSIGN_OR_RETURN(
                      store::VmGroup g,
                      tx.GetGroup(TenantId("default"), GroupId("web")));
                  g.min_size = min;
                  g.max_size = max;
                  g.scale_up_cooldown = absl::Seconds(up_cooldown_s);
                  g.scale_down_cooldown = absl::Seconds(down_cooldown_s);
                  NEST_RETURN_IF_ERROR(tx.UpdateGroup(g, 0).status());
                  store::Workload w;
                  w.tenant = TenantId("default");
                  w.name = WorkloadId("app");
                  w.image = "httpd";
                  w.replicas = replicas;
                  w.requests = Resources::Of(milli_cpu, 64, 0);
                  w.target_group = GroupId("web");
                  return tx.CreateWorkload(w).status();
                })
                .ok());
    // Drained VMs are destroyed at once: a graceful shutdown would wait
    // on the fake clock inside a worker that AwaitIdle waits for.
    ControllerOptions opts = testing::TestControllerOptions();
    opts.vm_stop_deadline = absl::ZeroDuration();
    controller = std::make_unique<Controller>(*store, hosts, provisioner,
                                              agents, images, clock, opts);
  }

  // One pass, its VM operations finished, then `step` of fake time.
  void Pass(absl::Duration step = absl::Seconds(1)) {
    (void)controller->ReconcileOnce();
    controller->AwaitIdle();
    clock.Advance(step);
  }
  void Converge(int passes = 10) {
    for (int i = 0; i < passes; ++i) Pass();
  }

  void Scale(int64_t replicas) {
    REQUIRE(testing::ScaleCarrying(*store, "app", replicas).ok());
    controller->Wake();
  }

  store::Snapshot Snap() {
    absl::StatusOr<store::Snapshot> snap = store->ReadSnapshot();
    REQUIRE(snap.ok());
    return *std::move(snap);
  }
  int Vms() { return testing::DesiredVms(Snap()); }
  int Running() { return testing::RunningReplicas(Snap()); }
  std::string PendingMessage() {
    for (const auto& c : Snap().containers) {
      if (c.vm.empty()) return c.message;
    }
    return "";
  }
  int Events(const std::string& reason) {
    auto events = store->EventsSince(testing::AllEvents());
    REQUIRE(events.ok());
    int n = 0;
    for (const auto& e : *events) n += e.reason == reason;
    return n;
  }
  std::string LastEvent(const std::string& reason) {
    auto events = store->EventsSince(testing::AllEvents());
    REQUIRE(events.ok());
    std::string last;
    for (const auto& e : *events) {
      if (e.reason == reason) last = e.message;
    }
    return last;
  }
};

TEST_CASE("scale-up adds exactly the VMs the pending containers need") {
  struct Case {
    int64_t replicas, milli_cpu;
    int vms;  // 1 vCPU VMs
  };
  for (Case k : {Case{3, 1000, 3}, Case{4, 500, 2}, Case{5, 300, 2},
                 Case{6, 300, 2}, Case{3, 600, 3}, Case{2, 100, 1}}) {
    CAPTURE(k.replicas);
    CAPTURE(k.milli_cpu);
    Scaler s(1, 8, k.replicas, k.milli_cpu, 0, 600);
    s.Converge();
    CHECK(s.Vms() == k.vms);
    CHECK(s.Running() == k.replicas);
    if (k.vms > 1) {
      CHECK(s.LastEvent("ScaledUp")
                .rfind(absl::StrCat("scale-up +", k.vms - 1, ": "), 0) == 0);
    }
  }
}

TEST_CASE("scale-up stops at max and says so") {
  Scaler s(1, 3, 5, 1000, 0, 600);
  s.Converge();
  CHECK(s.Vms() == 3);
  CHECK(s.Running() == 3);
  CHECK(s.PendingMessage().find("group max vms") != std::string::npos);
}

TEST_CASE("scale-up waits out its cooldown, then adds what is needed") {
  Scaler s(1, 8, 2, 1000, 60, 600);
  s.Converge();
  REQUIRE(s.Vms() == 2);
  s.Scale(4);
  s.Converge();  // 10 s of the 60 s cooldown
  CHECK(s.Vms() == 2);
  CHECK(s.PendingMessage().find("scale-up cooldown") != std::string::npos);
  s.clock.Advance(absl::Seconds(60));
  s.Converge();
  CHECK(s.Vms() == 4);
  CHECK(s.Running() == 4);
}

TEST_CASE("scale-down drains: replacements first, never below min") {
  // 4 x 400m: two VMs of two. Down to 2 replicas, which fit in one VM.
  Scaler s(1, 8, 4, 400, 0, 30);
  s.Converge();
  REQUIRE(s.Vms() == 2);
  s.Scale(2);
  int min_running = 2, max_vms = 0;
  for (int i = 0; i < 120; ++i) {
    s.Pass();
    min_running = std::min(min_running, s.Running());
    max_vms = std::max(max_vms, s.Vms());
  }
  CHECK(s.Vms() == 1);
  CHECK(s.Running() == 2);
  CHECK(min_running >= 1);  // replicas - max_unavailable throughout
  CHECK(max_vms == 2);      // draining never adds a VM
  CHECK(s.Events("ScaleDown") == 1);
  CHECK(s.LastEvent("ScaleDown").rfind("scale-down -1: ", 0) == 0);

  // Nothing left to run: still the minimum.
  s.Scale(0);
  for (int i = 0; i < 120; ++i) s.Pass();
  CHECK(s.Vms() == 1);
}

TEST_CASE("a load that comes and goes faster than the cooldown never shrinks") {
  Scaler s(1, 8, 4, 1000, 0, 60);
  s.Converge();
  REQUIRE(s.Vms() == 4);
  int created = s.Events("ScaledUp");
  // 4 -> 1 -> 4 ... every 20 s for 5 minutes.
  for (int cycle = 0; cycle < 15; ++cycle) {
    s.Scale(cycle % 2 == 0 ? 1 : 4);
    for (int i = 0; i < 20; ++i) s.Pass();
  }
  CHECK(s.Events("ScaleDown") == 0);
  CHECK(s.Events("ScaledUp") == created);
  CHECK(s.Vms() == 4);
  // The load then stays low: after a full cooldown the group shrinks.
  s.Scale(1);
  for (int i = 0; i < 100; ++i) s.Pass();
  CHECK(s.Vms() == 1);
  CHECK(s.Running() == 1);
}

}  // namespace
}  // namespace nest::control

namespace nest::control {
namespace {

TEST_CASE("host loss reschedules everything once; the stale copies go") {
  Scaler s(1, 4, 2, 1000, 0, 600);
  REQUIRE(s.store
              ->Write([](store::WriteTx& tx) {
                store::Host h;
                h.name = HostId("h2");
                h.libvirt_uri = "sim://h2";
                return tx.CreateHost(h).status();
              })
              .ok());
  s.Converge();
  REQUIRE(s.Running() == 2);
  std::set<VmId> lost;
  for (const auto& vm : s.Snap().vms) {
    if (vm.host == HostId("h1")) lost.insert(vm.id);
  }
  REQUIRE_FALSE(lost.empty());

  s.hosts.SetUnreachable(HostId("h1"), true);
  ControllerOptions opts = testing::TestControllerOptions();
  opts.vm_stop_deadline = absl::ZeroDuration();
  s.controller.reset();  // a new connection, which fails
  s.controller = std::make_unique<Controller>(
      *s.store, s.hosts, s.provisioner, s.agents, s.images, s.clock, opts);
  s.Converge(3);
  CHECK(s.Running() <= 2);
  s.clock.Advance(absl::Minutes(2));  // past host_down_grace
  s.Converge();
  store::Snapshot snap = s.Snap();
  CHECK(snap.hosts[0].state == store::HostState::kDown);
  int replicas = 0, on_h2 = 0;
  std::map<VmId, HostId> host_of;
  for (const auto& vm : snap.vms) host_of[vm.id] = vm.host;
  for (const auto& c : snap.containers) {
    if (c.desired != ContainerDesiredState::kRunning) continue;
    ++replicas;
    on_h2 += c.observed == ContainerObservedState::kRunning &&
             host_of[c.vm] == HostId("h2");
  }
  CHECK(replicas == 2);  // rescheduled once, never duplicated
  CHECK(on_h2 == 2);
  CHECK(s.Events("Evacuated") == static_cast<int>(lost.size()));

  s.hosts.SetUnreachable(HostId("h1"), false);
  s.clock.Advance(absl::Seconds(10));
  s.Converge();
  snap = s.Snap();
  CHECK(snap.hosts[0].state == store::HostState::kReady);
  for (const auto& vm : snap.vms) CHECK_FALSE(lost.count(vm.id));
  auto h1 = s.hosts.Host(HostId("h1"));
  REQUIRE(h1 != nullptr);
  auto listed = h1->List(false);
  REQUIRE(listed.ok());
  for (const auto& info : *listed) CHECK_FALSE(lost.count(info.id));
  CHECK(s.Running() == 2);
}

}  // namespace
}  // namespace nest::control
