#include "net/tenant_network.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "core/validate.h"

namespace nest::net {

std::string NetworkObjectKey(absl::string_view installation,
                             absl::string_view network) {
  // Kinds in the key keep a network and a tenant of the same name apart.
  return absl::StrCat(installation, "/network/", network);
}

std::string TenantObjectKey(absl::string_view installation,
                            absl::string_view tenant) {
  return absl::StrCat(installation, "/tenant/", tenant);
}

absl::StatusOr<vmm::NetworkSpec> HostNetworkSpec(
    const Ipam& ipam, absl::string_view installation, absl::string_view network,
    const std::vector<VmId>& vms_on_host, vmm::ForwardMode forward) {
  std::optional<Ipv4Prefix> subnet = ipam.FindNetwork(network);
  if (!subnet) {
    return absl::NotFoundError(
        absl::StrCat("network ", QuoteForMessage(network), " holds no subnet"));
  }
  const std::string key = NetworkObjectKey(installation, network);
  vmm::NetworkSpec spec;
  spec.name = vmm::NetworkNameFor(key);
  spec.uuid = vmm::OwnerUuid("network", key);
  spec.bridge = vmm::BridgeNameFor(key);
  spec.forward = forward;
  spec.address = GatewayOf(*subnet).ToString();
  spec.prefix = subnet->length();
  for (size_t i = 0; i < vms_on_host.size(); ++i) {
    std::optional<VmLease> lease = ipam.FindVm(vms_on_host[i]);
    if (!lease || lease->network != network) {
      return absl::InvalidArgumentError(absl::StrCat(
          "vms_on_host[", i, "]: vm ", QuoteForMessage(vms_on_host[i].str()),
          " holds no address in network ", QuoteForMessage(network)));
    }
    spec.routes.push_back({lease->container_block.first().ToString(),
                           lease->container_block.length(),
                           lease->address.ToString()});
  }
  std::sort(spec.routes.begin(), spec.routes.end());
  return spec;
}

absl::StatusOr<std::vector<Ipv4Prefix>> TenantSubnets(
    const Ipam& ipam, const std::vector<std::string>& tenant_networks) {
  std::vector<Ipv4Prefix> out;
  for (const std::string& network : tenant_networks) {
    std::optional<Ipv4Prefix> subnet = ipam.FindNetwork(network);
    if (!subnet) {
      return absl::NotFoundError(absl::StrCat(
          "network ", QuoteForMessage(network), " holds no subnet"));
    }
    out.push_back(*subnet);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

absl::StatusOr<vmm::NwFilterSpec> TenantFilterSpec(
    const Ipam& ipam, absl::string_view installation, absl::string_view tenant,
    const std::vector<std::string>& tenant_networks) {
  NEST_ASSIGN_OR_RETURN(std::vector<Ipv4Prefix> subnets,
                        TenantSubnets(ipam, tenant_networks));
  const std::string key = TenantObjectKey(installation, tenant);
  vmm::NwFilterSpec spec;
  spec.name = vmm::FilterNameFor(key);
  spec.uuid = vmm::OwnerUuid("nwfilter", key);
  for (const Ipv4Prefix& s : subnets) {
    spec.allowed.push_back({s.first().ToString(), s.length()});
  }
  for (const Ipv4Prefix& space : ipam.AddressSpace()) {
    spec.isolated.push_back({space.first().ToString(), space.length()});
  }
  return spec;
}

}  // namespace nest::net
