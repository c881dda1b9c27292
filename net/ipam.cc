#include "net/ipam.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/field_errors.h"
#include "core/validate.h"

namespace nest::net {
namespace {

absl::Status CheckOwner(absl::string_view field, absl::string_view owner) {
  if (!owner.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(field, " must be non-empty, got an empty string"));
}

}  // namespace

absl::Status ValidateIpamConfig(const IpamConfig& config) {
  FieldErrors errors;
  const int pool = config.pool.length();
  const int net = config.network_prefix_length;
  const int block = config.container_block_prefix_length;
  if (pool > kMaxNetworkPrefixLength) {
    errors.Add(
        "net.pool",
        absl::StrCat("must be a prefix of length ", kMaxNetworkPrefixLength,
                     " or shorter, got ", config.pool.ToString()));
  }
  if (net < pool || net > kMaxNetworkPrefixLength) {
    errors.Add("net.network_prefix_length",
               absl::StrCat("must be between the pool's length (", pool,
                            ") and ", kMaxNetworkPrefixLength, ", got ", net));
  } else if (block < net + 2 || block > kMaxNetworkPrefixLength) {
    // Halves of a subnet each hold a reserved address; quarters leave two
    // blocks between network+gateway and broadcast.
    errors.Add(
        "net.container_block_prefix_length",
        absl::StrCat("must be between network_prefix_length + 2 (", net + 2,
                     ") and ", kMaxNetworkPrefixLength, ", got ", block));
  }
  IpamConfig others = config;
  others.host_pools.clear();
  for (const auto& [host, host_pool] : config.host_pools) {
    // Each against the ones before it: an overlap is reported once.
    const std::string field =
        absl::StrCat("host_pools[", QuoteForMessage(host), "]");
    errors.Check(field, ValidateHostPool(others, host, host_pool, field));
    others.host_pools.emplace(host, host_pool);
  }
  return errors.ToStatus();
}

absl::Status ValidateHostPool(const IpamConfig& config, absl::string_view host,
                              const Ipv4Prefix& pool, absl::string_view field) {
  auto refuse = [&](absl::string_view why) {
    FieldErrors errors;
    errors.Add(field, why);
    return errors.ToStatus();
  };
  if (pool.length() > kMaxNetworkPrefixLength) {
    return refuse(absl::StrCat("must be a prefix of length ",
                               kMaxNetworkPrefixLength, " or shorter, got ",
                               pool.ToString()));
  }
  if (pool.Overlaps(config.pool)) {
    return refuse(absl::StrCat(pool.ToString(), " overlaps net.pool ",
                               config.pool.ToString()));
  }
  for (const auto& [other, p] : config.host_pools) {
    if (other != host && pool.Overlaps(p)) {
      return refuse(absl::StrCat(pool.ToString(), " overlaps the pool ",
                                 p.ToString(), " of host ",
                                 QuoteForMessage(other)));
    }
  }
  return absl::OkStatus();
}

absl::string_view AllocationKindName(AllocationKind kind) {
  switch (kind) {
    case AllocationKind::kNetwork:
      return "network";
    case AllocationKind::kVmAddress:
      return "vm_address";
    case AllocationKind::kContainerBlock:
      return "container_block";
    case AllocationKind::kContainerAddress:
      return "container_address";
    case AllocationKind::kVip:
      return "vip";
  }
  return "unknown";
}

absl::StatusOr<AllocationKind> ParseAllocationKind(absl::string_view field,
                                                   absl::string_view text) {
  for (AllocationKind k :
       {AllocationKind::kNetwork, AllocationKind::kVmAddress,
        AllocationKind::kContainerBlock, AllocationKind::kContainerAddress,
        AllocationKind::kVip}) {
    if (text == AllocationKindName(k)) return k;
  }
  return absl::InvalidArgumentError(
      absl::StrCat(field,
                   " must be one of network, vm_address, container_block, "
                   "container_address, vip, got ",
                   QuoteForMessage(text)));
}

std::string DescribeAllocation(const Allocation& a) {
  const std::string who = QuoteForMessage(a.owner);
  switch (a.kind) {
    case AllocationKind::kNetwork:
      return absl::StrCat("network ", who, " ", a.prefix.ToString());
    case AllocationKind::kVmAddress:
      return absl::StrCat("vm ", who, " address ", a.prefix.first().ToString());
    case AllocationKind::kContainerBlock:
      return absl::StrCat("vm ", who, " container block ", a.prefix.ToString());
    case AllocationKind::kContainerAddress:
      return absl::StrCat("container ", who, " address ",
                          a.prefix.first().ToString());
    case AllocationKind::kVip:
      return absl::StrCat("service ", who, " vip ",
                          a.prefix.first().ToString());
  }
  return "";
}

Ipam::Ipam(const IpamConfig& config) : config_(config), subnets_(config.pool) {
  for (const auto& [host, pool] : config.host_pools) {
    host_subnets_.emplace(host, PrefixSet(pool));
  }
}

absl::StatusOr<Ipam> Ipam::Create(const IpamConfig& config) {
  NEST_RETURN_IF_ERROR(ValidateIpamConfig(config));
  return Ipam(config);
}

PrefixSet* Ipam::SubnetsOf(absl::string_view host_pool) {
  if (host_pool.empty()) return &subnets_;
  auto it = host_subnets_.find(host_pool);
  return it == host_subnets_.end() ? nullptr : &it->second;
}

const PrefixSet::Entry* Ipam::FindSubnet(const Ipv4Prefix& p) const {
  if (const PrefixSet::Entry* e = subnets_.FindOverlap(p)) return e;
  for (const auto& [host, subnets] : host_subnets_) {
    if (const PrefixSet::Entry* e = subnets.FindOverlap(p)) return e;
  }
  return nullptr;
}

std::vector<Ipv4Prefix> Ipam::AddressSpace() const {
  std::vector<Ipv4Prefix> out = {config_.pool};
  for (const auto& [host, pool] : config_.host_pools) out.push_back(pool);
  std::sort(out.begin(), out.end());
  return out;
}

absl::Status Ipam::SetHostPool(absl::string_view host, const Ipv4Prefix& pool) {
  NEST_RETURN_IF_ERROR(CheckOwner("host", host));
  if (auto it = config_.host_pools.find(host); it != config_.host_pools.end()) {
    if (it->second == pool) return absl::OkStatus();
  }
  NEST_RETURN_IF_ERROR(ValidateHostPool(config_, host, pool, "pool"));
  NEST_RETURN_IF_ERROR(RemoveHostPool(host));
  config_.host_pools.emplace(std::string(host), pool);
  host_subnets_.emplace(std::string(host), PrefixSet(pool));
  return absl::OkStatus();
}

absl::Status Ipam::RemoveHostPool(absl::string_view host) {
  auto it = host_subnets_.find(host);
  if (it == host_subnets_.end()) return absl::OkStatus();
  if (it->second.size() > 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("the pool ", it->second.range().ToString(), " of host ",
                     QuoteForMessage(host), " still holds ", it->second.size(),
                     " network subnet(s); release them first"));
  }
  host_subnets_.erase(it);
  config_.host_pools.erase(config_.host_pools.find(host));
  return absl::OkStatus();
}

void Ipam::AddNetwork(const std::string& network, const std::string& host_pool,
                      const Ipv4Prefix& subnet) {
  SubnetsOf(host_pool)->Insert(subnet, network);
  Network& n = networks_[network];
  n.host_pool = host_pool;
  n.subnet = subnet;
  n.used = PrefixSet(subnet);
  const std::string who = QuoteForMessage(network);
  n.used.Insert(Ipv4Prefix::Host(subnet.first()),
                absl::StrCat("network ", who, " network address"));
  n.used.Insert(Ipv4Prefix::Host(GatewayOf(subnet)),
                absl::StrCat("network ", who, " gateway"));
  n.used.Insert(Ipv4Prefix::Host(subnet.last()),
                absl::StrCat("network ", who, " broadcast address"));
}

absl::StatusOr<Ipv4Prefix> Ipam::AllocateNetwork(absl::string_view network,
                                                 absl::string_view host_pool) {
  NEST_RETURN_IF_ERROR(CheckOwner("network", network));
  auto where = [](absl::string_view host) {
    return host.empty()
               ? std::string("net.pool")
               : absl::StrCat("the pool of host ", QuoteForMessage(host));
  };
  if (auto it = networks_.find(network); it != networks_.end()) {
    if (it->second.host_pool == host_pool) return it->second.subnet;
    return absl::AlreadyExistsError(absl::StrCat(
        "network ", QuoteForMessage(network), " holds ",
        it->second.subnet.ToString(), " of ", where(it->second.host_pool),
        ", not of ", where(host_pool), "; release it first"));
  }
  PrefixSet* subnets = SubnetsOf(host_pool);
  if (subnets == nullptr) {
    return absl::NotFoundError(absl::StrCat("host ", QuoteForMessage(host_pool),
                                            " has no pool for network ",
                                            QuoteForMessage(network)));
  }
  std::optional<Ipv4Prefix> subnet =
      subnets->LowestFree(config_.network_prefix_length);
  if (!subnet) {
    return absl::ResourceExhaustedError(
        absl::StrCat(where(host_pool), " ", subnets->range().ToString(),
                     " has no free /", config_.network_prefix_length,
                     " subnet for network ", QuoteForMessage(network), " (",
                     subnets->size(), " networks hold subnets)"));
  }
  AddNetwork(std::string(network), std::string(host_pool), *subnet);
  return *subnet;
}

absl::Status Ipam::ReleaseNetwork(absl::string_view network) {
  auto it = networks_.find(network);
  if (it == networks_.end()) return absl::OkStatus();
  if (!it->second.vms.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("network ", QuoteForMessage(network), " still has ",
                     it->second.vms.size(), " VM(s) with addresses (e.g. vm ",
                     QuoteForMessage(it->second.vms.begin()->str()),
                     "); release them first"));
  }
  if (!it->second.vips.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "network ", QuoteForMessage(network), " still has ",
        it->second.vips.size(), " service VIP(s) (e.g. service ",
        QuoteForMessage(*it->second.vips.begin()), "); release them first"));
  }
  SubnetsOf(it->second.host_pool)->Erase(it->second.subnet);
  networks_.erase(it);
  return absl::OkStatus();
}

VmLease Ipam::LeaseOf(const VmEntry& e) const {
  const Network& n = networks_.find(e.network)->second;
  return VmLease{e.network, n.subnet, GatewayOf(n.subnet), e.address, e.block};
}

absl::StatusOr<VmLease> Ipam::AllocateVm(absl::string_view network,
                                         const VmId& vm) {
  NEST_RETURN_IF_ERROR(CheckOwner("network", network));
  NEST_RETURN_IF_ERROR(CheckOwner("vm", vm.str()));
  if (auto it = vms_.find(vm); it != vms_.end()) {
    if (it->second.network == network) return LeaseOf(it->second);
    return absl::AlreadyExistsError(
        absl::StrCat("vm ", QuoteForMessage(vm.str()),
                     " already holds an address in network ",
                     QuoteForMessage(it->second.network), ", not ",
                     QuoteForMessage(network), "; release it first"));
  }
  auto it = networks_.find(network);
  if (it == networks_.end()) {
    return absl::NotFoundError(
        absl::StrCat("network ", QuoteForMessage(network),
                     " has no subnet; allocate the network before its VMs"));
  }
  Network& n = it->second;
  const std::string where = absl::StrCat("network ", QuoteForMessage(network),
                                         " (", n.subnet.ToString(), ")");
  std::optional<Ipv4Prefix> address = n.used.LowestFree(32);
  if (!address) {
    return absl::ResourceExhaustedError(absl::StrCat(
        where, " has no free address for vm ", QuoteForMessage(vm.str())));
  }
  n.used.Insert(*address, DescribeAllocation({AllocationKind::kVmAddress,
                                              vm.str(), *address}));
  std::optional<Ipv4Prefix> block =
      n.used.LowestFree(config_.container_block_prefix_length);
  if (!block) {
    n.used.Erase(*address);  // both or neither
    return absl::ResourceExhaustedError(absl::StrCat(
        where, " has no free /", config_.container_block_prefix_length,
        " container block for vm ", QuoteForMessage(vm.str())));
  }
  n.used.Insert(*block, DescribeAllocation({AllocationKind::kContainerBlock,
                                            vm.str(), *block}));
  n.vms.insert(vm);
  VmEntry& e = vms_[vm];
  e = VmEntry{std::string(network), address->first(), *block,
              PrefixSet(*block)};
  return LeaseOf(e);
}

void Ipam::ReleaseVm(const VmId& vm) {
  auto it = vms_.find(vm);
  if (it == vms_.end()) return;
  for (auto c = containers_.begin(); c != containers_.end();) {
    c = c->second.parent == vm.str() ? containers_.erase(c) : std::next(c);
  }
  Network& n = networks_.find(it->second.network)->second;
  n.used.Erase(Ipv4Prefix::Host(it->second.address));
  n.used.Erase(it->second.block);
  n.vms.erase(vm);
  vms_.erase(it);
}

absl::StatusOr<Ipv4Address> Ipam::AllocateContainer(
    const VmId& vm, absl::string_view container) {
  NEST_RETURN_IF_ERROR(CheckOwner("container", container));
  if (auto it = containers_.find(container); it != containers_.end()) {
    if (it->second.parent == vm.str()) return it->second.address;
    return absl::AlreadyExistsError(absl::StrCat(
        "container ", QuoteForMessage(container), " already holds ",
        it->second.address.ToString(), " of vm ",
        QuoteForMessage(it->second.parent), ", not of vm ",
        QuoteForMessage(vm.str()), "; release it first"));
  }
  auto v = vms_.find(vm);
  if (v == vms_.end()) {
    return absl::NotFoundError(
        absl::StrCat("vm ", QuoteForMessage(vm.str()),
                     " has no lease; allocate the VM before its containers"));
  }
  std::optional<Ipv4Prefix> address = v->second.containers.LowestFree(32);
  if (!address) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "the container block ", v->second.block.ToString(), " of vm ",
        QuoteForMessage(vm.str()), " has no free address for container ",
        QuoteForMessage(container), " (", v->second.containers.size(),
        " containers hold one)"));
  }
  Allocation row{AllocationKind::kContainerAddress, std::string(container),
                 *address};
  v->second.containers.Insert(*address, DescribeAllocation(row));
  containers_[std::string(container)] = Owned{vm.str(), address->first()};
  return address->first();
}

void Ipam::ReleaseContainer(absl::string_view container) {
  auto it = containers_.find(container);
  if (it == containers_.end()) return;
  auto v = vms_.find(VmId(it->second.parent));
  if (v != vms_.end()) {
    v->second.containers.Erase(Ipv4Prefix::Host(it->second.address));
  }
  containers_.erase(it);
}

std::optional<Ipv4Address> Ipam::FindContainer(
    absl::string_view container) const {
  auto it = containers_.find(container);
  if (it == containers_.end()) return std::nullopt;
  return it->second.address;
}

absl::StatusOr<Ipv4Address> Ipam::AllocateVip(absl::string_view network,
                                              absl::string_view owner) {
  NEST_RETURN_IF_ERROR(CheckOwner("network", network));
  NEST_RETURN_IF_ERROR(CheckOwner("service", owner));
  if (auto it = vips_.find(owner); it != vips_.end()) {
    if (it->second.parent == network) return it->second.address;
    return absl::AlreadyExistsError(absl::StrCat(
        "service ", QuoteForMessage(owner), " already holds a VIP in network ",
        QuoteForMessage(it->second.parent), ", not ", QuoteForMessage(network),
        "; release it first"));
  }
  auto it = networks_.find(network);
  if (it == networks_.end()) {
    return absl::NotFoundError(
        absl::StrCat("network ", QuoteForMessage(network),
                     " has no subnet; allocate the network before its VIPs"));
  }
  Network& n = it->second;
  // From the top of the subnet down would spread them less predictably;
  // the lowest free /32 keeps one rule for every kind of allocation.
  std::optional<Ipv4Prefix> address = n.used.LowestFree(32);
  if (!address) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "network ", QuoteForMessage(network), " (", n.subnet.ToString(),
        ") has no free address for the VIP of service ",
        QuoteForMessage(owner)));
  }
  Allocation row{AllocationKind::kVip, std::string(owner), *address};
  n.used.Insert(*address, DescribeAllocation(row));
  n.vips.insert(std::string(owner));
  vips_[std::string(owner)] = Owned{std::string(network), address->first()};
  return address->first();
}

void Ipam::ReleaseVip(absl::string_view owner) {
  auto it = vips_.find(owner);
  if (it == vips_.end()) return;
  auto n = networks_.find(it->second.parent);
  if (n != networks_.end()) {
    n->second.used.Erase(Ipv4Prefix::Host(it->second.address));
    n->second.vips.erase(it->first);
  }
  vips_.erase(it);
}

std::optional<Ipv4Address> Ipam::FindVip(absl::string_view owner) const {
  auto it = vips_.find(owner);
  if (it == vips_.end()) return std::nullopt;
  return it->second.address;
}

std::optional<Ipv4Prefix> Ipam::FindNetwork(absl::string_view network) const {
  auto it = networks_.find(network);
  if (it == networks_.end()) return std::nullopt;
  return it->second.subnet;
}

std::optional<VmLease> Ipam::FindVm(const VmId& vm) const {
  auto it = vms_.find(vm);
  if (it == vms_.end()) return std::nullopt;
  return LeaseOf(it->second);
}

std::vector<Allocation> Ipam::Allocations() const {
  std::vector<Allocation> out;
  for (const auto& [name, n] : networks_) {
    out.push_back({AllocationKind::kNetwork, name, n.subnet});
  }
  for (const auto& [vm, e] : vms_) {
    out.push_back(
        {AllocationKind::kVmAddress, vm.str(), Ipv4Prefix::Host(e.address)});
    out.push_back({AllocationKind::kContainerBlock, vm.str(), e.block});
  }
  for (const auto& [owner, o] : containers_) {
    out.push_back({AllocationKind::kContainerAddress, owner,
                   Ipv4Prefix::Host(o.address)});
  }
  for (const auto& [owner, o] : vips_) {
    out.push_back({AllocationKind::kVip, owner, Ipv4Prefix::Host(o.address)});
  }
  std::sort(out.begin(), out.end(),
            [](const Allocation& a, const Allocation& b) {
              return a.prefix < b.prefix;
            });
  return out;
}

}  // namespace nest::net
