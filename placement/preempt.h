// Preemption: room for a higher-priority container by evicting
// lower-priority ones from an existing VM of its group.
#pragma once

#include <optional>
#include <vector>

#include "placement/ask.h"
#include "placement/snapshot.h"

namespace nest::placement {

struct Preemption {
  int vm = -1;
  std::vector<ContainerId> evict;
};

// For ask.items[0] (one container): among the group's VMs that pass every
// checker except capacity and dedicated isolation, finds the one needing
// the fewest evictions, then the lowest total evicted priority, then the
// seeded tie key. A container may be evicted when its priority is lower
// than the request's and it belongs to the same tenant or is best-effort.
// A dedicated request needs the whole VM; a dedicated occupant is always
// evicted. Exact (subset search by size) for up to 12 evictable containers
// per VM, greedy beyond.
std::optional<Preemption> FindPreemption(const Snapshot& s, const Ask& ask);

}  // namespace nest::placement
