// Schedule: the production entry point. Pure and deterministic: the same
// snapshot, pending list and Rng state give the same plan.
#pragma once

#include "core/rng.h"
#include "placement/model.h"
#include "placement/snapshot.h"
#include "placement/stack.h"

namespace nest::placement {

// Decides where every pending container goes:
//  1. groups below min_vms get new (empty) VMs;
//  2. containers in priority order (highest first), largest first within a
//     priority (dominant share of the group's VM shape), id as tie-break;
//  3. each goes into the best existing VM of its group (stack.h);
//  4. the rest of that priority level, per (group, tenant, constraints),
//     are packed into as few new VMs as PackBins finds, each VM put on the
//     best host (fullest bin first);
//  5. what still does not fit may preempt lower-priority containers
//     (preempt.h); otherwise it is returned in Plan::unplaced with an
//     Explanation.
// Every decision sees the earlier ones. Draws one number from `rng` (the
// tie-break salt). Reads `snapshot` only; when the list needs more than one
// decision, copies it once (O(snapshot)). Apply the plan to the snapshot to
// commit it.
[[nodiscard]] Plan Schedule(const Snapshot& snapshot, const Pending& pending,
                            Rng& rng, const Options& options = {});

}  // namespace nest::placement
