// Property test: thousands of random alloc/free sequences (with restarts
// through Restore) against a brute-force model. After every step no two live
// allocations overlap, every VM row lies inside its network's subnet and off
// its reserved addresses, every answer is the lowest free range the model
// finds by scanning, and exhaustion is reported only when the scan agrees.
#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/rng.h"
#include "doctest/doctest.h"
#include "net/ipam.h"

namespace nest::net {
namespace {

Ipv4Prefix P(const char* text) { return ParseIpv4Prefix("p", text).value(); }

// The lowest prefix of `length` in `range` overlapping nothing in `live`,
// by scanning every aligned candidate.
std::optional<Ipv4Prefix> Scan(const Ipv4Prefix& range, int length,
                               const std::vector<Ipv4Prefix>& live) {
  const uint64_t size = uint64_t{1} << (32 - length);
  for (uint64_t a = range.first().value(); a + size - 1 <= range.last().value();
       a += size) {
    Ipv4Prefix c = Ipv4Prefix::Containing(Ipv4Address(a), length);
    bool free = std::none_of(live.begin(), live.end(),
                             [&](const auto& p) { return p.Overlaps(c); });
    if (free) return c;
  }
  return std::nullopt;
}

struct ModelVm {
  std::string network;
  Ipv4Prefix address;
  Ipv4Prefix block;
};

struct Model {
  IpamConfig config;
  std::map<std::string, Ipv4Prefix> networks;
  std::map<std::string, ModelVm> vms;

  std::vector<Ipv4Prefix> UsedIn(const std::string& network) const {
    const Ipv4Prefix s = networks.at(network);
    std::vector<Ipv4Prefix> used = {Ipv4Prefix::Host(s.first()),
                                    Ipv4Prefix::Host(GatewayOf(s)),
                                    Ipv4Prefix::Host(s.last())};
    for (const auto& [vm, m] : vms) {
      if (m.network != network) continue;
      used.push_back(m.address);
      used.push_back(m.block);
    }
    return used;
  }

  std::vector<Allocation> Rows() const {
    std::vector<Allocation> rows;
    for (const auto& [n, p] : networks) {
      rows.push_back({AllocationKind::kNetwork, n, p});
    }
    for (const auto& [vm, m] : vms) {
      rows.push_back({AllocationKind::kVmAddress, vm, m.address});
      rows.push_back({AllocationKind::kContainerBlock, vm, m.block});
    }
    std::sort(rows.begin(), rows.end(),
              [](const Allocation& a, const Allocation& b) {
                return a.prefix < b.prefix;
              });
    return rows;
  }
};

// The first broken invariant in the allocator's own rows (checked without
// the model), or "" when they all hold.
std::string Violation(const IpamConfig& config,
                      const std::vector<Allocation>& rows) {
  std::vector<const Allocation*> nets;
  for (const Allocation& r : rows) {
    if (r.kind == AllocationKind::kNetwork) nets.push_back(&r);
  }
  for (size_t i = 0; i < nets.size(); ++i) {
    if (!config.pool.Contains(nets[i]->prefix)) {
      return DescribeAllocation(*nets[i]) + " is outside the pool";
    }
    for (size_t j = i + 1; j < nets.size(); ++j) {
      if (nets[i]->prefix.Overlaps(nets[j]->prefix)) {
        return DescribeAllocation(*nets[i]) + " overlaps " +
               DescribeAllocation(*nets[j]);
      }
    }
  }
  std::map<std::string, int> per_owner;
  for (const Allocation& r : rows) {
    if (r.kind == AllocationKind::kNetwork) continue;
    ++per_owner[r.owner];
    int parents = 0;
    for (const Allocation* n : nets) {
      if (!n->prefix.Contains(r.prefix)) continue;
      ++parents;
      const Ipv4Prefix& s = n->prefix;
      for (Ipv4Address reserved : {s.first(), GatewayOf(s), s.last()}) {
        if (r.prefix.Contains(reserved)) {
          return DescribeAllocation(r) + " holds reserved " +
                 reserved.ToString();
        }
      }
    }
    if (parents != 1) {
      return DescribeAllocation(r) + " lies in " + std::to_string(parents) +
             " networks";
    }
  }
  for (const auto& [owner, count] : per_owner) {
    // An address and a block, never half a lease.
    if (count != 2) return owner + " has " + std::to_string(count) + " rows";
  }
  for (size_t i = 0; i < rows.size(); ++i) {
    if (rows[i].kind == AllocationKind::kNetwork) continue;
    for (size_t j = i + 1; j < rows.size(); ++j) {
      if (rows[j].kind == AllocationKind::kNetwork) continue;
      if (rows[i].prefix.Overlaps(rows[j].prefix)) {
        return DescribeAllocation(rows[i]) + " overlaps " +
               DescribeAllocation(rows[j]);
      }
    }
  }
  return "";
}

class Run {
 public:
  explicit Run(uint64_t seed) : rng_(seed) {
    const int pool = 20 + static_cast<int>(rng_.Uniform(3));
    const int net = pool + 1 + static_cast<int>(rng_.Uniform(24 - pool));
    const int block = net + 2 + static_cast<int>(rng_.Uniform(30 - net - 1));
    model_.config =
        IpamConfig{Ipv4Prefix::Containing(Ipv4Address::Of(10, 88, 0, 0), pool),
                   net, block};
    ipam_ = Ipam::Create(model_.config).value();
  }

  void Step() {
    const uint64_t op = rng_.Uniform(100);
    if (op < 20) {
      AllocateNetwork();
    } else if (op < 28) {
      ReleaseNetwork();
    } else if (op < 75) {
      AllocateVm();
    } else if (op < 97) {
      ReleaseVm();
    } else {
      Restart();
    }
    std::vector<Allocation> rows = ipam_.Allocations();
    REQUIRE(Violation(model_.config, rows) == "");
    REQUIRE(rows == model_.Rows());
  }

  int exhausted() const { return exhausted_; }
  int live_peak() const { return live_peak_; }

 private:
  std::string NetworkName() { return "n" + std::to_string(rng_.Uniform(24)); }
  std::string VmName() { return "v" + std::to_string(rng_.Uniform(120)); }

  void AllocateNetwork() {
    const std::string n = NetworkName();
    absl::StatusOr<Ipv4Prefix> got = ipam_.AllocateNetwork(n);
    if (auto it = model_.networks.find(n); it != model_.networks.end()) {
      REQUIRE(got.value() == it->second);
      return;
    }
    std::vector<Ipv4Prefix> live;
    for (const auto& [name, p] : model_.networks) live.push_back(p);
    std::optional<Ipv4Prefix> want =
        Scan(model_.config.pool, model_.config.network_prefix_length, live);
    if (!want) {
      REQUIRE(got.status().code() == absl::StatusCode::kResourceExhausted);
      ++exhausted_;
      return;
    }
    REQUIRE(got.value() == *want);
    model_.networks[n] = *want;
  }

  void ReleaseNetwork() {
    const std::string n = NetworkName();
    absl::Status s = ipam_.ReleaseNetwork(n);
    const bool busy =
        std::any_of(model_.vms.begin(), model_.vms.end(),
                    [&](const auto& kv) { return kv.second.network == n; });
    if (busy) {
      REQUIRE(s.code() == absl::StatusCode::kFailedPrecondition);
      return;
    }
    REQUIRE(s.ok());
    model_.networks.erase(n);
  }

  void AllocateVm() {
    if (model_.networks.empty()) return;
    auto pick = model_.networks.begin();
    std::advance(pick, rng_.Uniform(model_.networks.size()));
    // Sometimes a network that holds no subnet.
    const std::string n = rng_.Uniform(20) == 0 ? NetworkName() : pick->first;
    const std::string vm = VmName();
    absl::StatusOr<VmLease> got = ipam_.AllocateVm(n, VmId(vm));
    if (auto it = model_.vms.find(vm); it != model_.vms.end()) {
      if (it->second.network != n) {
        REQUIRE(got.status().code() == absl::StatusCode::kAlreadyExists);
        return;
      }
      REQUIRE(Ipv4Prefix::Host(got.value().address) == it->second.address);
      REQUIRE(got.value().container_block == it->second.block);
      return;
    }
    if (!model_.networks.contains(n)) {
      REQUIRE(got.status().code() == absl::StatusCode::kNotFound);
      return;
    }
    const Ipv4Prefix subnet = model_.networks.at(n);
    std::vector<Ipv4Prefix> used = model_.UsedIn(n);
    std::optional<Ipv4Prefix> address = Scan(subnet, 32, used);
    std::optional<Ipv4Prefix> block;
    if (address) {
      used.push_back(*address);
      block = Scan(subnet, model_.config.container_block_prefix_length, used);
    }
    if (!address || !block) {
      REQUIRE(got.status().code() == absl::StatusCode::kResourceExhausted);
      ++exhausted_;
      return;
    }
    const VmLease& l = got.value();
    REQUIRE(l.network == n);
    REQUIRE(l.subnet == subnet);
    REQUIRE(l.gateway == GatewayOf(subnet));
    REQUIRE(Ipv4Prefix::Host(l.address) == *address);
    REQUIRE(l.container_block == *block);
    model_.vms[vm] = ModelVm{n, *address, *block};
    live_peak_ = std::max(live_peak_, static_cast<int>(model_.vms.size()));
  }

  void ReleaseVm() {
    // Mostly VMs that hold a lease, so releases keep pace with allocations.
    std::string vm = VmName();
    if (!model_.vms.empty() && rng_.Uniform(4) != 0) {
      auto it = model_.vms.begin();
      std::advance(it, rng_.Uniform(model_.vms.size()));
      vm = it->first;
    }
    ipam_.ReleaseVm(VmId(vm));
    model_.vms.erase(vm);
    REQUIRE(ipam_.FindVm(VmId(vm)) == std::nullopt);
  }

  void Restart() {
    std::vector<Allocation> rows = ipam_.Allocations();
    for (size_t i = rows.size(); i > 1; --i) {
      std::swap(rows[i - 1], rows[rng_.Uniform(i)]);
    }
    ipam_ = Ipam::Restore(model_.config, rows).value();
  }

  SeededRng rng_;
  Model model_;
  Ipam ipam_ = Ipam::Create(IpamConfig{}).value();
  int exhausted_ = 0;
  int live_peak_ = 0;
};

TEST_CASE("random alloc/free sequences never overlap or misreport") {
  int exhausted = 0;
  int peak = 0;
  for (uint64_t seed = 1; seed <= 24; ++seed) {
    CAPTURE(seed);
    Run run(seed);
    for (int step = 0; step < 600; ++step) {
      CAPTURE(step);
      run.Step();
    }
    exhausted += run.exhausted();
    peak = std::max(peak, run.live_peak());
  }
  // The sequences must reach exhaustion and many live leases, or they
  // prove little.
  MESSAGE("exhausted ", exhausted, " times; peak ", peak, " live VMs");
  CHECK(exhausted > 100);
  CHECK(peak > 20);
}

TEST_CASE("the invariant check catches overlaps and half leases") {
  const IpamConfig config{P("10.88.0.0/16"), 24, 28};
  const Allocation net{AllocationKind::kNetwork, "n", P("10.88.0.0/24")};
  const Allocation addr{AllocationKind::kVmAddress, "v", P("10.88.0.2/32")};
  const Allocation block{AllocationKind::kContainerBlock, "v",
                         P("10.88.0.16/28")};
  CHECK(Violation(config, {net, addr, block}) == "");
  CHECK(Violation(config, {net, addr}) == "v has 1 rows");
  const Allocation other{AllocationKind::kVmAddress, "w", P("10.88.0.17/32")};
  const Allocation other_block{AllocationKind::kContainerBlock, "w",
                               P("10.88.0.32/28")};
  CHECK(Violation(config, {net, addr, block, other, other_block}) ==
        "vm \"v\" container block 10.88.0.16/28 overlaps vm \"w\" address "
        "10.88.0.17");
  const Allocation gw{AllocationKind::kVmAddress, "v", P("10.88.0.1/32")};
  CHECK(Violation(config, {net, gw, block}) ==
        "vm \"v\" address 10.88.0.1 holds reserved 10.88.0.1");
}

TEST_CASE("the scan oracle itself finds gaps and exhaustion") {
  std::vector<Ipv4Prefix> live = {P("10.0.0.0/26"), P("10.0.0.130/32")};
  CHECK(Scan(P("10.0.0.0/24"), 26, live) == P("10.0.0.64/26"));
  CHECK(Scan(P("10.0.0.0/24"), 25, live) == std::nullopt);
  CHECK(Scan(P("10.0.0.0/24"), 32, live) == P("10.0.0.64/32"));
}

}  // namespace
}  // namespace nest::net
