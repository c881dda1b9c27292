#include "control/controller.h"

#include <csignal>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "control/placement_bridge.h"
#include "placement/schedule.h"
#include "spdlog/spdlog.h"

namespace nest::control {
namespace {

using store::ContainerDesiredState;
using store::ContainerObservedState;
using store::VmDesiredState;
using store::VmObservedState;

// Ignoring NOT_FOUND makes a repeated teardown step a no-op, which is what
// lets a pass re-run any step after a crash.
absl::Status IgnoreNotFound(absl::Status s) {
  return absl::IsNotFound(s) ? absl::OkStatus() : s;
}

}  // namespace

Controller::Controller(store::Store& store, HostConnector& hosts,
                       VmProvisioner& provisioner, AgentConnector& agents,
                       ImageSource& images, Clock& clock,
                       ControllerOptions options)
    : store_(store),
      host_connector_(hosts),
      provisioner_(provisioner),
      agent_connector_(agents),
      images_(images),
      clock_(clock),
      options_(options),
      rng_(options.seed),
      workers_(std::make_unique<WorkerPool>(options.max_parallel_vm_ops)) {}

Controller::~Controller() {
  Stop();
  workers_.reset();  // joins in-flight VM operations
  absl::MutexLock lock(&mu_);
  for (auto& [id, conn] : hosts_) {
    if (conn.driver && conn.listener >= 0) {
      conn.driver->RemoveListener(conn.listener);
    }
  }
  for (auto& [id, session] : sessions_) {
    session.agent->SetEventHandler(nullptr);
  }
}

void Controller::Start() {
  absl::MutexLock lock(&mu_);
  if (loop_.joinable()) return;
  stopping_ = false;
  loop_ = std::thread([this] { Loop(); });
}

void Controller::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    wake_ = true;
  }
  store_.Shutdown();
  if (loop_.joinable()) loop_.join();
  if (workers_) workers_->AwaitIdle();
  {
    // Boots still waiting for their guest call back into this object.
    absl::MutexLock lock(&mu_);
    auto idle = [this]()
                    ABSL_SHARED_LOCKS_REQUIRED(mu_) { return busy_.empty(); };
    mu_.Await(absl::Condition(&idle));
  }
  // What was observed is written before stopping: otherwise a restart would
  // find started containers still pending and start them again.
  absl::Status s = FlushRecords();
  if (!s.ok()) spdlog::warn("recording observations at stop: {}", s.ToString());
}

void Controller::Wake() {
  absl::MutexLock lock(&mu_);
  wake_ = true;
}

void Controller::AwaitIdle() {
  workers_->AwaitIdle();
  absl::Status s = FlushRecords();
  if (!s.ok()) spdlog::warn("recording observations: {}", s.ToString());
}

absl::Time Controller::NextDeadline() {
  absl::MutexLock lock(&mu_);
  return next_deadline_;
}

PassStats Controller::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

void Controller::Loop() {
  int64_t seen_seq = store_.LastEventSeq();
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
      wake_ = false;
    }
    absl::Status s = ReconcileOnce();
    if (!s.ok()) spdlog::warn("reconcile pass: {}", s.ToString());
    // Sleep until the store changes, a driver/agent wakes us, or the resync
    // interval passes. Store events are waited on in short slices so a Wake
    // from a driver callback is not delayed by a full interval.
    absl::Time until = std::min(
        clock_.MonotonicNow() + options_.resync_interval, NextDeadline());
    for (;;) {
      {
        absl::MutexLock lock(&mu_);
        if (stopping_ || wake_) break;
      }
      int64_t seq = store_.WaitForEvents(seen_seq, absl::Milliseconds(100));
      if (seq > seen_seq) {
        seen_seq = seq;
        break;
      }
      if (clock_.MonotonicNow() >= until) break;
    }
  }
}

absl::Status Controller::ReconcileOnce() {
  absl::MutexLock pass(&pass_mu_);
  absl::Time start = clock_.MonotonicNow();
  std::vector<absl::Status> errors;
  auto note = [&errors](absl::Status s) {
    if (!s.ok()) errors.push_back(std::move(s));
  };
  // Where a slow pass spends its time (debug level).
  absl::Time mark = start;
  size_t errors_seen = 0;
  auto step = [&](const char* what) {
    absl::Time now = clock_.MonotonicNow();
    spdlog::debug("pass step {}: {}", what, absl::FormatDuration(now - mark));
    if (const ControlMetrics* m = options_.metrics) {
      m->reconcile_seconds->With({what}).Observe(
          absl::ToDoubleSeconds(now - mark));
      m->reconcile_errors->With({what}).Inc(
          static_cast<double>(errors.size() - errors_seen));
    }
    errors_seen = errors.size();
    mark = now;
  };

  // A snapshot of 10,000 VMs and 50,000 containers takes a good part of a
  // second to read, so it is read again only when a step changed the store.
  auto refresh = [this](store::Snapshot* snap) -> absl::Status {
    if (store_.LastEventSeq() == snap->event_seq) return absl::OkStatus();
    NEST_ASSIGN_OR_RETURN(*snap, store_.ReadSnapshot());
    return absl::OkStatus();
  };
  note(FlushRecords());
  step("flush");
  NEST_ASSIGN_OR_RETURN(store::Snapshot snap, store_.ReadSnapshot());
  step("snapshot");
  Observed observed;
  // VMs with an operation in flight before the hosts are listed: one that
  // finishes after the listing (a boot that just created its domain) is
  // not in the list, and must not look missing to this pass (it would be
  // booted twice: ALREADY_EXISTS, found by bench_autoscale under load).
  std::set<VmId> busy_before;
  {
    absl::MutexLock lock(&mu_);
    busy_before = busy_;
  }
  note(SyncHosts(snap, &observed));
  note(SyncContainerRows(snap));
  step("hosts+rows");
  NEST_RETURN_IF_ERROR(refresh(&snap));
  note(Place(snap));
  step("place");
  NEST_RETURN_IF_ERROR(refresh(&snap));
  note(ScaleDown(snap));
  step("scale-down");
  NEST_RETURN_IF_ERROR(refresh(&snap));
  step("snapshot");
  if (options_.network != nullptr) {
    // Addresses before boots and starts; host networks before the VMs
    // that attach to them.
    note(options_.network->Allocate(snap));
    std::set<HostId> unreachable;
    for (const auto& [name, host] : observed.hosts) {
      if (!host.reachable) unreachable.insert(name);
    }
    note(options_.network->SyncHosts(snap, unreachable));
    step("network");
  }
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [id, s] : sessions_) observed.agents.insert(id);
    observed.busy = busy_;
    observed.busy.insert(busy_before.begin(), busy_before.end());
  }
  note(SyncVms(snap, observed));
  step("vms");
  note(SyncContainers(snap));
  step("containers");
  note(FlushRecords());
  step("flush");

  spdlog::debug("reconcile pass duration_s={:.4f} errors={}",
                absl::ToDoubleSeconds(clock_.MonotonicNow() - start),
                errors.size());
  absl::MutexLock lock(&mu_);
  ++stats_.passes;
  stats_.errors += static_cast<int64_t>(errors.size());
  stats_.last_pass = clock_.MonotonicNow() - start;
  if (errors.empty()) return absl::OkStatus();
  std::vector<std::string> msgs;
  for (const auto& e : errors) msgs.push_back(e.ToString());
  return absl::UnavailableError(absl::StrJoin(msgs, "; "));
}

// ---- Hosts ---------------------------------------------------------------

std::shared_ptr<vmm::VmDriver> Controller::Driver(const HostId& host) {
  absl::MutexLock lock(&mu_);
  auto it = hosts_.find(host);
  return it == hosts_.end() ? nullptr : it->second.driver;
}

absl::StatusOr<std::shared_ptr<vmm::VmDriver>> Controller::DriverFor(
    const HostId& host) {
  auto d = Driver(host);
  if (!d) {
    return absl::UnavailableError(
        absl::StrCat("host \"", host.str(), "\" is not connected"));
  }
  return d;
}

// ---- Container rows --------------------------------------------------------

absl::Status Controller::SyncContainerRows(const store::Snapshot& s) {
  ContainerDiff diff = DiffContainers(s, clock_.Now(), rng_);
  if (diff.create.empty() && diff.retire.empty() && diff.restart.empty()) {
    return absl::OkStatus();
  }
  return store_.Write([&](store::WriteTx& tx) -> absl::Status {
    tx.SetActor("control", "");
    for (const auto& c : diff.create) {
      NEST_RETURN_IF_ERROR(
          tx.CreateContainer(c, {"Created", "new replica"}).status());
    }
    for (const auto& id : diff.retire) {
      NEST_ASSIGN_OR_RETURN(store::Container c, tx.GetContainer(id));
      c.desired = ContainerDesiredState::kDeleted;
      NEST_RETURN_IF_ERROR(
          tx.UpdateContainer(c, 0, {"Retiring", "replica no longer wanted"})
              .status());
    }
    for (const auto& id : diff.restart) {
      NEST_ASSIGN_OR_RETURN(store::Container c, tx.GetContainer(id));
      std::string msg =
          absl::StrCat("restart #", c.restarts + 1, " after exit code ",
                       c.exit_code.value_or(-1));
      c.observed = ContainerObservedState::kPending;
      c.restarts += 1;
      c.exit_code.reset();
      NEST_RETURN_IF_ERROR(
          tx.UpdateContainer(c, 0, {"Restarting", msg}).status());
    }
    return absl::OkStatus();
  });
}

// ---- Placement -------------------------------------------------------------

absl::Status Controller::Place(const store::Snapshot& s) {
  PlacementInput in = BuildPlacementInput(
      s, {options_.vmm_overhead_mib, options_.host_reserved});
  std::map<ContainerId, std::string> messages = in.invalid;
  const std::map<std::string, absl::Duration> cooling =
      HoldScaleUpsInCooldown(s, in);

  bool below_min = false;
  {
    std::map<std::string, int> live;
    for (const auto& vm : in.state.vms) live[vm.group.str()]++;
    for (const auto& g : in.state.groups) {
      if (live[g.id.str()] < g.min_vms) below_min = true;
    }
  }
  if (in.pending.containers.empty() && !below_min && messages.empty()) {
    return absl::OkStatus();
  }
  NEST_ASSIGN_OR_RETURN(placement::Snapshot snap,
                        placement::Snapshot::Build(in.state));
  absl::Time started = clock_.MonotonicNow();
  placement::Plan plan = placement::Schedule(snap, in.pending, rng_);
  double decision_s = absl::ToDoubleSeconds(clock_.MonotonicNow() - started);
  if (options_.metrics != nullptr) {
    options_.metrics->placement_seconds->With({}).Observe(decision_s);
  }

  std::set<std::string> taken;
  for (const auto& vm : s.vms) taken.insert(vm.id.str());
  std::map<VmId, VmId> vm_ids;  // planner id -> store id
  std::map<ContainerId, const store::Container*> rows;
  for (const auto& c : s.containers) rows[c.id] = &c;
  std::map<std::string, std::string> group_of;  // container id -> group key
  for (const auto& c : in.pending.containers) {
    group_of[c.id.str()] = c.group.str();
  }
  for (const auto& u : plan.unplaced) {
    messages[u.container] = u.ToString();
    auto g = cooling.find(group_of[u.container.str()]);
    if (g != cooling.end()) {
      absl::StrAppend(&messages[u.container], "; scale-up cooldown, ",
                      absl::FormatDuration(g->second), " left");
    }
  }
  // Per group: new VMs, and the pending containers they take.
  std::map<std::string, std::pair<int, int>> grown;
  std::set<VmId> new_vms;

  int64_t placed = 0;
  NEST_RETURN_IF_ERROR(store_.Write([&](store::WriteTx& tx) -> absl::Status {
    tx.SetActor("placement", "");
    for (const auto& action : plan.actions) {
      if (const auto* cv = std::get_if<placement::CreateVm>(&action)) {
        auto key = in.groups.find(cv->group.str());
        if (key == in.groups.end()) continue;
        store::Vm vm;
        vm.id = NewVmId(key->second.second, taken, rng_);
        taken.insert(vm.id.str());
        vm.tenant = key->second.first;
        vm.group = key->second.second;
        vm.host = cv->host;
        vm_ids[cv->vm] = vm.id;
        new_vms.insert(cv->vm);
        ++grown[cv->group.str()].first;
        NEST_RETURN_IF_ERROR(
            tx.CreateVm(vm, {"Scheduled",
                             absl::StrCat("new VM of group ", vm.group.str(),
                                          " on host ", vm.host.str())})
                .status());
      } else if (const auto* pc =
                     std::get_if<placement::PlaceContainer>(&action)) {
        auto it = vm_ids.find(pc->vm);
        VmId vm = it == vm_ids.end() ? pc->vm : it->second;
        if (new_vms.count(pc->vm)) ++grown[pc->container.group.str()].second;
        NEST_ASSIGN_OR_RETURN(store::Container c,
                              tx.GetContainer(pc->container.id));
        c.vm = vm;
        c.message.clear();
        NEST_RETURN_IF_ERROR(
            tx.UpdateContainer(c, 0,
                               {"Placed", absl::StrCat("on VM ", vm.str())})
                .status());
        ++placed;
        messages.erase(c.id);
      } else if (const auto* sc =
                     std::get_if<placement::StopContainer>(&action)) {
        NEST_ASSIGN_OR_RETURN(store::Container c,
                              tx.GetContainer(sc->container));
        // Re-queued: the container sync kills what runs in the old VM
        // because no row points there any more.
        c.vm = VmId();
        c.observed = ContainerObservedState::kPending;
        NEST_RETURN_IF_ERROR(
            tx.UpdateContainer(c, 0, {"Preempted", sc->reason}).status());
      }
    }
    NEST_RETURN_IF_ERROR(RecordScaleUps(tx, in, grown));
    for (const auto& [id, msg] : messages) {
      auto row = rows.find(id);
      if (row == rows.end() || row->second->message == msg) continue;
      NEST_ASSIGN_OR_RETURN(store::Container c, tx.GetContainer(id));
      c.message = msg;
      NEST_RETURN_IF_ERROR(
          tx.UpdateContainer(c, 0, {"Unplaceable", msg}).status());
    }
    return absl::OkStatus();
  }));
  if (!plan.actions.empty()) {
    spdlog::info(
        "placement: {} actions, containers_placed={} unplaced={} "
        "decision_s={:.4f}",
        plan.actions.size(), placed, plan.unplaced.size(), decision_s);
  }
  absl::MutexLock lock(&mu_);
  stats_.placements += placed;
  return absl::OkStatus();
}

// ---- VMs -----------------------------------------------------------------

void Controller::LaunchAsync(const VmId& vm,
                             std::function<void(std::function<void()>)> op) {
  {
    absl::MutexLock lock(&mu_);
    if (!busy_.insert(vm).second) return;
  }
  workers_->Submit(
      [this, vm, op = std::move(op)] { op([this, vm] { Done(vm); }); });
}

void Controller::Launch(const VmId& vm, std::function<void()> op) {
  LaunchAsync(vm, [op = std::move(op)](std::function<void()> done) {
    op();
    done();
  });
}

void Controller::Done(const VmId& vm) {
  absl::MutexLock lock(&mu_);
  busy_.erase(vm);
  wake_ = true;
}

absl::Status Controller::SyncVms(const store::Snapshot& s,
                                 const Observed& observed) {
  VmDiff diff = DiffVms(s, observed);
  std::map<VmId, const store::Vm*> vms;
  for (const auto& v : s.vms) vms[v.id] = &v;
  std::map<std::string, const store::VmGroup*> groups;
  for (const auto& g : s.groups) groups[ScopedKey(g.tenant, g.name.str())] = &g;
  auto group_of = [&](const store::Vm& v) -> const store::VmGroup* {
    auto it = groups.find(ScopedKey(v.tenant, v.group.str()));
    return it == groups.end() ? nullptr : it->second;
  };
  absl::Time now = clock_.MonotonicNow();
  auto may_retry = [&](const VmId& id) {
    absl::MutexLock lock(&mu_);
    auto it = retry_after_.find(id);
    return it == retry_after_.end() || now >= it->second;
  };

  for (const auto& id : diff.boot) {
    const store::Vm& vm = *vms[id];
    const store::VmGroup* g = group_of(vm);
    if (!g || !may_retry(id)) continue;
    store::Vm v = vm;
    store::VmGroup grp = *g;
    LaunchAsync(id, [this, v, grp](std::function<void()> done) {
      BootVm(v, grp, false, std::move(done));
    });
  }
  for (const auto& id : diff.recreate) {
    const store::Vm& vm = *vms[id];
    const store::VmGroup* g = group_of(vm);
    if (!g || !may_retry(id)) continue;
    store::Vm v = vm;
    store::VmGroup grp = *g;
    LaunchAsync(id, [this, v, grp](std::function<void()> done) {
      BootVm(v, grp, true, std::move(done));
    });
  }
  for (const auto& id : diff.attach) {
    if (!may_retry(id)) continue;
    store::Vm v = *vms[id];
    Launch(id, [this, v] { AttachVm(v); });
  }
  for (const auto& id : diff.teardown) {
    store::Vm v = *vms[id];
    Launch(id, [this, v] { TeardownVm(v); });
  }
  for (const auto& [host, id] : diff.orphans) {
    HostId h = host;
    VmId vm = id;
    Launch(id, [this, h, vm] { RemoveOrphan(h, vm); });
  }
  for (const auto& [id, state] : diff.observe) {
    RecordVm(
        id, [state = state](store::Vm& v) { v.observed = state; }, "Observed",
        std::string(store::Name(state)));
    if (state == VmObservedState::kUnknown) {
      DropSession(id, vms[id]->host);  // its host did not answer
    } else if (state != VmObservedState::kRunning) {
      DropSession(id);
    }
  }
  for (const auto& id : diff.forget) {
    NEST_RETURN_IF_ERROR(store_.Write([&](store::WriteTx& tx) -> absl::Status {
      tx.SetActor("control", "");
      // Containers still pointing at the VM go back to pending (or away
      // when they were being retired) before the VM row can go.
      store::ListQuery q;
      q.vm = id;
      NEST_ASSIGN_OR_RETURN(auto page, tx.ListContainers(q));
      for (auto c : page.items) {
        if (c.desired == ContainerDesiredState::kRunning) {
          c.vm = VmId();
          c.observed = ContainerObservedState::kPending;
          NEST_RETURN_IF_ERROR(
              tx.UpdateContainer(c, 0, {"Requeued", "its VM was deleted"})
                  .status());
        } else {
          NEST_RETURN_IF_ERROR(tx.DeleteContainer(c.id, 0, {"Deleted", ""}));
        }
      }
      return tx.DeleteVm(id, 0, {"Deleted", "torn down"});
    }));
    absl::MutexLock lock(&mu_);
    retry_after_.erase(id);
  }
  return absl::OkStatus();
}

void Controller::BootVm(const store::Vm& vm, const store::VmGroup& group,
                        bool recreate, std::function<void()> done) {
  auto driver = Driver(vm.host);
  if (!driver) return done();
  auto fail = [this, id = vm.id](const absl::Status& s) {
    spdlog::warn("vm {}: boot failed: {}", id.str(), s.ToString());
    std::string msg(s.message());
    RecordVm(
        id,
        [msg](store::Vm& v) {
          v.observed = VmObservedState::kFailed;
          v.boot_attempts += 1;
          v.message = msg;
        },
        "BootFailed", msg);
    absl::MutexLock lock(&mu_);
    retry_after_[id] = clock_.MonotonicNow() + options_.boot_retry_delay;
  };
  if (recreate) {
    DropSession(vm.id);
    absl::Status s = IgnoreNotFound(driver->Undefine(vm.id));
    if (!s.ok()) {
      fail(s);
      return done();
    }
  }
  auto spec = provisioner_.Prepare(vm, group);
  if (!spec.ok()) {
    fail(spec.status());
    return done();
  }
  if (options_.network != nullptr) {
    std::optional<vmm::NicSpec> nic = options_.network->NicFor(vm.id);
    if (!nic) {
      fail(absl::UnavailableError("no address in its tenant network yet"));
      return done();
    }
    spec->nic = *nic;
  }
  RecordVm(
      vm.id,
      [](store::Vm& v) {
        v.observed = VmObservedState::kBooting;
        v.domain_name = "";
      },
      "Booting", "");
  absl::Time start = clock_.MonotonicNow();
  // The driver is captured so it outlives the boot, as BootAsync requires.
  agent_connector_.BootAsync(
      *driver, *spec,
      [this, id = vm.id, driver, start, fail, done = std::move(done)](
          absl::StatusOr<std::shared_ptr<agent::AgentApi>> agent) {
        if (!agent.ok()) {
          fail(agent.status());
          return done();
        }
        absl::Duration took = clock_.MonotonicNow() - start;
        spdlog::info("vm {} ready boot_s={:.2f}", id.str(),
                     absl::ToDoubleSeconds(took));
        (*agent)->SetEventHandler([this](const agent::AgentEvent&) { Wake(); });
        {
          absl::MutexLock lock(&mu_);
          sessions_[id] = Session{*agent, {}, {}};
          retry_after_.erase(id);
          ++stats_.vms_created;
        }
        RecordVm(
            id,
            [id](store::Vm& v) {
              v.observed = VmObservedState::kRunning;
              v.boot_attempts += 1;
              v.domain_name = vmm::DomainName(id);
              v.message.clear();
            },
            "VmReady",
            absl::StrCat("agent answered ", absl::ToInt64Milliseconds(took),
                         " ms after create"));
        done();
      });
}

void Controller::AttachVm(const store::Vm& vm) {
  auto driver = Driver(vm.host);
  if (!driver) return;
  auto agent = agent_connector_.Attach(*driver, vm.id);
  if (!agent.ok()) {
    spdlog::warn("vm {}: attach failed: {}", vm.id.str(),
                 agent.status().ToString());
    absl::MutexLock lock(&mu_);
    retry_after_[vm.id] = clock_.MonotonicNow() + options_.boot_retry_delay;
    return;
  }
  (*agent)->SetEventHandler([this](const agent::AgentEvent&) { Wake(); });
  {
    absl::MutexLock lock(&mu_);
    sessions_[vm.id] = Session{*agent, {}, {}};
    retry_after_.erase(vm.id);
  }
  RecordVm(
      vm.id,
      [](store::Vm& v) {
        v.observed = VmObservedState::kRunning;
        v.message.clear();
      },
      "VmAdopted", "agent reattached");
}

void Controller::TeardownVm(const store::Vm& vm) {
  auto driver = Driver(vm.host);
  if (!driver) return;
  std::shared_ptr<agent::AgentApi> agent;
  {
    absl::MutexLock lock(&mu_);
    auto it = sessions_.find(vm.id);
    if (it != sessions_.end()) agent = it->second.agent;
  }
  RecordVm(
      vm.id, [](store::Vm& v) { v.observed = VmObservedState::kStopping; },
      "Stopping", "");
  vmm::GracefulRequest graceful;
  if (agent) graceful = [agent] { return agent->Shutdown(true); };
  auto path = driver->Shutdown(vm.id, clock_.Now() + options_.vm_stop_deadline,
                               graceful);
  DropSession(vm.id);
  if (!path.ok() && !absl::IsNotFound(path.status())) {
    spdlog::warn("vm {}: stop failed: {}", vm.id.str(),
                 path.status().ToString());
    return;
  }
  if (vm.desired == VmDesiredState::kDeleted) {
    absl::Status s = IgnoreNotFound(driver->Undefine(vm.id));
    if (s.ok()) s = provisioner_.Release(vm.host, vm.id);
    if (!s.ok()) {
      spdlog::warn("vm {}: undefine failed: {}", vm.id.str(), s.ToString());
      return;
    }
  }
  RecordVm(
      vm.id, [](store::Vm& v) { v.observed = VmObservedState::kStopped; },
      "Stopped",
      path.ok() ? std::string(vmm::ShutdownPathName(*path)) : "gone");
}

void Controller::RemoveOrphan(const HostId& host, const VmId& vm) {
  auto driver = Driver(host);
  if (!driver) return;
  spdlog::info("host {}: removing orphaned VM {}", host.str(), vm.str());
  absl::Status s = IgnoreNotFound(driver->Undefine(vm));
  if (s.ok()) s = provisioner_.Release(host, vm);
  if (!s.ok()) {
    spdlog::warn("vm {}: orphan removal failed: {}", vm.str(), s.ToString());
  }
}

void Controller::DropSession(const VmId& vm, const HostId& unreachable_host) {
  std::shared_ptr<agent::AgentApi> agent;
  {
    absl::MutexLock lock(&mu_);
    auto it = sessions_.find(vm);
    if (it == sessions_.end()) return;
    agent = std::move(it->second.agent);
    sessions_.erase(it);
  }
  agent->SetEventHandler(nullptr);
  if (!unreachable_host.empty()) {
    absl::MutexLock lock(&mu_);
    parked_[unreachable_host].push_back(std::move(agent));
  }
}

absl::StatusOr<std::shared_ptr<agent::AgentApi>> Controller::AgentFor(
    const VmId& vm) {
  absl::MutexLock lock(&mu_);
  auto it = sessions_.find(vm);
  if (it == sessions_.end()) {
    return absl::UnavailableError(
        absl::StrCat("VM \"", vm.str(), "\" has no agent connection yet"));
  }
  return it->second.agent;
}

}  // namespace nest::control
