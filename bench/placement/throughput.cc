#include "bench/placement/throughput.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <ctime>
#include <string>
#include <vector>

#include "core/rng.h"
#include "placement/schedule.h"

namespace nest::placement::bench {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kTenants = 200;
constexpr int kGroups = 400;
constexpr int kZones = 4;
const Resources kShapes[] = {
    Resources::Of(1000, 2048, 10240), Resources::Of(2000, 4096, 20480),
    Resources::Of(4000, 8192, 40960), Resources::Of(2000, 8192, 20480)};
constexpr int64_t kOverheadMiB = 64;
constexpr double kAvgVmMiB = (2048 + 4096 + 8192 + 8192) / 4.0 + kOverheadMiB;

int64_t U(Rng& rng, int64_t lo, int64_t hi) {
  return lo + static_cast<int64_t>(rng.Uniform(hi - lo + 1));
}

Resources RandomRequest(Rng& rng, const Resources& shape) {
  Resources r = Resources::Of(50 * U(rng, 2, 20), 128 * U(rng, 1, 16),
                              256 * U(rng, 1, 8));
  for (int d = 0; d < kDims; ++d) r.v[d] = std::min(r.v[d], shape.v[d]);
  return r;
}

std::string Zone(int z) { return "z" + std::to_string(z); }

ClusterState MakeCluster(int hosts, int vms, Rng& rng) {
  ClusterState st;
  // Hosts sized so that the VMs fill memory to about 75% on average.
  const double per_host = static_cast<double>(vms) / hosts;
  for (int i = 0; i < hosts; ++i) {
    Host h;
    h.id = HostId("host-" + std::to_string(i));
    int64_t mem_gib =
        static_cast<int64_t>(per_host * kAvgVmMiB / 1024 / 0.75 *
                             (0.7 + 0.6 * rng.Uniform(1000) / 1000.0));
    mem_gib = std::max<int64_t>(mem_gib, 16);
    h.capacity = Resources::Of(mem_gib / 4 * 1000 + 4000, mem_gib * 1024 + 4096,
                               mem_gib * 1024 * 8);
    h.reserved = Resources::Of(2000, 4096, 0);
    h.labels = {{"zone", Zone(i % kZones)},
                {"rack", "r" + std::to_string(i / 40)}};
    if (rng.Uniform(3) == 0) h.labels["ssd"] = "true";
    if (rng.Uniform(200) == 0) h.state = HostState::kCordoned;
    st.hosts.push_back(h);
  }
  for (int g = 0; g < kGroups; ++g) {
    Group gr;
    gr.id = GroupId("group-" + std::to_string(g));
    gr.tenant = TenantId("tenant-" + std::to_string(g % kTenants));
    gr.shape = kShapes[rng.Uniform(4)];
    gr.vmm_overhead_mib = kOverheadMiB;
    if (g % 10 == 0) {
      gr.policy = GroupPolicy::kSpread;
      gr.spread_label = "zone";
      // Set below from the skew the generated VMs already have.
    }
    st.groups.push_back(gr);
  }
  std::vector<Resources> free;
  for (const Host& h : st.hosts) {
    free.push_back(Resources::Of((h.capacity.v[0] - h.reserved.v[0]) * 4,
                                 h.capacity.v[1] - h.reserved.v[1],
                                 h.capacity.v[2] - h.reserved.v[2]));
  }
  std::vector<std::array<int, kZones>> per_zone(kGroups);
  for (int i = 0; i < vms; ++i) {
    const int gi = static_cast<int>(rng.Uniform(kGroups));
    const Group& g = st.groups[gi];
    Resources demand = VmHostDemand(g.shape, g.vmm_overhead_mib);
    int h = static_cast<int>(rng.Uniform(hosts));
    int tries = 0;
    while (!demand.fits(free[h]) && tries++ < hosts) h = (h + 1) % hosts;
    if (!demand.fits(free[h])) break;
    free[h] -= demand;
    ++per_zone[gi][h % kZones];
    Vm vm;
    vm.id = VmId("vm-" + std::to_string(i));
    vm.group = g.id;
    vm.tenant = g.tenant;
    vm.host = st.hosts[h].id;
    vm.shape = g.shape;
    vm.vmm_overhead_mib = g.vmm_overhead_mib;
    // Every VM holds at least one container, most are 30-100% full.
    double fill = 0.3 + 0.7 * rng.Uniform(1000) / 1000.0;
    Resources used;
    for (int k = 0; k < 8; ++k) {
      Resources r = RandomRequest(rng, g.shape);
      if (k > 0 && (static_cast<double>((used + r).memory_mib()) >
                        fill * g.shape.memory_mib() ||
                    !(used + r).fits(g.shape))) {
        break;
      }
      used += r;
      Container c;
      c.id = ContainerId(vm.id.str() + "-c" + std::to_string(k));
      c.workload = WorkloadId("old-" + std::to_string(i % 5000));
      c.tenant = g.tenant;
      c.group = g.id;
      c.requests = r;
      vm.containers.push_back(std::move(c));
    }
    st.vms.push_back(std::move(vm));
  }
  for (int g = 0; g < kGroups; ++g) {
    if (st.groups[g].spread_label.empty()) continue;
    auto [lo, hi] = std::minmax_element(per_zone[g].begin(), per_zone[g].end());
    st.groups[g].max_skew = *hi - *lo + 1;
  }
  return st;
}

std::vector<Container> MakeStream(const ClusterState& st, int n, Rng& rng) {
  std::vector<Container> out;
  for (int i = 0; i < n; ++i) {
    const Group& g = st.groups[rng.Uniform(st.groups.size())];
    Container c;
    c.id = ContainerId("new-" + std::to_string(i));
    int w = static_cast<int>(rng.Uniform(5));
    c.workload = WorkloadId(g.id.str() + "-w" + std::to_string(w));
    c.tenant = g.tenant;
    c.group = g.id;
    c.requests = RandomRequest(rng, g.shape);
    if (w == 0) c.anti_affinity = AntiAffinity::kDistinctHosts;
    // A quarter of the stream needs a VM of its own: the host path.
    if (rng.Uniform(4) == 0) c.isolation = Isolation::kDedicated;
    if (w == 1) {
      c.constraints = {{"zone", LabelConstraint::Op::kIn, {Zone(0), Zone(1)}}};
    }
    out.push_back(std::move(c));
  }
  return out;
}

// Thread CPU time: this machine is shared (load average well above its
// two cores), so wall-clock latencies mostly measure the OS scheduler.
double CpuMs() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

struct Run {
  std::vector<double> ms;       // thread CPU time per decision
  std::vector<double> wall_ms;  // wall-clock per decision
  double total_s = 0;           // wall-clock for the whole run
  int new_vms = 0, unplaced = 0;
};

Run Decide(Snapshot& snap, const std::vector<Container>& stream, int n,
           bool index, uint64_t seed) {
  Run run;
  SeededRng rng(seed);
  Options opt;
  opt.use_index = index;
  Pending pending;
  pending.containers.resize(1);
  auto start = Clock::now();
  for (int i = 0; i < n; ++i) {
    pending.containers[0] = stream[i];
    auto t0 = Clock::now();
    double c0 = CpuMs();
    Plan plan = Schedule(snap, pending, rng, opt);
    absl::Status st = snap.Apply(plan);
    double c1 = CpuMs();
    auto t1 = Clock::now();
    if (!st.ok()) std::abort();  // a plan that does not apply is a bug
    run.ms.push_back(c1 - c0);
    run.wall_ms.push_back(
        std::chrono::duration<double, std::milli>(t1 - t0).count());
    for (const Action& a : plan.actions) {
      run.new_vms += std::holds_alternative<CreateVm>(a);
    }
    run.unplaced += static_cast<int>(plan.unplaced.size());
  }
  run.total_s = std::chrono::duration<double>(Clock::now() - start).count();
  return run;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * (v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

double Mean(const std::vector<double>& v, size_t n) {
  n = std::min(n, v.size());
  double sum = 0;
  for (size_t i = 0; i < n; ++i) sum += v[i];
  return n == 0 ? 0 : sum / n;
}

}  // namespace

ThroughputResult RunThroughput(int hosts, int vms, int decisions,
                               int scan_decisions, uint64_t seed) {
  SeededRng rng(seed);
  ClusterState st = MakeCluster(hosts, vms, rng);
  std::vector<Container> stream = MakeStream(st, decisions, rng);
  ThroughputResult r;
  r.hosts = hosts;
  auto t0 = Clock::now();
  absl::StatusOr<Snapshot> built = Snapshot::Build(st);
  r.build_s = std::chrono::duration<double>(Clock::now() - t0).count();
  if (!built.ok()) std::abort();
  r.vms = built->vm_count();
  st = ClusterState{};  // free the input before copying the snapshot
  Snapshot scan_snap = *built;

  Run indexed = Decide(*built, stream, decisions, true, seed);
  r.decisions = decisions;
  r.decisions_per_s = 1e3 / Mean(indexed.ms, decisions);
  r.wall_decisions_per_s = decisions / indexed.total_s;
  r.wall_p99_ms = Percentile(indexed.wall_ms, 0.99);
  r.p50_ms = Percentile(indexed.ms, 0.50);
  r.p99_ms = Percentile(indexed.ms, 0.99);
  r.max_ms = Percentile(indexed.ms, 1.0);
  r.new_vms = indexed.new_vms;
  r.unplaced = indexed.unplaced;

  Run scan = Decide(scan_snap, stream, scan_decisions, false, seed);
  r.scan_decisions = scan_decisions;
  r.scan_decisions_per_s = 1e3 / Mean(scan.ms, scan_decisions);
  r.scan_p50_ms = Percentile(scan.ms, 0.50);
  r.scan_p99_ms = Percentile(scan.ms, 0.99);
  r.speedup_vs_scan =
      Mean(scan.ms, scan_decisions) / Mean(indexed.ms, scan_decisions);
  return r;
}

}  // namespace nest::placement::bench
