#include "bench/autoscale/burst.h"

#include <algorithm>
#include <map>

#include "absl/strings/str_format.h"

namespace nest::bench {
namespace {

// Fewest VMs of `shape` that hold `demand` in every dimension.
int64_t VmsFor(const Resources& demand, const Resources& shape) {
  int64_t n = 0;
  for (int d = 0; d < kDims; ++d) {
    if (shape.v[d] <= 0 || demand.v[d] <= 0) continue;
    n = std::max(n, (demand.v[d] + shape.v[d] - 1) / shape.v[d]);
  }
  return n;
}

Resources Times(Resources r, int64_t n) {
  for (auto& x : r.v) x *= n;
  return r;
}

int DrawClass(Rng& rng) {
  const auto& classes = SizeClasses();
  int total = 0;
  for (const auto& c : classes) total += c.weight;
  int pick = static_cast<int>(rng.Uniform(total));
  for (size_t i = 0; i < classes.size(); ++i) {
    pick -= classes[i].weight;
    if (pick < 0) return static_cast<int>(i);
  }
  return 0;
}

}  // namespace

const std::vector<SizeClass>& SizeClasses() {
  static const auto* classes = new std::vector<SizeClass>{
      {"250m/256Mi", Resources::Of(250, 256), 30},
      {"500m/512Mi", Resources::Of(500, 512), 20},
      {"500m/2Gi", Resources::Of(500, 2048), 10},
      {"1/1Gi", Resources::Of(1000, 1024), 15},
      {"1/2Gi", Resources::Of(1000, 2048), 10},
      {"2/1Gi", Resources::Of(2000, 1024), 5},
      {"2/4Gi", Resources::Of(2000, 4096), 10},
  };
  return *classes;
}

Burst MakeBurst(const BurstConfig& cfg) {
  Burst b;
  b.per_class.assign(SizeClasses().size(), 0);
  for (int g = 0; g < cfg.groups; ++g) {
    store::VmGroup grp;
    grp.tenant = TenantId(kTenant);
    grp.name = GroupId(absl::StrFormat("g%d", g));
    grp.vcpus = cfg.vm_shape.milli_cpu() / 1000;
    grp.memory_mib = cfg.vm_shape.memory_mib();
    grp.disk_mib = cfg.vm_shape.disk_mib();
    grp.boot_image = "sim";
    // Room for the whole burst: the autoscaler, not max_size, decides.
    grp.max_size = cfg.pending + 1;
    b.groups.push_back(std::move(grp));
  }
  SeededRng rng(cfg.seed);
  int left = cfg.pending;
  for (int i = 0; left > 0; ++i) {
    int klass = DrawClass(rng);
    store::Workload w;
    w.tenant = TenantId(kTenant);
    w.name = WorkloadId(absl::StrFormat("w%04d", i));
    w.image = "app";
    w.target_group = b.groups[i % cfg.groups].name;
    w.requests = SizeClasses()[klass].requests;
    w.replicas = std::min<int64_t>(left, 10 + rng.Uniform(91));
    if (cfg.port_every > 0 && rng.Uniform(cfg.port_every) == 0) {
      w.ports.push_back({"http", 8080, 0, "tcp"});
      ++b.anti_affinity_workloads;
      b.anti_affinity_containers += static_cast<int>(w.replicas);
    }
    b.per_class[klass] += w.replicas;
    left -= static_cast<int>(w.replicas);
    b.workloads.push_back(std::move(w));
  }
  return b;
}

VmBounds ComputeBounds(const Burst& burst) {
  std::map<std::string, Resources> shape, total;
  std::map<std::pair<std::string, std::string>, Resources> by_class;
  for (const auto& g : burst.groups) {
    shape[g.name.str()] =
        Resources::Of(g.vcpus * 1000, g.memory_mib, g.disk_mib);
  }
  for (const auto& w : burst.workloads) {
    Resources demand = Times(w.requests, w.replicas);
    total[w.target_group.str()] += demand;
    by_class[{w.target_group.str(), w.requests.ToString()}] += demand;
  }
  VmBounds b;
  for (const auto& [group, demand] : total) {
    b.lower_bound += VmsFor(demand, shape[group]);
  }
  for (const auto& [key, demand] : by_class) {
    b.by_division += VmsFor(demand, shape[key.first]);
  }
  return b;
}

}  // namespace nest::bench
