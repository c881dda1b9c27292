#include "net/ipam.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "core/field_errors.h"
#include "doctest/doctest.h"

namespace nest::net {
namespace {

Ipv4Prefix P(const char* text) { return ParseIpv4Prefix("p", text).value(); }
Ipv4Address A(const char* text) { return ParseIpv4Address("a", text).value(); }

IpamConfig Config(const char* pool, int network, int block) {
  return IpamConfig{P(pool), network, block};
}

TEST_CASE("the default config is valid") {
  CHECK(ValidateIpamConfig(IpamConfig{}).ok());
  CHECK(IpamConfig{}.pool.ToString() == "10.88.0.0/14");
}

TEST_CASE("bad configs name every bad setting") {
  absl::Status s = ValidateIpamConfig(Config("10.88.0.0/16", 14, 26));
  CHECK(s.code() == absl::StatusCode::kInvalidArgument);
  CHECK(s.message() ==
        "net.network_prefix_length must be between the pool's length (16) "
        "and 30, got 14");

  s = ValidateIpamConfig(Config("10.88.0.0/16", 20, 21));
  CHECK(s.message() ==
        "net.container_block_prefix_length must be between "
        "network_prefix_length + 2 (22) and 30, got 21");
  CHECK_FALSE(ValidateIpamConfig(Config("10.88.0.0/16", 20, 31)).ok());
  CHECK(ValidateIpamConfig(Config("10.88.0.0/16", 20, 22)).ok());

  s = ValidateIpamConfig(Config("10.88.0.0/31", 31, 33));
  auto v = GetFieldViolations(s);
  REQUIRE(v.size() == 2);
  CHECK(v[0].field == "net.pool");
  CHECK(v[1].field == "net.network_prefix_length");
  CHECK(!Ipam::Create(Config("10.88.0.0/16", 14, 26)).ok());
}

TEST_CASE("allocation kinds round-trip through their names") {
  for (AllocationKind k :
       {AllocationKind::kNetwork, AllocationKind::kVmAddress,
        AllocationKind::kContainerBlock, AllocationKind::kContainerAddress,
        AllocationKind::kVip}) {
    CHECK(ParseAllocationKind("kind", AllocationKindName(k)).value() == k);
  }
  CHECK(ParseAllocationKind("rows[0].kind", "vm").status().message() ==
        "rows[0].kind must be one of network, vm_address, container_block, "
        "container_address, vip, got \"vm\"");
}

TEST_CASE("containers get addresses in their VM's block, services VIPs") {
  Ipam ipam = Ipam::Create(Config("10.88.0.0/16", 24, 29)).value();
  REQUIRE(ipam.AllocateNetwork("acme").ok());
  VmLease vm = ipam.AllocateVm("acme", VmId("v1")).value();
  CHECK(vm.container_block == P("10.88.0.8/29"));
  CHECK(ipam.AllocateContainer(VmId("v1"), "c1").value() == A("10.88.0.8"));
  CHECK(ipam.AllocateContainer(VmId("v1"), "c2").value() == A("10.88.0.9"));
  // Asking again is the same answer; another VM is refused.
  CHECK(ipam.AllocateContainer(VmId("v1"), "c1").value() == A("10.88.0.8"));
  REQUIRE(ipam.AllocateVm("acme", VmId("v2")).ok());
  CHECK(ipam.AllocateContainer(VmId("v2"), "c1").status().code() ==
        absl::StatusCode::kAlreadyExists);
  CHECK(ipam.AllocateContainer(VmId("nope"), "c9").status().code() ==
        absl::StatusCode::kNotFound);
  for (int i = 3; i <= 8; ++i) {
    REQUIRE(ipam.AllocateContainer(VmId("v1"), absl::StrCat("c", i)).ok());
  }
  absl::Status full = ipam.AllocateContainer(VmId("v1"), "c9").status();
  CHECK(full.code() == absl::StatusCode::kResourceExhausted);
  CHECK(full.message() ==
        "the container block 10.88.0.8/29 of vm \"v1\" has no free address "
        "for container \"c9\" (8 containers hold one)");
  ipam.ReleaseContainer("c2");
  CHECK(!ipam.FindContainer("c2"));
  CHECK(ipam.AllocateContainer(VmId("v1"), "c9").value() == A("10.88.0.9"));

  // VIPs come from the subnet beside the VMs and never collide with them.
  Ipv4Address vip = ipam.AllocateVip("acme", "acme/web").value();
  CHECK(vip == A("10.88.0.4"));
  CHECK(ipam.AllocateVip("acme", "acme/web").value() == vip);
  CHECK(ipam.FindVip("acme/web") == vip);
  CHECK(ipam.AllocateVm("acme", VmId("v3")).value().address == A("10.88.0.5"));
  CHECK(ipam.AllocateVip("nope", "x").status().code() ==
        absl::StatusCode::kNotFound);
  CHECK(ipam.ReleaseNetwork("acme").code() ==
        absl::StatusCode::kFailedPrecondition);

  // Releasing a VM releases its containers' addresses.
  ipam.ReleaseVm(VmId("v1"));
  CHECK(!ipam.FindContainer("c1"));
  ipam.ReleaseVip("acme/web");
  CHECK(!ipam.FindVip("acme/web"));
  ipam.ReleaseVm(VmId("v2"));
  ipam.ReleaseVm(VmId("v3"));
  CHECK(ipam.ReleaseNetwork("acme").ok());
  CHECK(ipam.Allocations().empty());
}

TEST_CASE("networks get the lowest free subnet; VMs an address and block") {
  Ipam ipam = Ipam::Create(Config("10.88.0.0/14", 20, 26)).value();
  CHECK(ipam.AllocateNetwork("acme/default").value() == P("10.88.0.0/20"));
  CHECK(ipam.AllocateNetwork("blue/default").value() == P("10.88.16.0/20"));

  VmLease a = ipam.AllocateVm("acme/default", VmId("web-1")).value();
  CHECK(a.network == "acme/default");
  CHECK(a.subnet == P("10.88.0.0/20"));
  CHECK(a.gateway == A("10.88.0.1"));
  CHECK(a.address == A("10.88.0.2"));
  // The first /26 holds the reserved and VM addresses.
  CHECK(a.container_block == P("10.88.0.64/26"));

  VmLease b = ipam.AllocateVm("acme/default", VmId("web-2")).value();
  CHECK(b.address == A("10.88.0.3"));
  CHECK(b.container_block == P("10.88.0.128/26"));

  VmLease c = ipam.AllocateVm("blue/default", VmId("db-1")).value();
  CHECK(c.address == A("10.88.16.2"));
  CHECK(c.container_block == P("10.88.16.64/26"));
  CHECK(ipam.FindVm(VmId("web-2")) == b);
  CHECK(ipam.FindNetwork("blue/default") == P("10.88.16.0/20"));
  CHECK(ipam.FindNetwork("nope") == std::nullopt);
  CHECK(ipam.FindVm(VmId("nope")) == std::nullopt);
}

TEST_CASE("asking again for the same owner returns the same answer") {
  Ipam ipam = Ipam::Create(IpamConfig{}).value();
  Ipv4Prefix n = ipam.AllocateNetwork("n").value();
  CHECK(ipam.AllocateNetwork("n").value() == n);
  VmLease l = ipam.AllocateVm("n", VmId("v")).value();
  CHECK(ipam.AllocateVm("n", VmId("v")).value() == l);
  CHECK(ipam.Allocations().size() == 3);

  REQUIRE(ipam.AllocateNetwork("m").ok());
  absl::StatusOr<VmLease> other = ipam.AllocateVm("m", VmId("v"));
  CHECK(other.status().code() == absl::StatusCode::kAlreadyExists);
  CHECK(other.status().message() ==
        "vm \"v\" already holds an address in network \"n\", not \"m\"; "
        "release it first");
}

TEST_CASE("bad requests are refused") {
  Ipam ipam = Ipam::Create(IpamConfig{}).value();
  CHECK(ipam.AllocateNetwork("").status().code() ==
        absl::StatusCode::kInvalidArgument);
  absl::StatusOr<VmLease> l = ipam.AllocateVm("ghost", VmId("v"));
  CHECK(l.status().code() == absl::StatusCode::kNotFound);
  CHECK(l.status().message() ==
        "network \"ghost\" has no subnet; allocate the network before its "
        "VMs");
  REQUIRE(ipam.AllocateNetwork("n").ok());
  CHECK(ipam.AllocateVm("n", VmId("")).status().code() ==
        absl::StatusCode::kInvalidArgument);
}

TEST_CASE("the pool runs out of subnets with RESOURCE_EXHAUSTED") {
  // A /22 pool holds four /24 subnets.
  Ipam ipam = Ipam::Create(Config("10.88.0.0/22", 24, 28)).value();
  for (int i = 0; i < 4; ++i) {
    CHECK(ipam.AllocateNetwork("n" + std::to_string(i)).ok());
  }
  absl::StatusOr<Ipv4Prefix> s = ipam.AllocateNetwork("n4");
  CHECK(s.status().code() == absl::StatusCode::kResourceExhausted);
  CHECK(s.status().message() ==
        "net.pool 10.88.0.0/22 has no free /24 subnet for network \"n4\" (4 "
        "networks hold subnets)");
  // Still exhausted on retry; nothing was half-allocated.
  CHECK(!ipam.AllocateNetwork("n4").ok());
  CHECK(ipam.Allocations().size() == 4);
}

TEST_CASE("a subnet runs out of container blocks before addresses") {
  // /26 subnet, /28 blocks: 0-15 holds network, gateway and VM addresses;
  // 48-63 holds the broadcast address, so two blocks fit (16 and 32).
  Ipam ipam = Ipam::Create(Config("10.88.0.0/24", 26, 28)).value();
  REQUIRE(ipam.AllocateNetwork("n").ok());
  CHECK(ipam.AllocateVm("n", VmId("a"))->container_block == P("10.88.0.16/28"));
  CHECK(ipam.AllocateVm("n", VmId("b"))->container_block == P("10.88.0.32/28"));
  absl::StatusOr<VmLease> c = ipam.AllocateVm("n", VmId("c"));
  CHECK(c.status().code() == absl::StatusCode::kResourceExhausted);
  CHECK(c.status().message() ==
        "network \"n\" (10.88.0.0/26) has no free /28 container block for vm "
        "\"c\"");
  // Both or neither: c holds no address.
  CHECK(ipam.FindVm(VmId("c")) == std::nullopt);
  CHECK(ipam.Allocations().size() == 5);
  // The next VM after a release still gets the lowest address.
  ipam.ReleaseVm(VmId("a"));
  VmLease d = ipam.AllocateVm("n", VmId("d")).value();
  CHECK(d.address == A("10.88.0.2"));
  CHECK(d.container_block == P("10.88.0.16/28"));
}

TEST_CASE("a subnet runs out of addresses with RESOURCE_EXHAUSTED") {
  // /28 subnet with /30 blocks: 16 addresses, 3 reserved; each VM takes 1
  // address and a 4-address block.
  Ipam ipam = Ipam::Create(Config("10.88.0.0/24", 28, 30)).value();
  REQUIRE(ipam.AllocateNetwork("n").ok());
  int ok = 0;
  absl::Status last;
  for (int i = 0; i < 10; ++i) {
    absl::StatusOr<VmLease> l = ipam.AllocateVm("n", VmId(std::to_string(i)));
    if (!l.ok()) {
      last = l.status();
      break;
    }
    ++ok;
  }
  // .2 .3 addresses, .4/30 and .8/30 blocks; .12/30 holds the broadcast.
  CHECK(ok == 2);
  CHECK(last.code() == absl::StatusCode::kResourceExhausted);
  CHECK(last.message() ==
        "network \"n\" (10.88.0.0/28) has no free /30 container block for vm "
        "\"2\"");
}

TEST_CASE("a released subnet is reused only after its release") {
  Ipam ipam = Ipam::Create(Config("10.88.0.0/23", 24, 26)).value();
  Ipv4Prefix a = ipam.AllocateNetwork("a").value();
  Ipv4Prefix b = ipam.AllocateNetwork("b").value();
  CHECK(ipam.AllocateNetwork("c").status().code() ==
        absl::StatusCode::kResourceExhausted);
  REQUIRE(ipam.AllocateVm("a", VmId("v")).ok());

  absl::Status busy = ipam.ReleaseNetwork("a");
  CHECK(busy.code() == absl::StatusCode::kFailedPrecondition);
  CHECK(busy.message() ==
        "network \"a\" still has 1 VM(s) with addresses (e.g. vm \"v\"); "
        "release them first");
  CHECK(ipam.AllocateNetwork("c").status().code() ==
        absl::StatusCode::kResourceExhausted);

  ipam.ReleaseVm(VmId("v"));
  ipam.ReleaseVm(VmId("v"));  // a no-op the second time
  CHECK(ipam.ReleaseNetwork("a").ok());
  CHECK(ipam.ReleaseNetwork("a").ok());
  CHECK(ipam.FindNetwork("a") == std::nullopt);
  CHECK(ipam.AllocateNetwork("c").value() == a);
  CHECK(ipam.FindNetwork("b") == b);
}

TEST_CASE("Allocations lists every row, ordered by prefix") {
  Ipam ipam = Ipam::Create(Config("10.88.0.0/16", 24, 28)).value();
  REQUIRE(ipam.AllocateNetwork("z").ok());
  REQUIRE(ipam.AllocateNetwork("a").ok());
  REQUIRE(ipam.AllocateVm("a", VmId("v")).ok());
  std::vector<Allocation> rows = ipam.Allocations();
  REQUIRE(rows.size() == 4);
  CHECK(rows[0] ==
        Allocation{AllocationKind::kNetwork, "z", P("10.88.0.0/24")});
  CHECK(rows[1] ==
        Allocation{AllocationKind::kNetwork, "a", P("10.88.1.0/24")});
  CHECK(rows[2] ==
        Allocation{AllocationKind::kVmAddress, "v", P("10.88.1.2/32")});
  CHECK(rows[3] ==
        Allocation{AllocationKind::kContainerBlock, "v", P("10.88.1.16/28")});
  CHECK(DescribeAllocation(rows[2]) == "vm \"v\" address 10.88.1.2");
  CHECK(DescribeAllocation(rows[3]) ==
        "vm \"v\" container block 10.88.1.16/28");
}

TEST_CASE("the allocator is a value: a copy evolves independently") {
  Ipam one = Ipam::Create(IpamConfig{}).value();
  REQUIRE(one.AllocateNetwork("n").ok());
  Ipam two = one;
  REQUIRE(two.AllocateVm("n", VmId("v")).ok());
  CHECK(one.FindVm(VmId("v")) == std::nullopt);
  CHECK(one.AllocateVm("n", VmId("w"))->address == A("10.88.0.2"));
  CHECK(two.AllocateVm("n", VmId("w"))->address == A("10.88.0.3"));
}

}  // namespace
}  // namespace nest::net
