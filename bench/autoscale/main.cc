// bench_autoscale: how fast and how well the autoscaler answers a burst of
// pending containers (issue 10).
//
// nestd's Store (a SQLite file in a temp dir) and Controller run on
// SimDriver hosts (SimHostConnector) whose guests answer `boot_latency`
// after create through in-memory agents. The burst (burst.h: mixed sizes,
// some workloads with anti-affinity) is submitted in one transaction, as
// one `nestctl apply` of a file would; the Controller creates the
// container rows and decides the scale-up in one placement pass.
//
// Measured:
//   decision_s            wall time of placement::Schedule inside the
//                         Controller for the whole burst (its
//                         placement_seconds metric); the same decision is
//                         also timed alone (no store, no threads) on the
//                         Controller's input once it is done;
//   submit_to_decision_s  submit -> the placement transaction committed;
//   all_placed_s          submit -> every container row bound to a VM;
//   all_running_s         submit -> every container running in a booted VM;
//   vms_added             VM rows the Controller created (none existed),
// against vms_lower_bound and vms_by_division (burst.h). Goals: decision
// under 1 s, and never more VMs than by division.
//
// Usage: bench_autoscale [--hosts N] [--pending N] [--groups N]
//                        [--boot-latency-ms MS] [--runs N] [--timeout-s S]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bench/autoscale/burst.h"
#include "control/controller.h"
#include "control/placement_bridge.h"
#include "control/sim.h"
#include "control/telemetry.h"
#include "core/metrics.h"
#include "images/fs.h"
#include "placement/schedule.h"
#include "spdlog/spdlog.h"
#include "store/store.h"

namespace nest::bench {
namespace {

using SteadyClock = std::chrono::steady_clock;

struct Config {
  int64_t hosts = 1000;
  int64_t pending = 10000;
  int64_t groups = 1;
  int64_t boot_latency_ms = 2400;  // create -> guest init under TCG here
  int64_t runs = 3;                // of the decision alone; the median
  int64_t timeout_s = 600;
};

bool ParseArgs(int argc, char** argv, Config* cfg) {
  const std::pair<const char*, int64_t*> flags[] = {
      {"--hosts", &cfg->hosts},   {"--pending", &cfg->pending},
      {"--groups", &cfg->groups}, {"--boot-latency-ms", &cfg->boot_latency_ms},
      {"--runs", &cfg->runs},     {"--timeout-s", &cfg->timeout_s},
  };
  for (int i = 1; i < argc; ++i) {
    bool known = false;
    for (const auto& [name, dst] : flags) {
      if (std::strcmp(argv[i], name) != 0 || i + 1 >= argc) continue;
      char* end = nullptr;
      *dst = std::strtoll(argv[++i], &end, 10);
      known = *end == '\0';
      break;
    }
    if (!known) {
      std::fprintf(stderr,
                   "usage: bench_autoscale [--hosts N] [--pending N] "
                   "[--groups N] [--boot-latency-ms MS] [--runs N] "
                   "[--timeout-s S]\n");
      return false;
    }
  }
  if (cfg->hosts < 1 || cfg->pending < 1 || cfg->groups < 1 ||
      cfg->boot_latency_ms < 0 || cfg->runs < 1 || cfg->timeout_s < 1) {
    std::fprintf(stderr,
                 "need hosts, pending, groups, runs and timeout >= 1 and a "
                 "boot latency >= 0\n");
    return false;
  }
  return true;
}

double Since(SteadyClock::time_point start) {
  return std::chrono::duration<double>(SteadyClock::now() - start).count();
}

// 64 GiB hosts hold 7 VMs of 8 GiB (+ VMM overhead, - 512 MiB reserved);
// placement overcommits CPU 4x and so does SimDriver, so memory is what
// bounds VMs per host.
vmm::SimHostConfig HostConfig(absl::Duration boot_latency) {
  vmm::SimHostConfig c;
  c.cpus = 32;
  c.memory_mib = 65536;
  c.boot_latency = boot_latency;
  return c;
}

// Everything the Controller talks to, simulated; the burst's image "app"
// is there already, so only placement and boots take time.
struct SimPorts {
  SimPorts(absl::Duration boot_latency, Clock& clock)
      : hosts(HostConfig(boot_latency), clock), agents(clock, boot_latency) {
    control::ImageBlob app;
    app.digest = absl::StrCat("sha256:", std::string(64, '1'));
    app.tar = "rootfs";
    app.entrypoint = {"/bin/app"};
    images.Add("app", app);
  }
  control::SimHostConnector hosts;
  control::SimAgentConnector agents;
  control::SimProvisioner provisioner;
  control::StaticImageSource images;
};

struct Alone {
  double median_s = 0;
  int64_t vms = 0;
  int64_t unplaced = 0;
};

// The scale-up decision again, alone (no store, no threads), on the
// Controller's own input: the store as it ended (`s`: the same hosts,
// groups, workloads and container ids) without its VMs, every container
// pending again.
absl::StatusOr<Alone> DecideAlone(store::Snapshot s, int64_t runs,
                                  const control::ControllerOptions& opts) {
  s.vms.clear();
  for (auto& c : s.containers) {
    c.vm = VmId();
    c.observed = store::ContainerObservedState::kPending;
  }
  control::PlacementInput in = control::BuildPlacementInput(
      s, {opts.vmm_overhead_mib, opts.host_reserved});
  NEST_ASSIGN_OR_RETURN(placement::Snapshot snap,
                        placement::Snapshot::Build(in.state));
  Alone out;
  std::vector<double> took;
  for (int64_t i = 0; i < runs; ++i) {
    SeededRng rng(opts.seed);
    auto start = SteadyClock::now();
    placement::Plan plan = placement::Schedule(snap, in.pending, rng);
    took.push_back(Since(start));
    out.vms = std::count_if(
        plan.actions.begin(), plan.actions.end(), [](const auto& a) {
          return std::holds_alternative<placement::CreateVm>(a);
        });
    out.unplaced = static_cast<int64_t>(plan.unplaced.size());
  }
  std::sort(took.begin(), took.end());
  out.median_s = took[took.size() / 2];
  return out;
}

// What the store holds once the Controller is done.
struct Tally {
  int64_t vms = 0;
  int64_t containers_placed = 0;
  int64_t containers_running = 0;
};

Tally TallyOf(const store::Snapshot& s) {
  Tally t;
  t.vms = static_cast<int64_t>(s.vms.size());
  for (const auto& c : s.containers) {
    t.containers_placed += !c.vm.empty();
    t.containers_running +=
        c.observed == store::ContainerObservedState::kRunning;
  }
  return t;
}

struct Timings {
  double submit_to_decision_s = -1;
  double all_placed_s = -1;
  double all_running_s = -1;
};

// Follows the Controller from submission until the store shows every
// container running. Polls its counters every few milliseconds, so each
// time is late by at most that.
absl::StatusOr<Timings> Follow(control::Controller& controller,
                               store::Store& store, const Config& cfg,
                               SteadyClock::time_point start) {
  Timings t;
  int64_t seen = store.LastEventSeq();
  double last_report = 0;
  for (;;) {
    seen = store.WaitForEvents(seen, absl::Milliseconds(5));
    control::PassStats st = controller.stats();
    double now = Since(start);
    if (t.submit_to_decision_s < 0 && st.placements > 0) {
      t.submit_to_decision_s = now;
    }
    if (t.all_placed_s < 0 && st.placements >= cfg.pending) {
      t.all_placed_s = now;
    }
    if (now - last_report >= 2) {
      absl::FPrintF(stderr, "  %6.1f s: %d placed, %d VMs up, %d started\n",
                    now, st.placements, st.vms_created, st.containers_started);
      last_report = now;
    }
    if (now > static_cast<double>(cfg.timeout_s)) {
      return absl::DeadlineExceededError(absl::StrCat(
          "not all running after ", cfg.timeout_s, " s: ", st.placements,
          " placed, ", st.containers_started, " started of ", cfg.pending));
    }
    if (t.all_placed_s < 0 || st.containers_started < cfg.pending) continue;
    // The agents say started; done when the store says so too.
    double check_at = Since(start);
    NEST_ASSIGN_OR_RETURN(store::Snapshot s, store.ReadSnapshot());
    if (TallyOf(s).containers_running >= cfg.pending) {
      t.all_running_s = check_at;
      return t;
    }
  }
}

const char* Goal(bool met) { return met ? "ok" : "MISSED"; }

absl::Status Run(const Config& cfg) {
  BurstConfig bc;
  bc.pending = static_cast<int>(cfg.pending);
  bc.groups = static_cast<int>(cfg.groups);
  const Burst burst = MakeBurst(bc);
  const VmBounds bounds = ComputeBounds(burst);

  images::ScopedTempDir dir;
  metrics::Registry registry;
  NEST_ASSIGN_OR_RETURN(control::ControlMetrics metrics,
                        control::ControlMetrics::Register(registry));
  control::ControllerOptions opts;
  opts.metrics = &metrics;

  Clock& clock = RealClock();
  NEST_ASSIGN_OR_RETURN(auto store,
                        store::Store::Open({dir.path() + "/state.db"}, clock));
  NEST_RETURN_IF_ERROR(store->Write([&](store::WriteTx& tx) -> absl::Status {
    store::Tenant tenant;
    tenant.name = TenantId(kTenant);
    NEST_RETURN_IF_ERROR(tx.CreateTenant(tenant).status());
    for (int64_t i = 0; i < cfg.hosts; ++i) {
      store::Host h;
      h.name = HostId(absl::StrFormat("sim-%05d", i));
      h.libvirt_uri = absl::StrCat("sim://", h.name.str());
      NEST_RETURN_IF_ERROR(tx.CreateHost(h).status());
    }
    return absl::OkStatus();
  }));

  const absl::Duration latency = absl::Milliseconds(cfg.boot_latency_ms);
  SimPorts sim(latency, clock);
  control::Controller controller(*store, sim.hosts, sim.provisioner, sim.agents,
                                 sim.images, clock, opts);
  // Reach every host first, as a running nestd would have: the burst
  // arrives at a cluster whose capacity is known.
  NEST_RETURN_IF_ERROR(controller.ReconcileOnce());

  controller.Start();
  std::fprintf(stderr, "submitting %lld containers in %zu workloads ...\n",
               static_cast<long long>(cfg.pending), burst.workloads.size());
  auto start = SteadyClock::now();
  NEST_RETURN_IF_ERROR(store->Write([&](store::WriteTx& tx) -> absl::Status {
    for (const auto& g : burst.groups) {
      NEST_RETURN_IF_ERROR(tx.CreateGroup(g).status());
    }
    for (const auto& w : burst.workloads) {
      NEST_RETURN_IF_ERROR(tx.CreateWorkload(w).status());
    }
    return absl::OkStatus();
  }));
  absl::StatusOr<Timings> timings = Follow(controller, *store, cfg, start);
  controller.Stop();
  NEST_RETURN_IF_ERROR(timings.status());
  NEST_ASSIGN_OR_RETURN(store::Snapshot final_state, store->ReadSnapshot());
  const Tally tally = TallyOf(final_state);
  std::fprintf(stderr, "deciding alone (%lld runs) ...\n",
               static_cast<long long>(cfg.runs));
  NEST_ASSIGN_OR_RETURN(Alone alone,
                        DecideAlone(std::move(final_state), cfg.runs, opts));

  const metrics::HistogramSample decisions =
      metrics.placement_seconds->With({}).Snapshot();
  uint64_t decision_count = 0;
  for (uint64_t n : decisions.counts) decision_count += n;
  const double decision_s = decisions.sum;
  const bool decision_ok = decision_s < 1.0;
  const bool vms_ok = tally.vms <= bounds.by_division;

  const Resources& shape = bc.vm_shape;
  std::printf(
      "autoscale: %lld hosts, %lld pending containers in %zu workloads "
      "(%d with anti-affinity, %d containers), %lld group(s) of %s/%s VMs, "
      "boot %s\n",
      static_cast<long long>(cfg.hosts), static_cast<long long>(cfg.pending),
      burst.workloads.size(), burst.anti_affinity_workloads,
      burst.anti_affinity_containers, static_cast<long long>(cfg.groups),
      FormatMilliCpu(shape.milli_cpu()).c_str(),
      FormatMiB(shape.memory_mib()).c_str(),
      absl::FormatDuration(latency).c_str());
  std::string mix;
  for (size_t i = 0; i < SizeClasses().size(); ++i) {
    absl::StrAppend(&mix, i ? ", " : "", SizeClasses()[i].name, " x",
                    burst.per_class[i]);
  }
  std::printf("  sizes: %s\n", mix.c_str());
  auto row = [](const char* what, const std::string& value,
                const char* goal = "") {
    std::printf("  %-52s %-18s %s\n", what, value.c_str(), goal);
  };
  row("scale-up decision, in the Controller (goal < 1 s)",
      absl::StrFormat("%.3f s", decision_s), Goal(decision_ok));
  row("  placement passes with a decision", absl::StrCat(decision_count));
  row("scale-up decision, alone (median)",
      absl::StrFormat("%.3f s", alone.median_s));
  row("submit -> decision committed in the store",
      absl::StrFormat("%.3f s", timings->submit_to_decision_s));
  row("submit -> all placed (every container on a VM)",
      absl::StrFormat("%.3f s", timings->all_placed_s));
  row("submit -> all running (VMs booted, containers up)",
      absl::StrFormat("%.3f s", timings->all_running_s));
  row("VMs added by the Controller", absl::StrCat(tally.vms));
  row("  VMs in the plan alone",
      absl::StrFormat("%d (%d unplaced)", alone.vms, alone.unplaced));
  row("lower bound: max over dims ceil(demand / shape)",
      absl::StrCat(bounds.lower_bound));
  row("by division: same, per size class, summed",
      absl::StrCat(bounds.by_division));
  row("VMs added <= by division",
      absl::StrCat(tally.vms, " <= ", bounds.by_division), Goal(vms_ok));
  row("VMs added / lower bound",
      absl::StrFormat("%.3f x", static_cast<double>(tally.vms) /
                                    std::max<int64_t>(1, bounds.lower_bound)));
  std::printf(
      "{\"bench\":\"autoscale\",\"pending\":%lld,\"decision_s\":%.4f,"
      "\"all_placed_s\":%.3f,\"vms_added\":%lld,\"vms_lower_bound\":%lld,"
      "\"vms_by_division\":%lld,\"hosts\":%lld,\"decision_alone_s\":%.4f,"
      "\"submit_to_decision_s\":%.3f,\"all_running_s\":%.3f,"
      "\"goal_decision_met\":%s,\"goal_vms_met\":%s}\n",
      static_cast<long long>(cfg.pending), decision_s, timings->all_placed_s,
      static_cast<long long>(tally.vms),
      static_cast<long long>(bounds.lower_bound),
      static_cast<long long>(bounds.by_division),
      static_cast<long long>(cfg.hosts), alone.median_s,
      timings->submit_to_decision_s, timings->all_running_s,
      decision_ok ? "true" : "false", vms_ok ? "true" : "false");
  if (tally.containers_placed < cfg.pending) {
    return absl::InternalError(absl::StrCat("only ", tally.containers_placed,
                                            " of ", cfg.pending, " placed"));
  }
  return absl::OkStatus();
}

}  // namespace
}  // namespace nest::bench

int main(int argc, char** argv) {
  spdlog::set_level(std::getenv("NEST_BENCH_DEBUG") ? spdlog::level::debug
                                                    : spdlog::level::warn);
  nest::bench::Config cfg;
  if (!nest::bench::ParseArgs(argc, argv, &cfg)) return 2;
  absl::Status st = nest::bench::Run(cfg);
  if (!st.ok()) {
    std::fprintf(stderr, "bench_autoscale: %s\n", st.ToString().c_str());
    return 1;
  }
  return 0;
}
