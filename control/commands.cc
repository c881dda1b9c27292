// Commands: the transaction and idempotency wrapper, views, hosts, groups
// and VMs. Workloads, images and Apply are in commands_workloads.cc;
// containers, events and placement in commands_runtime.cc.
#include "control/commands.h"

#include <algorithm>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "control/workload_health.h"
#include "core/validate.h"

namespace nest::control {

using namespace commands_internal;  // NOLINT: this file implements them

namespace {

// INVALID_ARGUMENT on field "pool" when `pool` overlaps net.pool or
// another host's pool.
absl::Status CheckHostPoolFree(store::ReadTx& tx, const net::IpamConfig& ipam,
                               const std::string& host,
                               const net::Ipv4Prefix& pool) {
  NEST_ASSIGN_OR_RETURN(store::Page<store::Host> hosts, tx.ListHosts());
  net::IpamConfig others = ipam;
  for (const store::Host& h : hosts.items) {
    absl::StatusOr<net::Ipv4Prefix> p = net::ParseIpv4Prefix("pool", h.pool);
    if (p.ok()) others.host_pools[h.name.str()] = *p;
  }
  return net::ValidateHostPool(others, host, pool, "pool");
}

}  // namespace

Commands::Commands(store::Store& store, Controller* controller,
                   ImageSource& images, Clock& clock, CommandsOptions options,
                   TenantId tenant)
    : store_(store),
      controller_(controller),
      images_(images),
      clock_(clock),
      options_(std::move(options)),
      tenant_(std::move(tenant)) {}

absl::Status Commands::EnsureTenant(store::WriteTx& tx) {
  auto t = tx.GetTenant(tenant_);
  if (t.ok()) return absl::OkStatus();
  if (!absl::IsNotFound(t.status())) return t.status();
  store::Tenant fresh;
  fresh.name = tenant_;
  return tx.CreateTenant(fresh, {"Created", "created on first use"}).status();
}

absl::StatusOr<Written> Commands::Mutate(
    const WriteMeta& m,
    const std::function<absl::StatusOr<std::string>(store::WriteTx&)>& fn) {
  store::IdempotencyKey key{tenant_, m.request_id, m.request_hash};
  if (!m.request_id.empty() && m.request_hash.empty()) {
    return absl::InternalError("an idempotent request needs a request hash");
  }
  NEST_ASSIGN_OR_RETURN(
      store::IdempotentResult r,
      store_.WriteIdempotent(
          key, [&](store::WriteTx& tx) -> absl::StatusOr<std::string> {
            tx.SetActor(actor_, m.request_id);
            NEST_RETURN_IF_ERROR(EnsureTenant(tx));
            // Quotas are checked on the transaction's own view, so two
            // racing writes cannot both pass on the same headroom.
            NEST_ASSIGN_OR_RETURN(store::Tenant t, tx.GetTenant(tenant_));
            if (t.quota.empty()) return fn(tx);
            int64_t overhead = options_.placement.vmm_overhead_mib;
            NEST_ASSIGN_OR_RETURN(QuotaUsage before,
                                  TenantUsage(tx, tenant_, overhead));
            NEST_ASSIGN_OR_RETURN(std::string out, fn(tx));
            NEST_ASSIGN_OR_RETURN(QuotaUsage after,
                                  TenantUsage(tx, tenant_, overhead));
            NEST_RETURN_IF_ERROR(CheckQuota(tenant_, t.quota, before, after));
            return out;
          }));
  if (!r.replayed && controller_ != nullptr) controller_->Wake();
  return Written{std::move(r.response), r.replayed};
}

absl::StatusOr<store::ListQuery> Commands::Query(
    const ListOptions& page) const {
  if (page.page_size < 0) {
    FieldErrors errors;
    errors.Add("page.page_size",
               absl::StrCat("must be 0 (the default, ", kDefaultPageSize,
                            ") or more, got ", page.page_size));
    return errors.ToStatus();
  }
  store::ListQuery q;
  q.limit = page.page_size == 0 ? kDefaultPageSize
                                : std::min(page.page_size, kMaxPageSize);
  q.page_token = page.page_token;
  return q;
}

absl::Status Commands::PageError(const absl::Status& listed) {
  // The store decodes page tokens; its complaint is about this field.
  if (!absl::IsInvalidArgument(listed) || !GetFieldViolations(listed).empty() ||
      !absl::StartsWith(listed.message(), "page_token")) {
    return listed;
  }
  FieldErrors errors;
  errors.Add("page.page_token", listed.message());
  return errors.ToStatus();
}

// ---- Views -----------------------------------------------------------------

namespace commands_internal {

absl::StatusOr<HostView> ViewHost(store::ReadTx& tx, const store::Host& h) {
  HostView v;
  v.host = h;
  store::ListQuery q;
  q.host = h.name;
  NEST_ASSIGN_OR_RETURN(auto vms, tx.ListVms(q));
  std::map<std::pair<TenantId, GroupId>, Resources> shapes;
  for (const auto& vm : vms.items) {
    if (vm.desired == store::VmDesiredState::kDeleted) continue;
    ++v.vm_count;
    auto key = std::make_pair(vm.tenant, vm.group);
    auto it = shapes.find(key);
    if (it == shapes.end()) {
      auto g = tx.GetGroup(vm.tenant, vm.group);
      Resources shape = g.ok() ? GroupShape(*g) : Resources();
      it = shapes.emplace(key, shape).first;
    }
    v.allocated += it->second;
  }
  return v;
}

absl::StatusOr<GroupView> ViewGroup(store::ReadTx& tx,
                                    const store::VmGroup& g) {
  GroupView v;
  v.group = g;
  store::ListQuery q;
  q.tenant = g.tenant;
  q.group = g.name;
  NEST_ASSIGN_OR_RETURN(auto vms, tx.ListVms(q));
  v.vms = static_cast<int64_t>(vms.items.size());
  for (const auto& vm : vms.items) {
    if (vm.observed == store::VmObservedState::kRunning) {
      ++v.vms_running;
    } else if (vm.desired == store::VmDesiredState::kRunning) {
      ++v.vms_pending;
    }
    store::ListQuery cq;
    cq.vm = vm.id;
    NEST_ASSIGN_OR_RETURN(auto cs, tx.ListContainers(cq));
    v.containers += static_cast<int64_t>(cs.items.size());
  }
  if (g.max_size == 0) {
    v.message = absl::StrCat("deleting: ", vms.items.size(), " VM",
                             vms.items.size() == 1 ? "" : "s", " left");
  }
  return v;
}

absl::StatusOr<VmView> ViewVm(store::ReadTx& tx, const store::Vm& vm) {
  VmView v;
  v.vm = vm;
  auto g = tx.GetGroup(vm.tenant, vm.group);
  if (g.ok()) {
    v.vcpus = g->vcpus;
    v.memory_mib = g->memory_mib;
  }
  store::ListQuery q;
  q.vm = vm.id;
  NEST_ASSIGN_OR_RETURN(auto cs, tx.ListContainers(q));
  v.containers = static_cast<int64_t>(cs.items.size());
  return v;
}

absl::StatusOr<WorkloadView> ViewWorkload(store::ReadTx& tx,
                                          const store::Workload& w) {
  WorkloadView v;
  v.workload = w;
  // The network reconciler's key of a service (control/networking.cc).
  NEST_ASSIGN_OR_RETURN(
      v.vip, tx.GetIpAllocation(
                 "vip", absl::StrCat(w.tenant.str(), "/", w.name.str())));
  v.vip = v.vip.substr(0, v.vip.find('/'));
  store::ListQuery q;
  q.tenant = w.tenant;
  q.workload = w.name;
  NEST_ASSIGN_OR_RETURN(auto cs, tx.ListContainers(q));
  // What the controller has acted on is read off the replicas themselves:
  // each records the generation it was started from.
  v.observed_generation = w.meta.generation;
  for (const auto& c : cs.items) {
    if (c.desired == store::ContainerDesiredState::kDeleted) continue;
    const bool current = c.spec_generation == w.meta.generation;
    v.observed_generation = std::min(v.observed_generation, c.spec_generation);
    switch (c.observed) {
      case store::ContainerObservedState::kRunning:
        ++v.running;
        if (current && Available(c)) ++v.ready;
        if (v.message.empty() &&
            c.health == store::ContainerHealth::kUnhealthy) {
          v.message = absl::StrCat(c.id.str(), " unhealthy: ", c.message);
        }
        break;
      case store::ContainerObservedState::kExited:
        if (c.exit_code.value_or(-1) == 0) {
          ++v.succeeded;
        } else {
          ++v.failed;
        }
        break;
      case store::ContainerObservedState::kFailed:
      case store::ContainerObservedState::kCrashLoop:
        ++v.failed;
        break;
      default:
        ++v.pending;
        if (v.message.empty() && c.vm.empty()) v.message = c.message;
        break;
    }
  }
  return v;
}

absl::StatusOr<ContainerView> ViewContainer(store::ReadTx& tx,
                                            const store::Container& c) {
  ContainerView v;
  v.container = c;
  if (!c.vm.empty()) {
    auto vm = tx.GetVm(c.vm);
    if (vm.ok()) v.host = vm->host;
  }
  auto w = tx.GetWorkload(c.tenant, c.workload);
  // What it was started from; the workload's current image until then.
  v.image = c.image;
  if (v.image.empty() && w.ok()) v.image = w->image;
  NEST_ASSIGN_OR_RETURN(v.address,
                        tx.GetIpAllocation("container_address", c.id.str()));
  v.address = v.address.substr(0, v.address.find('/'));
  // The store keeps no OOM flag; the controller records it in the message.
  v.oom_killed = c.message.find("OOM") != std::string::npos ||
                 c.message.find("oom") != std::string::npos;
  return v;
}

}  // namespace commands_internal

// ---- Hosts -----------------------------------------------------------------

absl::StatusOr<Written> Commands::CreateHost(const WriteMeta& m,
                                             const HostInput& in,
                                             const Encoder<HostView>& enc) {
  FieldErrors errors;
  errors.Check("name", ValidateName("name", in.name));
  errors.Check("uri", ValidateHostUri("uri", in.uri));
  for (const auto& [k, v] : in.labels) {
    if (k.empty() || k.size() > 63 || v.size() > 255) {
      errors.Add(absl::StrCat("labels[", QuoteForMessage(k), "]"),
                 "keys must be 1-63 characters and values at most 255");
    }
  }
  std::optional<net::Ipv4Prefix> pool;
  if (!in.pool.empty()) {
    absl::StatusOr<net::Ipv4Prefix> p = net::ParseIpv4Prefix("pool", in.pool);
    errors.Check("pool", p.status());
    if (p.ok()) pool = *p;
  }
  const net::IpamConfig& ipam = options_.ipam;
  if (pool && pool->length() > ipam.network_prefix_length) {
    errors.Add("pool", absl::StrCat("must be a /", ipam.network_prefix_length,
                                    " or shorter, to hold a tenant subnet "
                                    "(net.network_prefix_length), got ",
                                    pool->ToString()));
    pool.reset();
  }
  NEST_RETURN_IF_ERROR(errors.ToStatus());
  return Mutate(m, [&](store::WriteTx& tx) -> absl::StatusOr<std::string> {
    if (pool) NEST_RETURN_IF_ERROR(CheckHostPoolFree(tx, ipam, in.name, *pool));
    store::Host h;
    h.name = HostId(in.name);
    h.libvirt_uri = in.uri;
    h.labels = in.labels;
    h.pool = in.pool;
    NEST_ASSIGN_OR_RETURN(store::Host created, tx.CreateHost(h));
    NEST_ASSIGN_OR_RETURN(HostView v, ViewHost(tx, created));
    return enc(v);
  });
}

absl::StatusOr<HostView> Commands::GetHost(const std::string& name) {
  HostView out;
  NEST_RETURN_IF_ERROR(store_.Read([&](store::ReadTx& tx) -> absl::Status {
    NEST_ASSIGN_OR_RETURN(store::Host h, tx.GetHost(HostId(name)));
    NEST_ASSIGN_OR_RETURN(out, ViewHost(tx, h));
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<store::Page<HostView>> Commands::ListHosts(
    const ListOptions& page) {
  return ListPage<HostView>(
      page, [](store::ListQuery&) {},
      [](store::ReadTx& tx, const store::ListQuery& q) {
        return tx.ListHosts(q);
      },
      ViewHost);
}

absl::StatusOr<Written> Commands::DeleteHost(const WriteMeta& m,
                                             const std::string& name) {
  return Mutate(m, [&](store::WriteTx& tx) -> absl::StatusOr<std::string> {
    store::ListQuery q;
    q.host = HostId(name);
    NEST_ASSIGN_OR_RETURN(store::Host h, tx.GetHost(HostId(name)));
    NEST_ASSIGN_OR_RETURN(auto vms, tx.ListVms(q));
    if (!vms.items.empty()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "host \"", name, "\" still has ", vms.items.size(), " VM",
          vms.items.size() == 1 ? "" : "s", " (first: ", vms.items[0].id.str(),
          "); drain it and wait until they are gone"));
    }
    NEST_RETURN_IF_ERROR(tx.DeleteHost(h.name, m.expected_generation));
    return std::string();
  });
}

absl::StatusOr<Written> Commands::SetHostState(const WriteMeta& m,
                                               const std::string& name,
                                               store::HostState state,
                                               const Encoder<HostView>& enc) {
  return Mutate(m, [&](store::WriteTx& tx) -> absl::StatusOr<std::string> {
    NEST_ASSIGN_OR_RETURN(store::Host h, tx.GetHost(HostId(name)));
    if (m.expected_generation != 0 &&
        m.expected_generation != h.meta.generation) {
      return absl::FailedPreconditionError(absl::StrCat(
          "host \"", name, "\" is at generation ", h.meta.generation,
          ", but the request expected generation ", m.expected_generation,
          "; read it again and retry"));
    }
    if (h.state != state) {
      store::HostState before = h.state;
      h.state = state;
      NEST_ASSIGN_OR_RETURN(
          h,
          tx.UpdateHost(
              h, m.expected_generation,
              {absl::StrCat(
                   "Host", state == store::HostState::kReady      ? "Uncordoned"
                           : state == store::HostState::kCordoned ? "Cordoned"
                                                                  : "Draining"),
               absl::StrCat("host \"", name, "\": ", store::Name(before),
                            " -> ", store::Name(state))}));
    }
    NEST_ASSIGN_OR_RETURN(HostView v, ViewHost(tx, h));
    return enc(v);
  });
}

// ---- Groups ----------------------------------------------------------------

absl::StatusOr<Written> Commands::CreateGroup(const WriteMeta& m,
                                              const std::string& name,
                                              const GroupSpecInput& spec,
                                              const Encoder<GroupView>& enc) {
  FieldErrors errors;
  NEST_ASSIGN_OR_RETURN(store::VmGroup g,
                        BuildGroup(tenant_, name, spec, "", errors));
  NEST_RETURN_IF_ERROR(errors.ToStatus());
  return Mutate(m, [&](store::WriteTx& tx) -> absl::StatusOr<std::string> {
    NEST_ASSIGN_OR_RETURN(store::VmGroup created, tx.CreateGroup(g));
    NEST_ASSIGN_OR_RETURN(GroupView v, ViewGroup(tx, created));
    return enc(v);
  });
}

absl::StatusOr<Written> Commands::UpdateGroup(const WriteMeta& m,
                                              const std::string& name,
                                              const GroupSpecInput& spec,
                                              const Encoder<GroupView>& enc) {
  FieldErrors errors;
  NEST_ASSIGN_OR_RETURN(store::VmGroup g,
                        BuildGroup(tenant_, name, spec, "", errors));
  NEST_RETURN_IF_ERROR(errors.ToStatus());
  return Mutate(m, [&](store::WriteTx& tx) -> absl::StatusOr<std::string> {
    NEST_ASSIGN_OR_RETURN(store::VmGroup cur,
                          tx.GetGroup(tenant_, GroupId(name)));
    if (cur.max_size == 0) {
      return absl::FailedPreconditionError(
          absl::StrCat("VM group \"", name, "\" is being deleted"));
    }
    CopyGroupSpec(g, cur);
    NEST_ASSIGN_OR_RETURN(store::VmGroup updated,
                          tx.UpdateGroup(cur, m.expected_generation));
    NEST_ASSIGN_OR_RETURN(GroupView v, ViewGroup(tx, updated));
    return enc(v);
  });
}

namespace {
// A deleting group whose VMs are all gone: its row can go now.
bool Finished(const GroupView& v) {
  return v.group.max_size == 0 && v.vms == 0;
}
}  // namespace

absl::StatusOr<GroupView> Commands::GetGroup(const std::string& name) {
  GroupView out;
  NEST_RETURN_IF_ERROR(store_.Read([&](store::ReadTx& tx) -> absl::Status {
    NEST_ASSIGN_OR_RETURN(store::VmGroup g,
                          tx.GetGroup(tenant_, GroupId(name)));
    NEST_ASSIGN_OR_RETURN(out, ViewGroup(tx, g));
    return absl::OkStatus();
  }));
  if (Finished(out)) {
    NEST_RETURN_IF_ERROR(SweepDeletedGroups().status());
    return absl::NotFoundError(
        absl::StrCat("VM group \"", name, "\" not found (deleted)"));
  }
  return out;
}

absl::StatusOr<store::Page<GroupView>> Commands::ListGroups(
    const ListOptions& page) {
  NEST_ASSIGN_OR_RETURN(store::Page<GroupView> out, ListGroupsOnce(page));
  bool finished = false;
  for (const auto& g : out.items) finished = finished || Finished(g);
  if (!finished) return out;
  NEST_RETURN_IF_ERROR(SweepDeletedGroups().status());
  return ListGroupsOnce(page);
}

absl::StatusOr<store::Page<GroupView>> Commands::ListGroupsOnce(
    const ListOptions& page) {
  return ListPage<GroupView>(
      page, [this](store::ListQuery& q) { q.tenant = tenant_; },
      [](store::ReadTx& tx, const store::ListQuery& q) {
        return tx.ListGroups(q);
      },
      ViewGroup);
}

absl::StatusOr<Written> Commands::DeleteGroup(const WriteMeta& m,
                                              const std::string& name) {
  return Mutate(m, [&](store::WriteTx& tx) -> absl::StatusOr<std::string> {
    NEST_ASSIGN_OR_RETURN(store::VmGroup g,
                          tx.GetGroup(tenant_, GroupId(name)));
    if (m.expected_generation != 0 &&
        m.expected_generation != g.meta.generation) {
      return absl::FailedPreconditionError(absl::StrCat(
          "VM group \"", name, "\" is at generation ", g.meta.generation,
          ", but the delete expected generation ", m.expected_generation,
          "; read it again and retry"));
    }
    store::ListQuery wq;
    wq.tenant = tenant_;
    NEST_ASSIGN_OR_RETURN(auto workloads, tx.ListWorkloads(wq));
    std::vector<std::string> users;
    for (const auto& w : workloads.items) {
      if (w.target_group == g.name) users.push_back(w.name.str());
    }
    if (!users.empty()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "VM group \"", name, "\" is the target of workload",
          users.size() == 1 ? " " : "s ", absl::StrJoin(users, ", "),
          "; delete them or move them to another group first"));
    }
    store::ListQuery vq;
    vq.tenant = tenant_;
    vq.group = g.name;
    NEST_ASSIGN_OR_RETURN(auto vms, tx.ListVms(vq));
    if (vms.items.empty()) {
      NEST_RETURN_IF_ERROR(tx.DeleteGroup(tenant_, g.name, 0));
      return std::string();
    }
    for (store::Vm vm : vms.items) {
      if (vm.desired == store::VmDesiredState::kDeleted) continue;
      vm.desired = store::VmDesiredState::kDeleted;
      NEST_RETURN_IF_ERROR(
          tx.UpdateVm(vm, 0,
                      {"Deleting",
                       absl::StrCat("group \"", name, "\" is being deleted")})
              .status());
    }
    if (g.max_size != 0) {
      g.min_size = g.max_size = g.desired_size = 0;
      NEST_RETURN_IF_ERROR(
          tx.UpdateGroup(
                g, 0,
                {"Deleting", absl::StrCat("waiting for ", vms.items.size(),
                                          " VMs to be torn down")})
              .status());
    }
    return std::string();
  });
}

absl::StatusOr<int64_t> Commands::SweepDeletedGroups() {
  int64_t removed = 0;
  NEST_RETURN_IF_ERROR(store_.Write([&](store::WriteTx& tx) -> absl::Status {
    tx.SetActor("api", "");
    NEST_ASSIGN_OR_RETURN(auto groups, tx.ListGroups());
    for (const auto& g : groups.items) {
      if (g.max_size != 0) continue;
      store::ListQuery q;
      q.tenant = g.tenant;
      q.group = g.name;
      q.limit = 1;
      NEST_ASSIGN_OR_RETURN(auto vms, tx.ListVms(q));
      if (!vms.items.empty()) continue;
      NEST_RETURN_IF_ERROR(tx.DeleteGroup(g.tenant, g.name, 0));
      ++removed;
    }
    return absl::OkStatus();
  }));
  return removed;
}

absl::StatusOr<Written> Commands::ScaleGroup(const WriteMeta& m,
                                             const std::string& name,
                                             int64_t desired_vms,
                                             const Encoder<GroupView>& enc) {
  const char* direction = nullptr;
  auto written =
      Mutate(m, [&](store::WriteTx& tx) -> absl::StatusOr<std::string> {
        direction = nullptr;  // a retried transaction decides again
        NEST_ASSIGN_OR_RETURN(store::VmGroup g,
                              tx.GetGroup(tenant_, GroupId(name)));
        if (g.max_size == 0) {
          return absl::FailedPreconditionError(
              absl::StrCat("VM group \"", name, "\" is being deleted"));
        }
        if (desired_vms < g.min_size || desired_vms > g.max_size) {
          FieldErrors errors;
          errors.Add("desired_vms",
                     absl::StrCat("must be between the group's min_vms (",
                                  g.min_size, ") and max_vms (", g.max_size,
                                  "), got ", desired_vms));
          return errors.ToStatus();
        }
        if (g.desired_size != desired_vms) {
          int64_t before = g.desired_size;
          direction = desired_vms > before ? "up" : "down";
          g.desired_size = desired_vms;
          NEST_ASSIGN_OR_RETURN(
              g, tx.UpdateGroup(g, m.expected_generation,
                                {"Scaled", absl::StrCat("desired VMs ", before,
                                                        " -> ", desired_vms)}));
        } else if (m.expected_generation != 0 &&
                   m.expected_generation != g.meta.generation) {
          return absl::FailedPreconditionError(absl::StrCat(
              "VM group \"", name, "\" is at generation ", g.meta.generation,
              ", but the request expected generation ", m.expected_generation,
              "; read it again and retry"));
        }
        NEST_ASSIGN_OR_RETURN(GroupView v, ViewGroup(tx, g));
        return enc(v);
      });
  if (written.ok() && direction != nullptr && options_.metrics != nullptr) {
    options_.metrics->scale_decisions->With({name, direction}).Inc();
  }
  return written;
}

// ---- VMs -------------------------------------------------------------------

absl::StatusOr<VmView> Commands::GetVm(const std::string& id) {
  VmView out;
  NEST_RETURN_IF_ERROR(store_.Read([&](store::ReadTx& tx) -> absl::Status {
    NEST_ASSIGN_OR_RETURN(store::Vm vm, tx.GetVm(VmId(id)));
    if (vm.tenant != tenant_) {
      return absl::NotFoundError(absl::StrCat("VM \"", id, "\" not found"));
    }
    NEST_ASSIGN_OR_RETURN(out, ViewVm(tx, vm));
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<store::Page<VmView>> Commands::ListVms(const ListOptions& page,
                                                      const std::string& group,
                                                      const std::string& host) {
  return ListPage<VmView>(
      page,
      [&](store::ListQuery& q) {
        q.tenant = tenant_;
        q.group = GroupId(group);
        q.host = HostId(host);
      },
      [](store::ReadTx& tx, const store::ListQuery& q) {
        return tx.ListVms(q);
      },
      ViewVm);
}

absl::StatusOr<Written> Commands::SetVmDesired(const WriteMeta& m,
                                               const std::string& id,
                                               store::VmDesiredState state,
                                               const Encoder<VmView>& enc) {
  return Mutate(m, [&](store::WriteTx& tx) -> absl::StatusOr<std::string> {
    NEST_ASSIGN_OR_RETURN(store::Vm vm, tx.GetVm(VmId(id)));
    if (vm.tenant != tenant_) {
      return absl::NotFoundError(absl::StrCat("VM \"", id, "\" not found"));
    }
    if (m.expected_generation != 0 &&
        m.expected_generation != vm.meta.generation) {
      return absl::FailedPreconditionError(
          absl::StrCat("VM \"", id, "\" is at generation ", vm.meta.generation,
                       ", but the request expected generation ",
                       m.expected_generation, "; read it again and retry"));
    }
    if (vm.desired == store::VmDesiredState::kDeleted &&
        state != store::VmDesiredState::kDeleted) {
      return absl::FailedPreconditionError(
          absl::StrCat("VM \"", id, "\" is being deleted"));
    }
    if (vm.desired != state) {
      vm.desired = state;
      absl::string_view reason =
          state == store::VmDesiredState::kRunning   ? "StartRequested"
          : state == store::VmDesiredState::kStopped ? "StopRequested"
                                                     : "DeleteRequested";
      NEST_ASSIGN_OR_RETURN(
          vm,
          tx.UpdateVm(vm, m.expected_generation,
                      {std::string(reason),
                       absl::StrCat("desired state ", store::Name(state))}));
    }
    NEST_ASSIGN_OR_RETURN(VmView v, ViewVm(tx, vm));
    return enc ? enc(v) : std::string();
  });
}

absl::StatusOr<std::string> Commands::ConsoleLog(const std::string& id,
                                                 int64_t tail_bytes) {
  NEST_ASSIGN_OR_RETURN(VmView vm, GetVm(id));
  if (tail_bytes < 0) {
    FieldErrors errors;
    errors.Add("tail_bytes", absl::StrCat("must be >= 0, got ", tail_bytes));
    return errors.ToStatus();
  }
  int64_t tail = tail_bytes == 0
                     ? options_.console_tail_default
                     : std::min(tail_bytes, options_.console_tail_max);
  if (options_.remote_console_tail) {
    auto remote = options_.remote_console_tail(vm.vm.host, vm.vm.id, tail);
    if (remote) return *remote;
  }
  std::string path =
      options_.console_log_path ? options_.console_log_path(VmId(id)) : "";
  if (path.empty()) {
    return absl::UnavailableError(
        "console logs are not available in this deployment");
  }
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  if (!f) {
    return absl::UnavailableError(
        absl::StrCat("VM \"", id, "\" has no console log yet (", path, ")"));
  }
  int64_t size = static_cast<int64_t>(f.tellg());
  int64_t start = std::max<int64_t>(0, size - tail);
  f.seekg(start);
  std::string data(static_cast<size_t>(size - start), '\0');
  f.read(data.data(), static_cast<std::streamsize>(data.size()));
  data.resize(static_cast<size_t>(f.gcount()));
  return data;
}

}  // namespace nest::control
