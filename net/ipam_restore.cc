// Ipam::Restore: rebuilding the allocator from the store's rows after a
// restart. Rows come from disk, so every invariant Allocate* keeps is checked
// again here instead of trusted; one bad row must not let a later allocation
// hand out an address that is still in use.
#include <map>
#include <optional>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "core/field_errors.h"
#include "core/validate.h"
#include "net/ipam.h"

namespace nest::net {
namespace {

std::string RowField(size_t i) { return absl::StrCat("allocations[", i, "]"); }

std::string Show(const Allocation& row) {
  return absl::StrCat(AllocationKindName(row.kind), " ",
                      QuoteForMessage(row.owner), " ", row.prefix.ToString());
}

// The host whose pool holds `p` ("" for net.pool); none when no pool does.
std::optional<std::string> PoolHolding(const IpamConfig& config,
                                       const Ipv4Prefix& p) {
  if (config.pool.Contains(p)) return std::string();
  for (const auto& [host, pool] : config.host_pools) {
    if (pool.Contains(p)) return host;
  }
  return std::nullopt;
}

}  // namespace

absl::StatusOr<Ipam> Ipam::Restore(const IpamConfig& config,
                                   const std::vector<Allocation>& rows) {
  NEST_RETURN_IF_ERROR(ValidateIpamConfig(config));
  Ipam ipam(config);
  FieldErrors errors;

  // Subnets first, so VM rows can be placed whatever the input order.
  for (size_t i = 0; i < rows.size(); ++i) {
    const Allocation& row = rows[i];
    if (row.kind != AllocationKind::kNetwork) continue;
    const std::string field = RowField(i);
    if (row.owner.empty()) {
      errors.Add(field, absl::StrCat("must name its owner, got ", Show(row)));
      continue;
    }
    if (ipam.networks_.contains(row.owner)) {
      errors.Add(field, absl::StrCat("network ", QuoteForMessage(row.owner),
                                     " holds more than one subnet"));
      continue;
    }
    const std::optional<std::string> pool = PoolHolding(config, row.prefix);
    if (!pool || row.prefix.length() > kMaxNetworkPrefixLength) {
      errors.Add(
          field,
          absl::StrCat("must be a /", kMaxNetworkPrefixLength,
                       " or shorter subnet inside net.pool ",
                       config.pool.ToString(),
                       config.host_pools.empty() ? "" : " or a host's pool",
                       ", got ", Show(row)));
    } else if (const PrefixSet::Entry* e =
                   ipam.SubnetsOf(*pool)->FindOverlap(row.prefix)) {
      errors.Add(
          field,
          absl::StrCat("network ", QuoteForMessage(row.owner), " ",
                       row.prefix.ToString(), " overlaps network ",
                       QuoteForMessage(e->label), " ", e->prefix.ToString()));
    } else {
      ipam.AddNetwork(row.owner, *pool, row.prefix);
    }
  }

  struct Partial {
    std::string network;
    std::optional<Ipv4Address> address;
    std::optional<Ipv4Prefix> block;
    size_t row = 0;  // the first row of this VM, for errors
  };
  std::map<VmId, Partial> partial;
  std::set<VmId> refused;  // already reported; not reported again as partial
  auto refuse = [&](const std::string& field, const Allocation& row,
                    absl::string_view why) {
    errors.Add(field, why);
    refused.insert(VmId(row.owner));
  };
  for (size_t i = 0; i < rows.size(); ++i) {
    const Allocation& row = rows[i];
    if (row.kind != AllocationKind::kVmAddress &&
        row.kind != AllocationKind::kContainerBlock) {
      continue;
    }
    const std::string field = RowField(i);
    const bool is_address = row.kind == AllocationKind::kVmAddress;
    if (row.owner.empty()) {
      refuse(field, row, absl::StrCat("must name its owner, got ", Show(row)));
      continue;
    }
    if (is_address && row.prefix.length() != 32) {
      refuse(field, row,
             absl::StrCat("a vm_address must be a /32, got ", Show(row)));
      continue;
    }
    const PrefixSet::Entry* net = ipam.FindSubnet(row.prefix);
    if (net == nullptr || !net->prefix.Contains(row.prefix) ||
        net->prefix == row.prefix) {
      refuse(
          field, row,
          absl::StrCat("must lie inside a network's subnet, got ", Show(row)));
      continue;
    }
    const std::string network = net->label;
    const VmId vm(row.owner);
    Partial& p =
        partial.try_emplace(vm, Partial{network, {}, {}, i}).first->second;
    if (p.network != network) {
      refuse(field, row,
             absl::StrCat("vm ", QuoteForMessage(row.owner),
                          " has rows in two networks, ",
                          QuoteForMessage(p.network), " and ",
                          QuoteForMessage(network)));
      continue;
    }
    if ((is_address && p.address) || (!is_address && p.block)) {
      refuse(
          field, row,
          absl::StrCat("vm ", QuoteForMessage(row.owner),
                       " holds more than one ", AllocationKindName(row.kind)));
      continue;
    }
    Network& n = ipam.networks_.find(network)->second;
    if (const PrefixSet::Entry* e = n.used.FindOverlap(row.prefix)) {
      refuse(field, row,
             absl::StrCat(DescribeAllocation(row), " overlaps ", e->label));
      continue;
    }
    n.used.Insert(row.prefix, DescribeAllocation(row));
    if (is_address) {
      p.address = row.prefix.first();
    } else {
      p.block = row.prefix;
    }
  }

  // A lease is written in one transaction: a half of one means the rows were
  // damaged, and guessing the other half could collide later.
  for (auto& [vm, p] : partial) {
    if (refused.contains(vm)) continue;
    if (!p.address || !p.block) {
      errors.Add(RowField(p.row),
                 absl::StrCat("vm ", QuoteForMessage(vm.str()), " has ",
                              p.address ? "an address but no container block"
                                        : "a container block but no address"));
      continue;
    }
    ipam.networks_.find(p.network)->second.vms.insert(vm);
    ipam.vms_[vm] =
        VmEntry{p.network, *p.address, *p.block, PrefixSet(*p.block)};
  }

  // Container addresses lie in their VM's block, VIPs in a subnet beside
  // the VMs: both once the leases stand.
  for (size_t i = 0; i < rows.size(); ++i) {
    const Allocation& row = rows[i];
    const bool container = row.kind == AllocationKind::kContainerAddress;
    if (!container && row.kind != AllocationKind::kVip) continue;
    const std::string field = RowField(i);
    if (row.owner.empty() || row.prefix.length() != 32) {
      errors.Add(field, absl::StrCat("must name its owner and be a /32, got ",
                                     Show(row)));
      continue;
    }
    auto& owners = container ? ipam.containers_ : ipam.vips_;
    if (owners.contains(row.owner)) {
      errors.Add(field, absl::StrCat(QuoteForMessage(row.owner),
                                     " holds more than one ",
                                     AllocationKindName(row.kind)));
      continue;
    }
    const PrefixSet::Entry* net = ipam.FindSubnet(row.prefix);
    if (net == nullptr) {
      errors.Add(field, absl::StrCat("must lie inside a network's subnet, got ",
                                     Show(row)));
      continue;
    }
    Network& n = ipam.networks_.find(net->label)->second;
    if (!container) {
      if (const PrefixSet::Entry* e = n.used.FindOverlap(row.prefix)) {
        errors.Add(field, absl::StrCat(DescribeAllocation(row), " overlaps ",
                                       e->label));
        continue;
      }
      n.used.Insert(row.prefix, DescribeAllocation(row));
      n.vips.insert(row.owner);
      ipam.vips_[row.owner] = Owned{net->label, row.prefix.first()};
      continue;
    }
    VmEntry* owner_vm = nullptr;
    for (auto& [vm, e] : ipam.vms_) {
      if (e.block.Contains(row.prefix)) {
        owner_vm = &e;
        ipam.containers_[row.owner] = Owned{vm.str(), row.prefix.first()};
        break;
      }
    }
    if (owner_vm == nullptr) {
      errors.Add(field, absl::StrCat("must lie inside a VM's container block, "
                                     "got ",
                                     Show(row)));
      continue;
    }
    if (const PrefixSet::Entry* e =
            owner_vm->containers.FindOverlap(row.prefix)) {
      ipam.containers_.erase(row.owner);
      errors.Add(field,
                 absl::StrCat(DescribeAllocation(row), " overlaps ", e->label));
      continue;
    }
    owner_vm->containers.Insert(row.prefix, DescribeAllocation(row));
  }
  NEST_RETURN_IF_ERROR(errors.ToStatus());
  return ipam;
}

}  // namespace nest::net
