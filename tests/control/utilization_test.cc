// Utilization targets: the pure decision (HPA-style count, hysteresis
// band, bounds, cooldowns, partial samples, CPU and memory together), and
// the controller acting on it with simulated hosts, a fake clock and a fake
// usage source.
#include "control/utilization.h"

#include <algorithm>
#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "control/controller.h"
#include "control/sim.h"
#include "doctest/doctest.h"
#include "tests/control/cluster_util.h"

namespace nest::control {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1700000000);

// `vms` VMs at CPU `cpu` (a fraction) each, against a CPU target of
// `target` percent within 10%, between 1 and 10 VMs, no cooldown.
UtilizationInput Cpu(int64_t vms, double cpu, int64_t target) {
  UtilizationInput in;
  in.target_cpu_percent = target;
  in.tolerance_percent = 10;
  in.min_vms = 1;
  in.max_vms = 10;
  in.vms = vms;
  in.loads.assign(static_cast<size_t>(vms), VmLoad{cpu, std::nullopt});
  in.now = kNow;
  return in;
}

TEST_CASE("the count is ceil(vms x average / target)") {
  struct Case {
    int64_t vms;
    double cpu;
    int64_t target;
    int64_t desired;
  };
  for (Case k :
       {Case{2, 0.90, 60, 3}, Case{1, 0.90, 40, 3}, Case{4, 1.00, 50, 8},
        Case{3, 0.62, 60, 3}, Case{4, 0.20, 60, 2}, Case{5, 0.05, 80, 1},
        Case{2, 0.30, 50, 2}, Case{6, 0.99, 10, 10}}) {
    CAPTURE(k.vms);
    CAPTURE(k.cpu);
    CAPTURE(k.target);
    UtilizationDecision d = DecideUtilization(Cpu(k.vms, k.cpu, k.target));
    CHECK(d.desired == k.desired);
  }
  UtilizationDecision up = DecideUtilization(Cpu(2, 0.92, 60));
  CHECK(up.desired == 4);
  CHECK(up.reason ==
        "+2: average CPU 92% of 2 VMs is above the 60% target (±10%)");
  UtilizationDecision down = DecideUtilization(Cpu(4, 0.2, 60));
  CHECK(down.reason ==
        "-2: average CPU 20% of 4 VMs is below the 60% target (±10%)");
}

TEST_CASE("a load flapping inside the tolerance band never resizes") {
  // 55% and 65% are within 10% of a 60% target: hysteresis.
  int64_t vms = 3;
  for (int i = 0; i < 50; ++i) {
    UtilizationDecision d =
        DecideUtilization(Cpu(vms, i % 2 == 0 ? 0.55 : 0.65, 60));
    CHECK(d.desired == vms);
    CHECK(absl::StrContains(d.reason, "is within the 60% target (±10%)"));
    vms = d.desired;
  }
  // Just outside the band it does, both ways (the band is inclusive).
  CHECK(DecideUtilization(Cpu(3, 0.66, 60)).desired == 3);
  CHECK(DecideUtilization(Cpu(3, 0.67, 60)).desired == 4);
  CHECK(DecideUtilization(Cpu(3, 0.54, 60)).desired == 3);
  CHECK(DecideUtilization(Cpu(3, 0.50, 60)).desired == 3);  // ceil(2.5)
  CHECK(DecideUtilization(Cpu(3, 0.30, 60)).desired == 2);
  // A wider band holds more.
  UtilizationInput wide = Cpu(3, 0.75, 60);
  wide.tolerance_percent = 30;
  CHECK(DecideUtilization(wide).desired == 3);
}

TEST_CASE("bounded by max_vms and by the minimum, which is at least 1") {
  UtilizationInput in = Cpu(3, 1.0, 50);  // wants 6
  in.max_vms = 4;
  UtilizationDecision d = DecideUtilization(in);
  CHECK(d.desired == 4);
  CHECK(absl::EndsWith(d.reason, "; 6 wanted, max_vms is 4"));
  in.vms = 4;
  in.loads.push_back(in.loads.front());
  d = DecideUtilization(in);
  CHECK(d.desired == 4);
  CHECK(absl::StrContains(d.reason, "already at max_vms 4"));

  in = Cpu(4, 0.05, 60);  // wants 1
  in.min_vms = 2;
  d = DecideUtilization(in);
  CHECK(d.desired == 2);
  CHECK(absl::EndsWith(d.reason, "; 1 wanted, the minimum is 2 VMs"));
  in.min_vms = 0;
  in.loads.assign(4, VmLoad{0.0, std::nullopt});  // idle: wants 0
  CHECK(DecideUtilization(in).desired == 1);
  in.vms = 1;
  in.loads.resize(1);
  d = DecideUtilization(in);
  CHECK(d.desired == 1);
  CHECK(absl::StrContains(d.reason, "already at the minimum of 1 VM"));
}

TEST_CASE("cooldowns hold each direction until they end") {
  UtilizationInput up = Cpu(2, 0.9, 60);
  up.up_allowed_at = kNow + absl::Seconds(30);
  UtilizationDecision d = DecideUtilization(up);
  CHECK(d.desired == 2);
  CHECK(absl::StrContains(d.reason, "scale-up cooldown for another 30s"));
  up.now = up.up_allowed_at;
  CHECK(DecideUtilization(up).desired == 3);

  UtilizationInput down = Cpu(4, 0.2, 60);
  down.down_allowed_at = kNow + absl::Minutes(5);
  down.up_allowed_at = absl::InfiniteFuture();  // one does not hold the other
  d = DecideUtilization(down);
  CHECK(d.desired == 4);
  CHECK(absl::StrContains(d.reason, "scale-down cooldown for another 5m"));
  down.now = down.down_allowed_at;
  CHECK(DecideUtilization(down).desired == 2);
}

TEST_CASE("no scale-down while containers wait for room") {
  UtilizationInput in = Cpu(4, 0.2, 60);
  in.waiting = true;
  UtilizationDecision d = DecideUtilization(in);
  CHECK(d.desired == 4);
  CHECK(absl::EndsWith(d.reason, "; containers are waiting for room"));
  in = Cpu(2, 0.9, 60);
  in.waiting = true;  // a scale-up may go on
  CHECK(DecideUtilization(in).desired == 3);
}

TEST_CASE("partial samples give no decision") {
  UtilizationInput in = Cpu(3, 0.95, 60);
  in.loads.pop_back();  // a VM that just booted: not sampled yet
  UtilizationDecision d = DecideUtilization(in);
  CHECK(d.desired == 3);
  CHECK(d.reason == "waiting for the CPU usage of every VM (2 of 3 known)");
  in = Cpu(3, 0.95, 60);
  in.loads[1].cpu.reset();  // sampled once: no rate yet
  CHECK(DecideUtilization(in).desired == 3);
  // A memory target needs every guest's memory too.
  in = Cpu(3, 0.95, 60);
  in.target_memory_percent = 70;
  in.loads[0].memory = 0.5;
  d = DecideUtilization(in);
  CHECK(d.desired == 3);
  CHECK(absl::StrContains(d.reason, "memory usage of every VM (1 of 3"));
  CHECK(DecideUtilization(UtilizationInput{}).reason ==
        "no utilization target");
  in = Cpu(0, 0.9, 60);
  CHECK(DecideUtilization(in).desired == 0);
}

TEST_CASE("with CPU and memory targets the larger count wins") {
  UtilizationInput in = Cpu(2, 0.3, 60);  // CPU alone: 1
  in.target_memory_percent = 50;
  for (VmLoad& l : in.loads) l.memory = 0.9;  // memory: ceil(3.6) = 4
  UtilizationDecision d = DecideUtilization(in);
  CHECK(d.desired == 4);
  CHECK(d.reason ==
        "+2: average memory 90% of 2 VMs is above the 50% target (±10%)");
  // Memory in its band, CPU low: the group keeps its size.
  for (VmLoad& l : in.loads) l.memory = 0.52;
  d = DecideUtilization(in);
  CHECK(d.desired == 2);
  CHECK(absl::StrContains(d.reason, "memory 52% of 2 VMs is within"));
  // Both low: the larger of the two shrinks it.
  for (VmLoad& l : in.loads) l.memory = 0.2;  // ceil(0.8) = 1, CPU 1
  d = DecideUtilization(in);
  CHECK(d.desired == 1);
  CHECK(absl::StrContains(d.reason, "CPU 30%"));
  CHECK(absl::StrContains(d.reason, "; average memory 20%"));
}

TEST_CASE("a VM's load: CPU once it has a rate, memory from its guest") {
  VmUsage u;
  u.cpu_cores = 1.5;
  CHECK_FALSE(LoadOf(u, 2).cpu.has_value());
  CHECK_FALSE(LoadOf(u, 2).memory.has_value());
  u.cpu_known = true;
  u.memory_total_bytes = 1000;
  u.memory_available_bytes = 250;
  VmLoad l = LoadOf(u, 2);
  REQUIRE(l.cpu.has_value());
  CHECK(*l.cpu == doctest::Approx(0.75));
  REQUIRE(l.memory.has_value());
  CHECK(*l.memory == doctest::Approx(0.75));
}

// ---- The controller ------------------------------------------------------

// Group web (1 vCPU VMs, min 2, max 4, CPU target 40% ±10%, 30 s up and
// 60 s down cooldowns) and workload "app" (2 x 100m, fits in one VM). The
// usage source reports `demand` cores spread evenly over the group's
// running VMs, as a load balanced over them would.
struct Utilized : testing::SimParts {
  std::unique_ptr<Controller> controller;
  double demand = 0.6;
  int usage_calls = 0;

  Utilized() {
    images.Add("httpd", testing::HttpdImage());
    REQUIRE(store
                ->Write([&](store::WriteTx& tx) -> absl::Status {
                  NEST_RETURN_IF_ERROR(testing::SeedHostAndGroup(tx));
                  NEST_ASSIGN_OR_RETURN(
                      store::VmGroup g,
                      tx.GetGroup(TenantId("default"), GroupId("web")));
                  g.min_size = 2;
                  g.max_size = 4;
                  g.target_cpu_percent = 40;
                  g.utilization_tolerance_percent = 10;
                  g.scale_up_cooldown = absl::Seconds(30);
                  g.scale_down_cooldown = absl::Seconds(60);
                  NEST_RETURN_IF_ERROR(tx.UpdateGroup(g, 0).status());
                  store::Workload w;
                  w.tenant = TenantId("default");
                  w.name = WorkloadId("app");
                  w.image = "httpd";
                  w.replicas = 2;
                  w.requests = Resources::Of(100, 32, 0);
                  w.target_group = GroupId("web");
                  return tx.CreateWorkload(w).status();
                })
                .ok());
    ControllerOptions opts = testing::TestControllerOptions();
    opts.vm_stop_deadline = absl::ZeroDuration();
    opts.usage = [this] { return Sample(); };
    controller = std::make_unique<Controller>(*store, hosts, provisioner,
                                              agents, images, clock, opts);
  }

  UsageSample Sample() {
    ++usage_calls;
    UsageSample u;
    u.at = clock.Now();
    std::vector<const store::Vm*> running;
    store::Snapshot s = Snap();
    for (const store::Vm& vm : s.vms) {
      if (vm.observed == store::VmObservedState::kRunning &&
          vm.desired == store::VmDesiredState::kRunning) {
        running.push_back(&vm);
      }
    }
    for (const store::Vm* vm : running) {
      VmUsage v;
      v.vm = vm->id;
      v.tenant = vm->tenant;
      v.group = vm->group;
      v.host = vm->host;
      v.cpu_cores = std::min(1.0, demand / running.size());
      v.cpu_known = true;
      u.vms.push_back(v);
    }
    std::sort(u.vms.begin(), u.vms.end(),
              [](const VmUsage& a, const VmUsage& b) { return a.vm < b.vm; });
    return u;
  }

  void Pass() {
    (void)controller->ReconcileOnce();
    controller->AwaitIdle();
    clock.Advance(absl::Seconds(1));
  }
  store::Snapshot Snap() {
    absl::StatusOr<store::Snapshot> snap = store->ReadSnapshot();
    REQUIRE(snap.ok());
    return *std::move(snap);
  }
  int Vms() { return testing::DesiredVms(Snap()); }
  int Running() { return testing::RunningReplicas(Snap()); }
  std::vector<store::Event> Events(const std::string& reason) {
    auto events = store->EventsSince(testing::AllEvents());
    REQUIRE(events.ok());
    std::vector<store::Event> out;
    for (const auto& e : *events) {
      if (e.reason == reason) out.push_back(e);
    }
    return out;
  }
};

TEST_CASE("the controller grows and shrinks a group by its VMs' CPU") {
  Utilized u;
  // 0.6 cores over 2 VMs: 30% of a 40% target, but already the minimum.
  for (int i = 0; i < 30; ++i) u.Pass();
  REQUIRE(u.Vms() == 2);
  REQUIRE(u.Running() == 2);
  CHECK(u.usage_calls > 0);
  CHECK(u.Events("ScaledUp").empty());
  CHECK(u.Events("ScaleDown").empty());

  // 1.8 cores: 90% each, ceil(2 x 90 / 40) = 5, bounded by max 4.
  u.demand = 1.8;
  for (int i = 0; i < 30 && u.Vms() < 4; ++i) u.Pass();
  CHECK(u.Vms() == 4);
  std::vector<store::Event> ups = u.Events("ScaledUp");
  REQUIRE(ups.size() == 1);
  CHECK(ups[0].message ==
        "+2: average CPU 90% of 2 VMs is above the 40% target (±10%); 5 "
        "wanted, max_vms is 4");
  // At 45% of 4 VMs it stays: at max, and no other decision.
  for (int i = 0; i < 20; ++i) u.Pass();
  CHECK(u.Vms() == 4);
  CHECK(u.Events("ScaledUp").size() == 1);

  // 0.2 cores: 5% each, wants 1; the minimum is 2. Not before the
  // scale-down cooldown (60 s after the scale-up), and by draining.
  u.demand = 0.2;
  int min_running = 2;
  for (int i = 0; i < 120; ++i) {
    u.Pass();
    min_running = std::min(min_running, u.Running());
  }
  CHECK(u.Vms() == 2);
  CHECK(u.Running() == 2);
  CHECK(min_running == 2);  // the replicas were never stopped
  std::vector<store::Event> downs = u.Events("ScaleDown");
  REQUIRE(downs.size() == 1);
  CHECK(absl::StartsWith(downs[0].message,
                         "-2: average CPU 5% of 4 VMs is below the 40% target "
                         "(±10%); 1 wanted, the minimum is 2 VMs; draining "));
  CHECK(downs[0].time - ups[0].time >= absl::Seconds(60));
  CHECK(u.Events("Cordoned").size() == 2);
  // Still low, still the minimum.
  for (int i = 0; i < 120; ++i) u.Pass();
  CHECK(u.Vms() == 2);
  CHECK(u.Events("ScaleDown").size() == 1);
}

}  // namespace
}  // namespace nest::control
