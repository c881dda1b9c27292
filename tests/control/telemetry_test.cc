// Telemetry on a simulated cluster: the controller's instruments, the usage
// sampler (totals and rates), the scrape-time families and Commands::Usage.
#include "control/telemetry.h"

#include <map>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "control/commands.h"
#include "control/controller.h"
#include "control/sim.h"
#include "doctest/doctest.h"
#include "tests/control/cluster_util.h"

namespace nest::control {
namespace {

// "name{labels}" -> value, for every sample line of an exposition.
std::map<std::string, double> Samples(const std::string& text) {
  std::map<std::string, double> out;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    if (absl::StartsWith(line, "#")) continue;
    size_t sp = line.rfind(' ');
    REQUIRE(sp != absl::string_view::npos);
    double v = 0;
    REQUIRE(absl::SimpleAtod(line.substr(sp + 1), &v));
    out[std::string(line.substr(0, sp))] = v;
  }
  return out;
}

struct TelemetryCluster : testing::SimParts {
  metrics::Registry registry;
  ControlMetrics instruments = *ControlMetrics::Register(registry);
  std::unique_ptr<Controller> controller;
  std::unique_ptr<UsageSampler> usage;

  TelemetryCluster() {
    images.Add("httpd", testing::HttpdImage());
    REQUIRE(testing::SeedHttpd(*store, 10).ok());
    ControllerOptions opts = testing::TestControllerOptions();
    opts.metrics = &instruments;
    controller = std::make_unique<Controller>(*store, hosts, provisioner,
                                              agents, images, clock, opts);
    usage = std::make_unique<UsageSampler>(*store, *controller, clock,
                                           absl::Seconds(10));
    AddClusterCollector(registry, *store, usage.get(),
                        {opts.vmm_overhead_mib, opts.host_reserved});
  }

  void Converge() {
    for (int i = 0; i < 4; ++i) {
      (void)controller->ReconcileOnce();
      controller->AwaitIdle();
    }
  }
};

TEST_CASE("the controller times placement and every reconcile step") {
  TelemetryCluster c;
  c.Converge();
  auto m = Samples(*c.registry.Render());
  CHECK(m.at("nest_placement_decision_seconds_count") >= 1);
  CHECK(m.at("nest_reconcile_duration_seconds_count{step=\"place\"}") == 4);
  CHECK(m.at("nest_reconcile_duration_seconds_count{step=\"vms\"}") == 4);
  CHECK(m.at("nest_reconcile_errors_total{step=\"containers\"}") == 0);
}

TEST_CASE("usage: totals, rates from two samples, and the exported families") {
  TelemetryCluster c;
  c.Converge();
  // Before any sample: no usage rows, the sample time reads 0.
  auto before = Samples(*c.registry.Render());
  CHECK(before.at("nest_usage_sample_timestamp_seconds") == 0);
  CHECK(before.count("nest_vm_cpu_time_seconds_total") == 0);

  REQUIRE(c.usage->SampleOnce().ok());
  UsageSample first = c.usage->Latest();
  REQUIRE(first.vms.size() == 1);
  CHECK(first.vms[0].cpu_cores == 0);  // no earlier sample to compare with
  CHECK_FALSE(first.vms[0].cpu_known);
  // The guest's memory as its agent reports it (the fake: half in use).
  CHECK(first.vms[0].memory_total_bytes > 0);
  CHECK(first.vms[0].memory_available_bytes ==
        first.vms[0].memory_total_bytes / 2);
  REQUIRE(first.containers.size() == 2);

  c.clock.Advance(absl::Seconds(10));
  REQUIRE(c.usage->SampleOnce().ok());
  UsageSample second = c.usage->Latest();
  REQUIRE(second.vms.size() == 1);
  const VmUsage& vm = second.vms[0];
  // The simulated VM keeps 0.1 of its one vCPU busy.
  CHECK(vm.cpu_cores == doctest::Approx(0.1));
  CHECK(vm.cpu_known);
  CHECK(vm.stats.cpu_time_ns > first.vms[0].stats.cpu_time_ns);
  CHECK(vm.group == GroupId("web"));
  CHECK(vm.host == HostId("h1"));
  for (const auto& u : second.containers) {
    CHECK(u.workload == WorkloadId("httpd"));
    CHECK(u.vm == vm.vm);
    CHECK(u.memory_bytes == 1 << 20);
  }

  auto m = Samples(*c.registry.Render());
  std::string vm_labels = "{vm=\"" + vm.vm.str() +
                          "\",group=\"web\",tenant=\"default\",host=\"h1\"}";
  CHECK(m.at("nest_vm_cpu_time_seconds_total" + vm_labels) ==
        doctest::Approx(vm.stats.cpu_time_ns / 1e9));
  CHECK(m.at("nest_vm_cpu_time_seconds_total" + vm_labels) > 0);
  CHECK(m.at("nest_vm_memory_usage_bytes" + vm_labels) == 64.0 * 1024 * 1024);
  CHECK(m.at("nest_vm_vcpus" + vm_labels) == 1);
  int container_series = 0;
  for (const auto& [k, v] : m) {
    if (absl::StartsWith(k, "nest_container_memory_usage_bytes{")) {
      ++container_series;
      CHECK(v == 1 << 20);
    }
  }
  CHECK(container_series == 2);
  // 256 MiB shape + 64 MiB VMM overhead, out of 16 GiB.
  CHECK(m.at("nest_host_memory_allocated_bytes{host=\"h1\"}") ==
        320.0 * 1024 * 1024);
  // The controller sets capacity from the host's facts.
  Resources cap = (*c.store->ReadSnapshot()).hosts.at(0).capacity;
  CHECK(m.at("nest_host_memory_free_bytes{host=\"h1\"}") ==
        (cap.memory_mib() - 320.0) * 1024 * 1024);
  CHECK(m.at("nest_host_cpu_capacity_cores{host=\"h1\"}") ==
        cap.milli_cpu() / 1000.0);
  CHECK(m.at("nest_host_cpu_allocated_cores{host=\"h1\"}") == 1);
  CHECK(m.at("nest_vms{state=\"running\"}") == 1);
  CHECK(m.at("nest_vms{state=\"failed\"}") == 0);
  CHECK(m.at("nest_containers{state=\"running\"}") == 2);
  CHECK(m.at("nest_hosts{state=\"ready\"}") == 1);
  CHECK(m.at("nest_usage_sample_timestamp_seconds") ==
        absl::ToUnixSeconds(c.clock.Now()));
}

TEST_CASE("Commands::Usage sums VMs per host; scale decisions are counted") {
  TelemetryCluster c;
  c.Converge();
  CommandsOptions opts;
  opts.metrics = &c.instruments;
  Commands without(*c.store, c.controller.get(), c.images, c.clock, opts);
  CHECK(absl::IsUnavailable(without.Usage().status()));

  opts.usage = c.usage.get();
  Commands commands(*c.store, c.controller.get(), c.images, c.clock, opts);
  REQUIRE(c.usage->SampleOnce().ok());
  c.clock.Advance(absl::Seconds(5));
  REQUIRE(c.usage->SampleOnce().ok());
  auto u = commands.Usage();
  REQUIRE(u.ok());
  REQUIRE(u->hosts.size() == 1);
  CHECK(u->hosts[0].host.vm_count == 1);
  CHECK(u->hosts[0].cpu_cores == doctest::Approx(0.1));
  CHECK(u->hosts[0].memory_bytes == 64 << 20);
  CHECK(u->vms.size() == 1);
  CHECK(u->containers.size() == 2);
  CHECK(u->sampled_at == c.clock.Now());

  auto enc = [](const GroupView&) { return std::string(); };
  REQUIRE(commands.ScaleGroup({}, "web", 3, enc).ok());
  REQUIRE(commands.ScaleGroup({}, "web", 3, enc).ok());  // no change
  REQUIRE(commands.ScaleGroup({}, "web", 2, enc).ok());
  CHECK_FALSE(commands.ScaleGroup({}, "web", 9, enc).ok());  // above max
  auto m = Samples(*c.registry.Render());
  CHECK(
      m.at("nest_autoscaler_decisions_total{group=\"web\",direction=\"up\"}") ==
      1);
  CHECK(m.at("nest_autoscaler_decisions_total{group=\"web\",direction="
             "\"down\"}") == 1);
}

}  // namespace
}  // namespace nest::control
