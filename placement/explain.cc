#include "placement/explain.h"

#include <algorithm>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "placement/checkers.h"
#include "placement/stack.h"

namespace nest::placement {
namespace {

std::vector<ReasonCount> Sorted(const std::map<std::string, int>& counts) {
  std::vector<ReasonCount> out;
  for (const auto& [reason, n] : counts) out.push_back({reason, n});
  std::stable_sort(out.begin(), out.end(),
                   [](const ReasonCount& a, const ReasonCount& b) {
                     return a.count > b.count;
                   });
  return out;
}

Resources Positive(Resources r) {
  for (int64_t& x : r.v) x = std::max<int64_t>(x, 0);
  return r;
}

double Normalised(const Resources& r, const Resources& scale) {
  double sum = 0;
  for (int d = 0; d < kDims; ++d) {
    if (scale.v[d] > 0) sum += static_cast<double>(r.v[d]) / scale.v[d];
  }
  return sum;
}

}  // namespace

std::string Explanation::ToString() const {
  std::vector<std::string> parts;
  for (const ReasonCount& r : hosts) {
    parts.push_back(absl::StrCat(r.reason, ": ", r.count,
                                 r.count == 1 ? " host" : " hosts"));
  }
  for (const ReasonCount& r : vms) {
    parts.push_back(
        absl::StrCat(r.reason, ": ", r.count, r.count == 1 ? " VM" : " VMs"));
  }
  std::string out = absl::StrJoin(parts, ", ");
  if (smallest_change) {
    absl::StrAppend(&out, out.empty() ? "" : "; ",
                    "smallest change: ", smallest_change->text);
  }
  return out;
}

Explanation Explain(const Snapshot& s, const Container& c) {
  Explanation e;
  e.container = c.id;
  std::optional<int> g = s.FindGroup(c.group);
  if (!g) {
    e.vms.push_back({absl::StrCat("unknown group ", c.group.str()), 1});
    return e;
  }
  const Stack& stack = Stack::Default();
  const Group& group = s.group(*g).spec;
  Ask ask = MakeAsk(s, *g, {&c}, 0);

  std::map<std::string, int> vm_counts;
  for (int vm : s.group(*g).vms) {
    if (const char* why = stack.CheckVm(s, ask, vm)) ++vm_counts[why];
  }
  e.vms = Sorted(vm_counts);

  const char* blocked = stack.CheckAsk(s, ask);
  std::map<std::string, int> host_counts;
  int open = 0, not_ready = 0, unlabelled = 0, short_hosts = 0;
  int closest = -1;
  double closest_gap = 0;
  for (int h = 0; h < s.host_count(); ++h) {
    std::vector<const char*> fails;
    for (const HostChecker* checker : stack.host_checkers()) {
      if (const char* why = checker->Check(s, ask, h)) fails.push_back(why);
    }
    if (fails.empty()) {
      ++open;
      if (blocked) ++host_counts[blocked];
      continue;
    }
    ++host_counts[fails[0]];
    if (fails.size() != 1) continue;
    if (fails[0] == kReasonHostNotReady) ++not_ready;
    if (fails[0] == kReasonLabels) ++unlabelled;
    bool capacity = false;
    for (int d = 0; d < kDims; ++d) {
      capacity |= fails[0] == CapacityReason(static_cast<Dim>(d));
    }
    if (capacity) {
      ++short_hosts;
      Resources gap = Positive(ask.host_demand - s.host(h).free());
      double size = Normalised(gap, s.host(h).allocatable);
      if (closest < 0 || size < closest_gap) {
        closest = h;
        closest_gap = size;
      }
    }
  }
  e.hosts = Sorted(host_counts);

  Suggestion sug;
  if (!c.requests.fits(group.shape)) {
    sug.kind = Suggestion::Kind::kGrowShape;
    sug.missing = Positive(c.requests - group.shape);
    sug.text = absl::StrCat("grow the VM shape of group ", group.id.str(),
                            " by ", sug.missing.ToString());
  } else if (open > 0 && blocked == kReasonGroupMax) {
    sug.kind = Suggestion::Kind::kRaiseGroupMax;
    sug.hosts = open;
    sug.text =
        absl::StrCat("one more VM of group ", group.id.str(), " (max_vms ",
                     group.max_vms, " -> ", group.max_vms + 1, ") on any of ",
                     open, open == 1 ? " host" : " hosts");
  } else if (open > 0 && blocked == kReasonTenantQuota) {
    sug.kind = Suggestion::Kind::kRaiseTenantQuota;
    sug.hosts = open;
    const TenantRec* t = s.tenant(group.tenant);
    sug.text = absl::StrCat(
        "raise the quota of tenant ", group.tenant.str(), " (",
        t == nullptr ? std::string("unknown") : t->Exceeded(ask.host_demand),
        ") for one more VM of group ", group.id.str());
  } else if (open > 0) {
    // A new VM fits: nothing structural blocks it (e.g. it lost a race
    // within one plan); the next pass places it.
    return e;
  } else if (not_ready > 0) {
    sug.kind = Suggestion::Kind::kReadyHost;
    sug.hosts = not_ready;
    sug.text = absl::StrCat("make one of ", not_ready,
                            " cordoned, draining or down hosts ready");
  } else if (closest >= 0) {
    sug.kind = Suggestion::Kind::kFreeHostCapacity;
    sug.hosts = short_hosts;
    sug.host = s.host(closest).spec.id;
    sug.missing = Positive(ask.host_demand - s.host(closest).free());
    sug.text = absl::StrCat("free ", sug.missing.ToString(), " on host ",
                            sug.host.str(), " for one more VM of group ",
                            group.id.str());
  } else if (unlabelled > 0) {
    sug.kind = Suggestion::Kind::kRelaxConstraints;
    sug.hosts = unlabelled;
    sug.text = absl::StrCat("relax the label constraints: ", unlabelled,
                            unlabelled == 1 ? " host" : " hosts",
                            " would fit otherwise");
  } else {
    sug.kind = Suggestion::Kind::kAddHost;
    sug.missing = ask.host_demand;
    sug.text = absl::StrCat("add a host with ", ask.host_demand.ToString(),
                            " free that meets the constraints");
  }
  e.smallest_change = std::move(sug);
  return e;
}

}  // namespace nest::placement
