#include "placement/bucket_index.h"

#include <algorithm>

namespace nest::placement {

BucketIndex::BucketIndex(int64_t max_key, int buckets)
    : max_key_(std::max<int64_t>(max_key, 1)), buckets_(std::max(buckets, 1)) {}

int BucketIndex::BucketOf(int64_t key) const {
  if (buckets_.empty() || key <= 0) return 0;
  int n = static_cast<int>(buckets_.size());
  if (key >= max_key_) return n - 1;
  // 128-bit product: max_key times buckets can exceed int64 for large keys.
  return static_cast<int>(static_cast<__int128>(key) * n / (max_key_ + 1));
}

void BucketIndex::Insert(int item, int64_t key) {
  if (buckets_.empty()) buckets_.resize(1);
  if (item >= static_cast<int>(where_.size())) where_.resize(item + 1);
  if (where_[item].bucket >= 0) Erase(item);
  int b = BucketOf(key);
  where_[item] = {b, static_cast<int>(buckets_[b].size())};
  buckets_[b].push_back(item);
  ++size_;
}

void BucketIndex::Update(int item, int64_t key) {
  if (!Contains(item)) return Insert(item, key);
  if (BucketOf(key) == where_[item].bucket) return;
  Erase(item);
  Insert(item, key);
}

void BucketIndex::Erase(int item) {
  if (!Contains(item)) return;
  Where w = where_[item];
  std::vector<int>& bucket = buckets_[w.bucket];
  int last = bucket.back();
  bucket[w.slot] = last;
  where_[last].slot = w.slot;
  bucket.pop_back();
  where_[item] = Where{};
  --size_;
}

}  // namespace nest::placement
