#include <algorithm>
#include <csignal>

#include "absl/strings/str_cat.h"
#include "control/controller.h"
#include "control/workload_health.h"

namespace nest::control {
namespace {

using store::ContainerDesiredState;
using store::ContainerObservedState;
using store::VmObservedState;

absl::Status IgnoreNotFound(absl::Status s) {
  return absl::IsNotFound(s) ? absl::OkStatus() : s;
}

agent::ContainerSpec BuildSpec(const store::Container& c,
                               const store::Workload& w,
                               const ImageBlob& image) {
  agent::ContainerSpec spec;
  spec.id = c.id.str();
  spec.image_digest = image.digest;
  // OCI semantics: the workload's command replaces the entrypoint, its args
  // replace cmd.
  std::vector<std::string> entry =
      w.command.empty() ? image.entrypoint : w.command;
  std::vector<std::string> args =
      (w.args.empty() && w.command.empty()) ? image.cmd : w.args;
  spec.args = entry;
  spec.args.insert(spec.args.end(), args.begin(), args.end());
  spec.env = image.env;
  for (const auto& e : w.env) spec.env.push_back(e.name + "=" + e.value);
  spec.cwd = image.cwd.empty() ? "/" : image.cwd;
  spec.hostname = c.id.str();
  if (w.requests.milli_cpu() > 0) {
    spec.limits.cpu_period_us = 100000;
    spec.limits.cpu_quota_us = w.requests.milli_cpu() * 100;
  }
  if (w.requests.memory_mib() > 0) {
    spec.limits.memory_max_bytes = w.requests.memory_mib() * 1024 * 1024;
  }
  spec.limits.pids_max = 1024;
  spec.stop_grace_s = static_cast<uint32_t>(w.stop_grace_s);
  // Contents (secret ones too) go only to the agent of this container's VM.
  for (const auto& f : w.files) {
    spec.files.push_back({f.path, f.content, static_cast<uint32_t>(f.mode)});
  }
  spec.health_check = ToAgentHealthCheck(w.health_check);
  return spec;
}

}  // namespace

// ---- Containers in VMs
// -------------------------------------------------------

absl::Status Controller::StartContainer(const store::Container& c,
                                        const store::Workload& w,
                                        Session& session) {
  NEST_ASSIGN_OR_RETURN(std::shared_ptr<const ImageBlob> image,
                        images_.Get(c.tenant, w.image));
  if (!session.images.count(image->digest)) {
    NEST_RETURN_IF_ERROR(
        session.agent->PutImage(image->digest, image->tar).status());
    session.images.insert(image->digest);
  }
  agent::ContainerSpec spec = BuildSpec(c, w, *image);
  if (options_.network != nullptr) {
    spec.address = options_.network->ContainerAddress(c.id);
    if (spec.address.empty()) {
      return absl::UnavailableError("no address in its tenant network yet");
    }
  }
  // One round trip and one `crun run` in the guest (bench_container_start:
  // about 40 % faster than create + start).
  auto run = session.agent->RunContainer(spec);
  if (absl::IsAlreadyExists(run.status())) {
    // A previous attempt (or run, before a restart) left it: start over.
    (void)session.agent->KillContainer(spec.id, SIGKILL);
    NEST_RETURN_IF_ERROR(
        IgnoreNotFound(session.agent->DeleteContainer(spec.id)));
    run = session.agent->RunContainer(spec);
  }
  NEST_RETURN_IF_ERROR(run.status());
  // Host time, not the guest's: the guest clock drifts (measured +10 s
  // at 70 s uptime under TCG), and restart back-off compares with it.
  const absl::Time started = clock_.Now();
  session.grace[spec.id] = absl::Seconds(w.stop_grace_s);
  // A stop of an earlier run (an unhealthy one) is over.
  kill_at_.erase({c.vm, spec.id});
  RecordContainer(
      c.id,
      [started, gen = w.meta.generation, image = w.image,
       checked = !w.health_check.kind.empty()](store::Container& row) {
        row.observed = ContainerObservedState::kRunning;
        row.image = image;
        row.health = checked ? store::ContainerHealth::kStarting
                             : store::ContainerHealth::kNone;
        row.started_at = started;
        row.finished_at = absl::InfinitePast();
        row.exit_code.reset();
        // A scale committed since this pass's snapshot may have marked the
        // row with a newer generation (same spec): never step back.
        row.spec_generation = std::max(row.spec_generation, gen);
        row.message.clear();
      },
      "Started", absl::StrCat("in VM ", c.vm.str()));
  absl::MutexLock lock(&mu_);
  ++stats_.containers_started;
  return absl::OkStatus();
}

bool Controller::StopContainer(const VmId& vm, Session& session,
                               const agent::ContainerInfo& info,
                               absl::Duration grace,
                               std::vector<absl::Status>* errors) {
  const auto key = std::make_pair(vm, info.id);
  if (info.state != agent::ContainerState::kRunning) {
    absl::Status d = IgnoreNotFound(session.agent->DeleteContainer(info.id));
    if (!d.ok()) {
      errors->push_back(Annotate(d, "container " + info.id));
      return false;
    }
    kill_at_.erase(key);
    session.grace.erase(info.id);
    absl::MutexLock lock(&mu_);
    ++stats_.containers_stopped;
    return true;
  }
  // The container may exit between the list and the signal: NOT_FOUND and
  // FAILED_PRECONDITION (exited already) just mean the next pass deletes it.
  auto signal = [&](int sig) {
    absl::Status k = session.agent->KillContainer(info.id, sig);
    if (!k.ok() && !absl::IsNotFound(k) && !absl::IsFailedPrecondition(k)) {
      errors->push_back(Annotate(k, "container " + info.id));
    }
  };
  const absl::Time now = clock_.MonotonicNow();
  auto it = kill_at_.find(key);
  if (it == kill_at_.end()) {
    signal(SIGTERM);
    kill_at_[key] = now + grace;
  } else if (now >= it->second) {
    signal(SIGKILL);
  }
  return false;
}

void Controller::ObserveHealth(const store::Container& c,
                               const store::Workload& w, const VmId& vm,
                               Session& session,
                               const agent::ContainerInfo& info,
                               std::vector<absl::Status>* errors) {
  if (w.health_check.kind.empty()) return;
  const store::ContainerHealth health = FromAgentHealth(info.health);
  if (health != c.health && health != store::ContainerHealth::kNone) {
    const bool bad = health == store::ContainerHealth::kUnhealthy;
    std::string msg =
        bad ? absl::StrCat("health check failed: ", info.health_message)
            : std::string();
    RecordContainer(
        c.id,
        [health, msg](store::Container& row) {
          row.health = health;
          row.message = msg;
        },
        bad ? "Unhealthy"
            : (health == store::ContainerHealth::kHealthy ? "Healthy"
                                                          : "HealthStarting"),
        bad ? msg : std::string(store::Name(health)));
  }
  // Out of its VIP (this pass's rulesets already left it out once the row
  // said so), then stopped like any replica: SIGTERM, SIGKILL after the
  // grace. Its exit is then recorded and restart_policy decides.
  if (health == store::ContainerHealth::kUnhealthy &&
      c.health == store::ContainerHealth::kUnhealthy) {
    StopContainer(vm, session, info, absl::Seconds(w.stop_grace_s), errors);
  }
}

absl::Status Controller::PushGuestNetwork(const VmId& vm,
                                          const Session& session) {
  if (options_.network == nullptr) return absl::OkStatus();
  std::optional<agent::GuestNetwork> want = options_.network->GuestFor(vm);
  if (!want) return absl::OkStatus();
  PushedNetwork& pushed = guest_networks_[vm];
  const absl::Time now = clock_.MonotonicNow();
  if (pushed.agent == session.agent.get() && pushed.network == *want &&
      now - pushed.at < kGuestNetworkRecheck) {
    return absl::OkStatus();
  }
  absl::Status st = session.agent->ConfigureNetwork(*want);
  if (!st.ok()) {
    pushed.agent = nullptr;
    return st;
  }
  pushed = PushedNetwork{session.agent.get(), std::move(*want), now};
  return absl::OkStatus();
}

absl::Status Controller::SyncContainers(const store::Snapshot& s) {
  std::map<std::pair<std::string, std::string>, const store::Workload*> wls;
  for (const auto& w : s.workloads) wls[{w.tenant.str(), w.name.str()}] = &w;
  std::map<VmId, const store::Vm*> vms;
  for (const auto& v : s.vms) vms[v.id] = &v;
  std::map<VmId, std::vector<const store::Container*>> by_vm;
  std::vector<absl::Status> errors;
  auto forget_row = [this](const ContainerId& id, const char* why) {
    Record([id, why](store::WriteTx& tx) {
      return tx.DeleteContainer(id, 0, {"Deleted", why});
    });
  };

  for (const auto& c : s.containers) {
    if (c.vm.empty()) {
      if (c.desired != ContainerDesiredState::kRunning) {
        forget_row(c.id, "retired");
      }
      continue;
    }
    by_vm[c.vm].push_back(&c);
  }

  // Each VM's agent is asked once per pass for what really runs there, and
  // the rows are brought in line with the answer. Agents are called without
  // holding mu_: sessions are copied (they hold shared_ptrs).
  std::vector<std::pair<VmId, Session>> copies;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [id, session] : sessions_) copies.push_back({id, session});
  }
  // Every guest's network first, so a replica about to stop is out of
  // every VIP (in every guest) before its SIGTERM below. Without its
  // network a guest's new containers cannot start; stopping still works.
  for (auto it = guest_networks_.begin(); it != guest_networks_.end();) {
    it = vms.contains(it->first) ? std::next(it) : guest_networks_.erase(it);
  }
  for (auto& [vm_id, session] : copies) {
    auto vm_it = vms.find(vm_id);
    if (vm_it == vms.end() ||
        vm_it->second->observed != VmObservedState::kRunning) {
      continue;
    }
    if (absl::Status st = PushGuestNetwork(vm_id, session); !st.ok()) {
      errors.push_back(Annotate(st, "vm " + vm_id.str()));
    }
  }
  for (auto& [vm_id, session] : copies) {
    auto vm_it = vms.find(vm_id);
    if (vm_it == vms.end() ||
        vm_it->second->observed != VmObservedState::kRunning) {
      continue;
    }
    auto listed = session.agent->ListContainers();
    if (!listed.ok()) {
      errors.push_back(Annotate(listed.status(), "vm " + vm_id.str()));
      continue;
    }
    std::map<std::string, agent::ContainerInfo> running;
    for (auto& info : *listed) running[info.id] = info;
    auto grace_of = [&](const std::string& id) {
      auto g = session.grace.find(id);
      return g == session.grace.end() ? options_.orphan_stop_grace : g->second;
    };
    std::set<std::string> rows;
    for (const auto* c : by_vm[vm_id]) {
      rows.insert(c->id.str());
      auto w = wls.find({c->tenant.str(), c->workload.str()});
      auto in_guest = running.find(c->id.str());
      if (c->desired != ContainerDesiredState::kRunning || w == wls.end()) {
        // Retired (scale-down, preemption) or its workload is gone: stop it
        // gracefully; the row goes once nothing runs in the guest.
        const absl::Duration grace =
            w == wls.end() ? grace_of(c->id.str())
                           : absl::Seconds(w->second->stop_grace_s);
        if (in_guest == running.end() ||
            StopContainer(vm_id, session, in_guest->second, grace, &errors)) {
          forget_row(c->id, "stopped");
        }
        continue;
      }
      if (c->observed == ContainerObservedState::kPending ||
          c->observed == ContainerObservedState::kCreating) {
        absl::Status st = StartContainer(*c, *w->second, session);
        if (!st.ok()) {
          errors.push_back(Annotate(st, "container " + c->id.str()));
          std::string msg(st.message());
          RecordContainer(
              c->id, [msg](store::Container& row) { row.message = msg; },
              "StartFailed", msg);
        }
        continue;
      }
      if (c->observed != ContainerObservedState::kRunning) continue;
      if (in_guest == running.end()) {
        // The guest lost it (VM rebooted): run it again.
        RecordContainer(
            c->id,
            [](store::Container& row) {
              row.observed = ContainerObservedState::kPending;
            },
            "Lost", "not known to the agent");
      } else if (in_guest->second.state == agent::ContainerState::kRunning) {
        ObserveHealth(*c, *w->second, vm_id, session, in_guest->second,
                      &errors);
      } else if (in_guest->second.state == agent::ContainerState::kExited) {
        const agent::ContainerInfo info = in_guest->second;
        std::string msg =
            info.oom_killed ? "OOM-killed (memory.max reached)"
                            : absl::StrCat("exited with code ", info.exit_code);
        const absl::Time finished = clock_.Now();  // host time, as above
        RecordContainer(
            c->id,
            [info, finished, msg](store::Container& row) {
              row.observed = info.exit_code == 0
                                 ? ContainerObservedState::kExited
                                 : ContainerObservedState::kFailed;
              row.exit_code = info.exit_code;
              row.finished_at = finished;
              row.message = msg;
            },
            info.oom_killed ? "OOMKilled" : "Exited", msg);
      }
    }
    // Whatever runs in the guest without a row is not ours to keep
    // (its workload was deleted, it was preempted, or a crash left it
    // before its row was written): it gets the same graceful stop.
    for (const auto& [id, info] : running) {
      if (rows.count(id)) continue;
      StopContainer(vm_id, session, info, grace_of(id), &errors);
    }
    // Remember pushed images and grace periods for the next pass.
    absl::MutexLock relock(&mu_);
    auto it = sessions_.find(vm_id);
    if (it != sessions_.end()) {
      it->second.images.insert(session.images.begin(), session.images.end());
      it->second.grace = session.grace;
    }
  }

  // Forget stops whose VM went away; the earliest pending SIGKILL decides
  // when the loop must run again.
  absl::Time next = absl::InfiniteFuture();
  // A replica waiting out its restart back-off: the loop wakes when the
  // back-off ends, not at the next resync.
  const absl::Time wall = clock_.Now();
  const absl::Time mono = clock_.MonotonicNow();
  for (const auto& c : s.containers) {
    if (c.desired != ContainerDesiredState::kRunning ||
        (c.observed != ContainerObservedState::kExited &&
         c.observed != ContainerObservedState::kFailed &&
         c.observed != ContainerObservedState::kCrashLoop)) {
      continue;
    }
    const absl::Time due = c.finished_at + RestartBackoff(c.restarts);
    if (due > wall) next = std::min(next, mono + (due - wall));
  }
  {
    absl::MutexLock lock(&mu_);
    for (auto it = kill_at_.begin(); it != kill_at_.end();) {
      if (!sessions_.count(it->first.first)) {
        it = kill_at_.erase(it);
        continue;
      }
      next = std::min(next, it->second);
      ++it;
    }
    next_deadline_ = next;
  }
  for (const auto& e : errors) {
    if (!e.ok()) return e;
  }
  return absl::OkStatus();
}

}  // namespace nest::control
