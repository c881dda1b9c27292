#include "placement/stack.h"

#include <algorithm>

namespace nest::placement {
namespace {

constexpr double kStrandingWeight = 0.5;

// Keeps the best (score, tie key) seen; equal scores go to the lower
// seeded tie key, so ties are broken by a shuffle keyed by the request.
class Best {
 public:
  void Offer(int candidate, double score, const Ask& ask,
             const std::string& id) {
    // Scores are sums of a few doubles; closer than this is a tie.
    constexpr double kEps = 1e-12;
    if (best_ >= 0 && score < score_ - kEps) return;
    if (best_ >= 0 && score <= score_ + kEps) {
      uint64_t key = TieKey(ask, id);
      if (key >= key_) return;
      key_ = key;
    } else {
      key_ = TieKey(ask, id);
    }
    best_ = candidate;
    score_ = score;
  }
  std::optional<int> result() const {
    if (best_ < 0) return std::nullopt;
    return best_;
  }

 private:
  int best_ = -1;
  double score_ = 0;
  uint64_t key_ = 0;
};

}  // namespace

Stack::Stack() {
  // Cheap, decisive checks first: the chain stops at the first failure.
  static const VmRetiredChecker retired;
  static const VmHostStateChecker vm_state;
  static const VmTenantChecker tenant;
  static const VmDedicatedChecker dedicated;
  static const VmAntiAffinityChecker vm_anti;
  static const VmLabelChecker vm_labels;
  static const VmCapacityChecker vm_capacity;
  vm_ = {&retired, &vm_state,  &tenant,     &dedicated,
         &vm_anti, &vm_labels, &vm_capacity};
  vm_preempt_ = {&retired, &vm_state, &tenant, &vm_anti, &vm_labels};
  static const GroupTenantChecker group_tenant;
  static const GroupMaxChecker group_max;
  static const TenantQuotaChecker tenant_quota;
  ask_ = {&group_tenant, &group_max, &tenant_quota};
  static const HostStateChecker state;
  static const HostLabelChecker labels;
  static const HostCapacityChecker capacity;
  static const HostAntiAffinityChecker host_anti;
  static const HostSpreadChecker spread;
  host_ = {&state, &labels, &capacity, &host_anti, &spread};
}

const Stack& Stack::Default() {
  static const Stack* stack = new Stack();
  return *stack;
}

const char* Stack::CheckVm(const Snapshot& s, const Ask& ask, int vm) const {
  for (const VmChecker* c : vm_) {
    if (const char* why = c->Check(s, ask, vm)) return why;
  }
  return nullptr;
}

const char* Stack::CheckVmForPreemption(const Snapshot& s, const Ask& ask,
                                        int vm) const {
  for (const VmChecker* c : vm_preempt_) {
    if (const char* why = c->Check(s, ask, vm)) return why;
  }
  return nullptr;
}

const char* Stack::CheckAsk(const Snapshot& s, const Ask& ask) const {
  for (const AskChecker* c : ask_) {
    if (const char* why = c->Check(s, ask)) return why;
  }
  return nullptr;
}

const char* Stack::CheckHost(const Snapshot& s, const Ask& ask,
                             int host) const {
  for (const HostChecker* c : host_) {
    if (const char* why = c->Check(s, ask, host)) return why;
  }
  return nullptr;
}

double Stack::ScoreVm(const Snapshot& s, const Ask& ask, int vm) const {
  static const BinpackScorer binpack;
  static const SpreadScorer spread;
  const VmRec& r = s.vm(vm);
  FitView f{r.spec.shape, r.used, ask.requests};
  return s.group(ask.group).spec.policy == GroupPolicy::kSpread
             ? spread.Score(s, f)
             : binpack.Score(s, f);
}

double Stack::ScoreHost(const Snapshot& s, const Ask& ask, int host) const {
  static const BinpackScorer binpack;
  static const SpreadScorer spread;
  static const StrandingScorer stranding;
  const HostRec& h = s.host(host);
  FitView f{h.allocatable, h.used, ask.host_demand};
  double policy = s.group(ask.group).spec.policy == GroupPolicy::kSpread
                      ? spread.Score(s, f)
                      : binpack.Score(s, f);
  return (policy + kStrandingWeight * stranding.Score(s, f)) /
         (1 + kStrandingWeight);
}

std::optional<int> Stack::SelectVm(const Snapshot& s, const Ask& ask,
                                   const Options& opt) const {
  Best best;
  int feasible = 0;
  auto visit = [&](int vm) {
    if (CheckVm(s, ask, vm) != nullptr) return true;
    best.Offer(vm, ScoreVm(s, ask, vm), ask, s.vm(vm).spec.id.str());
    return !opt.use_index || ++feasible < opt.candidate_limit;
  };
  const GroupRec& g = s.group(ask.group);
  if (!opt.use_index) {
    for (int vm : g.vms) visit(vm);
    return best.result();
  }
  auto visit_pos = [&](int pos) { return visit(g.vms[pos]); };
  int64_t min_free = ask.requests.memory_mib();
  for (const Container* c : ask.items) {
    // Only an empty VM takes a dedicated container: its free memory is the
    // whole shape, so only the top buckets can hold one.
    if (c->isolation == Isolation::kDedicated) {
      min_free = std::max(min_free, g.spec.shape.memory_mib());
    }
  }
  if (g.spec.policy == GroupPolicy::kSpread) {
    g.by_free_memory.Descending(min_free, visit_pos);
  } else {
    g.by_free_memory.Ascending(min_free, visit_pos);
  }
  return best.result();
}

std::optional<int> Stack::SelectHost(const Snapshot& s, const Ask& ask,
                                     const Options& opt) const {
  if (CheckAsk(s, ask) != nullptr) return std::nullopt;
  Best best;
  int feasible = 0;
  auto visit = [&](int host) {
    if (CheckHost(s, ask, host) != nullptr) return true;
    best.Offer(host, ScoreHost(s, ask, host), ask, s.host(host).spec.id.str());
    return !opt.use_index || ++feasible < opt.candidate_limit;
  };
  if (!opt.use_index) {
    for (int h = 0; h < s.host_count(); ++h) visit(h);
  } else if (s.group(ask.group).spec.policy == GroupPolicy::kSpread) {
    s.ready_hosts().Descending(ask.host_demand.memory_mib(), visit);
  } else {
    s.ready_hosts().Ascending(ask.host_demand.memory_mib(), visit);
  }
  return best.result();
}

}  // namespace nest::placement
