// The nftables scripts: golden output, every script accepted by the kernel
// (`nft -c -f`), and applied for real in a private network namespace, where
// re-applying is idempotent and another tenant's packets are counted as
// dropped. Needs root and nft; a missing nft fails the test rather than
// skipping it, because an unchecked ruleset is what this test exists to
// prevent.
#include "net/nft.h"

#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/field_errors.h"
#include "doctest/doctest.h"

namespace nest::net {
namespace {

Ipv4Address A(const char* text) { return ParseIpv4Address("a", text).value(); }
Ipv4Prefix P(const char* text) { return ParseIpv4Prefix("p", text).value(); }

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class TempDir {
 public:
  TempDir() {
    std::string tmpl =
        (std::filesystem::temp_directory_path() / "nest-nft-XXXXXX").string();
    REQUIRE(mkdtemp(tmpl.data()) != nullptr);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string Write(const std::string& name, const std::string& text) const {
    std::string path = path_ + "/" + name;
    std::ofstream(path) << text;
    return path;
  }

 private:
  std::string path_;
};

struct Run {
  int exit_code;
  std::string output;
};

// Runs `command` through sh, stdout and stderr together. Paths passed in
// come from TempDir, so they need no quoting.
Run Shell(const std::string& command) {
  FILE* p = popen(absl::StrCat(command, " 2>&1").c_str(), "r");
  REQUIRE(p != nullptr);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

// The kernel's verdict on `script` without applying it.
void CheckWithNft(const std::string& script) {
  TempDir dir;
  Run r = Shell(absl::StrCat("nft -c -f ", dir.Write("rules.nft", script)));
  INFO(script);
  CHECK_MESSAGE(r.exit_code == 0, "nft -c -f failed: ", r.output);
}

void Golden(const std::string& name, const std::string& text) {
  std::string path = absl::StrCat(NEST_NET_TESTDATA, "/", name);
  if (getenv("NEST_UPDATE_GOLDEN")) std::ofstream(path) << text;
  CHECK(text == ReadFile(path));
}

HostRuleset SampleHost() {
  HostRuleset h;
  h.ports = {
      {L4Protocol::kUdp, 5353, {{A("10.88.16.66"), 53}}},
      {L4Protocol::kTcp,
       8080,
       {{A("10.88.16.130"), 80}, {A("10.88.0.66"), 80}, {A("10.88.0.67"), 80}}},
      {L4Protocol::kTcp, 9090, {}},  // no replica running: left alone
  };
  h.masquerade_sources = {P("10.88.16.0/20"), P("10.88.0.0/20")};
  h.internal = {P("10.88.0.0/14")};
  h.services = {
      {A("10.88.15.250"),
       L4Protocol::kTcp,
       80,
       {{A("10.88.0.130"), 8080}, {A("10.88.0.66"), 8080}}},
      {A("10.88.15.248"), L4Protocol::kTcp, 443, {}},  // no backend: skipped
  };
  return h;
}

GuestRuleset SampleGuest() {
  GuestRuleset g;
  g.services = {
      {A("10.88.15.250"),
       L4Protocol::kTcp,
       80,
       {{A("10.88.0.130"), 8080}, {A("10.88.0.66"), 8080}}},
      {A("10.88.15.249"), L4Protocol::kUdp, 53, {{A("10.88.0.67"), 53}}},
      {A("10.88.15.248"), L4Protocol::kTcp, 443, {}},
  };
  g.tenant_subnets = {P("10.88.0.0/20"), P("10.88.32.0/20")};
  g.tenant_space = {P("10.88.0.0/14")};
  return g;
}

TEST_CASE("host ruleset matches the golden file and the kernel accepts it") {
  absl::StatusOr<std::string> script = HostRulesetScript(SampleHost());
  REQUIRE_MESSAGE(script.ok(), script.status().ToString());
  Golden("host.nft", *script);
  CheckWithNft(*script);
}

TEST_CASE("guest ruleset matches the golden file and the kernel accepts it") {
  absl::StatusOr<std::string> script = GuestRulesetScript(SampleGuest());
  REQUIRE_MESSAGE(script.ok(), script.status().ToString());
  Golden("guest.nft", *script);
  CheckWithNft(*script);
}

TEST_CASE("output does not depend on the input's order") {
  HostRuleset h = SampleHost();
  std::reverse(h.ports.begin(), h.ports.end());
  for (PublishedPort& p : h.ports) {
    std::reverse(p.backends.begin(), p.backends.end());
  }
  std::reverse(h.masquerade_sources.begin(), h.masquerade_sources.end());
  std::reverse(h.services.begin(), h.services.end());
  CHECK(HostRulesetScript(h).value() ==
        HostRulesetScript(SampleHost()).value());
  GuestRuleset g = SampleGuest();
  std::reverse(g.services.begin(), g.services.end());
  std::reverse(g.tenant_subnets.begin(), g.tenant_subnets.end());
  CHECK(GuestRulesetScript(g).value() ==
        GuestRulesetScript(SampleGuest()).value());
}

TEST_CASE("edge inputs still give rulesets the kernel accepts") {
  HostRuleset empty_host;
  CheckWithNft(HostRulesetScript(empty_host).value());
  GuestRuleset empty_guest;
  CheckWithNft(GuestRulesetScript(empty_guest).value());

  HostRuleset one;
  one.table = "nest_test_2";
  one.ports = {{L4Protocol::kTcp, 65535, {{A("10.0.0.1"), 1}}}};
  one.masquerade_sources = {P("10.88.0.0/20")};  // internal defaults to it
  std::string s = HostRulesetScript(one).value();
  CHECK(absl::StrContains(s,
                          "tcp dport 65535 ct mark set 0x6e657374 "
                          "dnat ip to 10.0.0.1:1"));
  CHECK(absl::StrContains(s,
                          "ip saddr { 10.88.0.0/20 } ip daddr != "
                          "{ 10.88.0.0/20 } masquerade"));
  CheckWithNft(s);

  // Many backends: one map, every index present once.
  GuestRuleset many;
  VipService svc{A("10.88.15.250"), L4Protocol::kTcp, 80, {}};
  for (int i = 0; i < 64; ++i) {
    svc.backends.push_back({Ipv4Address(A("10.88.1.0").value() + i), 8080});
  }
  many.services = {svc};
  s = GuestRulesetScript(many).value();
  CHECK(
      absl::StrContains(s, "numgen random mod 64 map { 0 : 10.88.1.0 . 8080"));
  CHECK(absl::StrContains(s, "63 : 10.88.1.63 . 8080 }"));
  CheckWithNft(s);
}

TEST_CASE("bad input is refused naming the field") {
  HostRuleset h = SampleHost();
  h.table = "nest; flush ruleset";
  h.ports.push_back({L4Protocol::kTcp, 8080, {{A("10.88.0.9"), 80}}});
  h.ports.push_back({L4Protocol::kTcp, 0, {{A("10.88.0.9"), 0}}});
  h.ports.push_back(
      {L4Protocol::kTcp, 7, {{A("10.88.0.9"), 80}, {A("10.88.0.9"), 80}}});
  h.dnat_mark = 0;
  absl::StatusOr<std::string> bad = HostRulesetScript(h);
  REQUIRE(absl::IsInvalidArgument(bad.status()));
  std::vector<std::string> fields;
  for (const FieldViolation& v : GetFieldViolations(bad.status())) {
    fields.push_back(v.field);
  }
  CHECK(fields == std::vector<std::string>{
                      "table", "dnat_mark", "ports[3]", "ports[4].host_port",
                      "ports[4].backends.port", "ports[5].backends"});

  GuestRuleset g = SampleGuest();
  g.services.push_back(g.services[0]);
  g.tenant_subnets.clear();
  bad = GuestRulesetScript(g);
  REQUIRE(absl::IsInvalidArgument(bad.status()));
  fields.clear();
  for (const FieldViolation& v : GetFieldViolations(bad.status())) {
    fields.push_back(v.field);
  }
  CHECK(fields == std::vector<std::string>{"tenant_subnets", "services[3]"});
  CHECK(absl::IsInvalidArgument(DeleteTableScript("Nest").status()));
  CHECK(absl::IsInvalidArgument(DeleteTableScript("").status()));
  CHECK(absl::IsInvalidArgument(
      DeleteTableScript(std::string(33, 'n')).status()));
}

TEST_CASE("re-applying replaces the table atomically; drops are counted") {
  TempDir dir;
  std::string guest =
      dir.Write("guest.nft", GuestRulesetScript(SampleGuest()).value());
  GuestRuleset changed = SampleGuest();
  changed.services.pop_back();
  std::string guest2 =
      dir.Write("guest2.nft", GuestRulesetScript(changed).value());
  std::string del = dir.Write("delete.nft", DeleteTableScript("nest").value());
  // In a fresh network namespace, so the host's rules are never touched.
  // Own tenant: 10.88.0.5 (refused at once by the closed port). Another
  // tenant: 10.89.0.5 (its SYN is dropped, so the connect times out).
  std::string body = absl::StrCat(R"(
ip link set lo up
ip addr add 10.88.0.5/32 dev lo
ip addr add 10.89.0.5/32 dev lo
nft -f )",
                                  del, R"(
nft -f )",
                                  guest, R"(
nft -f )",
                                  guest, R"(
nft -f )",
                                  guest2, R"(
timeout 1 bash -c 'echo > /dev/tcp/10.88.0.5/80' 2>/dev/null || true
nft list counter ip nest foreign_drops
timeout 1 bash -c 'echo > /dev/tcp/10.89.0.5/80' 2>/dev/null || true
nft list counter ip nest foreign_drops
nft -f )",
                                  guest, R"(
nft list counter ip nest foreign_drops
nft list chain ip nest services
nft -f )",
                                  del, R"(
nft -f )",
                                  del, R"(
nft list tables
echo done
)");
  Run r =
      Shell(absl::StrCat("unshare -n bash -e ", dir.Write("body.sh", body)));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK(absl::StrContains(r.output, "done"));
  std::vector<std::string> counts;  // of the three counter listings
  const size_t listings_end = r.output.find("chain services");
  for (size_t at = r.output.find("packets "); at < listings_end;
       at = r.output.find("packets ", at + 1)) {
    counts.push_back(r.output.substr(at, r.output.find(' ', at + 8) - at));
  }
  REQUIRE(counts.size() == 3);
  CHECK(counts[0] == "packets 0");  // own tenant: not dropped
  CHECK(counts[1] != "packets 0");  // another tenant: dropped and counted
  CHECK(counts[2] == counts[1]);    // the counter survived the re-apply
  // The re-apply brought back the VIP that guest2 had removed.
  CHECK(absl::StrContains(r.output, "10.88.15.248"));
  // Deleted, twice without error, and gone.
  CHECK(!absl::StrContains(r.output, "table ip nest\n"));
}

}  // namespace
}  // namespace nest::net
