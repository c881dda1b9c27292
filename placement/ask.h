// Ask: what one placement decision is about, resolved against a snapshot
// once so that checkers and scorers do no string lookups per candidate.
#pragma once

#include <cstdint>
#include <vector>

#include "placement/model.h"
#include "placement/snapshot.h"

namespace nest::placement {

// Either one container into an existing VM of `group`, or a new VM of
// `group` holding `items`, on some host.
struct Ask {
  int group = -1;
  std::vector<const Container*> items;  // not owned; outlive the Ask
  std::vector<int> workloads;           // Snapshot::WorkloadIndex per item
  TenantId tenant;                      // of the items (all the same)
  Resources requests;                   // sum of the items' requests
  Resources host_demand;                // the new VM's shape plus VMM overhead
  int spread_min = 0;                   // fewest VMs of the group in any domain
  uint64_t tie_seed = 0;                // salt mixed with the first item's id
};

// Precondition: `group` is a valid index and `items` is non-empty or the
// ask is for an empty VM (min_vms).
Ask MakeAsk(const Snapshot& snap, int group,
            std::vector<const Container*> items, uint64_t salt);

// Seeded tie-break key of a candidate for this ask.
uint64_t TieKey(const Ask& ask, const std::string& candidate_id);

}  // namespace nest::placement
