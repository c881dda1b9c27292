// Vector bin packing of containers into new VMs of one shape. Schedule uses
// PackBins for the containers that fit no existing VM; the benchmark also
// runs the FFD and BFD baselines from here.
#pragma once

#include <vector>

#include "core/resources.h"

namespace nest::placement {

struct PackItem {
  Resources demand;
  int conflict = -1;   // items with the same key >= 0 never share a bin
  bool alone = false;  // gets a bin of its own (dedicated isolation)
};

// A bin is a list of item indices.
using Bins = std::vector<std::vector<int>>;

// Packs every item into bins of `capacity`, trying several deterministic
// heuristics (FFD by sum and by max of normalised demand, best-fit
// decreasing, and bin-centric dot-product and L2 greedies), improving the
// best with a bin-elimination pass, and returning the fewest bins (ties:
// the first heuristic in that order). So it never uses more bins than FFD.
// An item that does not fit an empty bin gets a bin of its own (callers
// filter those out first). Cost: O(n * bins) per heuristic, O(n^2) for the
// bin-centric ones; a few hundred ms at 5,000 items.
Bins PackBins(const std::vector<PackItem>& items, const Resources& capacity);

// Baselines. Items sorted by the sum of their demands normalised by
// capacity, largest first (stable on index); FFD puts each in the first bin
// it fits, BFD in the fitting bin with the least normalised room left.
Bins FirstFitDecreasing(const std::vector<PackItem>& items,
                        const Resources& capacity);
Bins BestFitDecreasing(const std::vector<PackItem>& items,
                       const Resources& capacity);

// max over dimensions of ceil(sum of demand / capacity).
int BinsLowerBound(const std::vector<PackItem>& items,
                   const Resources& capacity);

}  // namespace nest::placement
