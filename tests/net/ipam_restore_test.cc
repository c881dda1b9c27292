// Restarting from the store: Restore(Allocations()) gives the same state,
// and damaged rows are refused instead of trusted.
#include <algorithm>
#include <string>

#include "absl/strings/match.h"
#include "core/field_errors.h"
#include "doctest/doctest.h"
#include "net/ipam.h"

namespace nest::net {
namespace {

Ipv4Prefix P(const char* text) { return ParseIpv4Prefix("p", text).value(); }

constexpr AllocationKind kNet = AllocationKind::kNetwork;
constexpr AllocationKind kAddr = AllocationKind::kVmAddress;
constexpr AllocationKind kBlock = AllocationKind::kContainerBlock;

IpamConfig Small() { return IpamConfig{P("10.88.0.0/16"), 24, 28}; }

absl::Status RestoreError(const std::vector<Allocation>& rows) {
  absl::StatusOr<Ipam> ipam = Ipam::Restore(Small(), rows);
  REQUIRE(!ipam.ok());
  CHECK(ipam.status().code() == absl::StatusCode::kInvalidArgument);
  return ipam.status();
}

TEST_CASE("a restored allocator has the same state and continues") {
  Ipam before = Ipam::Create(Small()).value();
  REQUIRE(before.AllocateNetwork("a").ok());
  REQUIRE(before.AllocateNetwork("b").ok());
  REQUIRE(before.AllocateNetwork("c").ok());
  for (const char* vm : {"v1", "v2", "v3"}) {
    REQUIRE(before.AllocateVm("b", VmId(vm)).ok());
  }
  REQUIRE(before.AllocateContainer(VmId("v3"), "c1").ok());
  REQUIRE(before.AllocateContainer(VmId("v3"), "c2").ok());
  REQUIRE(before.AllocateContainer(VmId("v2"), "c3").ok());
  REQUIRE(before.AllocateVip("b", "svc").ok());
  before.ReleaseContainer("c1");
  before.ReleaseVm(VmId("v2"));
  REQUIRE(before.ReleaseNetwork("a").ok());

  std::vector<Allocation> rows = before.Allocations();
  std::reverse(rows.begin(), rows.end());  // the store's order is arbitrary
  Ipam after = Ipam::Restore(Small(), rows).value();
  CHECK(after.Allocations() == before.Allocations());
  CHECK(after.FindVm(VmId("v3")) == before.FindVm(VmId("v3")));
  CHECK(after.FindContainer("c2") == before.FindContainer("c2"));
  CHECK(!after.FindContainer("c3"));
  CHECK(after.FindVip("svc") == before.FindVip("svc"));
  // The hole c1 left is filled first, in both.
  CHECK(after.AllocateContainer(VmId("v3"), "c4").value() ==
        before.AllocateContainer(VmId("v3"), "c4").value());

  // Both continue identically: the holes left by releases are filled first.
  for (Ipam* ipam : {&before, &after}) {
    CHECK(ipam->AllocateNetwork("d").value() == P("10.88.0.0/24"));
    VmLease l = ipam->AllocateVm("b", VmId("v4")).value();
    CHECK(l.address.ToString() == "10.88.1.3");
    CHECK(l.container_block == P("10.88.1.32/28"));
    CHECK(ipam->AllocateNetwork("e").value() == P("10.88.3.0/24"));
  }
  CHECK(after.Allocations() == before.Allocations());
}

TEST_CASE("container and VIP rows outside their ranges are refused") {
  std::vector<Allocation> rows = {
      {kNet, "b", P("10.88.1.0/24")},
      {kAddr, "v1", P("10.88.1.2/32")},
      {kBlock, "v1", P("10.88.1.16/28")},
      {AllocationKind::kContainerAddress, "c1", P("10.88.1.40/32")},
      {AllocationKind::kVip, "svc", P("10.88.1.2/32")},
      {AllocationKind::kContainerAddress, "c2", P("10.88.1.17/32")},
      {AllocationKind::kContainerAddress, "c2", P("10.88.1.18/32")},
  };
  auto v = GetFieldViolations(RestoreError(rows));
  REQUIRE(v.size() == 3);
  CHECK(v[0].field == "allocations[3]");
  CHECK(absl::StrContains(v[0].description, "inside a VM's container block"));
  CHECK(v[1].field == "allocations[4]");
  CHECK(absl::StrContains(v[1].description, "overlaps vm \"v1\" address"));
  CHECK(v[2].field == "allocations[6]");
  CHECK(absl::StrContains(v[2].description, "more than one"));
}

TEST_CASE("restoring nothing gives an empty allocator") {
  Ipam ipam = Ipam::Restore(Small(), {}).value();
  CHECK(ipam.Allocations().empty());
  CHECK(!Ipam::Restore(IpamConfig{P("10.0.0.0/16"), 8, 28}, {}).ok());
}

TEST_CASE("overlapping subnets are refused, naming both networks") {
  absl::Status s = RestoreError(
      {{kNet, "a", P("10.88.0.0/24")}, {kNet, "b", P("10.88.0.0/23")}});
  CHECK(s.message() ==
        "allocations[1] network \"b\" 10.88.0.0/23 overlaps network \"a\" "
        "10.88.0.0/24");
}

TEST_CASE("overlapping VM rows are refused, naming both owners") {
  absl::Status s = RestoreError({{kAddr, "v1", P("10.88.0.2/32")},
                                 {kBlock, "v1", P("10.88.0.16/28")},
                                 {kNet, "n", P("10.88.0.0/24")},
                                 {kAddr, "v2", P("10.88.0.20/32")},
                                 {kBlock, "v2", P("10.88.0.32/28")}});
  CHECK(s.message() ==
        "allocations[3] vm \"v2\" address 10.88.0.20 overlaps vm \"v1\" "
        "container block 10.88.0.16/28");
  // v2 is reported once, not again as missing its address.
  CHECK(GetFieldViolations(s).size() == 1);
}

TEST_CASE("rows on reserved addresses are refused") {
  for (const char* reserved :
       {"10.88.0.0/32", "10.88.0.1/32", "10.88.0.255/32"}) {
    CAPTURE(reserved);
    absl::Status s = RestoreError({{kNet, "n", P("10.88.0.0/24")},
                                   {kAddr, "v", P(reserved)},
                                   {kBlock, "v", P("10.88.0.16/28")}});
    CHECK(absl::StartsWith(s.message(), "allocations[1] vm \"v\" address "));
    CHECK(s.message().find("overlaps network \"n\"") != std::string::npos);
  }
  absl::Status s = RestoreError({{kNet, "n", P("10.88.0.0/24")},
                                 {kAddr, "v", P("10.88.0.2/32")},
                                 {kBlock, "v", P("10.88.0.240/28")}});
  CHECK(s.message() ==
        "allocations[2] vm \"v\" container block 10.88.0.240/28 overlaps "
        "network \"n\" broadcast address");
}

TEST_CASE("rows outside the pool or every network are refused") {
  absl::Status s = RestoreError({{kNet, "n", P("10.89.0.0/24")}});
  CHECK(s.message() ==
        "allocations[0] must be a /30 or shorter subnet inside net.pool "
        "10.88.0.0/16, got network \"n\" 10.89.0.0/24");
  s = RestoreError({{kNet, "n", P("10.88.0.0/24")},
                    {kAddr, "v", P("10.88.1.2/32")},
                    {kBlock, "v", P("10.88.0.16/28")}});
  CHECK(s.message() ==
        "allocations[1] must lie inside a network's subnet, got vm_address "
        "\"v\" 10.88.1.2/32");
  s = RestoreError({{kNet, "n", P("10.88.0.0/24")},
                    {kAddr, "v", P("10.88.0.2/32")},
                    {kBlock, "v", P("10.88.0.0/24")}});
  CHECK(absl::StartsWith(s.message(), "allocations[2] must lie inside"));
}

TEST_CASE("duplicate and split owners are refused") {
  absl::Status s = RestoreError(
      {{kNet, "n", P("10.88.0.0/24")}, {kNet, "n", P("10.88.1.0/24")}});
  CHECK(s.message() ==
        "allocations[1] network \"n\" holds more than one subnet");

  s = RestoreError({{kNet, "n", P("10.88.0.0/24")},
                    {kAddr, "v", P("10.88.0.2/32")},
                    {kAddr, "v", P("10.88.0.3/32")},
                    {kBlock, "v", P("10.88.0.16/28")}});
  CHECK(s.message() ==
        "allocations[2] vm \"v\" holds more than one vm_address");

  s = RestoreError({{kNet, "n", P("10.88.0.0/24")},
                    {kNet, "m", P("10.88.1.0/24")},
                    {kAddr, "v", P("10.88.0.2/32")},
                    {kBlock, "v", P("10.88.1.16/28")}});
  CHECK(s.message() ==
        "allocations[3] vm \"v\" has rows in two networks, \"n\" and \"m\"");

  s = RestoreError(
      {{kNet, "n", P("10.88.0.0/24")}, {kAddr, "v", P("10.88.0.2/31")}});
  CHECK(s.message() ==
        "allocations[1] a vm_address must be a /32, got vm_address \"v\" "
        "10.88.0.2/31");
  s = RestoreError(
      {{kNet, "n", P("10.88.0.0/24")}, {kAddr, "v", P("10.88.0.2/32")}});
  CHECK(s.message() ==
        "allocations[1] vm \"v\" has an address but no container block");
  s = RestoreError({{kNet, "", P("10.88.0.0/24")}});
  CHECK(absl::StartsWith(s.message(), "allocations[0] must name its owner"));
}

TEST_CASE("rows of another length than the config are kept") {
  // The config moved from /24 networks and /28 blocks; old leases stay.
  std::vector<Allocation> rows = {{kNet, "old", P("10.88.0.0/22")},
                                  {kAddr, "v", P("10.88.0.2/32")},
                                  {kBlock, "v", P("10.88.0.64/26")}};
  Ipam ipam = Ipam::Restore(Small(), rows).value();
  CHECK(ipam.Allocations() == rows);
  CHECK(ipam.AllocateNetwork("new").value() == P("10.88.4.0/24"));
  CHECK(ipam.AllocateVm("old", VmId("w"))->container_block ==
        P("10.88.0.16/28"));
}

}  // namespace
}  // namespace nest::net
