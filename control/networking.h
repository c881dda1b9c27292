// The network reconciler (issue 9): tenant networks, container addresses,
// service VIPs and published ports, driven by the Controller's passes.
//
// Each tenant gets one network in net.pool (its IPAM key is the tenant's
// name). Every VM gets an address and a container block in its tenant's
// subnet, every container placed in a VM an address from that block, and
// every workload that declares ports a VIP in the subnet. Allocations are
// persisted in the pass that makes them (store rows), so a restarted nestd
// hands out nothing twice.
//
// A host with a pool of its own (store::Host::pool) gets, per tenant with
// VMs there, a network "<tenant>@<host>" from that pool instead: its VMs
// and containers are addressed there, so each host's subnets can be routed
// to it (the operator routes every pool to its host, and net.pool to the
// host nestd runs on). A tenant's filter and guest table allow its subnets
// on every host, so VIP traffic DNAT'ed in a guest to a backend on another
// host is routed guest -> gateway -> host -> that host -> its guest. VIPs
// stay in the tenant's network in net.pool.
//
// What is applied where:
//   - on each host with VMs of a tenant: the tenant's libvirt network (its
//     own bridge; the host is the gateway) and its nwfilter, which each VM
//     interface references (tenant isolation, enforced on remote hosts too);
//   - on the host where nestd runs: Nest's nftables table (published ports,
//     masquerade of tenant traffic leaving net.pool and the host pools);
//   - in each guest, through its agent: the VM's address, the tenant's VIPs
//     and DNAT rules, and the names containers resolve (GuestFor).
//
// The host reaches containers on-link: each guest answers ARP for its
// containers' /32s (proxy ARP) and for the tenant's VIPs. So no libvirt
// <route> entries are needed, which matters because libvirt cannot change
// a running network's routes without detaching its guests.
//
// Everything is level-triggered: the libvirt objects and the host table
// are checked again every `recheck` and restored when missing or changed,
// and a host's network and filter of a tenant with no VM left there are
// removed then.
//
// Thread-safety: Allocate and SyncHosts run on the pass thread; the
// lookups (NicFor, GuestFor, ContainerAddress) may run on any thread.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "agent/types.h"
#include "core/clock.h"
#include "core/status.h"
#include "net/ipam.h"
#include "store/store.h"
#include "vmm/driver.h"
#include "vmm/libvirt_network.h"

namespace nest::control {

struct NetworkOptions {
  net::IpamConfig ipam;
  // Names this Nest in every libvirt object's key (see net/tenant_network.h).
  std::string installation = "nest";
  vmm::ForwardMode forward = vmm::ForwardMode::kRoute;
  // Nest's nftables table on the host where nestd runs.
  std::string host_table = "nest";
  // How often applied objects are checked for outside changes.
  absl::Duration recheck = absl::Seconds(5);
};

// Where the reconciler's host-side changes go: libvirt on each host and
// nftables on the local one. The production version is
// LibvirtNetworkOps (host_ports.h); tests record calls.
class HostNetworkOps {
 public:
  virtual ~HostNetworkOps() = default;
  // Defines and starts the network / filter unless it is already so.
  [[nodiscard]] virtual absl::Status EnsureNetwork(
      const store::Host& host, const vmm::NetworkSpec& spec) = 0;
  [[nodiscard]] virtual absl::Status EnsureFilter(
      const store::Host& host, const vmm::NwFilterSpec& spec) = 0;
  // Removes Nest's network / filter of that name and UUID; OK when it is
  // not there, FAILED_PRECONDITION while guests still use it.
  [[nodiscard]] virtual absl::Status RemoveNetwork(const store::Host& host,
                                                   const std::string& name,
                                                   const std::string& uuid) = 0;
  [[nodiscard]] virtual absl::Status RemoveFilter(const store::Host& host,
                                                  const std::string& name,
                                                  const std::string& uuid) = 0;
  // Runs an `nft -f` script on the local host.
  [[nodiscard]] virtual absl::Status ApplyLocalRuleset(
      const std::string& script) = 0;
  // Whether `table ip <table>` exists on the local host.
  [[nodiscard]] virtual absl::StatusOr<bool> LocalTablePresent(
      const std::string& table) = 0;
};

class Networking {
 public:
  // Restores the IPAM from the store's rows.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Networking>> Create(
      store::Store& store, HostNetworkOps& ops, Clock& clock,
      NetworkOptions options);

  // Allocates for every VM, placed container and service in `s`, releases
  // what is gone, persists the change, and recomputes what each guest and
  // the host table should hold. An allocation that fails (exhaustion) is
  // reported and the rest still proceeds.
  [[nodiscard]] absl::Status Allocate(const store::Snapshot& s);
  // Applies the libvirt networks and filters every host needs and the
  // local table: at once when they changed, else every `recheck`. Hosts
  // in `unreachable` (this pass could not list them) are left for a later
  // pass: a call to a host that does not answer could block the pass.
  [[nodiscard]] absl::Status SyncHosts(
      const store::Snapshot& s, const std::set<HostId>& unreachable = {});

  // The NIC of `vm`'s domain; none while it holds no lease.
  std::optional<vmm::NicSpec> NicFor(const VmId& vm) const;
  // What `vm`'s guest should hold; none while it holds no lease.
  std::optional<agent::GuestNetwork> GuestFor(const VmId& vm) const;
  // The container's address; empty while it holds none.
  std::string ContainerAddress(const ContainerId& container) const;
  // The VIP of a workload; empty when it has none.
  std::string VipOf(const TenantId& tenant, const WorkloadId& workload) const;

 private:
  Networking(store::Store& store, HostNetworkOps& ops, Clock& clock,
             NetworkOptions options, net::Ipam ipam);

  struct HostPlan {
    std::vector<vmm::NetworkSpec> networks;
    std::vector<vmm::NwFilterSpec> filters;
    friend bool operator==(const HostPlan&, const HostPlan&) = default;
  };

  // Removes the networks and filters of tenants (any in `s`) that `h`
  // does not need (want).
  void RemoveStale(const store::Snapshot& s, const store::Host& h,
                   const HostPlan& want);

  store::Store& store_;
  HostNetworkOps& ops_;
  Clock& clock_;
  const NetworkOptions options_;

  // Pass thread only.
  net::Ipam ipam_;
  std::vector<net::Allocation> persisted_;
  std::map<HostId, HostPlan> host_plans_;  // what was last applied per host
  std::map<HostId, HostPlan> wanted_hosts_;
  std::string host_script_;  // what the local table should hold
  std::string applied_script_;
  absl::Time next_recheck_ = absl::InfinitePast();

  mutable absl::Mutex mu_;
  std::map<VmId, vmm::NicSpec> nics_ ABSL_GUARDED_BY(mu_);
  std::map<VmId, agent::GuestNetwork> guests_ ABSL_GUARDED_BY(mu_);
  std::map<ContainerId, std::string> containers_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::string> vips_ ABSL_GUARDED_BY(mu_);
};

// The MAC of a VM's NIC, derived from its address so it is unique in the
// pool and stable across reboots: 52:54 then the address's four octets.
std::string MacFor(const net::Ipv4Address& address);

}  // namespace nest::control
