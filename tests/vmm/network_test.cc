// Tenant networks and filters. Tier 1: the pure XML (parse-back, hostile
// values, refusals). Tier 2 (NEST_NETWORK_LIBVIRT_TIER): the network
// lifecycle on libvirt's test:///default driver, which has no nwfilter
// support. Tier 3 (NEST_NETWORK_E2E_TIER): a private libvirtd inside a
// network namespace of the test's own, where networks get real bridges and
// filters are really defined, without touching the host's networking.
#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/field_errors.h"
#include "doctest/doctest.h"
#include "vmm/libvirt_network.h"

namespace nest::vmm {
namespace {

NetworkSpec SampleNetwork(const std::string& key) {
  NetworkSpec s;
  s.name = NetworkNameFor(key);
  s.uuid = OwnerUuid("network", key);
  s.bridge = BridgeNameFor(key);
  s.forward = ForwardMode::kRoute;
  s.address = "10.88.0.1";
  s.prefix = 20;
  s.routes = {{"10.88.0.128", 26, "10.88.0.3"},
              {"10.88.0.64", 26, "10.88.0.2"}};
  return s;
}

NwFilterSpec SampleFilter(const std::string& key) {
  NwFilterSpec f;
  f.name = FilterNameFor(key);
  f.uuid = OwnerUuid("nwfilter", key);
  f.allowed = {{"10.88.32.0", 20}, {"10.88.0.0", 20}};
  f.isolated = {{"10.88.0.0", 14}};
  return f;
}

[[maybe_unused]] std::vector<std::string> Fields(const absl::Status& s) {
  std::vector<std::string> out;
  for (const FieldViolation& v : GetFieldViolations(s)) out.push_back(v.field);
  return out;
}

#if !defined(NEST_NETWORK_LIBVIRT_TIER) && !defined(NEST_NETWORK_E2E_TIER)

TEST_CASE("names fit libvirt and Linux, and differ per key") {
  CHECK(NetworkNameFor("c/acme/default").rfind("nest-", 0) == 0);
  CHECK(NetworkNameFor("c/acme/default") != NetworkNameFor("c/beta/default"));
  CHECK(BridgeNameFor("c/acme/default").size() == 15);
  CHECK(BridgeNameFor("c/acme/default") != BridgeNameFor("c/beta/default"));
  CHECK(FilterNameFor("c/acme").rfind("nest-tenant-", 0) == 0);
  std::string u = OwnerUuid("network", "c/acme/default");
  CHECK(u.size() == 36);
  CHECK(u[14] == '8');  // version 8
  CHECK(std::string("89ab").find(u[19]) != std::string::npos);
  CHECK(u == OwnerUuid("network", "c/acme/default"));
  CHECK(u != OwnerUuid("nwfilter", "c/acme/default"));
}

TEST_CASE("network XML parses back, routes sorted, NAT too") {
  NetworkSpec spec = SampleNetwork("c/acme/default");
  absl::StatusOr<std::string> xml = BuildNetworkXml(spec);
  REQUIRE_MESSAGE(xml.ok(), xml.status().ToString());
  CHECK(absl::StrContains(*xml, "<forward mode=\"route\"/>"));
  CHECK(absl::StrContains(*xml, "<dns enable=\"no\"/>"));
  absl::StatusOr<NetworkSpec> back = ParseNetworkXml(*xml);
  REQUIRE(back.ok());
  std::sort(spec.routes.begin(), spec.routes.end());
  CHECK(*back == spec);

  spec.forward = ForwardMode::kNat;
  spec.routes.clear();
  xml = BuildNetworkXml(spec);
  REQUIRE(xml.ok());
  CHECK(absl::StrContains(*xml, "<forward mode=\"nat\"/>"));
  CHECK(ParseNetworkXml(*xml).value() == spec);
}

TEST_CASE("hostile names are escaped and come back intact") {
  NetworkSpec spec = SampleNetwork("k");
  spec.name = "nest-<a>&\"b\"'c']]>--><!--";
  absl::StatusOr<std::string> xml = BuildNetworkXml(spec);
  REQUIRE(xml.ok());
  CHECK(!absl::StrContains(*xml, "<a>"));
  CHECK(!absl::StrContains(*xml, "<!--"));
  CHECK(ParseNetworkXml(*xml).value().name == spec.name);

  NwFilterSpec f = SampleFilter("k");
  f.name = "nest-'x\" onload=\"&y<z>";
  xml = BuildNwFilterXml(f);
  REQUIRE(xml.ok());
  CHECK(!absl::StrContains(*xml, "<z>"));
  CHECK(ParseNwFilterXml(*xml).value().name == f.name);

  absl::StatusOr<std::string> ref = FilterRefXml(f.name);
  REQUIRE(ref.ok());
  CHECK(ref->rfind("<filterref filter=", 0) == 0);
  CHECK(!absl::StrContains(*ref, "<?xml"));
  CHECK(!absl::StrContains(*ref, "<z>"));
}

TEST_CASE("bad network values are refused naming each field") {
  NetworkSpec spec = SampleNetwork("k");
  spec.name = "a/b";
  spec.uuid = "not-a-uuid";
  spec.bridge = "nestbr-way-too-long";
  spec.address = "10.88.0.256";
  spec.prefix = 31;
  spec.routes = {{"10.88.0.64", 33, "10.88.0.2; rm"}};
  absl::StatusOr<std::string> xml = BuildNetworkXml(spec);
  REQUIRE(absl::IsInvalidArgument(xml.status()));
  CHECK(Fields(xml.status()) ==
        std::vector<std::string>{"name", "uuid", "bridge", "address", "prefix",
                                 "routes[0].prefix", "routes[0].gateway"});
  spec = SampleNetwork("k");
  spec.bridge = "br 0";
  CHECK(Fields(BuildNetworkXml(spec).status()) ==
        std::vector<std::string>{"bridge"});
  CHECK(absl::IsInvalidArgument(ParseNetworkXml("<network>").status()));
  CHECK(absl::IsInvalidArgument(ParseNetworkXml("<pool/>").status()));
  CHECK(absl::IsInvalidArgument(
      ParseNetworkXml("<network><name>x</name></network>").status()));
}

TEST_CASE("filter XML allows the tenant, drops the rest, both ways") {
  NwFilterSpec f = SampleFilter("c/acme");
  absl::StatusOr<std::string> xml = BuildNwFilterXml(f);
  REQUIRE_MESSAGE(xml.ok(), xml.status().ToString());
  CHECK(absl::StrContains(*xml, "chain=\"ipv4\""));
  CHECK(absl::StrContains(
      *xml,
      "<rule action=\"accept\" direction=\"in\" priority=\"100\">\n"
      "    <ip srcipaddr=\"10.88.0.0\" srcipmask=\"20\"/>"));
  CHECK(absl::StrContains(
      *xml,
      "<rule action=\"drop\" direction=\"out\" priority=\"200\">\n"
      "    <ip dstipaddr=\"10.88.0.0\" dstipmask=\"14\"/>"));
  absl::StatusOr<NwFilterSpec> back = ParseNwFilterXml(*xml);
  REQUIRE(back.ok());
  std::sort(f.allowed.begin(), f.allowed.end());
  CHECK(*back == f);

  NwFilterSpec bad = SampleFilter("k");
  bad.allowed = {};
  bad.isolated = {{"10.88.0.0", 0}, {"10.88.0.x", 14}};
  CHECK(Fields(BuildNwFilterXml(bad).status()) ==
        std::vector<std::string>{"isolated[0].prefix", "isolated[1].address",
                                 "allowed"});
  CHECK(absl::IsInvalidArgument(ParseNwFilterXml("<filter/>").status()));
  CHECK(absl::IsInvalidArgument(FilterRefXml("").status()));
}

#elif defined(NEST_NETWORK_LIBVIRT_TIER)
}  // namespace
}  // namespace nest::vmm

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <memory>

namespace nest::vmm {
namespace {

constexpr char kUri[] = "test:///default";

// Our own connection, as `virsh` would look: it also keeps the test
// driver's state alive between the functions' connections.
using Conn = std::unique_ptr<virConnect, decltype(&virConnectClose)>;
Conn OpenRaw() {
  Conn c(virConnectOpen(kUri), &virConnectClose);
  REQUIRE(c != nullptr);
  return c;
}
// The network named `name`, or nullptr (with the error cleared).
virNetworkPtr FindNetwork(const Conn& c, const std::string& name) {
  virNetworkPtr n = virNetworkLookupByName(c.get(), name.c_str());
  if (n == nullptr) virResetLastError();
  return n;
}

TEST_CASE("EnsureNetwork defines, starts, autostarts; idempotent; removes") {
  Conn raw = OpenRaw();
  NetworkSpec spec = SampleNetwork("test/acme/default");
  absl::StatusOr<EnsureNetworkResult> r = EnsureNetwork(kUri, spec);
  REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  CHECK(r->defined);
  CHECK(r->started);
  virNetworkPtr n = FindNetwork(raw, spec.name);
  REQUIRE(n != nullptr);
  CHECK(virNetworkIsActive(n) == 1);
  CHECK(virNetworkIsPersistent(n) == 1);
  int autostart = 0;
  CHECK(virNetworkGetAutostart(n, &autostart) == 0);
  CHECK(autostart == 1);
  char* bridge = virNetworkGetBridgeName(n);
  REQUIRE(bridge != nullptr);
  CHECK(std::string(bridge) == spec.bridge);
  free(bridge);
  virNetworkFree(n);

  // libvirt's own description reads back as what we asked for, so a second
  // Ensure changes nothing.
  r = EnsureNetwork(kUri, spec);
  REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  CHECK(!r->defined);
  CHECK(!r->started);
  CHECK(!r->restart_pending);
  std::reverse(spec.routes.begin(), spec.routes.end());  // order is no change
  r = EnsureNetwork(kUri, spec);
  REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  CHECK(!r->defined);

  // A new VM's route: redefined and, with no guest attached, restarted.
  spec.routes.push_back({"10.88.0.192", 26, "10.88.0.4"});
  r = EnsureNetwork(kUri, spec);
  REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  CHECK(r->defined);
  CHECK(r->started);
  CHECK(r->connections == 0);
  n = FindNetwork(raw, spec.name);
  REQUIRE(n != nullptr);
  char* live = virNetworkGetXMLDesc(n, 0);
  REQUIRE(live != nullptr);
  CHECK(absl::StrContains(live, "10.88.0.192"));
  free(live);
  virNetworkFree(n);

  REQUIRE(RemoveNetwork(kUri, spec.name, spec.uuid).ok());
  CHECK(FindNetwork(raw, spec.name) == nullptr);
  CHECK(RemoveNetwork(kUri, spec.name, spec.uuid).ok());  // gone: fine
}

TEST_CASE("a network of our name with another uuid is left alone") {
  Conn raw = OpenRaw();
  NetworkSpec mine = SampleNetwork("test/acme/other");
  NetworkSpec foreign = mine;
  foreign.uuid = OwnerUuid("network", "someone else");
  foreign.address = "10.99.0.1";
  foreign.routes.clear();  // libvirt wants gateways inside the subnet
  std::string xml = BuildNetworkXml(foreign).value();
  virNetworkPtr f = virNetworkDefineXML(raw.get(), xml.c_str());
  REQUIRE_MESSAGE(f != nullptr, std::string(virGetLastErrorMessage()));

  absl::StatusOr<EnsureNetworkResult> r = EnsureNetwork(kUri, mine);
  CHECK(absl::IsFailedPrecondition(r.status()));
  CHECK(absl::StrContains(r.status().message(), foreign.uuid));
  CHECK(absl::IsFailedPrecondition(RemoveNetwork(kUri, mine.name, mine.uuid)));
  // Untouched: still defined, inactive, with its own address.
  CHECK(virNetworkIsActive(f) == 0);
  char* desc = virNetworkGetXMLDesc(f, 0);
  REQUIRE(desc != nullptr);
  CHECK(absl::StrContains(desc, "10.99.0.1"));
  free(desc);
  virNetworkUndefine(f);
  virNetworkFree(f);
}

TEST_CASE("the test driver has no nwfilters: the error says so") {
  absl::StatusOr<bool> st = EnsureNwFilter(kUri, SampleFilter("test/acme"));
  CHECK(absl::IsUnimplemented(st.status()));
}

#else  // NEST_NETWORK_E2E_TIER
}  // namespace
}  // namespace nest::vmm

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <sched.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>

#include "tests/vmm/private_libvirtd.h"

namespace nest::vmm {
namespace {

// One private libvirtd for the whole binary, in a network namespace that
// only this process (and the daemon it forks) lives in; stopped and its
// directory removed at exit.
struct Env {
  Env() {
    REQUIRE_MESSAGE(unshare(CLONE_NEWNET) == 0, "unshare(CLONE_NEWNET)");
    REQUIRE(std::system("ip link set lo up") == 0);
    // libvirt records each attached guest's MAC under
    // /var/lib/libvirt/dnsmasq even when DNS and DHCP are off, and fails
    // the guest's start when the directory is missing, as it is on these
    // hosts (no dnsmasq package). A host prerequisite, made here for the
    // daemon's private /var/lib/libvirt.
    std::filesystem::create_directories(dir + "/lib/dnsmasq");
    auto started = testenv::PrivateLibvirtd::Start(dir);
    REQUIRE_MESSAGE(started.ok(), started.status().ToString());
    daemon = std::move(*started);
  }
  ~Env() {
    daemon.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  std::string dir = "/var/lib/nest-network-e2e-" + std::to_string(getpid());
  std::unique_ptr<testenv::PrivateLibvirtd> daemon;
};

testenv::PrivateLibvirtd& Daemon() {
  static Env env;
  return *env.daemon;
}

// Through `ip`: /sys still shows the namespace it was mounted in.
bool LinkExists(const std::string& dev) {
  return std::system(
             ("ip link show dev " + dev + " >/dev/null 2>&1").c_str()) == 0;
}

TEST_CASE("a real network gets its bridge, address and routes") {
  const std::string uri = Daemon().uri();
  NetworkSpec spec = SampleNetwork("e2e/acme/default");
  absl::StatusOr<EnsureNetworkResult> r = EnsureNetwork(uri, spec);
  REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  CHECK(r->started);
  CHECK(LinkExists(spec.bridge));
  CHECK(std::system(("ip -4 addr show dev " + spec.bridge +
                     " | grep -q 'inet 10.88.0.1/20'")
                        .c_str()) == 0);
  // The host routes each container block via its VM.
  CHECK(std::system(("ip route show 10.88.0.64/26 | grep -q 'via 10.88.0.2 "
                     "dev " +
                     spec.bridge + "'")
                        .c_str()) == 0);
  r = EnsureNetwork(uri, spec);
  REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  CHECK(!r->defined);
  CHECK(!r->started);
  REQUIRE(RemoveNetwork(uri, spec.name, spec.uuid).ok());
  CHECK(!LinkExists(spec.bridge));
}

TEST_CASE("a NAT network starts too, and switching modes restarts it") {
  const std::string uri = Daemon().uri();
  NetworkSpec spec = SampleNetwork("e2e/beta/default");
  spec.forward = ForwardMode::kNat;
  absl::StatusOr<EnsureNetworkResult> r = EnsureNetwork(uri, spec);
  REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  CHECK(r->started);
  spec.forward = ForwardMode::kRoute;
  r = EnsureNetwork(uri, spec);
  REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  CHECK(r->defined);
  CHECK(r->started);  // no guest attached: restarted with the new mode
  CHECK(!r->restart_pending);
  CHECK(LinkExists(spec.bridge));
  REQUIRE(RemoveNetwork(uri, spec.name, spec.uuid).ok());
}

TEST_CASE("nwfilters are defined, updated in place and removed") {
  const std::string uri = Daemon().uri();
  NwFilterSpec f = SampleFilter("e2e/acme");
  absl::StatusOr<bool> defined = EnsureNwFilter(uri, f);
  REQUIRE_MESSAGE(defined.ok(), defined.status().ToString());
  CHECK(*defined);
  // libvirt's description reads back as the spec: the same again is no
  // change (in any order).
  std::reverse(f.allowed.begin(), f.allowed.end());
  CHECK(EnsureNwFilter(uri, f).value() == false);
  f.allowed.push_back({"10.88.48.0", 20});  // a new subnet for the tenant
  CHECK(EnsureNwFilter(uri, f).value() == true);
  CHECK(EnsureNwFilter(uri, f).value() == false);

  NwFilterSpec other = f;
  other.uuid = OwnerUuid("nwfilter", "someone else");
  CHECK(absl::IsFailedPrecondition(EnsureNwFilter(uri, other).status()));
  CHECK(
      absl::IsFailedPrecondition(RemoveNwFilter(uri, other.name, other.uuid)));

  REQUIRE(RemoveNwFilter(uri, f.name, f.uuid).ok());
  CHECK(RemoveNwFilter(uri, f.name, f.uuid).ok());
}

// Runs `command` through sh and returns its output.
std::string Output(const std::string& command) {
  std::string out;
  FILE* p = popen(command.c_str(), "r");
  REQUIRE(p != nullptr);
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  pclose(p);
  return out;
}

// A paused QEMU guest (no disk, nothing boots) is enough for libvirt to
// create its tap, attach it to the bridge and instantiate its filter.
TEST_CASE("a guest on the network: its filter is installed, no restart") {
  const std::string uri = Daemon().uri();
  NetworkSpec net = SampleNetwork("e2e/acme/guests");
  NwFilterSpec filter = SampleFilter("e2e/acme/guests");
  REQUIRE(EnsureNetwork(uri, net).ok());
  REQUIRE(EnsureNwFilter(uri, filter).ok());
  absl::StatusOr<std::string> ref = FilterRefXml(filter.name);
  REQUIRE(ref.ok());
  const std::string domain = absl::StrCat(
      "<domain type='qemu'><name>nest-network-e2e-probe</name>"
      "<memory unit='MiB'>64</memory>"
      "<os><type arch='x86_64' machine='q35'>hvm</type></os><devices>"
      "<interface type='network'><source network='",
      net.name, "'/><model type='virtio'/>", *ref,
      "</interface></devices></domain>");
  using Conn = std::unique_ptr<virConnect, decltype(&virConnectClose)>;
  Conn c(virConnectOpen(uri.c_str()), &virConnectClose);
  REQUIRE(c != nullptr);
  virDomainPtr dom =
      virDomainCreateXML(c.get(), domain.c_str(), VIR_DOMAIN_START_PAUSED);
  REQUIRE_MESSAGE(dom != nullptr, std::string(virGetLastErrorMessage()));

  // libvirt turned the filter into ebtables rules for the guest's tap.
  std::string rules = Output("ebtables -t nat -L 2>&1");
  INFO(rules);
  CHECK(absl::StrContains(rules, "--ip-src 10.88.0.0/20 -j ACCEPT"));
  CHECK(absl::StrContains(rules, "--ip-dst 10.88.0.0/14 -j DROP"));

  // A new VM's route now waits: restarting would detach this guest's tap.
  net.routes.push_back({"10.88.0.192", 26, "10.88.0.4"});
  absl::StatusOr<EnsureNetworkResult> r = EnsureNetwork(uri, net);
  REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  CHECK(r->connections == 1);
  CHECK(r->defined);
  CHECK(!r->started);
  CHECK(r->restart_pending);
  CHECK(absl::IsFailedPrecondition(RemoveNetwork(uri, net.name, net.uuid)));
  CHECK(absl::IsFailedPrecondition(
      RemoveNwFilter(uri, filter.name, filter.uuid)));

  CHECK(virDomainDestroy(dom) == 0);
  virDomainFree(dom);
  r = EnsureNetwork(uri, net);  // now free to restart
  REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  CHECK(r->started);
  CHECK(!r->restart_pending);
  CHECK(RemoveNwFilter(uri, filter.name, filter.uuid).ok());
  CHECK(RemoveNetwork(uri, net.name, net.uuid).ok());
}

#endif

}  // namespace
}  // namespace nest::vmm
