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
#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "control/controller.h"
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
  PlacementInput in;
  std::map<std::string, absl::Time> underused;
  for (const store::VmGroup& g : s.groups) {
    if (!check) break;
    const std::string key = ScopedKey(g.tenant, g.name.str());
    const auto& vms = vms_of[key];
    bool settled = std::all_of(vms.begin(), vms.end(), [](const store::Vm* v) {
      return !v->cordoned && v->observed == store::VmObservedState::kRunning;
    });
    if (g.max_size == 0 || waiting.count(key) || vms.empty() || !settled) {
      continue;
    }
    if (!snap) {
      in = BuildPlacementInput(
          s, {options_.vmm_overhead_mib, options_.host_reserved});
      NEST_ASSIGN_OR_RETURN(snap, placement::Snapshot::Build(in.state));
    }
    NEST_ASSIGN_OR_RETURN(placement::ScaleDown down,
                          placement::SizeScaleDown(*snap, GroupId(key), rng_));
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
      for (const VmId& id : removable) {
        NEST_ASSIGN_OR_RETURN(store::Vm vm, tx.GetVm(id));
        vm.cordoned = true;
        NEST_RETURN_IF_ERROR(
            tx.UpdateVm(vm, 0, {"Cordoned", "draining for scale-down"})
                .status());
      }
      return absl::OkStatus();
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
