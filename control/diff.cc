#include "control/diff.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "control/workload_health.h"

namespace nest::control {
namespace {

using store::ContainerDesiredState;
using store::ContainerObservedState;
using store::RestartPolicy;
using store::VmDesiredState;
using store::VmObservedState;

bool ShouldRestart(const store::Workload& w, const store::Container& c,
                   absl::Time now) {
  if (c.observed != ContainerObservedState::kExited &&
      c.observed != ContainerObservedState::kFailed) {
    return false;
  }
  int64_t code = c.exit_code.value_or(-1);
  switch (w.restart_policy) {
    case RestartPolicy::kNever:
      return false;
    case RestartPolicy::kOnFailure:
      if (code == 0) return false;
      break;
    case RestartPolicy::kAlways:
      break;
  }
  return now >= c.finished_at + RestartBackoff(c.restarts);
}

bool Running(const store::Container* c) {
  return c->observed == ContainerObservedState::kRunning;
}

store::Container NewReplica(const store::Workload& w,
                            std::set<std::string>& taken, Rng& rng) {
  store::Container c;
  c.id = NewContainerId(w.name, taken, rng);
  taken.insert(c.id.str());
  c.tenant = w.tenant;
  c.workload = w.name;
  c.spec_generation = w.meta.generation;
  return c;
}

// One step of a rolling update: `old` replicas run an earlier generation
// of `w`, `current` ones its generation. New replicas are added up to
// replicas + max_surge in all; an old replica that is not running holds
// nothing up and goes at once; a running one goes only while the running
// replicas of both generations stay at least replicas - max_unavailable.
// New replicas that never come up therefore stall the rollout instead of
// taking the old ones down with them. Level-triggered: each pass takes the
// step the rows allow.
void RollOut(const store::Workload& w,
             std::vector<const store::Container*> current,
             std::vector<const store::Container*> old,
             std::set<std::string>& taken, Rng& rng, ContainerDiff& diff) {
  const int64_t surge = std::max<int64_t>(w.max_surge, 0);
  const int64_t unavailable = std::max<int64_t>(w.max_unavailable, 0);
  std::vector<const store::Container*> old_up;
  for (const auto* c : old) {
    if (Running(c)) {
      old_up.push_back(c);
    } else {
      diff.retire.push_back(c->id);
    }
  }
  // Replicas scaled down mid-rollout: the surplus new ones go first.
  while (static_cast<int64_t>(current.size()) > w.replicas) {
    diff.retire.push_back(current.back()->id);
    current.pop_back();
  }
  const int64_t total = static_cast<int64_t>(current.size() + old_up.size());
  const int64_t add =
      std::min(w.replicas - static_cast<int64_t>(current.size()),
               w.replicas + surge - total);
  for (int64_t i = 0; i < add; ++i)
    diff.create.push_back(NewReplica(w, taken, rng));
  // Available: running and, with a health check, healthy. New replicas
  // that never pass their check stall the rollout, not the service.
  int64_t available = 0;
  for (const auto* c : old_up) available += Available(*c) ? 1 : 0;
  for (const auto* c : current) available += Available(*c) ? 1 : 0;
  // Those serving nothing first, then the oldest: they have run the old
  // spec longest.
  std::sort(old_up.begin(), old_up.end(), [](const auto* a, const auto* b) {
    if (Available(*a) != Available(*b)) return !Available(*a);
    if (a->meta.created_at != b->meta.created_at) {
      return a->meta.created_at < b->meta.created_at;
    }
    return a->id < b->id;
  });
  for (const auto* c : old_up) {
    if (Available(*c)) {
      if (available - 1 < w.replicas - unavailable) break;
      --available;
    }
    diff.retire.push_back(c->id);
  }
}

}  // namespace

absl::Duration RestartBackoff(int64_t restarts) {
  if (restarts >= 6) return absl::Seconds(60);
  return absl::Seconds(int64_t{1} << restarts);
}

std::string NewSuffixedId(absl::string_view base_in,
                          const std::set<std::string>& taken, Rng& rng) {
  static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  // 57 + "-" + 5 keeps the id a DNS-1123 label.
  std::string base(base_in.substr(0, 57));
  while (!base.empty() && base.back() == '-') base.pop_back();
  for (;;) {
    std::string id = absl::StrCat(base, "-");
    for (int i = 0; i < 5; ++i) id.push_back(kAlphabet[rng.Uniform(36)]);
    if (!taken.count(id)) return id;
  }
}

ContainerId NewContainerId(const WorkloadId& workload,
                           const std::set<std::string>& taken, Rng& rng) {
  return ContainerId(NewSuffixedId(workload.str(), taken, rng));
}

ContainerDiff DiffContainers(const store::Snapshot& s, absl::Time now,
                             Rng& rng) {
  ContainerDiff diff;
  std::set<std::string> taken;
  std::map<std::pair<std::string, std::string>,
           std::vector<const store::Container*>>
      by_workload;
  for (const auto& c : s.containers) {
    taken.insert(c.id.str());
    by_workload[{c.tenant.str(), c.workload.str()}].push_back(&c);
  }
  // Replicas on a VM being drained are replaced like those of an old
  // generation: the new one runs before the old one stops. Finished ones
  // stay as the record of their run.
  std::set<VmId> draining;
  for (const auto& vm : s.vms) {
    if (vm.cordoned) draining.insert(vm.id);
  }
  auto outdated = [&](const store::Workload& w, const store::Container* c) {
    if (c->spec_generation < w.meta.generation) return true;
    return draining.count(c->vm) > 0 &&
           c->observed != ContainerObservedState::kExited;
  };
  for (const auto& w : s.workloads) {
    auto& rows = by_workload[{w.tenant.str(), w.name.str()}];
    std::vector<const store::Container*> live;
    for (const auto* c : rows) {
      if (c->desired == ContainerDesiredState::kRunning) live.push_back(c);
    }
    std::vector<const store::Container*> current, old;
    for (const auto* c : live) {
      (outdated(w, c) ? old : current).push_back(c);
    }
    if (!old.empty()) {
      RollOut(w, current, old, taken, rng, diff);
      for (const auto* c : current) {
        if (ShouldRestart(w, *c, now)) diff.restart.push_back(c->id);
      }
      continue;
    }
    int64_t have = static_cast<int64_t>(live.size());
    for (int64_t i = have; i < w.replicas; ++i) {
      diff.create.push_back(NewReplica(w, taken, rng));
    }
    if (have > w.replicas) {
      // Retire unplaced replicas first, then the newest: the oldest have
      // proven themselves.
      std::sort(live.begin(), live.end(), [](const auto* a, const auto* b) {
        if (a->vm.empty() != b->vm.empty()) return a->vm.empty();
        if (a->meta.created_at != b->meta.created_at) {
          return a->meta.created_at > b->meta.created_at;
        }
        return a->id > b->id;
      });
      for (int64_t i = 0; i < have - w.replicas; ++i) {
        diff.retire.push_back(live[i]->id);
      }
      live.erase(live.begin(), live.begin() + (have - w.replicas));
    }
    for (const auto* c : live) {
      if (ShouldRestart(w, *c, now)) diff.restart.push_back(c->id);
    }
  }
  return diff;
}

VmDiff DiffVms(const store::Snapshot& s, const Observed& observed) {
  VmDiff diff;
  std::set<VmId> rows;
  for (const auto& vm : s.vms) {
    rows.insert(vm.id);
    if (observed.busy.count(vm.id) || vm.host.empty()) continue;
    auto host_it = observed.hosts.find(vm.host);
    if (host_it == observed.hosts.end() || !host_it->second.reachable) {
      if (vm.observed != VmObservedState::kUnknown &&
          vm.observed != VmObservedState::kPending) {
        diff.observe.push_back({vm.id, VmObservedState::kUnknown});
      }
      continue;
    }
    const ObservedHost& host = host_it->second;
    auto dom = host.vms.find(vm.id);
    const bool exists = dom != host.vms.end();
    if (vm.desired == VmDesiredState::kDeleted) {
      if (exists) {
        diff.teardown.push_back(vm.id);
      } else {
        diff.forget.push_back(vm.id);
      }
      continue;
    }
    if (vm.desired == VmDesiredState::kStopped) {
      if (exists && dom->second == vmm::VmState::kRunning) {
        diff.teardown.push_back(vm.id);
      } else if (vm.observed != VmObservedState::kStopped) {
        diff.observe.push_back({vm.id, VmObservedState::kStopped});
      }
      continue;
    }
    if (!exists) {
      diff.boot.push_back(vm.id);
    } else if (dom->second == vmm::VmState::kRunning ||
               dom->second == vmm::VmState::kPaused) {
      if (!observed.agents.count(vm.id)) diff.attach.push_back(vm.id);
    } else {
      diff.recreate.push_back(vm.id);
    }
  }
  for (const auto& [host, obs] : observed.hosts) {
    if (!obs.reachable) continue;
    for (const auto& [id, state] : obs.vms) {
      if (!rows.count(id) && !observed.busy.count(id)) {
        diff.orphans.push_back({host, id});
      }
    }
  }
  return diff;
}

}  // namespace nest::control
