#include "placement/bucket_index.h"

#include <set>
#include <vector>

#include "core/rng.h"
#include "doctest/doctest.h"

namespace nest::placement {
namespace {

std::vector<int> Walk(const BucketIndex& idx, int64_t min_key, bool up) {
  std::vector<int> out;
  auto take = [&](int item) {
    out.push_back(item);
    return true;
  };
  if (up) {
    idx.Ascending(min_key, take);
  } else {
    idx.Descending(min_key, take);
  }
  return out;
}

TEST_CASE("bucket index visits qualifying buckets in order") {
  BucketIndex idx(100, 10);
  idx.Insert(0, 5);
  idx.Insert(1, 55);
  idx.Insert(2, 95);
  idx.Insert(3, 1000);  // clamped into the last bucket
  CHECK(idx.size() == 4);
  CHECK(Walk(idx, 50, true) == std::vector<int>{1, 2, 3});
  CHECK(Walk(idx, 50, false) == std::vector<int>{2, 3, 1});
  CHECK(Walk(idx, 0, true).size() == 4);
  idx.Update(2, 10);
  CHECK(Walk(idx, 50, true) == std::vector<int>{1, 3});
  idx.Erase(1);
  CHECK_FALSE(idx.Contains(1));
  CHECK(Walk(idx, 0, true) == std::vector<int>{0, 2, 3});
  // Stops when the visitor says so.
  int seen = 0;
  idx.Ascending(0, [&](int) { return ++seen < 2; });
  CHECK(seen == 2);
}

TEST_CASE("bucket index never loses or duplicates items under churn") {
  SeededRng rng(5);
  BucketIndex idx(1000, 16);
  std::vector<int64_t> key(200, -1);
  for (int step = 0; step < 5000; ++step) {
    int item = static_cast<int>(rng.Uniform(200));
    if (rng.Uniform(4) == 0) {
      idx.Erase(item);
      key[item] = -1;
    } else {
      key[item] = static_cast<int64_t>(rng.Uniform(1200));
      idx.Update(item, key[item]);
    }
  }
  std::vector<int> all = Walk(idx, 0, true);
  std::set<int> unique(all.begin(), all.end());
  CHECK(unique.size() == all.size());
  int live = 0;
  for (int i = 0; i < 200; ++i) {
    live += key[i] >= 0;
    CHECK(idx.Contains(i) == (key[i] >= 0));
  }
  CHECK(idx.size() == live);
  // Everything with key >= 500 is visited from min_key 500.
  std::vector<int> high = Walk(idx, 500, true);
  std::set<int> high_set(high.begin(), high.end());
  for (int i = 0; i < 200; ++i) {
    if (key[i] >= 500) CHECK(high_set.count(i) == 1);
  }
}

}  // namespace
}  // namespace nest::placement
