// ConfigureNetwork and container addresses through the whole protocol:
// validation, FakeAgent, AgentClient <-> AgentServer over a socketpair with
// FakeRuntime and FakeNetwork underneath, and the OCI config crun gets. The
// real ip/nft side is tests/agent/guest_network_test.cc.
#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "agent/fake_agent.h"
#include "agent/fake_runtime.h"
#include "agent/network.h"
#include "agent/oci_config.h"
#include "agent/validation.h"
#include "doctest/doctest.h"
#include "nlohmann/json.hpp"
#include "test_util.h"

namespace nest::agent {
namespace {

using testing::AgentHarness;
using testing::kDigestA;
using testing::Spec;

GuestNetwork Net() {
  GuestNetwork n;
  n.mac = "52:54:00:12:34:56";
  n.address = "10.88.0.2";
  n.prefix_length = 20;
  n.gateway = "10.88.0.1";
  n.vips = {"10.88.15.250"};
  n.ruleset = "table ip nest\n";
  n.hosts = {{"web", "10.88.15.250"}};
  return n;
}

// The field a bad network is refused for (the message starts with it).
std::string Refused(const GuestNetwork& n) {
  absl::Status s = ValidateGuestNetwork(n);
  if (s.ok()) return "ok";
  CHECK(absl::IsInvalidArgument(s));
  return std::string(s.message().substr(0, s.message().find(' ')));
}

TEST_CASE("guest network validation names the bad field") {
  CHECK(Refused(Net()) == "ok");
  GuestNetwork n = Net();
  n.mac = "52:54:00:12:34";
  CHECK(Refused(n) == "mac");
  n = Net();
  n.address = "10.88.0.256";
  CHECK(Refused(n) == "address");
  n.address = "10.088.0.2";
  CHECK(Refused(n) == "address");
  n = Net();
  for (int bad : {0, 7, 31, 32}) {
    n.prefix_length = bad;
    CHECK(Refused(n) == "prefix_length");
  }
  n = Net();
  n.gateway = "10.89.0.1";  // outside 10.88.0.0/20
  CHECK(Refused(n) == "gateway");
  n.gateway = "10.88.0.2";  // the address itself
  CHECK(Refused(n) == "gateway");
  n = Net();
  n.vips = {"10.88.15.250", "vip"};
  CHECK(Refused(n) == "vips[1]");
  n = Net();
  n.hosts = {{"ok", "10.88.0.3"}, {"bad name", "10.88.0.4"}};
  CHECK(Refused(n) == "hosts[1].name");
  n.hosts = {{"ok", "1.2.3"}};
  CHECK(Refused(n) == "hosts[0].address");

  ContainerSpec spec = Spec("c", {"sleep"});
  spec.address = "10.88.0.66";
  CHECK(ValidateSpec(spec).ok());
  spec.address = "10.88.0.666";
  CHECK(absl::IsInvalidArgument(ValidateSpec(spec)));
  uint32_t v = 0;
  CHECK(ParseIpv4("10.88.0.66", &v));
  CHECK(v == 0x0a580042);
  CHECK(!ParseIpv4("1.2.3.4.5", nullptr));
  CHECK(!ParseIpv4("", nullptr));
}

TEST_CASE("FakeAgent records the network and echoes container addresses") {
  FakeAgent agent;
  REQUIRE(agent.PutImage(kDigestA, "tar").ok());
  ContainerSpec spec = Spec("web-1", {"httpd"});
  spec.address = "10.88.0.66";
  auto early = agent.CreateContainer(spec);
  CHECK(absl::IsFailedPrecondition(early.status()));
  CHECK(absl::StrContains(early.status().message(),
                          "guest network not configured"));
  CHECK(!agent.network().has_value());
  GuestNetwork bad = Net();
  bad.prefix_length = 31;
  CHECK(absl::IsInvalidArgument(agent.ConfigureNetwork(bad)));
  REQUIRE(agent.ConfigureNetwork(Net()).ok());
  REQUIRE(agent.network().has_value());
  CHECK(*agent.network() == Net());
  CHECK(agent.network_configs() == 1);

  auto c = agent.CreateContainer(spec);
  REQUIRE(c.ok());
  CHECK(c->address == "10.88.0.66");
  CHECK(agent.ContainerStatus("web-1")->address == "10.88.0.66");
  ContainerSpec twin = Spec("web-2", {"httpd"});
  twin.address = "10.88.0.66";
  CHECK(absl::IsAlreadyExists(agent.CreateContainer(twin).status()));
  REQUIRE(agent.DeleteContainer("web-1").ok());
  CHECK(agent.CreateContainer(twin).ok());
  // Without an address: the guest's namespace, as before.
  auto plain = agent.CreateContainer(Spec("plain", {"true"}));
  REQUIRE(plain.ok());
  CHECK(plain->address.empty());
}

TEST_CASE("ConfigureNetwork and addresses over the protocol") {
  FakeRuntime rt;
  FakeNetwork net;
  AgentHarness h(rt);
  h.containers().SetNetwork(&net);
  AgentClient& c = h.client();
  REQUIRE(c.Connect(absl::Now() + absl::Seconds(5)).ok());
  h.AddImage(kDigestA);

  ContainerSpec spec = Spec("web-1", {"sleep"});
  spec.address = "10.88.0.66";
  auto early = c.RunContainer(spec);
  CHECK(absl::IsFailedPrecondition(early.status()));
  CHECK(absl::StrContains(early.status().message(),
                          "guest network not configured"));
  CHECK(net.attached().empty());

  GuestNetwork bad = Net();
  bad.gateway = "x";
  absl::Status s = c.ConfigureNetwork(bad);
  CHECK(absl::IsInvalidArgument(s));
  CHECK(absl::StartsWith(s.message(), "gateway"));
  s = c.ConfigureNetwork(Net());
  REQUIRE_MESSAGE(s.ok(), s.ToString());

  auto run = c.RunContainer(spec);
  REQUIRE_MESSAGE(run.ok(), run.status().ToString());
  CHECK(run->address == "10.88.0.66");
  CHECK(net.attached().at("web-1") == "10.88.0.66");
  auto list = c.ListContainers();
  REQUIRE(list.ok());
  REQUIRE(list->size() == 1);
  CHECK((*list)[0].address == "10.88.0.66");

  // A failed create leaves no attachment behind.
  ContainerSpec broken = Spec("broken", {"fail-create"});
  broken.address = "10.88.0.67";
  CHECK(!c.CreateContainer(broken).ok());
  CHECK(net.attached().count("broken") == 0);
  // A failed attach leaves no container behind.
  net.FailNextAttach(absl::InternalError("no veth today"));
  ContainerSpec unlucky = Spec("unlucky", {"sleep"});
  unlucky.address = "10.88.0.68";
  CHECK(!c.CreateContainer(unlucky).ok());
  CHECK(absl::IsNotFound(c.ContainerStatus("unlucky").status()));

  REQUIRE(c.KillContainer("web-1", 9).ok());
  for (int i = 0; i < 100; ++i) {
    auto st = c.ContainerStatus("web-1");
    if (st.ok() && st->state == ContainerState::kExited) break;
    absl::SleepFor(absl::Milliseconds(10));
  }
  REQUIRE(c.DeleteContainer("web-1").ok());
  CHECK(net.attached().empty());
}

TEST_CASE("the OCI config joins the container's netns and mounts hosts") {
  ContainerSpec spec = Spec("web", {"httpd"});
  auto shared = nlohmann::json::parse(
      BuildOciConfig(spec, {"rootfs", false}, "/nest/web", "/b/files"));
  for (const auto& ns : shared["linux"]["namespaces"]) {
    CHECK(ns["type"] != "network");
  }
  for (const auto& m : shared["mounts"])
    CHECK(m["destination"] != "/etc/hosts");

  auto own = nlohmann::json::parse(
      BuildOciConfig(spec, {"rootfs", false}, "/nest/web", "/b/files",
                     {"/var/run/netns/nest-abc", "/run/nest/network/hosts"}));
  bool netns = false;
  for (const auto& ns : own["linux"]["namespaces"]) {
    if (ns["type"] == "network") {
      netns = true;
      CHECK(ns["path"] == "/var/run/netns/nest-abc");
    }
  }
  CHECK(netns);
  bool hosts = false;
  for (const auto& m : own["mounts"]) {
    if (m["destination"] != "/etc/hosts") continue;
    hosts = true;
    CHECK(m["source"] == "/run/nest/network/hosts");
    CHECK(m["type"] == "bind");
    CHECK(m["options"][1] == "ro");
  }
  CHECK(hosts);
}

}  // namespace
}  // namespace nest::agent
