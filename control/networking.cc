#include "control/networking.h"

#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "control/workload_health.h"
#include "core/validate.h"
#include "net/nft.h"
#include "net/tenant_network.h"
#include "spdlog/spdlog.h"

namespace nest::control {
namespace {

using store::ContainerDesiredState;
using store::ContainerObservedState;
using store::VmDesiredState;

std::string WorkloadKey(const TenantId& tenant, const WorkloadId& workload) {
  return absl::StrCat(tenant.str(), "/", workload.str());
}

std::vector<store::IpAllocationRow> ToRows(
    const std::vector<net::Allocation>& allocations) {
  std::vector<store::IpAllocationRow> rows;
  rows.reserve(allocations.size());
  for (const auto& a : allocations) {
    rows.push_back({std::string(net::AllocationKindName(a.kind)), a.owner,
                    a.prefix.ToString()});
  }
  return rows;
}

absl::StatusOr<std::vector<net::Allocation>> FromRows(
    const std::vector<store::IpAllocationRow>& rows) {
  std::vector<net::Allocation> out;
  for (size_t i = 0; i < rows.size(); ++i) {
    const std::string field = absl::StrCat("ip_allocations[", i, "]");
    NEST_ASSIGN_OR_RETURN(
        net::AllocationKind kind,
        net::ParseAllocationKind(field + ".kind", rows[i].kind));
    NEST_ASSIGN_OR_RETURN(
        net::Ipv4Prefix prefix,
        net::ParseIpv4Prefix(field + ".prefix", rows[i].prefix));
    out.push_back({kind, rows[i].owner, prefix});
  }
  return out;
}

// The IPAM key of `tenant`'s network in the pool of host `host`.
std::string HostPoolNetwork(const TenantId& tenant, const HostId& host) {
  // Names hold no '@', so this never collides with a tenant's own key.
  return absl::StrCat(tenant.str(), "@", host.str());
}

absl::StatusOr<net::Ipv4Prefix> PoolOf(const store::Host& h) {
  return net::ParseIpv4Prefix(
      absl::StrCat("host ", QuoteForMessage(h.name.str()), " pool"), h.pool);
}

absl::StatusOr<net::L4Protocol> ProtocolOf(const std::string& name) {
  if (name == "tcp" || name.empty()) return net::L4Protocol::kTcp;
  if (name == "udp") return net::L4Protocol::kUdp;
  return absl::InvalidArgumentError(
      absl::StrCat("protocol must be tcp or udp, got ", name));
}

}  // namespace

std::string MacFor(const net::Ipv4Address& address) {
  const uint32_t v = address.value();
  return absl::StrFormat("52:54:%02x:%02x:%02x:%02x", (v >> 24) & 0xff,
                         (v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff);
}

Networking::Networking(store::Store& store, HostNetworkOps& ops, Clock& clock,
                       NetworkOptions options, net::Ipam ipam)
    : store_(store),
      ops_(ops),
      clock_(clock),
      options_(std::move(options)),
      ipam_(std::move(ipam)) {
  persisted_ = ipam_.Allocations();
}

absl::StatusOr<std::unique_ptr<Networking>> Networking::Create(
    store::Store& store, HostNetworkOps& ops, Clock& clock,
    NetworkOptions options) {
  std::vector<store::IpAllocationRow> rows;
  store::Page<store::Host> hosts;
  NEST_RETURN_IF_ERROR(store.Read([&](store::ReadTx& tx) -> absl::Status {
    NEST_ASSIGN_OR_RETURN(rows, tx.ListIpAllocations());
    NEST_ASSIGN_OR_RETURN(hosts, tx.ListHosts());
    return absl::OkStatus();
  }));
  NEST_ASSIGN_OR_RETURN(std::vector<net::Allocation> allocations,
                        FromRows(rows));
  // The hosts' pools, so their rows restore into them.
  net::IpamConfig config = options.ipam;
  for (const store::Host& h : hosts.items) {
    if (h.pool.empty()) continue;
    NEST_ASSIGN_OR_RETURN(config.host_pools[h.name.str()], PoolOf(h));
  }
  NEST_ASSIGN_OR_RETURN(net::Ipam ipam,
                        net::Ipam::Restore(config, allocations));
  return std::unique_ptr<Networking>(
      new Networking(store, ops, clock, std::move(options), std::move(ipam)));
}

absl::Status Networking::Allocate(const store::Snapshot& s) {
  std::vector<std::string> errors;
  auto note = [&errors](const absl::Status& st) {
    if (!st.ok()) errors.push_back(st.ToString());
  };

  // Hosts' pools: a VM on a host with one takes its address there, in its
  // tenant's network of that host.
  std::set<std::string> pooled;
  for (const auto& h : s.hosts) {
    if (h.pool.empty()) continue;
    pooled.insert(h.name.str());
    absl::StatusOr<net::Ipv4Prefix> pool = PoolOf(h);
    note(pool.ok() ? ipam_.SetHostPool(h.name.str(), *pool) : pool.status());
  }

  // Leases: every VM row holds one until the row is gone, so a VM being
  // shut down keeps its address until its domain is.
  std::set<VmId> live_vms;
  std::map<VmId, const store::Vm*> vms;
  for (const auto& v : s.vms) {
    vms[v.id] = &v;
    live_vms.insert(v.id);
    const bool own_pool = pooled.contains(v.host.str());
    const std::string network =
        own_pool ? HostPoolNetwork(v.tenant, v.host) : v.tenant.str();
    std::optional<net::VmLease> lease = ipam_.FindVm(v.id);
    if (lease && lease->network != network &&
        v.desired != VmDesiredState::kDeleted) {
      // Placed on another host since: its address must be routed there.
      ipam_.ReleaseVm(v.id);
      lease.reset();
    }
    if (!lease) {
      if (v.desired == VmDesiredState::kDeleted) continue;
      note(ipam_.AllocateNetwork(network, own_pool ? v.host.str() : "")
               .status());
      note(ipam_.AllocateVm(network, v.id).status());
    }
  }
  for (const auto& a : ipam_.Allocations()) {
    if (a.kind == net::AllocationKind::kVmAddress &&
        !live_vms.contains(VmId(a.owner))) {
      ipam_.ReleaseVm(VmId(a.owner));
    }
  }

  // Container addresses, in the block of the VM each is placed in.
  std::set<std::string> placed;
  for (const auto& c : s.containers) {
    if (c.vm.empty() || !ipam_.FindVm(c.vm)) continue;
    placed.insert(c.id.str());
    absl::StatusOr<net::Ipv4Address> a =
        ipam_.AllocateContainer(c.vm, c.id.str());
    if (absl::IsAlreadyExists(a.status())) {
      // Moved to another VM (its host was lost): a new address there.
      ipam_.ReleaseContainer(c.id.str());
      a = ipam_.AllocateContainer(c.vm, c.id.str());
    }
    note(a.status());
  }

  // VIPs of workloads that declare ports.
  std::set<std::string> services;
  for (const auto& w : s.workloads) {
    if (w.ports.empty()) continue;
    const std::string key = WorkloadKey(w.tenant, w.name);
    services.insert(key);
    note(ipam_.AllocateNetwork(w.tenant.str()).status());
    note(ipam_.AllocateVip(w.tenant.str(), key).status());
  }
  for (const auto& a : ipam_.Allocations()) {
    if (a.kind == net::AllocationKind::kContainerAddress &&
        !placed.contains(a.owner)) {
      ipam_.ReleaseContainer(a.owner);
    } else if (a.kind == net::AllocationKind::kVip &&
               !services.contains(a.owner)) {
      ipam_.ReleaseVip(a.owner);
    }
  }
  // A tenant with nothing left gives its subnet back.
  for (const auto& a : ipam_.Allocations()) {
    if (a.kind == net::AllocationKind::kNetwork) {
      absl::Status st = ipam_.ReleaseNetwork(a.owner);
      (void)st;  // FAILED_PRECONDITION while anything is in it
    }
  }

  std::vector<net::Allocation> now = ipam_.Allocations();
  if (now != persisted_) {
    absl::Status st = store_.Write([&](store::WriteTx& tx) {
      return tx.ReplaceIpAllocations(ToRows(now));
    });
    if (!st.ok()) {
      // Nothing handed out may be used before it is on disk: go back to
      // what is, and try again next pass.
      const net::IpamConfig config = ipam_.config();
      NEST_ASSIGN_OR_RETURN(ipam_, net::Ipam::Restore(config, persisted_));
      return st;
    }
    persisted_ = std::move(now);
  }
  for (const auto& [host, pool] : net::IpamConfig(ipam_.config()).host_pools) {
    // A deleted host's pool goes once its networks have (and after the
    // rows that were in it are gone from disk).
    if (!pooled.contains(host)) (void)ipam_.RemoveHostPool(host);
  }

  // Backends: replicas that run, pass their health check if there is one,
  // and hold an address.
  std::map<std::string,
           std::vector<std::pair<net::Ipv4Address, const store::Container*>>>
      replicas;  // workload key -> available replicas
  for (const auto& c : s.containers) {
    if (!Available(c)) continue;
    std::optional<net::Ipv4Address> a = ipam_.FindContainer(c.id.str());
    if (a) replicas[WorkloadKey(c.tenant, c.workload)].push_back({*a, &c});
  }

  std::map<std::string, net::GuestRuleset> rulesets;  // by tenant
  std::map<std::string, std::vector<std::pair<std::string, std::string>>>
      names;  // by tenant
  std::map<std::string, std::vector<std::string>> tenant_vips;
  net::HostRuleset host;
  host.table = options_.host_table;
  // Every pool: tenant traffic between hosts is routed, never NATed.
  host.internal = ipam_.AddressSpace();
  std::map<std::string, std::string> vips;
  for (const auto& w : s.workloads) {
    const std::string key = WorkloadKey(w.tenant, w.name);
    const std::string tenant = w.tenant.str();
    std::optional<net::Ipv4Address> vip = ipam_.FindVip(key);
    if (vip) {
      vips[key] = vip->ToString();
      tenant_vips[tenant].push_back(vip->ToString());
      names[tenant].push_back({w.name.str(), vip->ToString()});
    }
    for (const auto& p : w.ports) {
      absl::StatusOr<net::L4Protocol> proto = ProtocolOf(p.protocol);
      if (!proto.ok()) {
        note(proto.status());
        continue;
      }
      std::vector<net::Backend> backends;
      for (const auto& [address, c] : replicas[key]) {
        backends.push_back({address, static_cast<uint16_t>(p.container_port)});
      }
      if (vip) {
        rulesets[tenant].services.push_back(
            {*vip, *proto, static_cast<uint16_t>(p.container_port), backends});
        host.services.push_back(
            {*vip, *proto, static_cast<uint16_t>(p.container_port), backends});
      }
      if (p.host_port > 0) {
        host.ports.push_back(
            {*proto, static_cast<uint16_t>(p.host_port), backends});
      }
    }
  }
  for (const auto& c : s.containers) {
    if (c.desired != ContainerDesiredState::kRunning) continue;
    std::optional<net::Ipv4Address> a = ipam_.FindContainer(c.id.str());
    if (a) names[c.tenant.str()].push_back({c.id.str(), a->ToString()});
  }

  std::map<VmId, vmm::NicSpec> nics;
  std::map<VmId, agent::GuestNetwork> guests;
  std::map<ContainerId, std::string> containers;
  std::map<HostId, HostPlan> wanted;
  // A tenant's networks: its own in net.pool and one per host with a pool.
  std::map<std::string, std::vector<std::string>> tenant_networks;
  for (const auto& a : ipam_.Allocations()) {
    if (a.kind != net::AllocationKind::kNetwork) continue;
    tenant_networks[a.owner.substr(0, a.owner.find('@'))].push_back(a.owner);
  }
  // What is the same for every VM of a tenant, built once per tenant: the
  // guest table and the filter cover the tenant's subnets on every host.
  struct TenantObjects {
    std::string script;  // the guest table
    vmm::NwFilterSpec filter;
  };
  std::map<std::string, std::optional<TenantObjects>> per_tenant;
  auto objects_of =
      [&](const std::string& tenant) -> const std::optional<TenantObjects>& {
    auto [it, fresh] = per_tenant.try_emplace(tenant);
    if (!fresh) return it->second;
    net::GuestRuleset& rs = rulesets[tenant];
    absl::StatusOr<std::vector<net::Ipv4Prefix>> subnets =
        net::TenantSubnets(ipam_, tenant_networks[tenant]);
    if (!subnets.ok()) {
      note(subnets.status());
      return it->second;
    }
    rs.tenant_subnets = *subnets;
    rs.tenant_space = ipam_.AddressSpace();
    absl::StatusOr<std::string> script = net::GuestRulesetScript(rs);
    absl::StatusOr<vmm::NwFilterSpec> filter = net::TenantFilterSpec(
        ipam_, options_.installation, tenant, tenant_networks[tenant]);
    if (!script.ok() || !filter.ok()) {
      note(script.status());
      note(filter.status());
      return it->second;
    }
    it->second = TenantObjects{*script, *filter};
    return it->second;
  };
  // The libvirt network of each IPAM network, on the hosts its VMs are on.
  std::map<std::string, std::optional<vmm::NetworkSpec>> per_network;
  auto network_of = [&](const std::string& network)
      -> const std::optional<vmm::NetworkSpec>& {
    auto [it, fresh] = per_network.try_emplace(network);
    if (!fresh) return it->second;
    absl::StatusOr<vmm::NetworkSpec> spec = net::HostNetworkSpec(
        ipam_, options_.installation, network, {}, options_.forward);
    note(spec.status());
    if (spec.ok()) it->second = *std::move(spec);
    return it->second;
  };
  for (const auto& [id, v] : vms) {
    std::optional<net::VmLease> lease = ipam_.FindVm(id);
    if (!lease) continue;
    const std::string tenant = v->tenant.str();
    const std::optional<TenantObjects>& objects = objects_of(tenant);
    const std::optional<vmm::NetworkSpec>& network = network_of(lease->network);
    if (!objects || !network) continue;
    agent::GuestNetwork g;
    g.mac = MacFor(lease->address);
    g.address = lease->address.ToString();
    g.prefix_length = lease->subnet.length();
    g.gateway = lease->gateway.ToString();
    g.vips = tenant_vips[tenant];
    g.ruleset = objects->script;
    g.hosts = names[tenant];
    guests[id] = std::move(g);
    nics[id] = vmm::NicSpec{network->bridge, MacFor(lease->address),
                            objects->filter.name};

    if (v->host.empty()) continue;
    HostPlan& plan = wanted[v->host];
    if (std::find(plan.networks.begin(), plan.networks.end(), *network) ==
        plan.networks.end()) {
      plan.networks.push_back(*network);
      plan.filters.push_back(objects->filter);
      host.masquerade_sources.push_back(lease->subnet);
    }
  }
  for (const auto& c : s.containers) {
    std::optional<net::Ipv4Address> a = ipam_.FindContainer(c.id.str());
    if (a) containers[c.id] = a->ToString();
  }
  std::sort(host.masquerade_sources.begin(), host.masquerade_sources.end());
  host.masquerade_sources.erase(std::unique(host.masquerade_sources.begin(),
                                            host.masquerade_sources.end()),
                                host.masquerade_sources.end());
  absl::StatusOr<std::string> host_script = net::HostRulesetScript(host);
  if (host_script.ok()) {
    host_script_ = *host_script;
  } else {
    note(host_script.status());
  }
  wanted_hosts_ = std::move(wanted);
  {
    absl::MutexLock lock(&mu_);
    nics_ = std::move(nics);
    guests_ = std::move(guests);
    containers_ = std::move(containers);
    vips_ = std::move(vips);
  }
  if (errors.empty()) return absl::OkStatus();
  return absl::ResourceExhaustedError(
      absl::StrCat("network: ", absl::StrJoin(errors, "; ")));
}

absl::Status Networking::SyncHosts(const store::Snapshot& s,
                                   const std::set<HostId>& unreachable) {
  const absl::Time now = clock_.MonotonicNow();
  const bool recheck = now >= next_recheck_;
  if (recheck) next_recheck_ = now + options_.recheck;
  std::vector<std::string> errors;
  for (const auto& h : s.hosts) {
    if (h.state == store::HostState::kDown || unreachable.count(h.name)) {
      continue;
    }
    auto want = wanted_hosts_.find(h.name);
    if (recheck)
      RemoveStale(s, h,
                  want == wanted_hosts_.end() ? HostPlan{} : want->second);
    if (want == wanted_hosts_.end()) continue;
    auto& applied = host_plans_[h.name];
    if (!recheck && applied == want->second) continue;
    bool ok = true;
    // Filters first: a VM's interface may not reference a missing one.
    for (const auto& f : want->second.filters) {
      absl::Status st = ops_.EnsureFilter(h, f);
      if (!st.ok()) {
        ok = false;
        errors.push_back(
            absl::StrCat("host ", h.name.str(), ": ", st.ToString()));
      }
    }
    for (const auto& n : want->second.networks) {
      absl::Status st = ops_.EnsureNetwork(h, n);
      if (!st.ok()) {
        ok = false;
        errors.push_back(
            absl::StrCat("host ", h.name.str(), ": ", st.ToString()));
      }
    }
    applied = ok ? want->second : HostPlan{};
  }

  if (!host_script_.empty()) {
    bool apply = host_script_ != applied_script_;
    if (!apply && recheck) {
      absl::StatusOr<bool> present =
          ops_.LocalTablePresent(options_.host_table);
      apply = !present.ok() || !*present;
      if (apply) {
        spdlog::warn("nftables table ip {} is missing on this host; restoring",
                     options_.host_table);
      }
    }
    if (apply) {
      absl::Status st = ops_.ApplyLocalRuleset(host_script_);
      if (st.ok()) {
        applied_script_ = host_script_;
      } else {
        applied_script_.clear();
        errors.push_back(absl::StrCat("local nftables: ", st.ToString()));
      }
    }
  }
  if (errors.empty()) return absl::OkStatus();
  return absl::UnavailableError(absl::StrJoin(errors, "; "));
}

void Networking::RemoveStale(const store::Snapshot& s, const store::Host& h,
                             const HostPlan& want) {
  std::set<std::string> keep;
  for (const auto& n : want.networks) keep.insert(n.name);
  for (const auto& f : want.filters) keep.insert(f.name);
  for (const auto& t : s.tenants) {
    const std::string tenant = t.name.str();
    const std::string tkey =
        net::TenantObjectKey(options_.installation, tenant);
    const std::string filter = vmm::FilterNameFor(tkey);
    // A host's pool is fixed when it is added: its tenant networks are
    // the ones of that pool, or else the tenants' own.
    const std::string key = net::NetworkObjectKey(
        options_.installation,
        h.pool.empty() ? tenant : HostPoolNetwork(t.name, h.name));
    const std::string network = vmm::NetworkNameFor(key);
    // In use (a VM still shutting down) is fine: next time.
    if (!keep.contains(network)) {
      absl::Status st =
          ops_.RemoveNetwork(h, network, vmm::OwnerUuid("network", key));
      if (!st.ok() && !absl::IsFailedPrecondition(st)) {
        spdlog::warn("host {}: removing network {}: {}", h.name.str(), network,
                     st.ToString());
      }
    }
    if (!keep.contains(filter)) {
      absl::Status st =
          ops_.RemoveFilter(h, filter, vmm::OwnerUuid("nwfilter", tkey));
      if (!st.ok() && !absl::IsFailedPrecondition(st)) {
        spdlog::warn("host {}: removing filter {}: {}", h.name.str(), filter,
                     st.ToString());
      }
    }
  }
  auto& applied = host_plans_[h.name];
  if (applied.networks.size() != want.networks.size()) applied = HostPlan{};
}

std::optional<vmm::NicSpec> Networking::NicFor(const VmId& vm) const {
  absl::MutexLock lock(&mu_);
  auto it = nics_.find(vm);
  if (it == nics_.end()) return std::nullopt;
  return it->second;
}

std::optional<agent::GuestNetwork> Networking::GuestFor(const VmId& vm) const {
  absl::MutexLock lock(&mu_);
  auto it = guests_.find(vm);
  if (it == guests_.end()) return std::nullopt;
  return it->second;
}

std::string Networking::ContainerAddress(const ContainerId& container) const {
  absl::MutexLock lock(&mu_);
  auto it = containers_.find(container);
  return it == containers_.end() ? std::string() : it->second;
}

std::string Networking::VipOf(const TenantId& tenant,
                              const WorkloadId& workload) const {
  absl::MutexLock lock(&mu_);
  auto it = vips_.find(WorkloadKey(tenant, workload));
  return it == vips_.end() ? std::string() : it->second;
}

}  // namespace nest::control
