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
      BuildOciConfig(spec, {"rootfs", false}, "/nest/web", "/b/files"));
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
      BuildOciConfig(spec, {"/images/abc", true}, "/nest/x", "/b/files"));
  CHECK(j["linux"]["resources"].empty());
  CHECK(j["process"]["env"].size() == 1);
  CHECK(j["root"]["readonly"] == true);
  bool tmp = false;
  for (const auto& m : j["mounts"]) tmp = tmp || m["destination"] == "/tmp";
  CHECK(tmp);
}

TEST_CASE("each file is bind-mounted read-only at its path, after /tmp") {
  ContainerSpec spec = testing::Spec("x", {"sh"});
  spec.files = {{"/etc/app.conf", "a=1\n", 0444},
                {"/tmp/secret \"q\"", "pw", 0400}};
  auto j = nlohmann::json::parse(
      BuildOciConfig(spec, {"/images/abc", true}, "/nest/x", "/b/x/files"));
  const auto& mounts = j["mounts"];
  size_t tmp = mounts.size(), conf = mounts.size(), secret = mounts.size();
  for (size_t i = 0; i < mounts.size(); ++i) {
    if (mounts[i]["destination"] == "/tmp") tmp = i;
    if (mounts[i]["destination"] == "/etc/app.conf") conf = i;
    if (mounts[i]["destination"] == "/tmp/secret \"q\"") secret = i;
  }
  REQUIRE(conf < mounts.size());
  REQUIRE(secret < mounts.size());
  // Later mounts cover earlier ones: a file under /tmp must come after it.
  CHECK(tmp < secret);
  // Sources are named by index in the bundle's files directory, never by
  // the user's path.
  CHECK(mounts[conf]["source"] == "/b/x/files/0");
  CHECK(mounts[secret]["source"] == "/b/x/files/1");
  for (size_t i : {conf, secret}) {
    CHECK(mounts[i]["type"] == "bind");
    std::vector<std::string> opts = mounts[i]["options"];
    CHECK(opts ==
          std::vector<std::string>{"bind", "ro", "nosuid", "nodev", "noexec"});
  }
  // Contents never go into the config.
  CHECK(j.dump().find("a=1") == std::string::npos);
}

TEST_CASE("no files, no bind mounts") {
  ContainerSpec spec = testing::Spec("x", {"sh"});
  auto j = nlohmann::json::parse(
      BuildOciConfig(spec, {"rootfs", false}, "/nest/x", "/b/x/files"));
  for (const auto& m : j["mounts"]) CHECK(m["type"] != "bind");
}

TEST_CASE("JsonQuote escapes control characters") {
  CHECK(JsonQuote("a\"b\\c\x01") == "\"a\\\"b\\\\c\\u0001\"");
}

}  // namespace
}  // namespace nest::agent
