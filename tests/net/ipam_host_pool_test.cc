// Hosts' own pools (per-host address ranges, like a node's podCIDR): a
// network allocated in a host's pool takes its subnet there, pools never
// overlap, and Restore puts every row back in the pool that holds it.
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "core/field_errors.h"
#include "doctest/doctest.h"
#include "net/ipam.h"
#include "net/tenant_network.h"

namespace nest::net {
namespace {

Ipv4Prefix P(const char* text) { return ParseIpv4Prefix("p", text).value(); }

// net.pool 10.88.0.0/16, /24 subnets, /28 blocks; host b has 10.89.0.0/16.
IpamConfig WithHostB() {
  IpamConfig c{P("10.88.0.0/16"), 24, 28};
  c.host_pools = {{"b", P("10.89.0.0/16")}};
  return c;
}

TEST_CASE("a network in a host's pool takes its subnet and leases there") {
  Ipam ipam = Ipam::Create(WithHostB()).value();
  CHECK(ipam.AllocateNetwork("t").value() == P("10.88.0.0/24"));
  CHECK(ipam.AllocateNetwork("t@b", "b").value() == P("10.89.0.0/24"));
  CHECK(ipam.AllocateNetwork("u@b", "b").value() == P("10.89.1.0/24"));
  // Asking again answers the same; net.pool is untouched by host networks.
  CHECK(ipam.AllocateNetwork("t@b", "b").value() == P("10.89.0.0/24"));
  CHECK(ipam.AllocateNetwork("u").value() == P("10.88.1.0/24"));

  VmLease lease = ipam.AllocateVm("t@b", VmId("v")).value();
  CHECK(lease.network == "t@b");
  CHECK(lease.subnet == P("10.89.0.0/24"));
  CHECK(lease.gateway.ToString() == "10.89.0.1");
  CHECK(lease.address.ToString() == "10.89.0.2");
  CHECK(lease.container_block == P("10.89.0.16/28"));
  CHECK(ipam.AllocateContainer(VmId("v"), "c").value().ToString() ==
        "10.89.0.16");
  // VIPs may still live in the tenant's main network.
  CHECK(ipam.AllocateVip("t", "t/web").value().ToString() == "10.88.0.2");

  // A released host subnet is handed out again first.
  ipam.ReleaseVm(VmId("v"));
  REQUIRE(ipam.ReleaseNetwork("t@b").ok());
  CHECK(ipam.AllocateNetwork("w@b", "b").value() == P("10.89.0.0/24"));
  CHECK(ipam.AddressSpace() ==
        std::vector<Ipv4Prefix>{P("10.88.0.0/16"), P("10.89.0.0/16")});
}

TEST_CASE("host pool mistakes are refused, naming the pool") {
  Ipam ipam = Ipam::Create(WithHostB()).value();
  CHECK(absl::IsNotFound(ipam.AllocateNetwork("t@c", "c").status()));
  REQUIRE(ipam.AllocateNetwork("t").ok());
  absl::Status moved = ipam.AllocateNetwork("t", "b").status();
  CHECK(absl::IsAlreadyExists(moved));
  CHECK(absl::StrContains(moved.message(), "of net.pool, not of the pool of "
                                           "host \"b\""));

  // Only one /24 fits a /24 pool.
  REQUIRE(ipam.SetHostPool("c", P("10.90.0.0/24")).ok());
  REQUIRE(ipam.AllocateNetwork("t@c", "c").ok());
  absl::Status full = ipam.AllocateNetwork("u@c", "c").status();
  CHECK(absl::IsResourceExhausted(full));
  CHECK(full.message() ==
        "the pool of host \"c\" 10.90.0.0/24 has no free /24 subnet for "
        "network \"u@c\" (1 networks hold subnets)");
}

TEST_CASE("host pools must be /30 or shorter and overlap no other pool") {
  const IpamConfig c = WithHostB();
  CHECK(ValidateHostPool(c, "c", P("10.90.0.0/16"), "pool").ok());
  // A host's own pool is not an overlap with itself.
  CHECK(ValidateHostPool(c, "b", P("10.89.0.0/17"), "pool").ok());
  absl::Status s = ValidateHostPool(c, "c", P("10.88.0.0/16"), "pool");
  CHECK(s.message() == "pool 10.88.0.0/16 overlaps net.pool 10.88.0.0/16");
  CHECK(GetFieldViolations(s).at(0).field == "pool");
  s = ValidateHostPool(c, "c", P("10.0.0.0/8"), "pool");
  CHECK(s.message() == "pool 10.0.0.0/8 overlaps net.pool 10.88.0.0/16");
  s = ValidateHostPool(c, "c", P("10.89.128.0/24"), "pool");
  CHECK(s.message() ==
        "pool 10.89.128.0/24 overlaps the pool 10.89.0.0/16 of host \"b\"");
  s = ValidateHostPool(c, "c", P("10.90.0.0/31"), "pool");
  CHECK(s.message() == "pool must be a prefix of length 30 or shorter, got "
                       "10.90.0.0/31");

  IpamConfig both = c;
  both.host_pools["c"] = P("10.89.0.0/24");
  s = ValidateIpamConfig(both);
  CHECK(absl::IsInvalidArgument(s));
  CHECK(s.message() ==
        "host_pools[\"c\"] 10.89.0.0/24 overlaps the pool 10.89.0.0/16 of "
        "host \"b\"");
  CHECK(!Ipam::Create(both).ok());
}

TEST_CASE("host pools come and go only while no network uses them") {
  Ipam ipam = Ipam::Create(WithHostB()).value();
  REQUIRE(ipam.SetHostPool("b", P("10.89.0.0/16")).ok());  // unchanged
  CHECK(absl::IsInvalidArgument(ipam.SetHostPool("c", P("10.89.1.0/24"))));
  REQUIRE(ipam.AllocateNetwork("t@b", "b").ok());
  CHECK(absl::IsFailedPrecondition(ipam.RemoveHostPool("b")));
  CHECK(absl::IsFailedPrecondition(ipam.SetHostPool("b", P("10.90.0.0/16"))));
  CHECK(ipam.config().host_pools.at("b") == P("10.89.0.0/16"));
  REQUIRE(ipam.ReleaseNetwork("t@b").ok());
  REQUIRE(ipam.SetHostPool("b", P("10.90.0.0/16")).ok());
  CHECK(ipam.AllocateNetwork("t@b", "b").value() == P("10.90.0.0/24"));
  REQUIRE(ipam.ReleaseNetwork("t@b").ok());
  REQUIRE(ipam.RemoveHostPool("b").ok());
  REQUIRE(ipam.RemoveHostPool("b").ok());  // already gone
  CHECK(ipam.config().host_pools.empty());
  CHECK(ipam.AddressSpace() == std::vector<Ipv4Prefix>{P("10.88.0.0/16")});
  CHECK(absl::IsNotFound(ipam.AllocateNetwork("t@b", "b").status()));
}

TEST_CASE("restore puts rows back in the pool that holds them") {
  Ipam before = Ipam::Create(WithHostB()).value();
  REQUIRE(before.AllocateNetwork("t").ok());
  REQUIRE(before.AllocateVm("t", VmId("a")).ok());
  REQUIRE(before.AllocateNetwork("t@b", "b").ok());
  REQUIRE(before.AllocateVm("t@b", VmId("v")).ok());
  REQUIRE(before.AllocateContainer(VmId("v"), "c").ok());
  REQUIRE(before.AllocateVip("t", "t/web").ok());
  const std::vector<Allocation> rows = before.Allocations();

  Ipam after = Ipam::Restore(WithHostB(), rows).value();
  CHECK(after.Allocations() == rows);
  CHECK(after.FindVm(VmId("v")) == before.FindVm(VmId("v")));
  CHECK(after.FindContainer("c") == before.FindContainer("c"));
  // The restored network is in b's pool: b's pool cannot go, and the next
  // network there comes after it.
  CHECK(absl::IsFailedPrecondition(after.RemoveHostPool("b")));
  CHECK(absl::IsAlreadyExists(after.AllocateNetwork("t@b").status()));
  CHECK(after.AllocateNetwork("u@b", "b").value() == P("10.89.1.0/24"));

  // Without b's pool its rows lie outside every pool.
  absl::StatusOr<Ipam> lost =
      Ipam::Restore(IpamConfig{P("10.88.0.0/16"), 24, 28}, rows);
  REQUIRE(absl::IsInvalidArgument(lost.status()));
  CHECK(absl::StrContains(lost.status().message(),
                          "subnet inside net.pool 10.88.0.0/16, got network "
                          "\"t@b\" 10.89.0.0/24"));
  IpamConfig other = WithHostB();
  other.host_pools["c"] = P("10.90.0.0/16");
  absl::StatusOr<Ipam> elsewhere = Ipam::Restore(
      other, {{AllocationKind::kNetwork, "x", P("10.91.0.0/24")}});
  CHECK(elsewhere.status().message() ==
        "allocations[0] must be a /30 or shorter subnet inside net.pool "
        "10.88.0.0/16 or a host's pool, got network \"x\" 10.91.0.0/24");
}

TEST_CASE("a tenant's filter drops every pool but its own subnets") {
  Ipam ipam = Ipam::Create(WithHostB()).value();
  REQUIRE(ipam.SetHostPool("c", P("192.168.0.0/20")).ok());
  REQUIRE(ipam.AllocateNetwork("t").ok());
  REQUIRE(ipam.AllocateNetwork("u@b", "b").ok());
  REQUIRE(ipam.AllocateNetwork("t@b", "b").ok());
  REQUIRE(ipam.AllocateNetwork("t@c", "c").ok());
  vmm::NwFilterSpec f =
      TenantFilterSpec(ipam, "c1", "t", {"t", "t@c", "t@b"}).value();
  CHECK(f.allowed == std::vector<vmm::FilterRange>{{"10.88.0.0", 24},
                                                   {"10.89.1.0", 24},
                                                   {"192.168.0.0", 24}});
  CHECK(f.isolated == std::vector<vmm::FilterRange>{{"10.88.0.0", 16},
                                                    {"10.89.0.0", 16},
                                                    {"192.168.0.0", 20}});
  CHECK(vmm::BuildNwFilterXml(f).ok());

  // Host b's network: b's subnet, b's address as the gateway.
  vmm::NetworkSpec n =
      HostNetworkSpec(ipam, "c1", "t@b", {}, vmm::ForwardMode::kRoute).value();
  CHECK(n.address == "10.89.1.1");
  CHECK(n.prefix == 24);
  CHECK(n.name !=
        HostNetworkSpec(ipam, "c1", "t", {}, vmm::ForwardMode::kRoute)
            .value()
            .name);
}

}  // namespace
}  // namespace nest::net
