// Items (dense ints) bucketed by an integer key, so that "items whose key is
// at least k, smallest first" visits only the buckets that can qualify.
// Placement keys hosts and VMs by free memory: memory is not overcommitted,
// so it is the dimension that rules most candidates out.
#pragma once

#include <cstdint>
#include <vector>

namespace nest::placement {

// Thread-compatible. Insert/Update/Erase are O(1) (swap-remove inside a
// bucket), so committing a decision is cheap. Iteration order inside a
// bucket depends on the history of updates but is deterministic.
class BucketIndex {
 public:
  BucketIndex() = default;
  // Keys in [0, max_key] spread over `buckets` equal buckets; keys outside
  // are clamped to the first or last bucket.
  BucketIndex(int64_t max_key, int buckets);

  void Insert(int item, int64_t key);
  void Update(int item, int64_t key);
  void Erase(int item);
  bool Contains(int item) const {
    return item < static_cast<int>(where_.size()) && where_[item].bucket >= 0;
  }
  int size() const { return size_; }

  // Calls f(item) for items in buckets that may hold keys >= min_key, the
  // lowest bucket first, until f returns false. Items of the first bucket
  // may have keys below min_key: callers re-check.
  template <typename F>
  void Ascending(int64_t min_key, F&& f) const {
    for (int b = BucketOf(min_key); b < static_cast<int>(buckets_.size());
         ++b) {
      for (int item : buckets_[b]) {
        if (!f(item)) return;
      }
    }
  }
  // Same, highest bucket first, down to the bucket of min_key.
  template <typename F>
  void Descending(int64_t min_key, F&& f) const {
    for (int b = static_cast<int>(buckets_.size()) - 1; b >= BucketOf(min_key);
         --b) {
      for (int item : buckets_[b]) {
        if (!f(item)) return;
      }
    }
  }

 private:
  struct Where {
    int bucket = -1;
    int slot = -1;
  };
  int BucketOf(int64_t key) const;

  int64_t max_key_ = 0;
  std::vector<std::vector<int>> buckets_;
  std::vector<Where> where_;
  int size_ = 0;
};

}  // namespace nest::placement
