// bench_placement: decision throughput at 1,000 and 10,000 hosts (indexed
// vs linear scan) and packing quality (Nest vs FFD, BFD and the lower
// bound). Prints a table, then one JSON line.
//
//   bench_placement                       everything (a few minutes)
//   bench_placement --quick               smaller runs, for a smoke test
//   bench_placement --throughput-only     skip packing quality
//   bench_placement --instances a.csv...  packing quality on these files only
//   bench_placement --write-instances DIR the generated instances as CSV
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "bench/placement/instances.h"
#include "bench/placement/throughput.h"
#include "core/rng.h"
#include "placement/packer.h"
#include "placement/schedule.h"

namespace nest::placement::bench {
namespace {

using Clock = std::chrono::steady_clock;

struct QualityRow {
  std::string name, klass;
  int items = 0;
  int nest = 0, ffd = 0, bfd = 0, lower = 0;
  double nest_ms = 0;
};

// Packs the instance through the production entry point: one group whose
// VM shape is the bin, one host big enough for every VM, one pending
// container per item. Bins = CreateVm actions.
int NestBins(const Instance& inst, double* ms) {
  ClusterState st;
  Host h;
  h.id = HostId("bin-host");
  h.overcommit = {1.0, 1.0, 1.0};
  for (int d = 0; d < kDims; ++d) {
    h.capacity.v[d] =
        inst.capacity.v[d] * static_cast<int64_t>(inst.items.size() + 1);
  }
  st.hosts = {h};
  Group g;
  g.id = GroupId("bins");
  g.tenant = TenantId("t");
  g.shape = inst.capacity;
  st.groups = {g};
  Pending pending;
  for (size_t i = 0; i < inst.items.size(); ++i) {
    Container c;
    c.id = ContainerId("item-" + std::to_string(i));
    c.workload = WorkloadId("items");
    c.tenant = g.tenant;
    c.group = g.id;
    c.requests = inst.items[i];
    pending.containers.push_back(std::move(c));
  }
  absl::StatusOr<Snapshot> snap = Snapshot::Build(st);
  if (!snap.ok()) std::abort();
  SeededRng rng(1);
  auto t0 = Clock::now();
  Plan plan = Schedule(*snap, pending, rng);
  *ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  if (!plan.unplaced.empty()) {
    std::fprintf(stderr, "%s: %zu items unplaced\n", inst.name.c_str(),
                 plan.unplaced.size());
    std::abort();
  }
  int bins = 0;
  for (const Action& a : plan.actions)
    bins += std::holds_alternative<CreateVm>(a);
  return bins;
}

QualityRow Evaluate(const Instance& inst) {
  std::vector<PackItem> items;
  for (const Resources& r : inst.items) items.push_back({r});
  QualityRow row;
  row.name = inst.name;
  row.klass = inst.klass;
  row.items = static_cast<int>(inst.items.size());
  row.nest = NestBins(inst, &row.nest_ms);
  row.ffd = static_cast<int>(FirstFitDecreasing(items, inst.capacity).size());
  row.bfd = static_cast<int>(BestFitDecreasing(items, inst.capacity).size());
  row.lower = BinsLowerBound(items, inst.capacity);
  return row;
}

struct QualitySummary {
  double fewer_than_ffd_pct = 0, fewer_than_bfd_pct = 0, gap_pct = 0;
  int classes_worse = 0, instances_worse = 0;
};

QualitySummary Summarise(const std::vector<QualityRow>& rows) {
  struct Acc {
    int n = 0, items = 0, nest = 0, ffd = 0, bfd = 0, lower = 0, worse = 0;
    double fewer = 0, fewer_bfd = 0, gap = 0, ms = 0;
  };
  std::map<std::string, Acc> by_class;
  QualitySummary s;
  for (const QualityRow& r : rows) {
    Acc& a = by_class[r.klass];
    ++a.n;
    a.items += r.items;
    a.nest += r.nest;
    a.ffd += r.ffd;
    a.bfd += r.bfd;
    a.lower += r.lower;
    a.worse += r.nest > r.ffd;
    a.fewer += 100.0 * (r.ffd - r.nest) / r.ffd;
    a.fewer_bfd += 100.0 * (r.bfd - r.nest) / r.bfd;
    a.gap += 100.0 * (r.nest - r.lower) / r.lower;
    a.ms += r.nest_ms;
    s.fewer_than_ffd_pct += 100.0 * (r.ffd - r.nest) / r.ffd;
    s.fewer_than_bfd_pct += 100.0 * (r.bfd - r.nest) / r.bfd;
    s.gap_pct += 100.0 * (r.nest - r.lower) / r.lower;
    s.instances_worse += r.nest > r.ffd;
  }
  std::printf(
      "\nPacking quality (bins; per class sums over its instances; %% are "
      "means of per-instance ratios)\n");
  std::printf("%-15s %5s %8s %8s %8s %8s %8s %10s %10s %9s %7s %9s\n", "class",
              "inst", "items", "LB", "FFD", "BFD", "Nest", "vs FFD %",
              "vs BFD %", "gap LB %", "worse", "Nest ms");
  for (const auto& [klass, a] : by_class) {
    std::printf("%-15s %5d %8d %8d %8d %8d %8d %10.2f %10.2f %9.2f %7d %9.1f\n",
                klass.c_str(), a.n, a.items, a.lower, a.ffd, a.bfd, a.nest,
                a.fewer / a.n, a.fewer_bfd / a.n, a.gap / a.n, a.worse,
                a.ms / a.n);
    // A class counts as worse if Nest loses to FFD on any of its instances.
    s.classes_worse += a.worse > 0;
  }
  if (!rows.empty()) {
    s.fewer_than_ffd_pct /= rows.size();
    s.fewer_than_bfd_pct /= rows.size();
    s.gap_pct /= rows.size();
  }
  return s;
}

std::vector<Instance> GeneratedInstances(bool quick) {
  const int sizes[] = {100, 500, 1000, 2500, 5000};
  std::vector<Instance> out;
  for (InstanceClass c : {InstanceClass::kUniform, InstanceClass::kCorrelated,
                          InstanceClass::kAntiCorrelated}) {
    for (int seed = 1; seed <= 10; ++seed) {
      int n = sizes[(seed - 1) % 5];
      if (quick) n = std::min(n, 500);
      out.push_back(Generate(c, n, seed));
    }
  }
  return out;
}

void PrintThroughput(const std::vector<ThroughputResult>& runs) {
  std::printf(
      "Single-container decisions through Schedule(), each applied before "
      "the next, one thread.\nLatency = thread CPU time of Schedule+Apply; "
      "wall-clock columns include time the shared machine ran others.\n");
  std::printf(
      "%6s %7s %7s %9s %8s %8s %8s %8s %8s %8s %6s %5s | %6s %8s %8s %8s "
      "%8s\n",
      "hosts", "vms", "build s", "decisions", "dec/s", "p50 ms", "p99 ms",
      "max ms", "wall d/s", "wall p99", "newVM", "unpl", "scan n", "dec/s",
      "p50 ms", "p99 ms", "speedup");
  for (const ThroughputResult& r : runs) {
    std::printf(
        "%6d %7d %7.2f %9d %8.0f %8.4f %8.4f %8.3f %8.0f %8.4f %6d %5d | %6d "
        "%8.0f %8.4f %8.4f %8.1f\n",
        r.hosts, r.vms, r.build_s, r.decisions, r.decisions_per_s, r.p50_ms,
        r.p99_ms, r.max_ms, r.wall_decisions_per_s, r.wall_p99_ms, r.new_vms,
        r.unplaced, r.scan_decisions, r.scan_decisions_per_s, r.scan_p50_ms,
        r.scan_p99_ms, r.speedup_vs_scan);
  }
}

int Main(int argc, char** argv) {
  bool quick = false;
  bool throughput_only = false;
  std::vector<std::string> files;
  std::string write_dir;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) {
      quick = true;
    } else if (std::strcmp(argv[i], "--throughput-only") == 0) {
      throughput_only = true;
    } else if (std::strcmp(argv[i], "--instances") == 0) {
      while (i + 1 < argc && argv[i + 1][0] != '-') files.push_back(argv[++i]);
    } else if (std::strcmp(argv[i], "--write-instances") == 0 && i + 1 < argc) {
      write_dir = argv[++i];
    } else {
      std::fprintf(stderr,
                   "usage: bench_placement [--quick] [--throughput-only] "
                   "[--instances FILE...] "
                   "[--write-instances DIR]\n");
      return 2;
    }
  }
  if (!write_dir.empty()) {
    for (const Instance& inst : GeneratedInstances(quick)) {
      std::ofstream(write_dir + "/" + inst.name + ".csv") << ToCsv(inst);
    }
    return 0;
  }
  if (!files.empty()) {
    std::vector<QualityRow> rows;
    for (const std::string& f : files) {
      std::ifstream in(f);
      if (!in) {
        std::fprintf(stderr, "cannot read %s\n", f.c_str());
        return 1;
      }
      std::stringstream text;
      text << in.rdbuf();
      absl::StatusOr<Instance> inst = ParseInstanceCsv(f, text.str());
      if (!inst.ok()) {
        std::fprintf(stderr, "%s\n",
                     std::string(inst.status().message()).c_str());
        return 1;
      }
      rows.push_back(Evaluate(*inst));
    }
    QualitySummary q = Summarise(rows);
    std::printf(
        "{\"bench\":\"placement\",\"instances\":%zu,"
        "\"avg_bins_fewer_than_ffd_pct\":%.3f,\"avg_bins_fewer_than_bfd_pct\":"
        "%.3f,\"classes_worse_than_ffd\":%d,\"instances_worse_than_ffd\":%d,"
        "\"avg_gap_to_lower_bound_pct\":%.3f}\n",
        rows.size(), q.fewer_than_ffd_pct, q.fewer_than_bfd_pct,
        q.classes_worse, q.instances_worse, q.gap_pct);
    return 0;
  }

  std::vector<ThroughputResult> runs;
  const int vms = quick ? 20000 : 100000;
  runs.push_back(
      RunThroughput(1000, vms, quick ? 2000 : 20000, quick ? 200 : 2000, 11));
  runs.push_back(
      RunThroughput(10000, vms, quick ? 2000 : 20000, quick ? 200 : 1000, 12));
  PrintThroughput(runs);
  if (throughput_only) return 0;

  std::vector<QualityRow> rows;
  for (const Instance& inst : GeneratedInstances(quick)) {
    rows.push_back(Evaluate(inst));
  }
  QualitySummary q = Summarise(rows);
  const ThroughputResult& k1 = runs[0];
  const ThroughputResult& k10 = runs[1];
  std::printf(
      "{\"bench\":\"placement\",\"decisions_per_s_10k_hosts\":%.0f,"
      "\"p50_ms_10k_hosts\":%.4f,\"p99_ms_10k_hosts\":%.4f,"
      "\"speedup_vs_scan\":%.2f,\"wall_decisions_per_s_10k_hosts\":%.0f,"
      "\"wall_p99_ms_10k_hosts\":%.4f,\"decisions_per_s_1k_hosts\":%.0f,"
      "\"p50_ms_1k_hosts\":%.4f,\"p99_ms_1k_hosts\":%.4f,"
      "\"speedup_vs_scan_1k_hosts\":%.2f,\"vms\":%d,"
      "\"avg_bins_fewer_than_ffd_pct\":%.3f,\"avg_bins_fewer_than_bfd_pct\":"
      "%.3f,\"classes_worse_than_ffd\":%d,\"instances_worse_than_ffd\":%d,"
      "\"avg_gap_to_lower_bound_pct\":%.3f}\n",
      k10.decisions_per_s, k10.p50_ms, k10.p99_ms, k10.speedup_vs_scan,
      k10.wall_decisions_per_s, k10.wall_p99_ms, k1.decisions_per_s, k1.p50_ms,
      k1.p99_ms, k1.speedup_vs_scan, k10.vms, q.fewer_than_ffd_pct,
      q.fewer_than_bfd_pct, q.classes_worse, q.instances_worse, q.gap_pct);
  return 0;
}

}  // namespace
}  // namespace nest::placement::bench

int main(int argc, char** argv) {
  return nest::placement::bench::Main(argc, argv);
}
