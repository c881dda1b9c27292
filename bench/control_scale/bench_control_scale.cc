// bench_control_scale: how fast the real control plane converges a large
// cluster, against what the hosts alone would allow.
//
// nestd's Store (a SQLite file in a temp dir) and Controller run on
// SimDriver hosts whose guests answer `boot_latency` after create (2.4 s,
// create to guest init under TCG here) through in-memory agents. The
// desired state is submitted as workloads; the clock runs until every VM
// row is running and every container row is running.
//
// Baselines, measured in the same run:
//   ideal_converge_s   boot latency + the time placement alone needs for
//                      the same input (no store, no drivers);
//   raw commits/s      one-row SQLite commits on the same file system with
//                      the store's durability settings.
// store_writes_per_s is object changes committed per second the store spent
// in write transactions; the goal is >= 0.5 x raw commits/s.
//
// Usage: bench_control_scale [--hosts N] [--vms N] [--containers N]
//                            [--boot-latency-ms MS] [--dir DIR]
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "control/controller.h"
#include "control/placement_bridge.h"
#include "control/sim.h"
#include "placement/schedule.h"
#include "spdlog/spdlog.h"
#include "store/raw_bench.h"
#include "store/store.h"

namespace nest {
namespace {

struct Config {
  int hosts = 1000;
  int vms = 10000;
  int containers = 50000;
  int64_t boot_latency_ms = 2400;
  std::string dir;  // empty: a new directory under $TMPDIR or /tmp
  int groups = 10;
  int workloads_per_group = 10;
};

double Seconds(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

bool ParseArgs(int argc, char** argv, Config* cfg) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> const char* {
      return i + 1 < argc ? argv[++i] : nullptr;
    };
    const char* v = nullptr;
    if (a == "--hosts" && (v = next())) {
      cfg->hosts = std::atoi(v);
    } else if (a == "--vms" && (v = next())) {
      cfg->vms = std::atoi(v);
    } else if (a == "--containers" && (v = next())) {
      cfg->containers = std::atoi(v);
    } else if (a == "--boot-latency-ms" && (v = next())) {
      cfg->boot_latency_ms = std::atoll(v);
    } else if (a == "--dir" && (v = next())) {
      cfg->dir = v;
    } else {
      std::fprintf(stderr,
                   "usage: bench_control_scale [--hosts N] [--vms N] "
                   "[--containers N] [--boot-latency-ms MS] [--dir DIR]\n");
      return false;
    }
  }
  if (cfg->hosts < 1 || cfg->vms < cfg->groups ||
      cfg->containers < cfg->groups * cfg->workloads_per_group ||
      cfg->containers % cfg->vms != 0 || cfg->boot_latency_ms < 0) {
    std::fprintf(stderr,
                 "need hosts >= 1, vms >= %d, containers a multiple of vms "
                 "and >= %d, boot latency >= 0\n",
                 cfg->groups, cfg->groups * cfg->workloads_per_group);
    return false;
  }
  return true;
}

// The shape every group and workload gets: containers fill their VMs
// exactly (containers/vms per VM by CPU), so the plan needs `vms` VMs.
struct Shape {
  int per_vm;
  int64_t container_milli;
};

Shape ShapeFor(const Config& cfg) {
  int per_vm = cfg.containers / cfg.vms;
  return {per_vm, 1000 / per_vm};
}

std::vector<store::VmGroup> Groups(const Config& cfg) {
  std::vector<store::VmGroup> out;
  for (int g = 0; g < cfg.groups; ++g) {
    store::VmGroup grp;
    grp.tenant = TenantId("bench");
    grp.name = GroupId(absl::StrFormat("g%02d", g));
    grp.vcpus = 1;
    grp.memory_mib = 512;
    grp.disk_mib = 1024;
    grp.boot_image = "sim";
    int64_t size = cfg.vms / cfg.groups + (g < cfg.vms % cfg.groups ? 1 : 0);
    grp.min_size = 0;
    grp.desired_size = size;
    grp.max_size = size;
    out.push_back(grp);
  }
  return out;
}

std::vector<store::Workload> Workloads(const Config& cfg) {
  Shape shape = ShapeFor(cfg);
  std::vector<store::Workload> out;
  std::vector<store::VmGroup> groups = Groups(cfg);
  int total = cfg.groups * cfg.workloads_per_group;
  for (int g = 0; g < cfg.groups; ++g) {
    // Each group's containers fill exactly its VMs.
    int64_t group_containers = groups[g].desired_size * shape.per_vm;
    for (int k = 0; k < cfg.workloads_per_group; ++k) {
      store::Workload w;
      w.tenant = TenantId("bench");
      w.name = WorkloadId(absl::StrFormat("w%02d-%02d", g, k));
      w.image = "app";
      w.target_group = groups[g].name;
      w.requests = Resources::Of(shape.container_milli, 64, 0);
      w.replicas = group_containers / cfg.workloads_per_group +
                   (k < group_containers % cfg.workloads_per_group ? 1 : 0);
      out.push_back(w);
    }
  }
  (void)total;
  return out;
}

store::Host HostRow(int i) {
  store::Host h;
  h.name = HostId(absl::StrFormat("sim-%05d", i));
  h.libvirt_uri = absl::StrCat("sim://", h.name.str());
  return h;
}

// Memory is what limits VMs per host here: placement overcommits CPU
// (placement::kDefaultOvercommit) and SimDriver admits no more vCPUs than
// it has, so the host has CPUs for every VM its memory fits (27).
vmm::SimHostConfig HostConfig() {
  vmm::SimHostConfig c;
  c.cpus = 32;
  c.memory_mib = 16384;
  return c;
}

// Placement alone on the submitted state: every host known with its
// capacity, every container pending.
absl::StatusOr<double> IdealPlacementSeconds(
    const Config& cfg, const control::ControllerOptions& opts) {
  store::Snapshot s;
  vmm::SimHostConfig hc = HostConfig();
  for (int i = 0; i < cfg.hosts; ++i) {
    store::Host h = HostRow(i);
    h.capacity =
        Resources::Of(hc.cpus * 1000L, hc.memory_mib, int64_t{1} << 20);
    s.hosts.push_back(h);
  }
  s.groups = Groups(cfg);
  s.workloads = Workloads(cfg);
  for (const auto& w : s.workloads) {
    for (int64_t r = 0; r < w.replicas; ++r) {
      store::Container c;
      c.id = ContainerId(absl::StrFormat("%s-%05d", w.name.str(), r));
      c.tenant = w.tenant;
      c.workload = w.name;
      s.containers.push_back(c);
    }
  }
  SeededRng rng(opts.seed);
  auto start = std::chrono::steady_clock::now();
  control::PlacementInput in = control::BuildPlacementInput(
      s, {opts.vmm_overhead_mib, opts.host_reserved});
  NEST_ASSIGN_OR_RETURN(placement::Snapshot snap,
                        placement::Snapshot::Build(in.state));
  placement::Plan plan = placement::Schedule(snap, in.pending, rng);
  double took = Seconds(std::chrono::steady_clock::now() - start);
  if (!plan.unplaced.empty()) {
    return absl::InternalError(absl::StrCat(
        plan.unplaced.size(), " containers unplaceable in the ideal run: ",
        plan.unplaced.front().ToString()));
  }
  return took;
}

struct Progress {
  int64_t vms_running = 0;
  int64_t containers_running = 0;
};

absl::StatusOr<Progress> Count(store::Store& store) {
  NEST_ASSIGN_OR_RETURN(store::Snapshot s, store.ReadSnapshot());
  Progress p;
  for (const auto& v : s.vms) {
    p.vms_running += v.observed == store::VmObservedState::kRunning;
  }
  for (const auto& c : s.containers) {
    p.containers_running +=
        c.observed == store::ContainerObservedState::kRunning;
  }
  return p;
}

absl::Status Run(const Config& cfg) {
  std::string dir = cfg.dir;
  bool own_dir = dir.empty();
  if (own_dir) {
    const char* tmp = std::getenv("TMPDIR");
    std::string tmpl =
        absl::StrCat(tmp ? tmp : "/tmp", "/nest-control-scale-XXXXXX");
    if (mkdtemp(tmpl.data()) == nullptr) {
      return absl::InternalError(absl::StrCat("mkdtemp ", tmpl, " failed"));
    }
    dir = tmpl;
  }
  struct Cleanup {
    std::string dir;
    bool own;
    ~Cleanup() {
      std::error_code ec;
      if (own) std::filesystem::remove_all(dir, ec);
    }
  } cleanup{dir, own_dir};

  std::fprintf(stderr, "measuring raw SQLite commits in %s ...\n", dir.c_str());
  NEST_ASSIGN_OR_RETURN(double raw,
                        store::MeasureRawCommitsPerSecond(dir, 2000));

  control::ControllerOptions opts;
  std::fprintf(stderr, "placing alone (ideal) ...\n");
  NEST_ASSIGN_OR_RETURN(double ideal_placement,
                        IdealPlacementSeconds(cfg, opts));
  const absl::Duration latency = absl::Milliseconds(cfg.boot_latency_ms);
  const double ideal = ideal_placement + absl::ToDoubleSeconds(latency);

  Clock& clock = RealClock();
  NEST_ASSIGN_OR_RETURN(auto store,
                        store::Store::Open({dir + "/state.db"}, clock));
  NEST_RETURN_IF_ERROR(store->Write([&](store::WriteTx& tx) -> absl::Status {
    NEST_RETURN_IF_ERROR(tx.CreateTenant({TenantId("bench"), {}, {}}).status());
    for (int i = 0; i < cfg.hosts; ++i) {
      NEST_RETURN_IF_ERROR(tx.CreateHost(HostRow(i)).status());
    }
    return absl::OkStatus();
  }));

  vmm::SimHostConfig hc = HostConfig();
  hc.boot_latency = latency;
  control::SimHostConnector hosts(hc, clock);
  control::SimAgentConnector agents(clock, latency);
  control::SimProvisioner provisioner;
  control::StaticImageSource images;
  images.Add(
      "app",
      control::ImageBlob{
          "sha256:" + std::string(64, 'a'), "tar", {"/bin/app"}, {}, {}, "/"});
  control::Controller controller(*store, hosts, provisioner, agents, images,
                                 clock, opts);
  // Reach every host first (as a running nestd would have), so the
  // measurement is of the workloads, not of first contact.
  NEST_RETURN_IF_ERROR(controller.ReconcileOnce());
  controller.Start();

  const store::Store::WriteStats before = store->write_stats();
  std::fprintf(stderr, "submitting %d containers in %zu workloads ...\n",
               cfg.containers, Workloads(cfg).size());
  auto start = std::chrono::steady_clock::now();
  // As the API would: one transaction per group and per workload.
  for (const auto& g : Groups(cfg)) {
    NEST_RETURN_IF_ERROR(store->Write(
        [&](store::WriteTx& tx) { return tx.CreateGroup(g).status(); }));
  }
  for (const auto& w : Workloads(cfg)) {
    NEST_RETURN_IF_ERROR(store->Write(
        [&](store::WriteTx& tx) { return tx.CreateWorkload(w).status(); }));
  }

  Progress p;
  double converge = 0;
  int64_t seen = store->LastEventSeq();
  double last_report = 0;
  for (;;) {
    seen = store->WaitForEvents(seen, absl::Milliseconds(250));
    control::PassStats st = controller.stats();
    double now = Seconds(std::chrono::steady_clock::now() - start);
    if (now - last_report >= 2) {
      std::fprintf(stderr,
                   "  %6.1f s: %lld VMs ready, %lld containers started, "
                   "%lld passes\n",
                   now, static_cast<long long>(st.vms_created),
                   static_cast<long long>(st.containers_started),
                   static_cast<long long>(st.passes));
      last_report = now;
    }
    if (now > 600) {
      return absl::DeadlineExceededError(absl::StrCat(
          "not converged after 600 s: ", st.vms_created, " VMs ready, ",
          st.containers_started, " containers started"));
    }
    if (st.vms_created < cfg.vms || st.containers_started < cfg.containers) {
      continue;
    }
    // The agents say done; converged when the store says so too.
    auto check_at = std::chrono::steady_clock::now();
    NEST_ASSIGN_OR_RETURN(p, Count(*store));
    if (p.vms_running >= cfg.vms && p.containers_running >= cfg.containers) {
      converge = Seconds(check_at - start);
      break;
    }
  }
  const store::Store::WriteStats after = store->write_stats();
  controller.Stop();
  control::PassStats st = controller.stats();

  const int64_t changes = after.changes - before.changes;
  const int64_t commits = after.commits - before.commits;
  const double busy = absl::ToDoubleSeconds(after.busy - before.busy);
  const double writes_per_s = busy > 0 ? changes / busy : 0;

  auto row = [](const char* what, const std::string& value) {
    std::printf("  %-44s %s\n", what, value.c_str());
  };
  std::printf("control_scale: %d hosts, %d VMs, %d containers, boot %s\n",
              cfg.hosts, cfg.vms, cfg.containers,
              absl::FormatDuration(latency).c_str());
  row("converge (submit -> all running in store)",
      absl::StrFormat("%.2f s", converge));
  row("ideal (boot latency + placement alone)",
      absl::StrFormat("%.2f s  (placement %.2f s)", ideal, ideal_placement));
  row("converge / ideal", absl::StrFormat("%.2f x", converge / ideal));
  row("reconcile passes", absl::StrCat(st.passes));
  row("last pass", absl::FormatDuration(st.last_pass));
  row("store transactions committed", absl::StrCat(commits));
  row("store object changes committed", absl::StrCat(changes));
  row("store time in write transactions", absl::StrFormat("%.2f s", busy));
  row("store object changes / s (busy)", absl::StrFormat("%.0f", writes_per_s));
  row("store transactions / s (busy)",
      absl::StrFormat("%.0f", busy > 0 ? commits / busy : 0));
  row("raw SQLite commits / s (same fs)", absl::StrFormat("%.0f", raw));
  row("store changes/s vs raw commits/s (goal >= 0.5)",
      absl::StrFormat("%.2f x", writes_per_s / raw));
  std::printf(
      "{\"bench\":\"control_scale\",\"hosts\":%d,\"vms\":%d,\"containers\":%d,"
      "\"converge_s\":%.3f,\"ideal_converge_s\":%.3f,"
      "\"store_writes_per_s\":%.1f,\"raw_sqlite_commits_per_s\":%.1f}\n",
      cfg.hosts, cfg.vms, cfg.containers, converge, ideal, writes_per_s, raw);
  return absl::OkStatus();
}

}  // namespace
}  // namespace nest

int main(int argc, char** argv) {
  spdlog::set_level(std::getenv("NEST_BENCH_DEBUG") ? spdlog::level::debug
                                                    : spdlog::level::warn);
  nest::Config cfg;
  if (!nest::ParseArgs(argc, argv, &cfg)) return 2;
  absl::Status st = nest::Run(cfg);
  if (!st.ok()) {
    std::fprintf(stderr, "bench_control_scale: %s\n", st.ToString().c_str());
    return 1;
  }
  return 0;
}
