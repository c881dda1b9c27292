#include "placement/ask.h"

#include <algorithm>
#include <limits>

#include "core/rng.h"

namespace nest::placement {

Ask MakeAsk(const Snapshot& snap, int group,
            std::vector<const Container*> items, uint64_t salt) {
  Ask ask;
  ask.group = group;
  ask.items = std::move(items);
  const GroupRec& g = snap.group(group);
  ask.tenant = g.spec.tenant;
  for (const Container* c : ask.items) {
    ask.workloads.push_back(snap.WorkloadIndex(c->workload));
    ask.requests += c->requests;
    ask.tenant = c->tenant;
  }
  ask.host_demand = VmHostDemand(g.spec.shape, g.spec.vmm_overhead_mib);
  if (!g.spec.spread_label.empty()) {
    int lowest = std::numeric_limits<int>::max();
    for (const std::string& d : snap.Domains(g.spec.spread_label)) {
      auto it = g.vms_per_domain.find(d);
      lowest = std::min(lowest, it == g.vms_per_domain.end() ? 0 : it->second);
    }
    ask.spread_min = lowest == std::numeric_limits<int>::max() ? 0 : lowest;
  }
  const std::string& first =
      ask.items.empty() ? g.spec.id.str() : ask.items.front()->id.str();
  ask.tie_seed = StableHash(first.data(), first.size(), salt);
  return ask;
}

uint64_t TieKey(const Ask& ask, const std::string& candidate_id) {
  return StableHash(candidate_id.data(), candidate_id.size(), ask.tie_seed);
}

}  // namespace nest::placement
