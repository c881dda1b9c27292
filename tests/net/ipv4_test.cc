#include "net/ipv4.h"

#include "absl/strings/match.h"
#include "doctest/doctest.h"

namespace nest::net {
namespace {

Ipv4Prefix P(const char* text) { return ParseIpv4Prefix("p", text).value(); }

TEST_CASE("addresses parse and format as dotted quads") {
  for (const char* text :
       {"0.0.0.0", "10.88.0.1", "255.255.255.255", "192.168.100.7"}) {
    absl::StatusOr<Ipv4Address> a = ParseIpv4Address("addr", text);
    REQUIRE(a.ok());
    CHECK(a->ToString() == text);
  }
  CHECK(ParseIpv4Address("a", "10.88.0.1")->value() == 0x0a580001u);
  CHECK(Ipv4Address::Of(10, 88, 0, 1) == Ipv4Address(0x0a580001u));
}

TEST_CASE("malformed addresses name the field and what was expected") {
  for (const char* text :
       {"", "10.88.0", "10.88.0.1.2", "256.0.0.1", "10.88.0.-1", "10.88..1",
        "010.88.0.1", "10.88.0.1 ", " 10.88.0.1", "+1.2.3.4", "a.b.c.d",
        "1000.0.0.1", "10.88.0.1/32", "0x0a.0.0.1"}) {
    CAPTURE(text);
    absl::StatusOr<Ipv4Address> a = ParseIpv4Address("net.vm_address", text);
    REQUIRE(!a.ok());
    CHECK(a.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK(absl::StartsWith(
        a.status().message(),
        "net.vm_address must be an IPv4 address such as \"10.88.0.1\", got "));
  }
}

TEST_CASE("prefixes parse, format and report their range") {
  Ipv4Prefix p = P("10.88.0.0/14");
  CHECK(p.ToString() == "10.88.0.0/14");
  CHECK(p.length() == 14);
  CHECK(p.size() == 262144);
  CHECK(p.first().ToString() == "10.88.0.0");
  CHECK(p.last().ToString() == "10.91.255.255");
  CHECK(P("0.0.0.0/0").size() == (uint64_t{1} << 32));
  CHECK(P("0.0.0.0/0").last().ToString() == "255.255.255.255");
  CHECK(P("10.1.2.3/32").size() == 1);
  CHECK(P("10.1.2.3/32").last() == P("10.1.2.3/32").first());
}

TEST_CASE("containment and overlap") {
  Ipv4Prefix pool = P("10.88.0.0/14");
  CHECK(pool.Contains(P("10.88.16.0/20")));
  CHECK(pool.Contains(P("10.91.255.255/32")));
  CHECK(pool.Contains(pool));
  CHECK_FALSE(pool.Contains(P("10.92.0.0/20")));
  CHECK_FALSE(pool.Contains(P("10.0.0.0/8")));
  CHECK(pool.Contains(ParseIpv4Address("a", "10.90.1.1").value()));
  CHECK_FALSE(pool.Contains(ParseIpv4Address("a", "10.87.255.255").value()));
  CHECK(pool.Overlaps(P("10.0.0.0/8")));
  CHECK(P("10.0.0.0/8").Overlaps(pool));
  CHECK_FALSE(P("10.88.0.0/26").Overlaps(P("10.88.0.64/26")));
  CHECK(P("10.88.0.64/26").Overlaps(P("10.88.0.127/32")));
}

TEST_CASE("Containing clears host bits") {
  Ipv4Address a = Ipv4Address::Of(10, 88, 1, 9);
  CHECK(Ipv4Prefix::Containing(a, 16).ToString() == "10.88.0.0/16");
  CHECK(Ipv4Prefix::Containing(a, 0).ToString() == "0.0.0.0/0");
  CHECK(Ipv4Prefix::Host(a).ToString() == "10.88.1.9/32");
}

TEST_CASE("malformed prefixes name the field and what was expected") {
  for (const char* text :
       {"10.88.0.0/33", "10.88.0.0", "10.88.0.0/", "/16", "10.88.0.0/-1",
        "10.88.0.0/016", "10.88.0.0/16/1", "10.88.0/16", "10.88.0.0/ 16",
        "10.88.0.0/1a", "300.88.0.0/16", ""}) {
    CAPTURE(text);
    absl::StatusOr<Ipv4Prefix> p = ParseIpv4Prefix("net.pool", text);
    REQUIRE(!p.ok());
    CHECK(p.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK(absl::StartsWith(
        p.status().message(),
        "net.pool must be an IPv4 prefix such as \"10.88.0.0/16\", got "));
  }
  CHECK(ParseIpv4Prefix("net.pool", "10.88.0.0/33").status().message() ==
        "net.pool must be an IPv4 prefix such as \"10.88.0.0/16\", got "
        "\"10.88.0.0/33\"");
}

TEST_CASE("a prefix with host bits set suggests the intended one") {
  absl::StatusOr<Ipv4Prefix> p = ParseIpv4Prefix("net.pool", "10.88.1.0/16");
  REQUIRE(!p.ok());
  CHECK(p.status().message() ==
        "net.pool must be an IPv4 prefix with no host bits set (did you mean "
        "\"10.88.0.0/16\"?), got \"10.88.1.0/16\"");
}

TEST_CASE("prefixes order by address, then shorter first") {
  CHECK(P("10.88.0.0/14") < P("10.88.0.0/20"));
  CHECK(P("10.88.0.0/20") < P("10.88.0.2/32"));
  CHECK(P("10.88.0.2/32") < P("10.88.16.0/20"));
}

}  // namespace
}  // namespace nest::net
