#include "placement/packer.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <map>
#include <numeric>
#include <tuple>

namespace nest::placement {
namespace {

constexpr size_t kQuadraticLimit = 10000;

struct Bin {
  Resources load;
  std::vector<int> items;
  // Kept with `items` so Fits needs no scan of them.
  int alone = 0;               // items with PackItem::alone
  std::vector<int> conflicts;  // PackItem::conflict keys >= 0, repeated
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
    // Items with the same demand, `alone` and `conflict` fit and score
    // alike: a class. A burst of replicas has few of them, which the
    // heuristics below use to skip work whose outcome is already known.
    std::map<std::tuple<std::array<int64_t, kDims>, bool, int>, int> index;
    class_of_.resize(items.size());
    for (size_t i = 0; i < items.size(); ++i) {
      auto key =
          std::make_tuple(items[i].demand.v, items[i].alone, items[i].conflict);
      class_of_[i] = index.try_emplace(key, classes_).first->second;
      if (class_of_[i] == classes_) ++classes_;
    }
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
    if (b.alone > 0 || (it.alone && !b.items.empty())) return false;
    if (!(b.load + it.demand).fits(cap_)) return false;
    return it.conflict < 0 || std::find(b.conflicts.begin(), b.conflicts.end(),
                                        it.conflict) == b.conflicts.end();
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
    const PackItem& it = items_[i];
    b.load += it.demand;
    b.items.push_back(i);
    if (it.alone) ++b.alone;
    if (it.conflict >= 0) b.conflicts.push_back(it.conflict);
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

  // First fit (or best fit: the fitting bin with the least room left, the
  // first of equals) in `order`. Bins only fill up here, so a bin that an
  // item's class did not fit never fits it later: each class keeps the
  // bins still worth a look, in index order, and drops the others.
  std::vector<Bin> ItemCentric(const std::vector<int>& order,
                               bool best_fit) const {
    std::vector<Bin> bins;
    std::vector<std::vector<int>> live(classes_);
    for (int i : order) {
      std::vector<int>& cand = live[class_of_[i]];
      int chosen = -1;
      double chosen_room = 0;
      size_t kept = 0;
      size_t k = 0;
      for (; k < cand.size(); ++k) {
        int b = cand[k];
        if (!Fits(bins[b], i)) continue;
        cand[kept++] = b;
        if (!best_fit) {
          chosen = b;
          ++k;
          break;
        }
        double room = Room(bins[b], i);
        if (chosen < 0 || room < chosen_room) {
          chosen = b;
          chosen_room = room;
        }
      }
      // First fit stopped early: the rest stay candidates.
      for (; k < cand.size(); ++k) cand[kept++] = cand[k];
      cand.resize(kept);
      if (chosen < 0) {
        bins.emplace_back();
        chosen = static_cast<int>(bins.size()) - 1;
        for (std::vector<int>& c : live) c.push_back(chosen);
      }
      Add(bins[chosen], i);
    }
    return bins;
  }

  // Fills one bin at a time with the item that best matches the room left:
  // the largest dot product with it (dot=true) or the smallest L2 distance
  // from it. Seeds each bin with the largest remaining item; among equal
  // scores the earliest in that order wins.
  //
  // The search looks at the first remaining item of each class only, which
  // makes this about bins x classes instead of quadratic in the items, with
  // the same result.
  std::vector<Bin> BinCentric(bool dot, bool weighted) const {
    const std::array<double, kDims> w = Weights(weighted);
    const std::vector<int> order =
        Order(weighted ? Key::kWeightedSum : Key::kSum);
    // Each class: its items in `order`, and how many have been used.
    struct Class {
      std::vector<int> items;
      size_t used = 0;
    };
    std::vector<Class> classes(classes_);
    const std::vector<int>& class_of = class_of_;
    std::vector<int> rank(items_.size());
    for (size_t k = 0; k < order.size(); ++k) {
      classes[class_of[order[k]]].items.push_back(order[k]);
      rank[order[k]] = static_cast<int>(k);
    }
    auto take = [&](Bin& bin, Class& c) { Add(bin, c.items[c.used++]); };
    std::vector<Bin> bins;
    size_t next = 0;  // into `order`: the largest item possibly left
    while (true) {
      while (next < order.size()) {
        const Class& c = classes[class_of[order[next]]];
        if (c.used < c.items.size() && c.items[c.used] == order[next]) break;
        ++next;
      }
      if (next == order.size()) break;
      Bin bin;
      take(bin, classes[class_of[order[next]]]);
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
        for (size_t k = 0; k < classes.size(); ++k) {
          const Class& c = classes[k];
          if (c.used == c.items.size()) continue;
          int i = c.items[c.used];
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
          if (pick < 0 || score > pick_score ||
              (score == pick_score &&
               rank[i] < rank[classes[pick].items[classes[pick].used]])) {
            pick = static_cast<int>(k);
            pick_score = score;
          }
        }
        if (pick < 0) break;
        take(bin, classes[pick]);
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
      // Without ejection, bins that stay only fill up during a pass, so a
      // bin that an item's class does not fit now never fits it later in
      // the pass. Each class keeps the bins it fitted when last looked at
      // (refreshed after each emptied bin), and a victim holding an item
      // whose class fits none of them is skipped without trying: the
      // outcome is the same, and most victims of a tight packing go so.
      enum : char { kNever, kFresh, kStale };
      std::vector<char> state(classes_, kNever);
      std::vector<std::vector<int>> fitting(classes_);
      auto fits_nowhere = [&](int i) {
        int c = class_of_[i];
        if (state[c] != kFresh) {
          std::vector<int> now;
          auto keep = [&](int b) {
            if (!gone[b] && Fits(bins[b], i)) now.push_back(b);
          };
          if (state[c] == kNever) {
            for (size_t b = 0; b < bins.size(); ++b) keep(static_cast<int>(b));
          } else {
            for (int b : fitting[c]) keep(b);
          }
          state[c] = kFresh;
          fitting[c] = std::move(now);
        }
        return fitting[c].empty();
      };
      for (int victim : order) {
        if (!eject && std::any_of(bins[victim].items.begin(),
                                  bins[victim].items.end(), fits_nowhere)) {
          continue;
        }
        std::vector<Op> log;
        bool ok = true;
        for (int i : bins[victim].items) {
          if (!Relocate(bins, gone, victim, i, eject, log,
                        eject ? nullptr : &fitting[class_of_[i]])) {
            ok = false;
            break;
          }
        }
        if (ok) {
          gone[victim] = true;
          progress = true;
          for (char& st : state) st = st == kNever ? kNever : kStale;
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
    const PackItem& it = items_[i];
    b.items.erase(std::find(b.items.begin(), b.items.end(), i));
    b.load -= it.demand;
    if (it.alone) --b.alone;
    if (it.conflict >= 0) {
      b.conflicts.erase(
          std::find(b.conflicts.begin(), b.conflicts.end(), it.conflict));
    }
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
  // Looks only at `among` (bin indices, ascending) when given.
  int Tightest(const std::vector<Bin>& bins, const std::vector<bool>& gone,
               int i, int skip1, int skip2,
               const std::vector<int>* among = nullptr) const {
    int target = -1;
    double target_room = 0;
    auto consider = [&](int bi) {
      if (bi == skip1 || bi == skip2 || gone[bi] || !Fits(bins[bi], i)) return;
      double r = Room(bins[bi], i);
      if (target < 0 || r < target_room) {
        target = bi;
        target_room = r;
      }
    };
    if (among != nullptr) {
      for (int bi : *among) consider(bi);
    } else {
      for (size_t b = 0; b < bins.size(); ++b) consider(static_cast<int>(b));
    }
    return target;
  }

  bool Relocate(std::vector<Bin>& bins, const std::vector<bool>& gone,
                int victim, int i, bool eject, std::vector<Op>& log,
                const std::vector<int>* among = nullptr) const {
    int t = Tightest(bins, gone, i, victim, -1, among);
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
  std::vector<int> class_of_;
  int classes_ = 0;
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
