// The libvirt network and filter specs derived from the IPAM: what the
// controller will hand to vmm/ for each host and tenant.
#include "net/tenant_network.h"

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "doctest/doctest.h"

namespace nest::net {
namespace {

Ipv4Prefix P(const char* text) { return ParseIpv4Prefix("p", text).value(); }

Ipam TwoTenants() {
  Ipam ipam = Ipam::Create(IpamConfig{P("10.88.0.0/16"), 24, 28}).value();
  REQUIRE(ipam.AllocateNetwork("acme/default").ok());
  REQUIRE(ipam.AllocateNetwork("beta/default").ok());
  REQUIRE(ipam.AllocateNetwork("acme/batch").ok());
  for (const char* vm : {"a1", "a2", "a3"}) {
    REQUIRE(ipam.AllocateVm("acme/default", VmId(vm)).ok());
  }
  REQUIRE(ipam.AllocateVm("beta/default", VmId("b1")).ok());
  return ipam;
}

TEST_CASE("a host's network routes only its own VMs' container blocks") {
  Ipam ipam = TwoTenants();
  absl::StatusOr<vmm::NetworkSpec> spec =
      HostNetworkSpec(ipam, "c1", "acme/default", {VmId("a3"), VmId("a1")},
                      vmm::ForwardMode::kRoute);
  REQUIRE_MESSAGE(spec.ok(), spec.status().ToString());
  CHECK(spec->address == "10.88.0.1");
  CHECK(spec->prefix == 24);
  CHECK(spec->bridge.size() <= 15);
  CHECK(spec->routes ==
        std::vector<vmm::NetworkRoute>{{"10.88.0.16", 28, "10.88.0.2"},
                                       {"10.88.0.48", 28, "10.88.0.4"}});
  // The spec is a valid libvirt network.
  CHECK(vmm::BuildNetworkXml(*spec).ok());

  // Same key, same objects; another installation gets other ones.
  vmm::NetworkSpec again =
      HostNetworkSpec(ipam, "c1", "acme/default", {}, vmm::ForwardMode::kRoute)
          .value();
  vmm::NetworkSpec other =
      HostNetworkSpec(ipam, "c2", "acme/default", {}, vmm::ForwardMode::kRoute)
          .value();
  CHECK(again.name == spec->name);
  CHECK(again.uuid == spec->uuid);
  CHECK(other.name != spec->name);
  CHECK(other.bridge != spec->bridge);
  CHECK(other.uuid != spec->uuid);
}

TEST_CASE("a VM of another network or none is refused, naming it") {
  Ipam ipam = TwoTenants();
  absl::StatusOr<vmm::NetworkSpec> spec =
      HostNetworkSpec(ipam, "c1", "acme/default", {VmId("a1"), VmId("b1")},
                      vmm::ForwardMode::kRoute);
  CHECK(absl::IsInvalidArgument(spec.status()));
  CHECK(absl::StrContains(spec.status().message(), "vms_on_host[1]"));
  CHECK(absl::StrContains(spec.status().message(), "\"b1\""));
  CHECK(absl::IsNotFound(
      HostNetworkSpec(ipam, "c1", "nope", {}, vmm::ForwardMode::kNat)
          .status()));
}

TEST_CASE("a tenant's filter allows its subnets and drops the pool") {
  Ipam ipam = TwoTenants();
  absl::StatusOr<vmm::NwFilterSpec> f =
      TenantFilterSpec(ipam, "c1", "acme", {"acme/batch", "acme/default"});
  REQUIRE_MESSAGE(f.ok(), f.status().ToString());
  CHECK(f->allowed ==
        std::vector<vmm::FilterRange>{{"10.88.0.0", 24}, {"10.88.2.0", 24}});
  CHECK(f->isolated == std::vector<vmm::FilterRange>{{"10.88.0.0", 16}});
  CHECK(vmm::BuildNwFilterXml(*f).ok());
  // A network and a tenant of the same name never share an object.
  CHECK(TenantObjectKey("c1", "x") != NetworkObjectKey("c1", "x"));
  CHECK(absl::IsNotFound(
      TenantFilterSpec(ipam, "c1", "acme", {"acme/gone"}).status()));
  CHECK(TenantSubnets(ipam, {"beta/default"}).value() ==
        std::vector<Ipv4Prefix>{P("10.88.1.0/24")});
}

}  // namespace
}  // namespace nest::net
