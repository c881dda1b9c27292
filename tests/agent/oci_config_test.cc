#include "agent/oci_config.h"

#include "doctest/doctest.h"
#include "nlohmann/json.hpp"
#include "test_util.h"

namespace nest::agent {
namespace {

TEST_CASE("the OCI config carries args, env, cwd and cgroup limits") {
  ContainerSpec spec = testing::Spec("web", {"/bin/httpd", "-f", "-p", "80"});
  spec.env = {"A=1", "QUOTE=\"x\"\n"};
  spec.cwd = "/srv";
  spec.limits.memory_max_bytes = 64 << 20;
  spec.limits.cpu_quota_us = 50000;
  spec.limits.cpu_period_us = 100000;
  spec.limits.pids_max = 16;
  auto j = nlohmann::json::parse(
      BuildOciConfig(spec, {"rootfs", false}, "/nest/web"));
  CHECK(j["process"]["args"][0] == "/bin/httpd");
  CHECK(j["process"]["args"].size() == 4);
  CHECK(j["process"]["cwd"] == "/srv");
  CHECK(j["process"]["env"][1] == "QUOTE=\"x\"\n");
  // A PATH is supplied when the spec has none.
  CHECK(j["process"]["env"].size() == 3);
  CHECK(j["process"]["terminal"] == false);
  CHECK(j["root"]["path"] == "rootfs");
  CHECK(j["root"]["readonly"] == false);
  CHECK(j["hostname"] == "web");
  CHECK(j["linux"]["cgroupsPath"] == "/nest/web");
  CHECK(j["linux"]["resources"]["memory"]["limit"] == (64 << 20));
  CHECK(j["linux"]["resources"]["cpu"]["quota"] == 50000);
  CHECK(j["linux"]["resources"]["cpu"]["period"] == 100000);
  CHECK(j["linux"]["resources"]["pids"]["limit"] == 16);
  bool has_netns = false;
  for (const auto& ns : j["linux"]["namespaces"]) {
    has_netns = has_netns || ns["type"] == "network";
  }
  CHECK(!has_netns);
}

TEST_CASE("unlimited resources are left out; a read-only root gets /tmp") {
  ContainerSpec spec = testing::Spec("x", {"sh"});
  spec.env = {"PATH=/bin"};
  auto j = nlohmann::json::parse(
      BuildOciConfig(spec, {"/images/abc", true}, "/nest/x"));
  CHECK(j["linux"]["resources"].empty());
  CHECK(j["process"]["env"].size() == 1);
  CHECK(j["root"]["readonly"] == true);
  bool tmp = false;
  for (const auto& m : j["mounts"]) tmp = tmp || m["destination"] == "/tmp";
  CHECK(tmp);
}

TEST_CASE("JsonQuote escapes control characters") {
  CHECK(JsonQuote("a\"b\\c\x01") == "\"a\\\"b\\\\c\\u0001\"");
}

}  // namespace
}  // namespace nest::agent
