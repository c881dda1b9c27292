#include "placement/scorers.h"

#include <algorithm>

namespace nest::placement {

double BinpackScorer::Score(const Snapshot&, const FitView& f) const {
  double dot = 0, weight = 0, left_sum = 0;
  int dims = 0;
  for (int d = 0; d < kDims; ++d) {
    if (f.capacity.v[d] <= 0) continue;
    double cap = static_cast<double>(f.capacity.v[d]);
    double dn = f.demand.v[d] / cap;
    double left = (f.capacity.v[d] - f.used.v[d] - f.demand.v[d]) / cap;
    dot += dn * left;
    weight += dn;
    left_sum += left;
    ++dims;
  }
  if (dims == 0) return 0;
  // A zero demand still prefers fuller candidates.
  if (weight <= 0) return std::clamp(1.0 - left_sum / dims, 0.0, 1.0);
  return std::clamp(1.0 - dot / weight, 0.0, 1.0);
}

double SpreadScorer::Score(const Snapshot&, const FitView& f) const {
  double left = 0;
  int dims = 0;
  for (int d = 0; d < kDims; ++d) {
    if (f.capacity.v[d] <= 0) continue;
    left += static_cast<double>(f.capacity.v[d] - f.used.v[d] - f.demand.v[d]) /
            f.capacity.v[d];
    ++dims;
  }
  return dims == 0 ? 0 : std::clamp(left / dims, 0.0, 1.0);
}

double StrandingScorer::Score(const Snapshot& s, const FitView& f) const {
  Resources left = f.capacity - f.used - f.demand;
  if (left.is_zero()) return 1;
  for (const Resources& shape : s.known_vm_demands()) {
    if (!shape.is_zero() && shape.fits(left)) return 1;
  }
  double worst = 0;
  for (int d = 0; d < kDims; ++d) {
    if (f.capacity.v[d] <= 0) continue;
    worst = std::max(worst, static_cast<double>(left.v[d]) / f.capacity.v[d]);
  }
  return std::clamp(1.0 - worst, 0.0, 1.0);
}

}  // namespace nest::placement
