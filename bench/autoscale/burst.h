// The burst bench_autoscale submits: VM groups of one fixed shape and
// workloads of mixed container sizes, drawn from a seeded Rng, plus the two
// VM counts the autoscaler is compared with.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/resources.h"
#include "core/rng.h"
#include "store/types.h"

namespace nest::bench {

// One container size; every workload has one.
struct SizeClass {
  const char* name;
  Resources requests;
  int weight;  // relative share of workloads drawn with this size
};

// 250m/256Mi up to 2 cores/4Gi, CPU-heavy and memory-heavy ones among them,
// so that classes packed together need fewer VMs than each on its own.
const std::vector<SizeClass>& SizeClasses();

struct BurstConfig {
  int pending = 10000;  // containers in the burst
  int groups = 1;       // VM groups, workloads spread round-robin
  Resources vm_shape = Resources::Of(4000, 8192, 10240);
  // One workload in this many publishes a port, so its replicas must run
  // in distinct VMs (anti-affinity; 0 = none).
  int port_every = 10;
  uint64_t seed = 7;
};

struct Burst {
  std::vector<store::VmGroup> groups;
  std::vector<store::Workload> workloads;
  int anti_affinity_workloads = 0;
  int anti_affinity_containers = 0;
  // Containers per size class (index into SizeClasses()).
  std::vector<int64_t> per_class;
};

inline constexpr char kTenant[] = "bench";

Burst MakeBurst(const BurstConfig& cfg);

// The VM counts new VMs are compared with; both are sums over groups,
// because a VM holds containers of its own group only.
struct VmBounds {
  // Per group, max over dimensions of ceil(total requested / VM shape): no
  // packing can use fewer VMs.
  int64_t lower_bound = 0;
  // Per group and size class, max over dimensions of ceil(class total /
  // VM shape), summed over classes: what an autoscaler asks for when it
  // divides each size class's demand by the shape on its own. Never below
  // lower_bound (a sum of ceilings of parts is at least the ceiling of the
  // sum). It ignores anti-affinity, which can only raise the real need.
  int64_t by_division = 0;
};

VmBounds ComputeBounds(const Burst& burst);

}  // namespace nest::bench
