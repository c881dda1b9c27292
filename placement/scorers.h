// Scorers rank feasible candidates; each returns a value in [0, 1], higher
// is better, and a stack combines them with weights (stack.cc).
#pragma once

#include "placement/snapshot.h"

namespace nest::placement {

// A candidate (host or VM) seen by a scorer: its capacity, what it already
// holds, and what the decision adds.
struct FitView {
  Resources capacity;
  Resources used;
  Resources demand;
};

class Scorer {
 public:
  virtual ~Scorer() = default;
  virtual double Score(const Snapshot& s, const FitView& f) const = 0;
};

// Binpack: 1 - dot(demand, remaining after placement) / dot(demand, 1),
// both normalised by capacity. Leaving nothing in the dimensions the
// demand uses most scores 1; a candidate left mostly empty scores near 0.
class BinpackScorer : public Scorer {
 public:
  double Score(const Snapshot& s, const FitView& f) const override;
};

// Spread (least allocated): mean fraction left free after placement.
class SpreadScorer : public Scorer {
 public:
  double Score(const Snapshot& s, const FitView& f) const override;
};

// Stranding penalty as a score: 1 when the leftover is empty or some known
// VM shape still fits in it, else 1 - the largest leftover fraction (that
// capacity can no longer be sold).
class StrandingScorer : public Scorer {
 public:
  double Score(const Snapshot& s, const FitView& f) const override;
};

}  // namespace nest::placement
