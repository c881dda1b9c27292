// Property test for container addresses and service VIPs: random
// alloc/free sequences over VMs, containers and VIPs, with restarts through
// Restore. After every step no address is held twice, every container
// address lies in its VM's block, every VIP in its network's subnet and off
// every VM address, block and reserved address, and a restored allocator
// equals the one it was restored from.
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/rng.h"
#include "doctest/doctest.h"
#include "net/ipam.h"

namespace nest::net {
namespace {

Ipv4Prefix P(const char* text) { return ParseIpv4Prefix("p", text).value(); }

void CheckInvariants(const Ipam& ipam) {
  std::vector<Allocation> rows = ipam.Allocations();
  std::map<std::string, Ipv4Prefix> blocks;  // vm -> block
  std::map<std::string, Ipv4Prefix> subnets;
  std::vector<Ipv4Prefix> in_subnets;  // VM addresses, blocks, VIPs
  std::set<uint32_t> containers;
  for (const Allocation& a : rows) {
    if (a.kind == AllocationKind::kNetwork) subnets[a.owner] = a.prefix;
    if (a.kind == AllocationKind::kContainerBlock) blocks[a.owner] = a.prefix;
  }
  for (const Allocation& a : rows) {
    switch (a.kind) {
      case AllocationKind::kNetwork:
        break;
      case AllocationKind::kVmAddress:
      case AllocationKind::kContainerBlock:
      case AllocationKind::kVip:
        for (const Ipv4Prefix& p : in_subnets) {
          REQUIRE_MESSAGE(!p.Overlaps(a.prefix), DescribeAllocation(a));
        }
        in_subnets.push_back(a.prefix);
        if (a.kind == AllocationKind::kVip) {
          bool inside = false;
          for (const auto& [n, s] : subnets) {
            if (!s.Contains(a.prefix)) continue;
            inside = true;
            CHECK(a.prefix.first() != s.first());
            CHECK(a.prefix.first() != GatewayOf(s));
            CHECK(a.prefix.first() != s.last());
          }
          CHECK_MESSAGE(inside, DescribeAllocation(a));
        }
        break;
      case AllocationKind::kContainerAddress: {
        REQUIRE_MESSAGE(containers.insert(a.prefix.first().value()).second,
                        DescribeAllocation(a));
        bool in_block = false;
        for (const auto& [vm, b] : blocks) in_block |= b.Contains(a.prefix);
        CHECK_MESSAGE(in_block, DescribeAllocation(a));
        break;
      }
    }
  }
}

TEST_CASE(
    "random container and VIP sequences never hand out an address twice") {
  SeededRng rng(7);
  // Small ranges so exhaustion happens often: /26 subnets, /29 blocks.
  const IpamConfig config{P("10.88.0.0/24"), 26, 29};
  int exhausted = 0;
  for (int round = 0; round < 40; ++round) {
    Ipam ipam = Ipam::Create(config).value();
    std::map<std::string, VmId> container_vm;
    for (int step = 0; step < 300; ++step) {
      const std::string net = absl::StrCat("t", rng.Uniform(2));
      const VmId vm(absl::StrCat("vm", rng.Uniform(8)));
      const std::string c = absl::StrCat("c", rng.Uniform(30));
      const std::string svc = absl::StrCat("s", rng.Uniform(6));
      switch (rng.Uniform(7)) {
        case 0: {
          (void)ipam.AllocateNetwork(net);
          absl::Status st = ipam.AllocateVm(net, vm).status();
          exhausted += absl::IsResourceExhausted(st);
          break;
        }
        case 1:
          ipam.ReleaseVm(vm);
          break;
        case 2: {
          absl::StatusOr<Ipv4Address> a = ipam.AllocateContainer(vm, c);
          exhausted += absl::IsResourceExhausted(a.status());
          if (a.ok()) {
            // Asking again is the same answer.
            CHECK(ipam.AllocateContainer(vm, c).value() == *a);
            CHECK(ipam.FindContainer(c) == *a);
          }
          break;
        }
        case 3:
          ipam.ReleaseContainer(c);
          CHECK(!ipam.FindContainer(c));
          break;
        case 4: {
          (void)ipam.AllocateNetwork(net);
          absl::StatusOr<Ipv4Address> a = ipam.AllocateVip(net, svc);
          exhausted += absl::IsResourceExhausted(a.status());
          break;
        }
        case 5:
          ipam.ReleaseVip(svc);
          break;
        default: {
          // A restart: the rows rebuild the same state.
          Ipam restored = Ipam::Restore(config, ipam.Allocations()).value();
          REQUIRE(restored.Allocations() == ipam.Allocations());
          ipam = std::move(restored);
        }
      }
      CheckInvariants(ipam);
    }
  }
  MESSAGE("exhausted ", exhausted, " times");
  CHECK(exhausted > 0);  // the sequences did reach the limits
}

}  // namespace
}  // namespace nest::net
