// Commands that reach running things or the scheduler: containers (logs,
// exec, stats through the VM's agent), events, and placement explain and
// dry run (read-only: placement runs on a snapshot, nothing is written).
#include <map>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "control/commands.h"
#include "placement/explain.h"
#include "placement/schedule.h"

namespace nest::control {

using namespace commands_internal;  // NOLINT: shared helpers

namespace {

// "tenant/name" (placement's scoped keys) -> "name".
std::string Unscoped(absl::string_view key) {
  size_t slash = key.find('/');
  return std::string(slash == absl::string_view::npos ? key
                                                      : key.substr(slash + 1));
}

// Replicas the controller has not created rows for yet, as pending
// placement requests, so Explain and DryRun answer before the first pass.
void AddMissingReplicas(const store::Snapshot& s, PlacementInput& in,
                        const TenantId& only_tenant) {
  std::map<std::pair<TenantId, WorkloadId>, int64_t> rows;
  for (const auto& c : s.containers) {
    if (c.desired != store::ContainerDesiredState::kDeleted) {
      ++rows[{c.tenant, c.workload}];
    }
  }
  std::set<std::string> groups;
  for (const auto& g : in.state.groups) groups.insert(g.id.str());
  for (const auto& w : s.workloads) {
    if (!only_tenant.empty() && w.tenant != only_tenant) continue;
    int64_t missing = w.replicas - rows[{w.tenant, w.name}];
    for (int64_t i = 0; i < missing; ++i) {
      placement::Container pc;
      pc.id = ContainerId(absl::StrCat(w.name.str(), "-new", i + 1));
      pc.workload = WorkloadId(ScopedKey(w.tenant, w.name.str()));
      pc.tenant = w.tenant;
      pc.group = GroupId(ScopedKey(w.tenant, w.target_group.str()));
      pc.requests = w.requests;
      pc.priority = static_cast<int>(w.priority);
      pc.isolation = w.isolation == store::Isolation::kDedicated
                         ? placement::Isolation::kDedicated
                         : placement::Isolation::kShared;
      if (!groups.count(pc.group.str())) {
        in.invalid[pc.id] = absl::StrCat("VM group \"", w.target_group.str(),
                                         "\" of workload \"", w.name.str(),
                                         "\" does not exist");
        continue;
      }
      in.pending.containers.push_back(std::move(pc));
    }
  }
}

// The last `n` lines of `text`.
std::string LastLines(const std::string& text, int64_t n) {
  size_t pos = text.size();
  if (pos > 0 && text[pos - 1] == '\n') --pos;
  for (int64_t i = 0; i < n; ++i) {
    if (pos == 0) return text;
    pos = text.rfind('\n', pos - 1);
    if (pos == std::string::npos) return text;
  }
  return text.substr(pos + 1);
}

ExplainView ToView(const WorkloadId& w, int64_t pending,
                   const placement::Explanation& e) {
  ExplainView v;
  v.workload = w;
  v.pending = pending;
  for (const auto& r : e.vms) v.reasons.push_back({r.reason, r.count, "vms"});
  for (const auto& r : e.hosts) {
    v.reasons.push_back({r.reason, r.count, "hosts"});
  }
  if (e.smallest_change) v.suggestion = e.smallest_change->text;
  return v;
}

}  // namespace

// ---- Containers ----------------------------------------------------------

absl::StatusOr<ContainerView> Commands::GetContainer(const std::string& id) {
  ContainerView out;
  NEST_RETURN_IF_ERROR(store_.Read([&](store::ReadTx& tx) -> absl::Status {
    NEST_ASSIGN_OR_RETURN(store::Container c, tx.GetContainer(ContainerId(id)));
    if (c.tenant != tenant_) {
      return absl::NotFoundError(
          absl::StrCat("container \"", id, "\" not found"));
    }
    NEST_ASSIGN_OR_RETURN(out, ViewContainer(tx, c));
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<store::Page<ContainerView>> Commands::ListContainers(
    const ListOptions& page, const std::string& workload,
    const std::string& vm) {
  return ListPage<ContainerView>(
      page,
      [&](store::ListQuery& q) {
        q.tenant = tenant_;
        q.workload = WorkloadId(workload);
        q.vm = VmId(vm);
      },
      [](store::ReadTx& tx, const store::ListQuery& q) {
        return tx.ListContainers(q);
      },
      ViewContainer);
}

absl::StatusOr<std::shared_ptr<agent::AgentApi>> Commands::AgentOf(
    const store::Container& c) {
  if (controller_ == nullptr) {
    return absl::UnavailableError(
        "this server runs without a controller: no agent connections");
  }
  if (c.vm.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "container \"", c.id.str(), "\" is not placed in a VM yet"));
  }
  return controller_->AgentFor(c.vm);
}

absl::Status Commands::Logs(const std::string& id, bool follow,
                            int64_t tail_lines, const agent::LogSink& sink,
                            const std::function<bool()>& cancelled,
                            absl::Time deadline) {
  if (tail_lines < 0) {
    FieldErrors errors;
    errors.Add("tail_lines", absl::StrCat("must be >= 0, got ", tail_lines));
    return errors.ToStatus();
  }
  NEST_ASSIGN_OR_RETURN(ContainerView c, GetContainer(id));
  NEST_ASSIGN_OR_RETURN(auto agent, AgentOf(c.container));
  std::string all;
  NEST_RETURN_IF_ERROR(agent->Logs(
      id, false, 0,
      [&](absl::string_view d) {
        all.append(d.data(), d.size());
        return !cancelled();
      },
      deadline));
  uint64_t sent = all.size();
  if (tail_lines > 0) all = LastLines(all, tail_lines);
  if (!all.empty() && !sink(all)) return absl::OkStatus();
  if (!follow) return absl::OkStatus();
  // Following: the agent call blocks while the container is quiet, so it
  // runs in short slices to notice a cancelled client. Each slice asks for
  // everything retained and skips what was already sent (a container's
  // output is append-only while it runs).
  // The deadline is the client's, in real wall-clock time (not clock_).
  while (!cancelled() && absl::Now() < deadline) {
    absl::Time slice = std::min(deadline, absl::Now() + absl::Seconds(1));
    uint64_t seen = 0;
    bool stop = false;
    NEST_RETURN_IF_ERROR(agent->Logs(
        id, true, 0,
        [&](absl::string_view d) {
          uint64_t from = seen;
          seen += d.size();
          if (seen <= sent) return !cancelled();
          size_t skip = from < sent ? static_cast<size_t>(sent - from) : 0;
          sent = seen;
          if (!sink(d.substr(skip))) {
            stop = true;
            return false;
          }
          return !cancelled();
        },
        slice));
    if (stop) break;
    auto info = agent->ContainerStatus(id);
    if (info.ok() && info->state == agent::ContainerState::kExited) break;
  }
  return absl::OkStatus();
}

absl::StatusOr<agent::ExecResult> Commands::Exec(
    const std::string& id, const std::vector<std::string>& command,
    int64_t timeout_s) {
  FieldErrors errors;
  if (command.empty()) errors.Add("command", "must name a program to run");
  if (timeout_s < 0 || timeout_s > 3600) {
    errors.Add(
        "timeout_s",
        absl::StrCat("must be between 0 (30 s) and 3600, got ", timeout_s));
  }
  NEST_RETURN_IF_ERROR(errors.ToStatus());
  NEST_ASSIGN_OR_RETURN(ContainerView c, GetContainer(id));
  NEST_ASSIGN_OR_RETURN(auto agent, AgentOf(c.container));
  agent::ExecOptions opts;
  opts.timeout = absl::Seconds(timeout_s == 0 ? 30 : timeout_s);
  return agent->Exec(id, command, opts);
}

absl::StatusOr<UsageView> Commands::Usage() {
  if (options_.usage == nullptr) {
    return absl::UnavailableError("usage sampling is not enabled");
  }
  UsageSample u = options_.usage->Latest();
  UsageView v;
  v.sampled_at = u.at;
  std::map<HostId, HostUsageView> hosts;
  NEST_RETURN_IF_ERROR(store_.Read([&](store::ReadTx& tx) -> absl::Status {
    NEST_ASSIGN_OR_RETURN(auto rows, tx.ListHosts({}));
    for (const auto& h : rows.items) {
      NEST_ASSIGN_OR_RETURN(hosts[h.name].host,
                            commands_internal::ViewHost(tx, h));
    }
    return absl::OkStatus();
  }));
  // Host totals count every tenant's VMs (hosts are cluster-scoped); the
  // VM and container rows only the caller's.
  for (auto& vm : u.vms) {
    auto it = hosts.find(vm.host);
    if (it != hosts.end()) {
      it->second.cpu_cores += vm.cpu_cores;
      it->second.memory_bytes += static_cast<int64_t>(
          (vm.stats.rss_kib > 0 ? vm.stats.rss_kib : vm.stats.memory_kib) *
          1024);
    }
    if (vm.tenant == tenant_) v.vms.push_back(std::move(vm));
  }
  for (auto& c : u.containers) {
    if (c.tenant == tenant_) v.containers.push_back(std::move(c));
  }
  if (cluster_wide_) {
    for (auto& [name, h] : hosts) v.hosts.push_back(std::move(h));
  }
  return v;
}

absl::StatusOr<std::vector<ContainerStatsView>> Commands::Stats(
    const std::string& id) {
  std::vector<ContainerView> targets;
  if (!id.empty()) {
    NEST_ASSIGN_OR_RETURN(ContainerView c, GetContainer(id));
    targets.push_back(std::move(c));
  } else {
    std::string token;
    do {
      NEST_ASSIGN_OR_RETURN(auto page,
                            ListContainers({kMaxPageSize, token}, "", ""));
      for (auto& c : page.items) {
        if (c.container.observed == store::ContainerObservedState::kRunning) {
          targets.push_back(std::move(c));
        }
      }
      token = page.next_page_token;
    } while (!token.empty());
  }
  std::map<VmId, std::vector<const ContainerView*>> by_vm;
  for (const auto& c : targets) by_vm[c.container.vm].push_back(&c);
  std::map<std::pair<TenantId, WorkloadId>, int64_t> limits;
  NEST_RETURN_IF_ERROR(store_.Read([&](store::ReadTx& tx) -> absl::Status {
    for (const auto& c : targets) {
      auto key = std::make_pair(c.container.tenant, c.container.workload);
      if (limits.count(key)) continue;
      auto w = tx.GetWorkload(key.first, key.second);
      limits[key] = w.ok() ? w->requests.memory_mib() * 1024 * 1024 : 0;
    }
    return absl::OkStatus();
  }));
  std::vector<ContainerStatsView> out;
  for (const auto& [vm, cs] : by_vm) {
    NEST_ASSIGN_OR_RETURN(auto agent, AgentOf(cs.front()->container));
    NEST_ASSIGN_OR_RETURN(agent::StatsReport report,
                          agent->Stats(id.empty() ? "" : id));
    std::map<std::string, const agent::ContainerStats*> got;
    for (const auto& s : report.containers) got[s.id] = &s;
    for (const ContainerView* c : cs) {
      ContainerStatsView v;
      v.container = c->container.id;
      v.memory_limit_bytes =
          limits[{c->container.tenant, c->container.workload}];
      auto it = got.find(c->container.id.str());
      if (it != got.end()) {
        v.cpu_seconds = static_cast<double>(it->second->cpu_usage_us) / 1e6;
        v.memory_bytes = static_cast<int64_t>(it->second->memory_bytes);
        v.pids = static_cast<int64_t>(it->second->pids);
      }
      out.push_back(v);
    }
  }
  return out;
}

// ---- Events ----------------------------------------------------------------

absl::StatusOr<std::vector<store::Event>> Commands::ListEvents(
    const EventFilter& f) {
  if (f.after_seq < 0 || f.limit <= 0 || f.limit > 10000) {
    FieldErrors errors;
    if (f.after_seq < 0) {
      errors.Add("after_seq", absl::StrCat("must be >= 0, got ", f.after_seq));
    }
    if (f.limit <= 0 || f.limit > 10000) {
      errors.Add("limit",
                 absl::StrCat("must be between 1 and 10000, got ", f.limit));
    }
    return errors.ToStatus();
  }
  store::EventQuery q;
  q.after_seq = f.after_seq;
  q.limit = f.limit;
  q.kind = f.kind;
  q.name = f.name;
  // A tenant's caller sees its own events only; hosts' events (no tenant)
  // and other tenants' are for operators.
  if (!cluster_wide_) q.tenant = tenant_;
  return store_.EventsSince(q);
}

absl::StatusOr<int64_t> Commands::OldestEventSeq() {
  return store_.OldestEventSeq();
}

int64_t Commands::LastEventSeq() const { return store_.LastEventSeq(); }

int64_t Commands::WaitForEvents(int64_t after_seq, absl::Duration timeout) {
  return store_.WaitForEvents(after_seq, timeout);
}

// ---- Placement -------------------------------------------------------------

absl::StatusOr<ExplainView> Commands::Explain(const std::string& name) {
  NEST_ASSIGN_OR_RETURN(store::Snapshot s, store_.ReadSnapshot());
  const store::Workload* w = nullptr;
  for (const auto& x : s.workloads) {
    if (x.tenant == tenant_ && x.name.str() == name) w = &x;
  }
  if (w == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("workload \"", name, "\" not found"));
  }
  PlacementInput in = BuildPlacementInput(s, options_.placement);
  AddMissingReplicas(s, in, tenant_);
  const std::string key = ScopedKey(tenant_, name);
  std::vector<const placement::Container*> pending;
  for (const auto& c : in.pending.containers) {
    if (c.workload.str() == key) pending.push_back(&c);
  }
  ExplainView v;
  v.workload = w->name;
  // Replicas whose group is missing never reach placement.
  int64_t invalid = 0;
  std::string invalid_reason;
  std::set<std::string> mine;
  for (const auto& c : s.containers) {
    if (c.tenant == tenant_ && c.workload == w->name) mine.insert(c.id.str());
  }
  for (const auto& [id, msg] : in.invalid) {
    if (mine.count(id.str()) ||
        absl::StartsWith(id.str(), absl::StrCat(name, "-new"))) {
      ++invalid;
      invalid_reason = msg;
    }
  }
  if (pending.empty()) {
    v.pending = invalid;
    if (invalid > 0) {
      v.reasons.push_back({invalid_reason, invalid, "containers"});
      v.suggestion = absl::StrCat("create VM group \"", w->target_group.str(),
                                  "\" or change the workload's group");
    }
    return v;
  }
  NEST_ASSIGN_OR_RETURN(placement::Snapshot snap,
                        placement::Snapshot::Build(in.state));
  placement::Explanation e = placement::Explain(snap, *pending.front());
  v = ToView(w->name, static_cast<int64_t>(pending.size()) + invalid, e);
  return v;
}

absl::StatusOr<DryRunView> Commands::DryRun() {
  NEST_ASSIGN_OR_RETURN(store::Snapshot s, store_.ReadSnapshot());
  PlacementInput in = BuildPlacementInput(s, options_.placement);
  AddMissingReplicas(s, in, TenantId());
  NEST_ASSIGN_OR_RETURN(placement::Snapshot snap,
                        placement::Snapshot::Build(in.state));
  // A fixed seed: the same state gives the same answer.
  SeededRng rng(1);
  placement::Plan plan = placement::Schedule(snap, in.pending, rng);
  DryRunView out;
  std::map<ContainerId, std::string> workload_of;
  for (const auto& c : in.pending.containers) {
    workload_of[c.id] = Unscoped(c.workload.str());
  }
  for (const auto& action : plan.actions) {
    PlannedActionView a;
    if (const auto* cv = std::get_if<placement::CreateVm>(&action)) {
      a.action = "create_vm";
      a.vm = cv->vm.str();
      a.group = Unscoped(cv->group.str());
      a.host = cv->host.str();
    } else if (const auto* pc =
                   std::get_if<placement::PlaceContainer>(&action)) {
      a.action = "place_container";
      a.container = pc->container.id.str();
      a.vm = pc->vm.str();
      a.host = pc->host.str();
      a.group = Unscoped(pc->container.group.str());
      a.workload = Unscoped(pc->container.workload.str());
    } else if (const auto* sc =
                   std::get_if<placement::StopContainer>(&action)) {
      a.action = "stop_container";
      a.container = sc->container.str();
      a.vm = sc->vm.str();
    }
    out.actions.push_back(std::move(a));
  }
  std::map<std::string, size_t> by_workload;
  for (const auto& u : plan.unplaced) {
    std::string w = workload_of[u.container];
    auto it = by_workload.find(w);
    if (it == by_workload.end()) {
      by_workload[w] = out.unplaceable.size();
      out.unplaceable.push_back(ToView(WorkloadId(w), 1, u));
    } else {
      ++out.unplaceable[it->second].pending;
    }
  }
  return out;
}

}  // namespace nest::control
