#include "placement/packer.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <numeric>

namespace nest::placement {
namespace {

constexpr size_t kQuadraticLimit = 10000;

struct Bin {
  Resources load;
  std::vector<int> items;
};

class Packing {
 public:
  Packing(const std::vector<PackItem>& items, const Resources& cap)
      : items_(items), cap_(cap) {
    norm_.resize(items.size());
    for (size_t i = 0; i < items.size(); ++i) {
      for (int d = 0; d < kDims; ++d) {
        norm_[i][d] = cap.v[d] > 0
                          ? static_cast<double>(items[i].demand.v[d]) / cap.v[d]
                          : 0;
        scarcity_[d] += norm_[i][d];
      }
    }
    double total = 0;
    for (double x : scarcity_) total += x;
    for (double& x : scarcity_) x = total > 0 ? x * kDims / total : 1;
  }

  // Dimension weights: 1 each, or the share of total demand in that
  // dimension (a scarce dimension counts more), as in Panigrahy et al.,
  // "Heuristics for Vector Bin Packing" (2011).
  std::array<double, kDims> Weights(bool weighted) const {
    std::array<double, kDims> w;
    w.fill(1.0);
    return weighted ? scarcity_ : w;
  }

  double Sum(int i, const std::array<double, kDims>& w) const {
    double sum = 0;
    for (int d = 0; d < kDims; ++d) sum += w[d] * norm_[i][d];
    return sum;
  }
  double Max(int i) const {
    return *std::max_element(norm_[i].begin(), norm_[i].end());
  }

  bool Fits(const Bin& b, int i) const {
    const PackItem& it = items_[i];
    if (it.alone && !b.items.empty()) return false;
    if (!(b.load + it.demand).fits(cap_)) return false;
    for (int j : b.items) {
      if (items_[j].alone) return false;
      if (it.conflict >= 0 && items_[j].conflict == it.conflict) return false;
    }
    return true;
  }

  // Normalised room left in `b` after adding item i (i < 0: nothing).
  double Room(const Bin& b, int i) const {
    double room = 0;
    for (int d = 0; d < kDims; ++d) {
      if (cap_.v[d] <= 0) continue;
      int64_t load = b.load.v[d] + (i >= 0 ? items_[i].demand.v[d] : 0);
      room += static_cast<double>(cap_.v[d] - load) / cap_.v[d];
    }
    return room;
  }

  void Add(Bin& b, int i) const {
    b.load += items_[i].demand;
    b.items.push_back(i);
  }

  enum class Key { kSum, kMax, kWeightedSum };
  std::vector<int> Order(Key k) const {
    std::vector<int> order(items_.size());
    std::iota(order.begin(), order.end(), 0);
    std::vector<double> key(items_.size());
    for (size_t i = 0; i < items_.size(); ++i) {
      key[i] =
          k == Key::kMax ? Max(i) : Sum(i, Weights(k == Key::kWeightedSum));
    }
    std::stable_sort(order.begin(), order.end(),
                     [&](int a, int b) { return key[a] > key[b]; });
    return order;
  }

  std::vector<Bin> ItemCentric(const std::vector<int>& order,
                               bool best_fit) const {
    std::vector<Bin> bins;
    for (int i : order) {
      int chosen = -1;
      double chosen_room = 0;
      for (size_t b = 0; b < bins.size(); ++b) {
        if (!Fits(bins[b], i)) continue;
        if (!best_fit) {
          chosen = static_cast<int>(b);
          break;
        }
        double room = Room(bins[b], i);
        if (chosen < 0 || room < chosen_room) {
          chosen = static_cast<int>(b);
          chosen_room = room;
        }
      }
      if (chosen < 0) {
        bins.emplace_back();
        chosen = static_cast<int>(bins.size()) - 1;
      }
      Add(bins[chosen], i);
    }
    return bins;
  }

  // Fills one bin at a time with the item that best matches the room left:
  // the largest dot product with it (dot=true) or the smallest L2 distance
  // from it. Seeds each bin with the largest remaining item.
  std::vector<Bin> BinCentric(bool dot, bool weighted) const {
    const std::array<double, kDims> w = Weights(weighted);
    std::vector<int> left = Order(weighted ? Key::kWeightedSum : Key::kSum);
    std::vector<Bin> bins;
    while (!left.empty()) {
      Bin bin;
      Add(bin, left.front());
      left.erase(left.begin());
      while (true) {
        std::array<double, kDims> room{};
        for (int d = 0; d < kDims; ++d) {
          room[d] =
              cap_.v[d] > 0
                  ? static_cast<double>(cap_.v[d] - bin.load.v[d]) / cap_.v[d]
                  : 0;
        }
        int pick = -1;
        double pick_score = 0;
        for (size_t k = 0; k < left.size(); ++k) {
          int i = left[k];
          if (!Fits(bin, i)) continue;
          double score = 0;
          for (int d = 0; d < kDims; ++d) {
            if (dot) {
              score += w[d] * norm_[i][d] * room[d];
            } else {
              double gap = room[d] - norm_[i][d];
              score -= w[d] * gap * gap;
            }
          }
          if (pick < 0 || score > pick_score) {
            pick = static_cast<int>(k);
            pick_score = score;
          }
        }
        if (pick < 0) break;
        Add(bin, left[pick]);
        left.erase(left.begin() + pick);
      }
      bins.push_back(std::move(bin));
    }
    return bins;
  }

  // Tries to empty bins, emptiest first, by moving each of their items to
  // the tightest other bin that takes it; keeps the moves only when the
  // whole bin empties. With `eject`, an item that fits nowhere may also
  // swap places with a smaller item of another bin when that smaller item
  // then fits a third bin (one level of an ejection chain); that search is
  // costlier, so it is bounded to the `victims` emptiest bins per pass.
  void Eliminate(std::vector<Bin>& bins, bool eject = false, int max_passes = 2,
                 size_t victims = SIZE_MAX) const {
    bool progress = true;
    for (int pass = 0; pass < max_passes && progress; ++pass) {
      progress = false;
      std::vector<int> order(bins.size());
      std::iota(order.begin(), order.end(), 0);
      std::vector<double> room(bins.size());
      for (size_t b = 0; b < bins.size(); ++b) room[b] = Room(bins[b], -1);
      std::stable_sort(order.begin(), order.end(),
                       [&](int a, int b) { return room[a] > room[b]; });
      if (order.size() > victims) order.resize(victims);
      std::vector<bool> gone(bins.size(), false);
      for (int victim : order) {
        std::vector<Op> log;
        bool ok = true;
        for (int i : bins[victim].items) {
          if (!Relocate(bins, gone, victim, i, eject, log)) {
            ok = false;
            break;
          }
        }
        if (ok) {
          gone[victim] = true;
          progress = true;
        } else {
          Undo(bins, log);
        }
      }
      std::vector<Bin> kept;
      for (size_t b = 0; b < bins.size(); ++b) {
        if (!gone[b]) kept.push_back(std::move(bins[b]));
      }
      bins = std::move(kept);
    }
  }

  struct Op {
    int item;
    int bin;
    bool added;
  };

  void Remove(Bin& b, int i) const {
    b.items.erase(std::find(b.items.begin(), b.items.end(), i));
    b.load -= items_[i].demand;
  }

  void Undo(std::vector<Bin>& bins, std::vector<Op>& log) const {
    for (auto it = log.rbegin(); it != log.rend(); ++it) {
      if (it->added) {
        Remove(bins[it->bin], it->item);
      } else {
        Add(bins[it->bin], it->item);
      }
    }
    log.clear();
  }

  // The fitting bin with the least room left, skipping two bins, or -1.
  int Tightest(const std::vector<Bin>& bins, const std::vector<bool>& gone,
               int i, int skip1, int skip2) const {
    int target = -1;
    double target_room = 0;
    for (size_t b = 0; b < bins.size(); ++b) {
      int bi = static_cast<int>(b);
      if (bi == skip1 || bi == skip2 || gone[b] || !Fits(bins[b], i)) continue;
      double r = Room(bins[b], i);
      if (target < 0 || r < target_room) {
        target = bi;
        target_room = r;
      }
    }
    return target;
  }

  bool Relocate(std::vector<Bin>& bins, const std::vector<bool>& gone,
                int victim, int i, bool eject, std::vector<Op>& log) const {
    int t = Tightest(bins, gone, i, victim, -1);
    if (t >= 0) {
      Add(bins[t], i);
      log.push_back({i, t, true});
      return true;
    }
    if (!eject) return false;
    // Bounded: each attempt scans every bin once more.
    constexpr int kAttempts = 64;
    int attempts = 0;
    const std::array<double, kDims> unit = Weights(false);
    for (size_t b = 0; b < bins.size() && attempts < kAttempts; ++b) {
      int bi = static_cast<int>(b);
      if (bi == victim || gone[b]) continue;
      for (int j : bins[b].items) {
        if (Sum(j, unit) >= Sum(i, unit)) continue;  // eject smaller only
        if (!(bins[b].load - items_[j].demand + items_[i].demand).fits(cap_)) {
          continue;
        }
        Bin without = bins[b];
        Remove(without, j);
        if (!Fits(without, i)) continue;
        if (++attempts > kAttempts) break;
        int c = Tightest(bins, gone, j, victim, bi);
        if (c < 0) continue;
        Remove(bins[b], j);
        log.push_back({j, bi, false});
        Add(bins[b], i);
        log.push_back({i, bi, true});
        Add(bins[c], j);
        log.push_back({j, c, true});
        return true;
      }
    }
    return false;
  }

 private:
  const std::vector<PackItem>& items_;
  Resources cap_;
  std::vector<std::array<double, kDims>> norm_;
  std::array<double, kDims> scarcity_{};
};

Bins ToBins(std::vector<Bin> bins) {
  Bins out;
  out.reserve(bins.size());
  for (Bin& b : bins) out.push_back(std::move(b.items));
  return out;
}

}  // namespace

Bins FirstFitDecreasing(const std::vector<PackItem>& items,
                        const Resources& capacity) {
  Packing p(items, capacity);
  return ToBins(p.ItemCentric(p.Order(Packing::Key::kSum), false));
}

Bins BestFitDecreasing(const std::vector<PackItem>& items,
                       const Resources& capacity) {
  Packing p(items, capacity);
  return ToBins(p.ItemCentric(p.Order(Packing::Key::kSum), true));
}

Bins PackBins(const std::vector<PackItem>& items, const Resources& capacity) {
  if (items.empty()) return {};
  Packing p(items, capacity);
  using Key = Packing::Key;
  // FFD first: on equal bin counts the earliest try wins, so the result is
  // never worse than FFD.
  std::vector<std::vector<Bin>> tries;
  tries.push_back(p.ItemCentric(p.Order(Key::kSum), false));
  tries.push_back(p.ItemCentric(p.Order(Key::kMax), false));
  tries.push_back(p.ItemCentric(p.Order(Key::kWeightedSum), false));
  tries.push_back(p.ItemCentric(p.Order(Key::kSum), true));
  tries.push_back(p.ItemCentric(p.Order(Key::kWeightedSum), true));
  // The quadratic tries are skipped for very large batches (seconds each).
  if (items.size() <= kQuadraticLimit) {
    tries.push_back(p.BinCentric(true, false));
    tries.push_back(p.BinCentric(true, true));
    tries.push_back(p.BinCentric(false, false));
    tries.push_back(p.BinCentric(false, true));
  }
  size_t best = 0;
  for (size_t t = 0; t < tries.size(); ++t) {
    p.Eliminate(tries[t]);
    if (tries[t].size() < tries[best].size()) best = t;
  }
  std::vector<Bin> bins = std::move(tries[best]);
  // A deeper, bounded search on the winner only.
  p.Eliminate(bins, /*eject=*/true, /*max_passes=*/8, /*victims=*/16);
  return ToBins(std::move(bins));
}

int BinsLowerBound(const std::vector<PackItem>& items,
                   const Resources& capacity) {
  Resources total;
  for (const PackItem& it : items) total += it.demand;
  int64_t bound = items.empty() ? 0 : 1;
  for (int d = 0; d < kDims; ++d) {
    if (capacity.v[d] <= 0) continue;
    bound = std::max(bound, (total.v[d] + capacity.v[d] - 1) / capacity.v[d]);
  }
  return static_cast<int>(bound);
}

}  // namespace nest::placement
