#include "cli/spec.h"

#include <fstream>
#include <iterator>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "doctest/doctest.h"

namespace nest::cli {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Parses `yaml`, which must fail, and returns its violations.
std::vector<FieldViolation> Violations(const std::string& yaml) {
  auto parsed = ParseSpec(yaml, "test.yaml");
  REQUIRE_FALSE(parsed.ok());
  CHECK(parsed.status().code() == absl::StatusCode::kInvalidArgument);
  return ViolationsOf(parsed.status());
}

constexpr const char* kWorkload = R"(kind: Workload
name: web
spec:
  image: hello
  replicas: 2
)";

TEST_CASE("the demo example parses into one group and two workloads") {
  auto parsed = ParseSpec(ReadFile(NEST_EXAMPLES_DIR "/demo.yaml"), "demo");
  REQUIRE(parsed.ok());
  REQUIRE(parsed->size() == 3);
  const auto& g = (*parsed)[0];
  REQUIRE(g.has_group());
  CHECK(g.group().name() == "web");
  CHECK(g.group().spec().shape().vcpus() == 1);
  CHECK(g.group().spec().shape().memory() == "256Mi");
  CHECK(g.group().spec().min_vms() == 1);
  CHECK(g.group().spec().max_vms() == 3);
  const auto& hello = (*parsed)[1].workload();
  CHECK(hello.name() == "hello");
  CHECK(hello.spec().image() == "hello");
  CHECK(hello.spec().replicas() == 3);
  CHECK(hello.spec().group() == "web");
  CHECK(hello.spec().restart_policy() == nest::v1::RESTART_POLICY_ON_FAILURE);
  const auto& httpd = (*parsed)[2].workload();
  CHECK(httpd.spec().replicas() == 2);
  REQUIRE(httpd.spec().ports_size() == 1);
  CHECK(httpd.spec().ports(0).container_port() == 8080);
  CHECK(KindOf((*parsed)[0]) == "VmGroup");
  CHECK(NameOf((*parsed)[2]) == "httpd");
}

TEST_CASE("every field kind is read: lists, maps, enums, nested messages") {
  auto parsed = ParseSpec(R"(kind: Workload
name: full
spec:
  image: httpd
  command: [/bin/httpd, -f]
  args: ["-p", "8080"]
  env: {MODE: prod, LEVEL: "3"}
  resources: {cpu: 500m, memory: 64Mi, disk: 1Gi}
  replicas: 4
  restart_policy: on-failure
  ports:
    - {name: http, container_port: 8080, host_port: 18080, protocol: tcp}
  isolation: DEDICATED
  priority: -5
  stop_grace_s: 10
  max_unavailable: 1
)",
                          "t");
  REQUIRE(parsed.ok());
  const auto& s = (*parsed)[0].workload().spec();
  CHECK(s.command_size() == 2);
  CHECK(s.args(1) == "8080");
  CHECK(s.env().at("LEVEL") == "3");
  CHECK(s.resources().disk() == "1Gi");
  CHECK(s.restart_policy() == nest::v1::RESTART_POLICY_ON_FAILURE);
  CHECK(s.isolation() == nest::v1::ISOLATION_DEDICATED);
  CHECK(s.priority() == -5);
  CHECK(s.ports(0).host_port() == 18080);
}

TEST_CASE("a group's utilization targets are read") {
  auto parsed = ParseSpec(R"(kind: VmGroup
name: web
spec:
  shape: {vcpus: 2, memory: 1Gi}
  min_vms: 1
  max_vms: 5
  target_cpu_percent: 60
  target_memory_percent: 75
  utilization_tolerance_percent: 15
)",
                          "t");
  REQUIRE_MESSAGE(parsed.ok(), parsed.status().ToString());
  const auto& s = (*parsed)[0].group().spec();
  CHECK(s.target_cpu_percent() == 60);
  CHECK(s.target_memory_percent() == 75);
  CHECK(s.utilization_tolerance_percent() == 15);
}

TEST_CASE("enum values are accepted short, dashed or in full") {
  for (const char* v : {"on_failure", "on-failure", "ON_FAILURE",
                        "RESTART_POLICY_ON_FAILURE"}) {
    auto parsed =
        ParseSpec(absl::StrCat(kWorkload, "  restart_policy: ", v, "\n"), "t");
    REQUIRE_MESSAGE(parsed.ok(), v);
    CHECK((*parsed)[0].workload().spec().restart_policy() ==
          nest::v1::RESTART_POLICY_ON_FAILURE);
  }
  auto v =
      Violations(absl::StrCat(kWorkload, "  restart_policy: unspecified\n"));
  REQUIRE(v.size() == 1);
  CHECK(v[0].field == "spec.restart_policy");
  CHECK(absl::StrContains(v[0].description, "always, on_failure, never"));
}

struct Case {
  const char* name;
  std::string yaml;
  const char* field;
  const char* says;
};

TEST_CASE("each validation error names its field path") {
  const std::string wl = "kind: Workload\nname: web\nspec:\n  image: hello\n";
  const std::string grp = "kind: VmGroup\nname: web\nspec:\n";
  const std::string shape = grp + "  shape: {vcpus: 1, memory: 256Mi}\n";
  const Case cases[] = {
      {"bad name", "kind: Workload\nname: Web_1\nspec: {image: hello}\n",
       "name", "DNS-1123"},
      {"missing image", "kind: Workload\nname: web\nspec: {replicas: 1}\n",
       "spec.image", "is required"},
      {"negative replicas", wl + "  replicas: -1\n", "spec.replicas",
       "between 0 and 10000, got -1"},
      {"replicas not a number", wl + "  replicas: three\n", "spec.replicas",
       "must be an integer"},
      {"replicas overflow", wl + "  replicas: 99999999999\n", "spec.replicas",
       "must be an integer"},
      {"bad cpu", wl + "  resources: {cpu: lots}\n", "spec.resources.cpu",
       "CPU quantity"},
      {"bad memory", wl + "  resources: {memory: 12XB}\n",
       "spec.resources.memory", "size"},
      {"zero disk", wl + "  resources: {disk: \"0\"}\n", "spec.resources.disk",
       "positive size"},
      {"bad env name", wl + "  env: {1BAD: x}\n", "spec.env.1BAD",
       "variable name"},
      {"env without value", wl + "  env: {A: }\n", "spec.env.A",
       "must have a value"},
      {"port zero", wl + "  ports: [{container_port: 0}]\n",
       "spec.ports[0].container_port", "between 1 and 65535"},
      {"host port too big",
       wl + "  ports: [{container_port: 80}, {container_port: 81, host_port: "
            "70000}]\n",
       "spec.ports[1].host_port", "between 0 and 65535"},
      {"bad protocol", wl + "  ports: [{container_port: 80, protocol: sctp}]\n",
       "spec.ports[0].protocol", "tcp or udp"},
      {"bad port name", wl + "  ports: [{container_port: 80, name: HTTP}]\n",
       "spec.ports[0].name", "DNS-1123"},
      {"bad group", wl + "  group: Web\n", "spec.group", "DNS-1123"},
      {"negative grace", wl + "  stop_grace_s: -1\n", "spec.stop_grace_s",
       "between 0 and 3600"},
      {"negative max_unavailable", wl + "  max_unavailable: -2\n",
       "spec.max_unavailable", "between 0"},
      {"bad enum", wl + "  restart_policy: sometimes\n", "spec.restart_policy",
       "must be one of always, on_failure, never"},
      {"scalar for list", wl + "  command: /bin/sh\n", "spec.command",
       "must be a list"},
      {"list for scalar", wl + "  image: [a, b]\n", "spec.image",
       "must be a string"},
      {"spec not a mapping", "kind: Workload\nname: web\nspec: 3\n", "spec",
       "mapping"},
      {"unknown spec field", wl + "  replica: 3\n", "spec.replica",
       "unknown field (expected one of: image, command"},
      {"unknown nested field", wl + "  resources: {gpu: 1}\n",
       "spec.resources.gpu", "expected one of: cpu, memory, disk"},
      {"unknown top-level field", wl + "metadata: {}\n", "metadata",
       "unknown field"},
      {"missing spec", "kind: Workload\nname: web\n", "spec", "is required"},
      {"unknown kind", "kind: Pod\nname: web\nspec: {}\n", "kind",
       "unknown kind \"Pod\" (expected VmGroup or Workload)"},
      {"missing kind", "name: web\nspec: {}\n", "kind", "is required"},
      {"document not a mapping", "- - 1\n", "kind", "must be a mapping"},
      {"group without shape", grp + "  min_vms: 1\n", "spec.shape",
       "is required"},
      {"zero vcpus", grp + "  shape: {vcpus: 0, memory: 256Mi}\n",
       "spec.shape.vcpus", "between 1 and 256"},
      {"missing memory", grp + "  shape: {vcpus: 1}\n", "spec.shape.memory",
       "is required"},
      {"bad memory", grp + "  shape: {vcpus: 1, memory: lots}\n",
       "spec.shape.memory", "positive size"},
      {"bad disk", grp + "  shape: {vcpus: 1, memory: 1Gi, disk: 1.5Mi}\n",
       "spec.shape.disk", "whole number of MiB"},
      {"negative min", shape + "  min_vms: -1\n", "spec.min_vms", "between 0"},
      {"max below min", shape + "  min_vms: 3\n  max_vms: 1\n", "spec.max_vms",
       "at least min_vms (3), got 1"},
      {"desired above max", shape + "  max_vms: 3\n  desired_vms: 5\n",
       "spec.desired_vms", "between min_vms (0) and max_vms (3), got 5"},
      {"spread without label", shape + "  policy: spread\n",
       "spec.spread_label", "required when policy is spread"},
      {"negative cooldown", shape + "  scale_up_cooldown_s: -1\n",
       "spec.scale_up_cooldown_s", "between 0 and 86400"},
      {"CPU target above 100", shape + "  target_cpu_percent: 150\n",
       "spec.target_cpu_percent", "between 0 and 100, got 150"},
      {"negative tolerance", shape + "  utilization_tolerance_percent: -5\n",
       "spec.utilization_tolerance_percent", "between 0 and 100, got -5"},
      {"bad group name",
       "kind: VmGroup\nname: -web\nspec:\n"
       "  shape: {vcpus: 1, memory: 256Mi}\n",
       "name", "DNS-1123"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    auto v = Violations(c.yaml);
    REQUIRE(v.size() >= 1);
    CHECK(v[0].field == c.field);
    CHECK_MESSAGE(absl::StrContains(v[0].description, c.says),
                  v[0].description);
  }
}

TEST_CASE("violations say which document and line, and all are reported") {
  auto parsed = ParseSpec(R"(kind: VmGroup
name: web
spec:
  shape: {vcpus: 1, memory: 256Mi}
---
kind: Workload
name: hello
spec:
  image: hello
  replicas: -3
  resources:
    memory: lots
)",
                          "demo.yaml");
  REQUIRE_FALSE(parsed.ok());
  CHECK(parsed.status().message() == "demo.yaml: 2 invalid fields");
  auto v = ViolationsOf(parsed.status());
  REQUIRE(v.size() == 2);
  CHECK(v[0].field == "spec.replicas");
  CHECK(absl::EndsWith(v[0].description,
                       "(document 2, Workload hello, line 10)"));
  CHECK(v[1].field == "spec.resources.memory");
  CHECK(absl::EndsWith(v[1].description,
                       "(document 2, Workload hello, line 12)"));
}

TEST_CASE("multi-document input: empty documents skipped, duplicates caught") {
  auto parsed =
      ParseSpec(absl::StrCat("---\n", kWorkload, "---\n# only a comment\n---\n",
                             "kind: Workload\nname: other\nspec: {image: x}\n"),
                "t");
  REQUIRE(parsed.ok());
  CHECK(parsed->size() == 2);

  auto v = Violations(absl::StrCat(kWorkload, "---\n", kWorkload));
  REQUIRE(v.size() == 1);
  CHECK(v[0].field == "name");
  CHECK(absl::StrContains(v[0].description,
                          "duplicate Workload web (first in document 1"));
}

TEST_CASE("a list of objects (get -o json output) is accepted") {
  auto parsed = ParseSpec(
      R"([{"kind": "Workload", "name": "a", "spec": {"image": "x"}},
          {"kind": "Workload", "name": "b", "spec": {"image": "y"},
           "status": {"running": 1}}])",
      "t");
  REQUIRE(parsed.ok());
  CHECK(parsed->size() == 2);
  auto v = Violations(R"([{"kind": "Workload", "name": "a", "spec": {}}])");
  CHECK(absl::StrContains(v[0].description, "document 1 item 1"));
}

TEST_CASE("status is ignored, whatever it holds") {
  auto parsed = ParseSpec(
      absl::StrCat(kWorkload, "status:\n  running: 3\n  anything: [1, 2]\n"),
      "t");
  REQUIRE(parsed.ok());
  CHECK((*parsed)[0].workload().spec().replicas() == 2);
}

TEST_CASE("YAML syntax errors name the document, line and column") {
  auto parsed = ParseSpec(
      absl::StrCat(kWorkload, "---\nkind: Workload\nname: [unclosed\n"),
      "x.yaml");
  REQUIRE_FALSE(parsed.ok());
  CHECK(parsed.status().code() == absl::StatusCode::kInvalidArgument);
  std::string m(parsed.status().message());
  CHECK_MESSAGE(absl::StartsWith(m, "x.yaml: document 2, line "), m);
  CHECK(absl::StrContains(m, "invalid YAML"));
}

TEST_CASE("empty input is an error, not a silent success") {
  for (const char* text : {"", "# nothing\n", "---\n---\n"}) {
    auto parsed = ParseSpec(text, "empty.yaml");
    REQUIRE_FALSE(parsed.ok());
    CHECK(absl::StrContains(parsed.status().message(), "no objects found"));
  }
}

TEST_CASE("numbers-as-strings are read by the schema, not YAML's guess") {
  auto parsed = ParseSpec(absl::StrCat(kWorkload,
                                       "  resources: {cpu: 2, memory: 1024}\n"
                                       "  command: [true, 1.5, null-ish]\n"),
                          "t");
  // memory 1024 bytes is not a whole MiB, which proves it was read as text.
  REQUIRE_FALSE(parsed.ok());
  auto v = ViolationsOf(parsed.status());
  REQUIRE(v.size() == 1);
  CHECK(v[0].field == "spec.resources.memory");
  parsed = ParseSpec(absl::StrCat(kWorkload,
                                  "  resources: {cpu: 2}\n"
                                  "  command: [true, 1.5]\n"),
                     "t");
  REQUIRE(parsed.ok());
  const auto& s = (*parsed)[0].workload().spec();
  CHECK(s.resources().cpu() == "2");
  CHECK(s.command(0) == "true");
  CHECK(s.command(1) == "1.5");
}

TEST_CASE("a YAML stream yaml-cpp would never finish is refused") {
  // yaml-cpp 0.7 loops forever on these (found by fuzz_spec).
  for (const char* text : {",", ",\n,", "- a\n,"}) {
    CHECK_FALSE(YamlStreamEnds(text));
    auto r = ParseSpec(text, "bad.yaml");
    REQUIRE_FALSE(r.ok());
    CHECK(absl::IsInvalidArgument(r.status()));
    CHECK(absl::StartsWith(r.status().message(), "bad.yaml: invalid YAML"));
  }
  CHECK(YamlStreamEnds("kind: VmGroup\nname: web\n---\nkind: Workload\n"));
  CHECK(YamlStreamEnds("key: [unterminated"));  // a plain syntax error
}

TEST_CASE("an alias that refers to itself is refused, not followed forever") {
  // fuzz_spec: the UTF-8 walk overflowed the stack on this document.
  auto v = Violations(
      "kind: Workload\nname: loop\nspec: &s\n  image: x\n"
      "  env: *s\n");
  bool named = false;
  for (const auto& f : v) {
    named = named || absl::StrContains(f.description, "alias");
  }
  CHECK(named);
}

}  // namespace
}  // namespace nest::cli
