// Explain: why a container cannot be placed, as data for the API.
#pragma once

#include "placement/model.h"
#include "placement/snapshot.h"

namespace nest::placement {

// Counts, per fixed reason, the group's VMs that reject `c` (first failing
// checker each) and the hosts that reject a new VM for it; hosts that pass
// every host checker but are blocked by a group-level check (max VMs,
// tenant) are counted under that reason. Then finds the smallest change
// that would let it fit, trying in order: a bigger VM shape (when the
// request exceeds it), one more VM of the group (raise max_vms), readying a
// host, freeing capacity on the host closest to fitting, relaxing label
// constraints, adding a host. O(hosts + VMs of the group).
Explanation Explain(const Snapshot& s, const Container& c);

}  // namespace nest::placement
