#include "placement/preempt.h"

#include <algorithm>

#include "placement/stack.h"

namespace nest::placement {
namespace {

constexpr int kExactLimit = 12;

struct Choice {
  std::vector<int> evict;  // indices into the VM's containers
  int priority_sum = 0;
};

bool Better(const Choice& a, const Choice& b) {
  if (a.evict.size() != b.evict.size()) return a.evict.size() < b.evict.size();
  return a.priority_sum < b.priority_sum;
}

// Smallest subset of `optional` (indices) whose requests cover `need`.
std::optional<Choice> MinimalCover(const std::vector<Container>& cs,
                                   const std::vector<int>& optional,
                                   const Resources& need) {
  auto covers = [&](const std::vector<int>& pick) {
    Resources freed;
    for (int i : pick) freed += cs[i].requests;
    return need.fits(freed);
  };
  int n = static_cast<int>(optional.size());
  if (n <= kExactLimit) {
    std::optional<Choice> best;
    // Masks by increasing popcount: the first size with a cover wins.
    for (int k = 1; k <= n && !best; ++k) {
      for (uint32_t mask = 0; mask < (1u << n); ++mask) {
        if (__builtin_popcount(mask) != k) continue;
        Choice c;
        for (int b = 0; b < n; ++b) {
          if (mask & (1u << b)) {
            c.evict.push_back(optional[b]);
            c.priority_sum += cs[optional[b]].priority;
          }
        }
        if (covers(c.evict) && (!best || Better(c, *best))) best = c;
      }
    }
    return best;
  }
  // Greedy: lowest priority first, largest first within a priority, then
  // drop whatever turned out unnecessary.
  std::vector<int> order = optional;
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
    if (cs[a].priority != cs[b].priority)
      return cs[a].priority < cs[b].priority;
    return cs[a].requests.memory_mib() > cs[b].requests.memory_mib();
  });
  Choice c;
  for (int i : order) {
    if (covers(c.evict)) break;
    c.evict.push_back(i);
  }
  if (!covers(c.evict)) return std::nullopt;
  for (size_t k = c.evict.size(); k-- > 0;) {
    std::vector<int> without = c.evict;
    without.erase(without.begin() + k);
    if (covers(without)) c.evict = without;
  }
  for (int i : c.evict) c.priority_sum += cs[i].priority;
  return c;
}

}  // namespace

std::optional<Preemption> FindPreemption(const Snapshot& s, const Ask& ask) {
  if (ask.items.size() != 1) return std::nullopt;
  const Container& req = *ask.items[0];
  const Stack& stack = Stack::Default();
  std::optional<Choice> best;
  int best_vm = -1;
  uint64_t best_key = 0;
  for (int vm : s.group(ask.group).vms) {
    if (stack.CheckVmForPreemption(s, ask, vm) != nullptr) continue;
    const VmRec& r = s.vm(vm);
    const std::vector<Container>& cs = r.spec.containers;
    if (!req.requests.fits(r.spec.shape)) continue;
    Choice mandatory;
    std::vector<int> optional;
    bool possible = true;
    for (int i = 0; i < static_cast<int>(cs.size()); ++i) {
      bool evictable = cs[i].priority < req.priority &&
                       (cs[i].tenant == req.tenant || cs[i].best_effort);
      bool must = req.isolation == Isolation::kDedicated ||
                  cs[i].isolation == Isolation::kDedicated;
      if (must && !evictable) possible = false;
      if (must) {
        mandatory.evict.push_back(i);
        mandatory.priority_sum += cs[i].priority;
      } else if (evictable) {
        optional.push_back(i);
      }
    }
    if (!possible) continue;
    Resources free = r.free();
    for (int i : mandatory.evict) free += cs[i].requests;
    Resources need = req.requests - free;
    for (int64_t& x : need.v) x = std::max<int64_t>(x, 0);
    Choice choice = mandatory;
    if (!need.is_zero()) {
      std::optional<Choice> extra = MinimalCover(cs, optional, need);
      if (!extra) continue;
      choice.evict.insert(choice.evict.end(), extra->evict.begin(),
                          extra->evict.end());
      choice.priority_sum += extra->priority_sum;
    }
    if (choice.evict.empty()) continue;  // fits without eviction: not ours
    uint64_t key = TieKey(ask, r.spec.id.str());
    if (!best || Better(choice, *best) ||
        (!Better(*best, choice) && key < best_key)) {
      best = choice;
      best_vm = vm;
      best_key = key;
    }
  }
  if (!best) return std::nullopt;
  Preemption p;
  p.vm = best_vm;
  for (int i : best->evict)
    p.evict.push_back(s.vm(best_vm).spec.containers[i].id);
  return p;
}

}  // namespace nest::placement
