#include <fstream>
#include <iterator>

#include "absl/strings/match.h"
#include "cli/documents.h"
#include "cli/spec.h"
#include "cli/table.h"
#include "doctest/doctest.h"
#include "google/protobuf/util/message_differencer.h"

namespace nest::cli {
namespace {

using google::protobuf::util::MessageDifferencer;

nest::v1::Workload Httpd() {
  nest::v1::Workload w;
  w.mutable_meta()->set_name("httpd");
  w.mutable_meta()->set_generation(4);
  auto* s = w.mutable_spec();
  s->set_image("httpd");
  s->set_replicas(2);
  s->set_group("web");
  s->mutable_resources()->set_cpu("1");
  s->mutable_resources()->set_memory("32Mi");
  s->set_restart_policy(nest::v1::RESTART_POLICY_ALWAYS);
  auto* p = s->add_ports();
  p->set_name("http");
  p->set_container_port(8080);
  p->set_host_port(18080);
  (*s->mutable_env())["Z"] = "last";
  (*s->mutable_env())["A"] = "true";
  // One replica of generation 4 runs; another still runs an older one.
  w.mutable_status()->set_running(2);
  w.mutable_status()->set_pending(1);
  w.mutable_status()->set_message("waiting for a VM");
  w.mutable_status()->set_vip("10.88.0.4");
  w.mutable_status()->set_observed_generation(3);
  w.mutable_status()->set_ready(1);
  return w;
}

nest::v1::Workload Hello() {
  nest::v1::Workload w;
  w.mutable_meta()->set_name("hello");
  w.mutable_meta()->set_generation(1);
  w.mutable_spec()->set_image("hello");
  w.mutable_spec()->set_replicas(3);
  w.mutable_status()->set_succeeded(3);
  return w;
}

TEST_CASE("tables size columns from content and trim trailing space") {
  Table t({"NAME", "STATE", "X"});
  t.AddRow({"a-much-longer-name", "ok"});
  t.AddRow({"b", "running", "1"});
  CHECK(t.Render() ==
        "NAME                 STATE     X\n"
        "a-much-longer-name   ok\n"
        "b                    running   1\n");
}

TEST_CASE("table width counts UTF-8 characters, not bytes") {
  Table t({"N", "M"});
  t.AddRow({"é", "x"});
  t.AddRow({"ab", "y"});
  CHECK(t.Render() == "N    M\né    x\nab   y\n");
}

TEST_CASE("workload table and wide table") {
  std::vector<nest::v1::Workload> items = {Hello(), Httpd()};
  CHECK(RenderTable(items, false) ==
        "NAME    IMAGE   READY   PENDING   FAILED   GROUP\n"
        "hello   hello   0/3     0         0        -\n"
        "httpd   httpd   1/2     1         0        web\n");
  CHECK(RenderTable(items, true) ==
        "NAME    IMAGE   READY   PENDING   FAILED   GROUP   CPU   MEMORY   "
        "PORTS        VIP         GEN   MESSAGE\n"
        "hello   hello   0/3     0         0        -       -     -        -"
        "            -           1\n"
        "httpd   httpd   1/2     1         0        web     1     32Mi     "
        "18080:8080   10.88.0.4   4     waiting for a VM\n");
}

TEST_CASE("container, host and stats tables") {
  nest::v1::Container c;
  c.mutable_meta()->set_name("hello-0");
  c.set_workload("hello");
  c.set_vm("web-1");
  c.set_host("local");
  c.set_state(nest::v1::CONTAINER_STATE_SUCCEEDED);
  c.set_image("hello");
  c.set_address("10.88.0.64");
  CHECK(RenderTable(std::vector{c}, false) ==
        "NAME      WORKLOAD   STATE       VM      HOST    RESTARTS\n"
        "hello-0   hello      succeeded   web-1   local   0\n");
  CHECK(RenderTable(std::vector{c}, true) ==
        "NAME      WORKLOAD   STATE       VM      HOST    RESTARTS   IMAGE   "
        "IP           HEALTH   EXIT   STARTED   MESSAGE\n"
        "hello-0   hello      succeeded   web-1   local   0          hello   "
        "10.88.0.64   -        0      -\n");

  nest::v1::Host h;
  h.mutable_meta()->set_name("local");
  h.set_state(nest::v1::HOST_STATE_CORDONED);
  h.mutable_capacity()->set_cpu("4");
  h.mutable_capacity()->set_memory("8Gi");
  h.mutable_allocated()->set_memory("256Mi");
  CHECK(RenderTable(std::vector{h}, false) ==
        "NAME    STATE      VMS   CPU   MEMORY\n"
        "local   cordoned   0     0/4   256Mi/8Gi\n");

  nest::v1::ContainerUsage u;
  u.set_container("httpd-0");
  u.set_workload("httpd");
  u.set_vm("web-1");
  u.set_cpu_cores(0.123);
  u.set_cpu_seconds(1.26);
  u.set_memory_bytes(12 << 20);
  u.set_pids(3);
  CHECK(RenderTable(std::vector{u}, false) ==
        "NAME      WORKLOAD   VM      CPU    CPU(s)   MEMORY   PIDS\n"
        "httpd-0   httpd      web-1   0.12   1.3      12.0Mi   3\n");
  nest::v1::VmUsage v;
  v.set_vm("web-1");
  v.set_block_read_bytes(1 << 20);
  v.set_net_transmit_bytes(2048);
  CHECK(absl::StrContains(RenderTable(std::vector{v}, true),
                          "1.0Mi/0 B   0 B/2.0Ki"));
}

TEST_CASE("yaml output is the apply document shape, status last") {
  CHECK(RenderDocuments({ToDocument(Httpd()), ToDocument(Hello())},
                        Format::kYaml, false) ==
        R"(kind: Workload
name: httpd
spec:
  image: httpd
  env:
    A: "true"
    Z: last
  resources:
    cpu: "1"
    memory: 32Mi
  replicas: 2
  restart_policy: always
  ports:
    - name: http
      container_port: 8080
      host_port: 18080
  group: web
status:
  generation: 4
  running: 2
  pending: 1
  message: waiting for a VM
  observed_generation: 3
  ready: 1
  vip: 10.88.0.4
---
kind: Workload
name: hello
spec:
  image: hello
  replicas: 3
status:
  generation: 1
  succeeded: 3
)");
}

TEST_CASE("json output: one object for a name, an array for a list") {
  CHECK(RenderDocuments({ToDocument(Hello())}, Format::kJson, true) ==
        R"({
  "kind": "Workload",
  "name": "hello",
  "spec": {
    "image": "hello",
    "replicas": 3
  },
  "status": {
    "generation": 1,
    "succeeded": 3
  }
}
)");
  std::string list =
      RenderDocuments({ToDocument(Hello())}, Format::kJson, false);
  CHECK(list.front() == '[');
}

TEST_CASE("round trip: YAML -> proto -> YAML -> proto is the identity") {
  std::ifstream in(NEST_EXAMPLES_DIR "/demo.yaml");
  std::string text(std::istreambuf_iterator<char>(in), {});
  auto first = ParseSpec(text, "demo.yaml");
  REQUIRE(first.ok());
  for (Format f : {Format::kYaml, Format::kJson}) {
    std::vector<Json> docs;
    for (const auto& o : *first) docs.push_back(ToDocument(o));
    std::string printed = RenderDocuments(docs, f, false);
    auto second = ParseSpec(printed, "printed");
    REQUIRE_MESSAGE(second.ok(), printed);
    REQUIRE(second->size() == first->size());
    for (size_t i = 0; i < first->size(); ++i) {
      CHECK(MessageDifferencer::Equals((*first)[i], (*second)[i]));
    }
  }
}

TEST_CASE("round trip of a stored object with status keeps the spec") {
  nest::v1::Workload w = Httpd();
  auto parsed = ParseSpec(RenderDocuments({ToDocument(w)}, Format::kYaml, true),
                          "printed");
  REQUIRE(parsed.ok());
  CHECK(MessageDifferencer::Equals((*parsed)[0].workload().spec(), w.spec()));
  // Strings YAML would read as other types survive (quoted on output).
  CHECK((*parsed)[0].workload().spec().env().at("A") == "true");
}

TEST_CASE("awkward strings survive yaml and json output") {
  nest::v1::Workload w = Hello();
  const char* values[] = {"a: b",   "#x",   "- y",       "multi\nline",
                          "  lead", "'q'",  "\"dq\"",    "null",
                          "~",      "0x1F", "1e3",       "yes",
                          "[1]",    "{a}",  "tab\there", "é"};
  int i = 0;
  for (const char* v : values) {
    (*w.mutable_spec()->mutable_env())["V" + std::to_string(i++)] = v;
  }
  for (Format f : {Format::kYaml, Format::kJson}) {
    auto parsed =
        ParseSpec(RenderDocuments({ToDocument(w)}, f, true), "printed");
    REQUIRE(parsed.ok());
    CHECK(MessageDifferencer::Equals((*parsed)[0].workload().spec(), w.spec()));
  }
}

TEST_CASE("other kinds print their fields with labels and times") {
  nest::v1::Host h;
  h.mutable_meta()->set_name("local");
  (*h.mutable_meta()->mutable_labels())["zone"] = "a";
  h.set_uri("qemu:///system");
  h.set_state(nest::v1::HOST_STATE_READY);
  CHECK(RenderDocuments({ToDocument(h)}, Format::kYaml, true) ==
        "kind: Host\nname: local\nlabels:\n  zone: a\nuri: "
        "qemu:///system\nstate: ready\n");
  nest::v1::Event e;
  e.set_seq(7);
  e.mutable_time()->set_seconds(1767225600);
  e.set_kind("Workload");
  e.set_name("hello");
  e.set_reason("Placed");
  CHECK(ToDocument(e).dump() ==
        R"({"kind":"Event","seq":7,"time":"2026-01-01T00:00:00Z",)"
        R"("object_kind":"Workload","name":"hello","reason":"Placed"})");
}

TEST_CASE("format flags") {
  CHECK(*ParseFormat("wide") == Format::kWide);
  CHECK(*ParseFormat("yaml") == Format::kYaml);
  CHECK_FALSE(ParseFormat("xml").ok());
  CHECK(FormatBytes(512) == "512 B");
  CHECK(FormatBytes(1536) == "1.5Ki");
  CHECK(FormatBytes(3LL << 30) == "3.0Gi");
}

}  // namespace
}  // namespace nest::cli
