#include "images/runtime_config.h"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"

namespace nest::images {
namespace {

using json = nlohmann::json;

json Build(const ImageConfig& image, const WorkloadOverrides& o,
           const RootfsUsers* users = nullptr) {
  auto text = BuildRuntimeConfig(image, o, users);
  REQUIRE_MESSAGE(text.ok(), text.status().ToString());
  json j = json::parse(*text, nullptr, false);
  REQUIRE_FALSE(j.is_discarded());
  return j;
}

std::vector<std::string> Args(const json& j) {
  return j["process"]["args"].get<std::vector<std::string>>();
}

ImageConfig Httpd() {
  ImageConfig c;
  c.entrypoint = {"/bin/httpd"};
  c.cmd = {"-f", "-p", "8080"};
  c.env = {"PATH=/bin", "MODE=prod", "EMPTY="};
  c.working_dir = "/www";
  return c;
}

TEST_CASE("image config JSON is parsed, including Docker's layout") {
  auto c = ParseImageConfig(R"({"architecture":"amd64","config":{
      "Entrypoint":["/bin/echo"],"Cmd":["hi"],"Env":["A=1"],"WorkingDir":"/w",
      "User":"1000:1000","Labels":{"k":"v"},"ExposedPorts":{"8080/tcp":{}}}})");
  REQUIRE(c.ok());
  CHECK(c->entrypoint == std::vector<std::string>{"/bin/echo"});
  CHECK(c->cmd == std::vector<std::string>{"hi"});
  CHECK(c->env == std::vector<std::string>{"A=1"});
  CHECK(c->working_dir == "/w");
  CHECK(c->user == "1000:1000");
  CHECK(c->labels.at("k") == "v");
  CHECK(c->exposed_ports == std::vector<std::string>{"8080/tcp"});
  CHECK_FALSE(ParseImageConfig("[1,2]").ok());
  CHECK_FALSE(ParseImageConfig("{not json").ok());
}

// Found by fuzz/fuzz_image_config: a non-string WorkingDir, User or
// StopSignal threw nlohmann's type_error out of ParseImageConfig, which
// terminated nestd when it imported such an image.
TEST_CASE("wrongly typed config fields are errors, not exceptions") {
  for (const char* field : {"WorkingDir", "User", "StopSignal"}) {
    CAPTURE(field);
    auto c = ParseImageConfig(
        absl::StrCat(R"({"config":{"Cmd":["sh"],")", field, R"(":5}})"));
    REQUIRE_FALSE(c.ok());
    CHECK(c.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK(std::string(c.status().message()) ==
          absl::StrCat("image config field config.", field,
                       " must be a string, got number"));
  }
  // null is what some tools write for "unset".
  auto c = ParseImageConfig(R"({"config":{"Cmd":["sh"],"WorkingDir":null}})");
  REQUIRE(c.ok());
  CHECK(c->working_dir.empty());
}

TEST_CASE("process args merge entrypoint, cmd and the workload's overrides") {
  ImageConfig img = Httpd();
  CHECK(Args(Build(img, {})) ==
        std::vector<std::string>{"/bin/httpd", "-f", "-p", "8080"});
  WorkloadOverrides args_only;
  args_only.args = std::vector<std::string>{"-p", "9090"};
  CHECK(Args(Build(img, args_only)) ==
        std::vector<std::string>{"/bin/httpd", "-p", "9090"});
  WorkloadOverrides command_only;
  command_only.command = std::vector<std::string>{"/bin/sh", "-c", "echo hi"};
  CHECK(Args(Build(img, command_only)) ==
        std::vector<std::string>{"/bin/sh", "-c", "echo hi"});
  WorkloadOverrides both;
  both.command = std::vector<std::string>{"/bin/echo"};
  both.args = std::vector<std::string>{"a", "b"};
  CHECK(Args(Build(img, both)) ==
        std::vector<std::string>{"/bin/echo", "a", "b"});
}

TEST_CASE("no command at all is an error naming the field") {
  auto r = BuildRuntimeConfig(ImageConfig{}, {});
  REQUIRE_FALSE(r.ok());
  CHECK(std::string(r.status().message()).find("command") != std::string::npos);
}

TEST_CASE(
    "env: image first, overrides replace by key in place, PATH defaulted") {
  WorkloadOverrides o;
  o.env = {{"MODE", "dev"}, {"NEW", "x=y"}};
  json j = Build(Httpd(), o);
  CHECK(j["process"]["env"].get<std::vector<std::string>>() ==
        std::vector<std::string>{"PATH=/bin", "MODE=dev", "EMPTY=", "NEW=x=y"});
  ImageConfig no_path;
  no_path.cmd = {"/x"};
  json k = Build(no_path, {});
  CHECK(k["process"]["env"][0].get<std::string>().rfind("PATH=", 0) == 0);
  WorkloadOverrides bad;
  bad.env = {{"A=B", "1"}};
  auto r = BuildRuntimeConfig(Httpd(), bad);
  REQUIRE_FALSE(r.ok());
  CHECK(std::string(r.status().message()).find("env") != std::string::npos);
}

TEST_CASE("working dir defaults to / and must be absolute") {
  ImageConfig img;
  img.cmd = {"/x"};
  CHECK(Build(img, {})["process"]["cwd"] == "/");
  CHECK(Build(Httpd(), {})["process"]["cwd"] == "/www");
  WorkloadOverrides o;
  o.working_dir = "relative/dir";
  auto r = BuildRuntimeConfig(img, o);
  REQUIRE_FALSE(r.ok());
  CHECK(std::string(r.status().message()).find("working_dir") !=
        std::string::npos);
}

TEST_CASE("users resolve numerically or through the image's passwd/group") {
  ImageConfig img;
  img.cmd = {"/x"};
  RootfsUsers users{"root:x:0:0::/:/bin/sh\nweb:x:33:34::/:/bin/sh\n",
                    "root:x:0:\nweb:x:34:\nstaff:x:50:\n"};
  auto uid_gid = [&](const std::string& user) {
    WorkloadOverrides o;
    o.user = user;
    json j = Build(img, o, &users);
    return std::pair{j["process"]["user"]["uid"].get<int>(),
                     j["process"]["user"]["gid"].get<int>()};
  };
  CHECK(uid_gid("") == std::pair{0, 0});
  CHECK(uid_gid("1000:1001") == std::pair{1000, 1001});
  CHECK(uid_gid("33") == std::pair{33, 34});  // primary group from passwd
  CHECK(uid_gid("web") == std::pair{33, 34});
  CHECK(uid_gid("web:staff") == std::pair{33, 50});
  WorkloadOverrides o;
  o.user = "ghost";
  auto r = BuildRuntimeConfig(img, o, &users);
  REQUIRE_FALSE(r.ok());
  CHECK(std::string(r.status().message()).find("ghost") != std::string::npos);
}

TEST_CASE("resource limits map to the cgroup v2 fields crun reads") {
  WorkloadOverrides o;
  o.milli_cpu = 500;
  o.memory_mib = 256;
  o.pids_limit = 100;
  o.cgroups_path = "/nest/c1";
  json j = Build(Httpd(), o);
  const json& res = j["linux"]["resources"];
  CHECK(res["cpu"]["quota"] == 50000);
  CHECK(res["cpu"]["period"] == 100000);
  CHECK(res["memory"]["limit"] == 256 * 1024 * 1024);
  CHECK(res["memory"]["swap"] == 256 * 1024 * 1024);
  CHECK(res["pids"]["limit"] == 100);
  CHECK(j["linux"]["cgroupsPath"] == "/nest/c1");
  json unlimited = Build(Httpd(), {});
  CHECK(unlimited["linux"]["resources"].empty());
  WorkloadOverrides neg;
  neg.memory_mib = -1;
  CHECK_FALSE(BuildRuntimeConfig(Httpd(), neg).ok());
}

TEST_CASE("the spec has the runtime essentials and honours host networking") {
  json j = Build(Httpd(), {});
  CHECK(j["ociVersion"] == "1.0.2");
  CHECK(j["root"]["path"] == "rootfs");
  CHECK(j["process"]["noNewPrivileges"] == true);
  auto has_ns = [](const json& spec, const std::string& type) {
    for (const auto& ns : spec["linux"]["namespaces"]) {
      if (ns["type"] == type) return true;
    }
    return false;
  };
  CHECK(has_ns(j, "network"));
  CHECK(has_ns(j, "pid"));
  WorkloadOverrides o;
  o.host_network = true;
  CHECK_FALSE(has_ns(Build(Httpd(), o), "network"));
  // Same inputs, same bytes.
  CHECK(*BuildRuntimeConfig(Httpd(), {}) == *BuildRuntimeConfig(Httpd(), {}));
}

}  // namespace
}  // namespace nest::images
