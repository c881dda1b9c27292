// Decision throughput: single-container decisions through Schedule(), each
// committed with Snapshot::Apply before the next, on a generated cluster.
#pragma once

#include <cstdint>

namespace nest::placement::bench {

struct ThroughputResult {
  int hosts = 0;
  int vms = 0;
  double build_s = 0;
  int decisions = 0;
  // Per decision (Schedule + Apply), thread CPU time.
  double decisions_per_s = 0;
  double p50_ms = 0, p99_ms = 0, max_ms = 0;
  // The same, wall-clock (includes time the OS ran other processes).
  double wall_decisions_per_s = 0, wall_p99_ms = 0;
  int new_vms = 0, unplaced = 0;
  // The same decision stream, plain linear scan, on a prefix.
  int scan_decisions = 0;
  double scan_decisions_per_s = 0;
  double scan_p50_ms = 0, scan_p99_ms = 0;
  double speedup_vs_scan = 0;  // mean scan latency / mean indexed latency
                               // over the same prefix
};

ThroughputResult RunThroughput(int hosts, int vms, int decisions,
                               int scan_decisions, uint64_t seed);

}  // namespace nest::placement::bench
