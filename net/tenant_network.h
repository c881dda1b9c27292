// The libvirt objects of tenant networks, computed from the IPAM's state:
// pure, so the controller derives them and vmm/ applies them on each host
// (EnsureNetwork, EnsureNwFilter), and the agent gets the same subnets for
// its guest table (net/nft.h).
//
// `installation` names this Nest (its cluster id, say): it goes into every
// object's key, so two installations sharing a host never claim each
// other's networks or filters.
#pragma once

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "core/ids.h"
#include "core/status.h"
#include "net/ipam.h"
#include "vmm/libvirt_network.h"

namespace nest::net {

// The keys handed to vmm's name and UUID functions.
std::string NetworkObjectKey(absl::string_view installation,
                             absl::string_view network);
std::string TenantObjectKey(absl::string_view installation,
                            absl::string_view tenant);

// The libvirt network of `network` on one host: the host is the subnet's
// gateway on the network's own bridge, and each VM in `vms_on_host` gets a
// route for its container block via its address. NOT_FOUND when the
// network holds no subnet; INVALID_ARGUMENT naming vms_on_host[i] for a VM
// without a lease in that network.
[[nodiscard]] absl::StatusOr<vmm::NetworkSpec> HostNetworkSpec(
    const Ipam& ipam, absl::string_view installation, absl::string_view network,
    const std::vector<VmId>& vms_on_host, vmm::ForwardMode forward);

// The subnets of a tenant's networks, sorted. NOT_FOUND naming the first
// network that holds none.
[[nodiscard]] absl::StatusOr<std::vector<Ipv4Prefix>> TenantSubnets(
    const Ipam& ipam, const std::vector<std::string>& tenant_networks);

// The filter every VM interface of `tenant` references: its subnets (on
// every host) allowed, the rest of net.pool and of every host pool dropped.
[[nodiscard]] absl::StatusOr<vmm::NwFilterSpec> TenantFilterSpec(
    const Ipam& ipam, absl::string_view installation, absl::string_view tenant,
    const std::vector<std::string>& tenant_networks);

}  // namespace nest::net
