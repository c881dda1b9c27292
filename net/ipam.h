// IP address management for tenant networks, pure: no I/O, no threads.
//
// From one configured pool (net.pool, e.g. 10.88.0.0/14) the IPAM hands out
//   - a subnet per tenant network (net.network_prefix_length, e.g. /20),
//   - inside that subnet, per VM, an address and a block for the VM's
//     containers (net.container_block_prefix_length, e.g. /26),
//   - inside a VM's block, an address per container of that VM,
//   - inside the subnet, a service VIP per workload that declares ports.
// In every subnet the network address, the gateway (network + 1, the host's
// bridge) and the broadcast address are never handed out.
//
// Hosts may bring pools of their own (IpamConfig::host_pools, like a
// Kubernetes node's podCIDR): a network allocated in a host's pool takes its
// subnet from there, with the same lengths, so the hosts' subnets can be
// routed to each host instead of sharing one L2 segment.
//
// Allocation is deterministic: always the lowest free aligned range. A VM's
// address and block are taken together or not at all. Asking again for an
// owner that already holds an allocation returns the same answer (so a
// reconciler may repeat itself); asking for a VM in a different network than
// the one it holds is ALREADY_EXISTS. Running out is RESOURCE_EXHAUSTED
// naming what ran out; nothing is reused until it is released.
//
// The state is a plain value. Allocations() lists it as (kind, owner,
// prefix) rows for the store; Restore() rebuilds the same state from them.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "core/ids.h"
#include "core/status.h"
#include "net/ipv4.h"
#include "net/prefix_set.h"

namespace nest::net {

// A subnet needs its network address, gateway, broadcast and room for VMs:
// /30 is the longest subnet (and container block) that works.
inline constexpr int kMaxNetworkPrefixLength = 30;

struct IpamConfig {
  Ipv4Prefix pool = Ipv4Prefix::Containing(Ipv4Address::Of(10, 88, 0, 0), 14);
  int network_prefix_length = 20;
  int container_block_prefix_length = 26;
  // Extra pools by host name (the `pool` of a store::Host). Each must be a
  // /30 or shorter and overlap neither `pool` nor another host's pool.
  std::map<std::string, Ipv4Prefix, std::less<>> host_pools = {};
};

// INVALID_ARGUMENT with a field violation for each bad setting: the pool must
// be /30 or shorter, the network length between the pool's and 30, the block
// length between network length + 2 and 30 (so blocks can exist beside the
// reserved addresses); host pools as ValidateHostPool says.
[[nodiscard]] absl::Status ValidateIpamConfig(const IpamConfig& config);

// Whether `pool` may be host `host`'s pool beside `config` (its net.pool and
// the other hosts' pools; `host`'s own entry there is ignored): a /30 or
// shorter that overlaps none of them. INVALID_ARGUMENT with a violation of
// `field`, e.g. "pool 10.88.0.0/16 overlaps net.pool 10.88.0.0/14".
[[nodiscard]] absl::Status ValidateHostPool(const IpamConfig& config,
                                            absl::string_view host,
                                            const Ipv4Prefix& pool,
                                            absl::string_view field);

enum class AllocationKind {
  kNetwork,
  kVmAddress,
  kContainerBlock,
  kContainerAddress,
  kVip
};

// "network", "vm_address", "container_block", "container_address", "vip":
// stable, for the store.
absl::string_view AllocationKindName(AllocationKind kind);
[[nodiscard]] absl::StatusOr<AllocationKind> ParseAllocationKind(
    absl::string_view field, absl::string_view text);

// One persisted row. `owner` is the network's key for kNetwork, the VM id
// for the VM kinds, the container id for kContainerAddress and the service's
// key for kVip; the network (or VM) a row belongs to is the one whose range
// contains it, so it is not stored twice.
struct Allocation {
  AllocationKind kind = AllocationKind::kNetwork;
  std::string owner;
  Ipv4Prefix prefix;
  friend bool operator==(const Allocation&, const Allocation&) = default;
};

// "network \"a\" 10.88.0.0/20", "vm \"v\" address 10.88.0.2",
// "vm \"v\" container block 10.88.0.64/26": for messages.
std::string DescribeAllocation(const Allocation& a);

// What a VM needs to configure itself and route its containers.
struct VmLease {
  std::string network;
  Ipv4Prefix subnet;
  Ipv4Address gateway;
  Ipv4Address address;
  Ipv4Prefix container_block;
  friend bool operator==(const VmLease&, const VmLease&) = default;
};

// The gateway of a tenant subnet: the address after the network address.
inline Ipv4Address GatewayOf(const Ipv4Prefix& subnet) {
  return Ipv4Address(subnet.first().value() + 1);
}

// A plain value (copyable, comparable through Allocations()). Thread-
// compatible: callers serialise access, as the controller does with its
// store transaction.
class Ipam {
 public:
  // An empty IPAM; the config must pass ValidateIpamConfig.
  [[nodiscard]] static absl::StatusOr<Ipam> Create(const IpamConfig& config);

  // Rebuilds the state from persisted rows, in any order. INVALID_ARGUMENT
  // with one violation per bad row (field "allocations[i]"): overlapping
  // rows (naming both owners), duplicate owners, networks outside net.pool
  // and every host pool (a network lands in the pool that holds its row),
  // VM rows outside every network or on a reserved address, and VMs missing
  // their address or block. Rows may use other lengths than the config (it
  // may have changed since); new allocations use the config.
  [[nodiscard]] static absl::StatusOr<Ipam> Restore(
      const IpamConfig& config, const std::vector<Allocation>& rows);

  // The subnet of `network`, allocating the lowest free one if it has none:
  // from net.pool, or from the pool of host `host_pool` when it is not
  // empty. NOT_FOUND when that host has no pool; ALREADY_EXISTS when
  // `network` holds a subnet of another pool.
  [[nodiscard]] absl::StatusOr<Ipv4Prefix> AllocateNetwork(
      absl::string_view network, absl::string_view host_pool = "");
  // Frees the subnet. OK when `network` holds none. FAILED_PRECONDITION
  // while VMs still hold addresses in it.
  [[nodiscard]] absl::Status ReleaseNetwork(absl::string_view network);

  // Gives host `host` the pool `pool` (ValidateHostPool, field "pool"). OK
  // when it already has it; FAILED_PRECONDITION when it has another one
  // that networks still use.
  [[nodiscard]] absl::Status SetHostPool(absl::string_view host,
                                         const Ipv4Prefix& pool);
  // Forgets host `host`'s pool. OK when it has none; FAILED_PRECONDITION
  // while networks hold subnets in it.
  [[nodiscard]] absl::Status RemoveHostPool(absl::string_view host);
  // net.pool and every host pool, sorted: all tenants' address space.
  std::vector<Ipv4Prefix> AddressSpace() const;

  // The lease of `vm` in `network`, allocating the lowest free address and
  // container block if it has none. NOT_FOUND when `network` has no subnet.
  [[nodiscard]] absl::StatusOr<VmLease> AllocateVm(absl::string_view network,
                                                   const VmId& vm);
  // Frees the VM's address and block, and its containers' addresses; a
  // no-op when it holds none.
  void ReleaseVm(const VmId& vm);

  // The address of `container` in the block of `vm`, allocating the lowest
  // free one if it has none. NOT_FOUND when `vm` has no lease,
  // ALREADY_EXISTS when the container holds an address of another VM,
  // RESOURCE_EXHAUSTED when the block is full.
  [[nodiscard]] absl::StatusOr<Ipv4Address> AllocateContainer(
      const VmId& vm, absl::string_view container);
  void ReleaseContainer(absl::string_view container);
  std::optional<Ipv4Address> FindContainer(absl::string_view container) const;

  // The service VIP of `owner` in `network`, allocating the lowest free
  // address of the subnet if it has none. NOT_FOUND when the network has
  // no subnet, ALREADY_EXISTS when `owner` holds a VIP in another network.
  [[nodiscard]] absl::StatusOr<Ipv4Address> AllocateVip(
      absl::string_view network, absl::string_view owner);
  void ReleaseVip(absl::string_view owner);
  std::optional<Ipv4Address> FindVip(absl::string_view owner) const;

  std::optional<Ipv4Prefix> FindNetwork(absl::string_view network) const;
  std::optional<VmLease> FindVm(const VmId& vm) const;

  // Every live allocation, ordered by prefix (a subnet before what it holds).
  std::vector<Allocation> Allocations() const;

  const IpamConfig& config() const { return config_; }

 private:
  struct Network {
    std::string host_pool;  // empty: net.pool
    Ipv4Prefix subnet;
    PrefixSet used;  // reserved addresses, VM addresses, blocks, VIPs
    std::set<VmId> vms;
    std::set<std::string, std::less<>> vips;
  };
  struct VmEntry {
    std::string network;
    Ipv4Address address;
    Ipv4Prefix block;
    PrefixSet containers;  // range: block
  };
  struct Owned {
    std::string parent;  // the VM (containers) or network (VIPs)
    Ipv4Address address;
  };

  explicit Ipam(const IpamConfig& config);

  // Records `subnet` of the pool of `host_pool` (empty: net.pool) for
  // `network` with its reserved addresses. Precondition: that pool's
  // subnets hold room for it.
  void AddNetwork(const std::string& network, const std::string& host_pool,
                  const Ipv4Prefix& subnet);
  // The subnets of host_pool's pool (empty: net.pool); null when there is no
  // such pool.
  PrefixSet* SubnetsOf(absl::string_view host_pool);
  // The subnet entry (in any pool) overlapping `p`, or null.
  const PrefixSet::Entry* FindSubnet(const Ipv4Prefix& p) const;
  VmLease LeaseOf(const VmEntry& e) const;

  IpamConfig config_;
  PrefixSet subnets_;  // in net.pool, labelled with the network's key
  // In each host's pool, by host, labelled likewise.
  std::map<std::string, PrefixSet, std::less<>> host_subnets_;
  std::map<std::string, Network, std::less<>> networks_;
  std::map<VmId, VmEntry> vms_;
  std::map<std::string, Owned, std::less<>> containers_;
  std::map<std::string, Owned, std::less<>> vips_;
};

}  // namespace nest::net
