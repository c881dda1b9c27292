// The autoscaler's side of the controller. Scale-up is placement's own
// decision (new VMs of the group's shape for the containers that fit
// nowhere, sized by simulation); here it is held during a group's scale-up
// cooldown and recorded as an event with its reason. Scale-down drains a
// VM whose containers all fit in the group's other VMs (placement's
// SizeScaleDown, the same checkers): the VM is cordoned, its replicas are
// replaced elsewhere before they stop (DiffContainers treats them like an
// old generation, within max_surge/max_unavailable), and the VM is removed
// once nothing runs on it. Never below the group's minimum (or desired
// size), never while the group has pending work, one drain at a time.
//
// A group with a utilization target (utilization.h) is sized by its VMs'
// load instead of by packing, which would fight it (packing the load into
// fewer VMs raises their utilization): a scale-up raises the group's
// desired size, which placement then fills; a scale-down lowers it and
// drains VMs through the same path, only those whose containers fit in the
// group's other VMs.
#include <algorithm>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "control/controller.h"
#include "control/utilization.h"
#include "placement/sizing.h"
#include "placement/snapshot.h"
#include "spdlog/spdlog.h"

namespace nest::control {
namespace {

// When the group may scale in `direction` again.
absl::Time CooledAt(const store::VmGroup& g, absl::Duration cooldown) {
  absl::Time since = std::max(g.last_scaled_at, g.meta.created_at);
  if (since == absl::InfinitePast()) return since;
  return since + cooldown;
}

std::string Shape(const store::VmGroup& g) {
  return absl::StrCat(g.vcpus, " vCPU/", g.memory_mib, " MiB");
}

bool HasUtilizationTarget(const store::VmGroup& g) {
  return g.target_cpu_percent > 0 || g.target_memory_percent > 0;
}

// A sample this old no longer says how loaded the VMs are (the sampler
// stopped or hangs): no utilization decision on it.
constexpr absl::Duration kMaxUsageAge = absl::Minutes(2);

UtilizationInput UtilizationInputOf(const store::VmGroup& g,
                                    const std::vector<const store::Vm*>& vms,
                                    bool waiting, const UsageSample& usage,
                                    absl::Time now) {
  UtilizationInput in;
  in.target_cpu_percent = g.target_cpu_percent;
  in.target_memory_percent = g.target_memory_percent;
  in.tolerance_percent = g.utilization_tolerance_percent;
  in.min_vms = g.min_size;
  in.max_vms = g.max_size;
  in.vms = static_cast<int64_t>(vms.size());
  in.waiting = waiting;
  in.now = now;
  if (g.last_scaled_at != absl::InfinitePast()) {
    in.up_allowed_at = g.last_scaled_at + g.scale_up_cooldown;
  }
  in.down_allowed_at = CooledAt(g, g.scale_down_cooldown);
  // Loads measured before the group last changed size are not its load.
  if (usage.at < now - kMaxUsageAge || usage.at < g.last_scaled_at) return in;
  for (const store::Vm* vm : vms) {
    auto it = std::lower_bound(
        usage.vms.begin(), usage.vms.end(), vm->id,
        [](const VmUsage& u, const VmId& id) { return u.vm < id; });
    if (it != usage.vms.end() && it->vm == vm->id) {
      in.loads.push_back(LoadOf(*it, g.vcpus));
    }
  }
  return in;
}

absl::Status Cordon(store::WriteTx& tx, const std::vector<VmId>& vms) {
  for (const VmId& id : vms) {
    NEST_ASSIGN_OR_RETURN(store::Vm vm, tx.GetVm(id));
    vm.cordoned = true;
    NEST_RETURN_IF_ERROR(
        tx.UpdateVm(vm, 0, {"Cordoned", "draining for scale-down"}).status());
  }
  return absl::OkStatus();
}

using GroupChange = std::function<absl::Status(store::WriteTx&)>;

// Queues what `d` decided for group `g` of `vms` VMs: a scale-up raises
// the group's desired size, which placement fills; a scale-down cordons up
// to the surplus of the VMs `sized_down` finds removable (emptiest first;
// their containers fit in the others) and lowers the desired size to what
// is left. Each is an event on the group with the decision's reason.
absl::Status ApplyUtilization(
    const store::VmGroup& g, const UtilizationDecision& d, int64_t vms,
    absl::Time now, const ControlMetrics* metrics,
    const std::function<absl::StatusOr<placement::ScaleDown>()>& sized_down,
    std::vector<GroupChange>& changes) {
  if (d.desired == vms) {
    spdlog::debug("group {}: utilization: {}", g.name.str(), d.reason);
    return absl::OkStatus();
  }
  const bool up = d.desired > vms;
  std::string why = d.reason;
  std::vector<VmId> drain;
  if (!up) {
    NEST_ASSIGN_OR_RETURN(placement::ScaleDown down, sized_down());
    const size_t surplus = static_cast<size_t>(vms - d.desired);
    drain.assign(down.removable.begin(),
                 down.removable.begin() + static_cast<std::ptrdiff_t>(std::min(
                                              surplus, down.removable.size())));
    if (drain.empty()) {
      spdlog::info(
          "group {}: {}; held: no VM's containers fit in the group's others",
          g.name.str(), why);
      return absl::OkStatus();
    }
    std::vector<std::string> names;
    for (const VmId& id : drain) names.push_back(id.str());
    if (drain.size() < surplus) {
      absl::StrAppend(&why, "; ", drain.size(), " of them can be emptied now");
    }
    absl::StrAppend(&why, "; draining ", absl::StrJoin(names, ", "));
  }
  spdlog::info("group {}: {}", g.name.str(), why);
  const int64_t change =
      up ? d.desired - vms : -static_cast<int64_t>(drain.size());
  if (metrics != nullptr) {
    metrics->scale_decisions->With({g.name.str(), up ? "up" : "down"})
        .Inc(static_cast<double>(up ? change : -change));
  }
  changes.push_back([tenant = g.tenant, name = g.name, now, why, up,
                     size = vms + change, drain](store::WriteTx& tx) {
    NEST_ASSIGN_OR_RETURN(store::VmGroup row, tx.GetGroup(tenant, name));
    row.last_scaled_at = now;
    row.desired_size = up ? std::max(row.desired_size, size)
                          : std::min(row.desired_size, size);
    NEST_RETURN_IF_ERROR(
        tx.UpdateGroup(row, 0, {up ? "ScaledUp" : "ScaleDown", why}).status());
    return Cordon(tx, drain);
  });
  return absl::OkStatus();
}

}  // namespace

std::map<std::string, absl::Duration> Controller::HoldScaleUpsInCooldown(
    const store::Snapshot& s, PlacementInput& in) const {
  const absl::Time now = clock_.Now();
  std::map<std::string, absl::Duration> cooling;
  for (const store::VmGroup& g : s.groups) {
    if (g.scale_up_cooldown <= absl::ZeroDuration() ||
        g.last_scaled_at == absl::InfinitePast()) {
      continue;
    }
    absl::Time until = g.last_scaled_at + g.scale_up_cooldown;
    if (now >= until) continue;
    cooling[ScopedKey(g.tenant, g.name.str())] = until - now;
  }
  if (cooling.empty()) return cooling;
  std::map<std::string, int> live;
  for (const placement::Vm& vm : in.state.vms) ++live[vm.group.str()];
  for (placement::Group& pg : in.state.groups) {
    if (!cooling.count(pg.id.str())) continue;
    // No VM beyond what runs now (the minimum is still kept).
    pg.max_vms = std::max(pg.min_vms, std::min(pg.max_vms, live[pg.id.str()]));
  }
  return cooling;
}

absl::Status Controller::RecordScaleUps(
    store::WriteTx& tx, const PlacementInput& in,
    const std::map<std::string, std::pair<int, int>>& grown) {
  std::map<std::string, int> live, floor;
  for (const placement::Vm& vm : in.state.vms) ++live[vm.group.str()];
  for (const placement::Group& pg : in.state.groups) {
    floor[pg.id.str()] = pg.min_vms;
  }
  for (const auto& [key, counts] : grown) {
    const auto [vms, containers] = counts;
    auto names = in.groups.find(key);
    if (names == in.groups.end() || vms == 0) continue;
    NEST_ASSIGN_OR_RETURN(store::VmGroup g, tx.GetGroup(names->second.first,
                                                        names->second.second));
    // VMs up to the group's floor are not the autoscaler's decision.
    const int filled = std::clamp(floor[key] - live[key], 0, vms);
    const int decided = vms - filled;
    std::string why =
        decided == 0
            ? absl::StrCat("+", vms, ": group ", g.name.str(),
                           " is below its minimum of ", floor[key], " VMs")
            : absl::StrCat("scale-up +", decided, ": ", containers,
                           " pending containers of group ", g.name.str(),
                           " need ", decided, decided == 1 ? " VM" : " VMs",
                           " of ", Shape(g));
    spdlog::info("group {}: {}", g.name.str(), why);
    if (decided > 0) {
      if (options_.metrics != nullptr) {
        options_.metrics->scale_decisions->With({g.name.str(), "up"})
            .Inc(decided);
      }
      g.last_scaled_at = clock_.Now();
    }
    NEST_RETURN_IF_ERROR(
        tx.UpdateGroup(g, 0, {decided > 0 ? "ScaledUp" : "Filled", why})
            .status());
  }
  return absl::OkStatus();
}

absl::Status Controller::EvacuateHost(store::WriteTx& tx, const HostId& host) {
  store::ListQuery q;
  q.host = host;
  NEST_ASSIGN_OR_RETURN(auto vms, tx.ListVms(q));
  for (store::Vm vm : vms.items) {
    if (vm.desired == store::VmDesiredState::kDeleted) continue;
    store::ListQuery cq;
    cq.vm = vm.id;
    NEST_ASSIGN_OR_RETURN(auto cs, tx.ListContainers(cq));
    for (store::Container c : cs.items) {
      if (c.desired != store::ContainerDesiredState::kRunning) {
        NEST_RETURN_IF_ERROR(tx.DeleteContainer(
            c.id, 0, {"Lost", absl::StrCat("host ", host.str(), " is down")}));
        continue;
      }
      c.vm = VmId();
      if (c.observed != store::ContainerObservedState::kExited) {
        c.observed = store::ContainerObservedState::kPending;
      }
      c.message = absl::StrCat("rescheduling: host ", host.str(), " is down");
      NEST_RETURN_IF_ERROR(
          tx.UpdateContainer(c, 0, {"Rescheduling", c.message}).status());
    }
    vm.desired = store::VmDesiredState::kDeleted;
    NEST_RETURN_IF_ERROR(
        tx.UpdateVm(vm, 0,
                    {"Evacuated",
                     absl::StrCat("host ", host.str(),
                                  " is down; its copy is destroyed when the "
                                  "host is back")})
            .status());
  }
  return absl::OkStatus();
}

absl::Status Controller::ScaleDown(const store::Snapshot& s) {
  const absl::Time now = clock_.Now();
  std::map<std::string, std::string> target;  // workload key -> group key
  for (const store::Workload& w : s.workloads) {
    target[ScopedKey(w.tenant, w.name.str())] =
        ScopedKey(w.tenant, w.target_group.str());
  }
  std::map<VmId, std::vector<const store::Container*>> on_vm;
  std::set<std::string> waiting;  // groups with containers waiting for room
  for (const store::Container& c : s.containers) {
    if (!c.vm.empty()) {
      on_vm[c.vm].push_back(&c);
    } else if (c.desired == store::ContainerDesiredState::kRunning &&
               c.observed != store::ContainerObservedState::kExited) {
      waiting.insert(target[ScopedKey(c.tenant, c.workload.str())]);
    }
  }
  std::map<std::string, std::vector<const store::Vm*>> vms_of;
  for (const store::Vm& vm : s.vms) {
    if (vm.desired == store::VmDesiredState::kRunning) {
      vms_of[ScopedKey(vm.tenant, vm.group.str())].push_back(&vm);
    }
  }

  std::vector<Change> changes;
  // Drained VMs go once nothing but finished runs is left on them; those
  // keep their record without the VM.
  for (const auto& [key, vms] : vms_of) {
    for (const store::Vm* vm : vms) {
      if (!vm->cordoned) continue;
      bool empty = true;
      std::vector<ContainerId> finished;
      for (const store::Container* c : on_vm[vm->id]) {
        if (c->desired == store::ContainerDesiredState::kRunning &&
            c->observed == store::ContainerObservedState::kExited) {
          finished.push_back(c->id);
        } else {
          empty = false;
        }
      }
      if (!empty) continue;
      changes.push_back([id = vm->id, finished](store::WriteTx& tx) {
        for (const ContainerId& c : finished) {
          NEST_ASSIGN_OR_RETURN(store::Container row, tx.GetContainer(c));
          row.vm = VmId();
          NEST_RETURN_IF_ERROR(tx.UpdateContainer(row, 0).status());
        }
        NEST_ASSIGN_OR_RETURN(store::Vm row, tx.GetVm(id));
        row.desired = store::VmDesiredState::kDeleted;
        return tx.UpdateVm(row, 0, {"ScaledDown", "drained: removing the VM"})
            .status();
      });
    }
  }

  // Sizing a scale-down builds a placement snapshot of the cluster: done
  // at most every kScaleDownCheck, not on every pass (finishing drains
  // above stays per pass). The hysteresis is measured at that grain.
  constexpr absl::Duration kScaleDownCheck = absl::Seconds(10);
  const bool check = now >= next_scale_down_check_;
  if (check) next_scale_down_check_ = now + kScaleDownCheck;
  std::optional<placement::Snapshot> snap;
  std::optional<UsageSample> usage;
  auto sized_down =
      [&](const std::string& key) -> absl::StatusOr<placement::ScaleDown> {
    if (!snap) {
      PlacementInput in = BuildPlacementInput(
          s, {options_.vmm_overhead_mib, options_.host_reserved});
      // A group sized by utilization may shrink below its desired size
      // (which its own scale-ups raised) down to its minimum.
      std::map<std::string, int64_t> by_load;  // group key -> min_vms
      for (const store::VmGroup& g : s.groups) {
        if (options_.usage && HasUtilizationTarget(g)) {
          by_load[ScopedKey(g.tenant, g.name.str())] = g.min_size;
        }
      }
      for (placement::Group& pg : in.state.groups) {
        auto floor = by_load.find(pg.id.str());
        if (floor != by_load.end()) {
          pg.min_vms = static_cast<int>(floor->second);
        }
      }
      NEST_ASSIGN_OR_RETURN(snap, placement::Snapshot::Build(in.state));
    }
    return placement::SizeScaleDown(*snap, GroupId(key), rng_);
  };
  std::map<std::string, absl::Time> underused;
  for (const store::VmGroup& g : s.groups) {
    if (!check) break;
    const std::string key = ScopedKey(g.tenant, g.name.str());
    const auto& vms = vms_of[key];
    bool settled = std::all_of(vms.begin(), vms.end(), [](const store::Vm* v) {
      return !v->cordoned && v->observed == store::VmObservedState::kRunning;
    });
    if (g.max_size == 0 || vms.empty() || !settled) continue;
    if (options_.usage && HasUtilizationTarget(g)) {
      if (!usage) usage = options_.usage();
      const int64_t n = static_cast<int64_t>(vms.size());
      NEST_RETURN_IF_ERROR(ApplyUtilization(
          g,
          DecideUtilization(
              UtilizationInputOf(g, vms, waiting.count(key), *usage, now)),
          n, now, options_.metrics, [&] { return sized_down(key); }, changes));
      continue;
    }
    if (waiting.count(key)) continue;
    NEST_ASSIGN_OR_RETURN(placement::ScaleDown down, sized_down(key));
    if (down.removable.empty()) continue;
    // Hysteresis: the VMs must have been spare for a whole cooldown, so a
    // load that comes and goes faster than that never shrinks the group.
    auto seen = underused_since_.find(key);
    const absl::Time since =
        seen == underused_since_.end() ? now : seen->second;
    underused[key] = since;
    if (now < since + g.scale_down_cooldown ||
        now < CooledAt(g, g.scale_down_cooldown)) {
      continue;
    }
    underused.erase(key);
    int moving = 0;
    for (const placement::Action& a : down.moves) {
      moving += std::holds_alternative<placement::StopContainer>(a) ? 1 : 0;
    }
    std::vector<std::string> names;
    for (const VmId& id : down.removable) names.push_back(id.str());
    std::string why = absl::StrCat("scale-down -", names.size(), ": ", moving,
                                   moving == 1 ? " container" : " containers",
                                   " of ", absl::StrJoin(names, ", "),
                                   " fit in the group's other VMs; draining");
    spdlog::info("group {}: {}", g.name.str(), why);
    if (options_.metrics != nullptr) {
      options_.metrics->scale_decisions->With({g.name.str(), "down"})
          .Inc(static_cast<double>(names.size()));
    }
    changes.push_back([tenant = g.tenant, name = g.name, now, why,
                       removable = down.removable](store::WriteTx& tx) {
      NEST_ASSIGN_OR_RETURN(store::VmGroup row, tx.GetGroup(tenant, name));
      row.last_scaled_at = now;
      NEST_RETURN_IF_ERROR(tx.UpdateGroup(row, 0, {"ScaleDown", why}).status());
      return Cordon(tx, removable);
    });
  }
  if (check) underused_since_ = std::move(underused);
  if (changes.empty()) return absl::OkStatus();
  return store_.Write([&](store::WriteTx& tx) -> absl::Status {
    tx.SetActor("autoscaler", "");
    for (const Change& c : changes) NEST_RETURN_IF_ERROR(tx.Nested(c));
    return absl::OkStatus();
  });
}

}  // namespace nest::control
