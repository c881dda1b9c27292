// Files given to a workload's containers, as control/ validates, keeps and
// diffs them (api/ and the store only carry them).
#include "control/workload_files.h"

#include <set>

#include "control/commands.h"
#include "doctest/doctest.h"

namespace nest::control {
namespace {

using commands_internal::BuildWorkload;
using commands_internal::CopyWorkloadSpec;
using commands_internal::DiffWorkloads;
using commands_internal::RejectSecretPlaceholders;

WorkloadSpecInput Spec() {
  WorkloadSpecInput in;
  in.image = "hello";
  in.cpu = "100m";
  in.memory = "32Mi";
  in.replicas = 1;
  in.group = "web";
  return in;
}

std::set<std::string> Fields(const FieldErrors& errors) {
  std::set<std::string> out;
  for (const auto& v : errors.violations()) out.insert(v.field);
  return out;
}

std::string Joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

TEST_CASE("files are built into the workload; mode 0 means 0444") {
  WorkloadSpecInput in = Spec();
  in.files = {{"/etc/app.conf", "a=1", 0, false},
              {"/run/secrets/db", "pw", 0400, true}};
  FieldErrors errors;
  store::Workload w = BuildWorkload(TenantId("t"), "app", in, "", errors);
  REQUIRE(errors.empty());
  REQUIRE(w.files.size() == 2);
  CHECK(w.files[0] == store::WorkloadFile{"/etc/app.conf", "a=1", 0444, false});
  CHECK(w.files[1] == store::WorkloadFile{"/run/secrets/db", "pw", 0400, true});
}

TEST_CASE("every file rule is checked, each naming its field") {
  WorkloadSpecInput in = Spec();
  in.files = {{"relative", "x", 0, false},
              {"/proc/x", "x", 0, false},
              {"/a/../b", "x", 0, false},
              {"/ok", std::string((1 << 20) + 1, 'x'), 0, false},
              {"/ok", "x", 01000, false}};
  FieldErrors errors;
  (void)BuildWorkload(TenantId("t"), "app", in, "objects[2].workload.", errors);
  CHECK(Fields(errors) == std::set<std::string>{
                              "objects[2].workload.spec.files[0].path",
                              "objects[2].workload.spec.files[1].path",
                              "objects[2].workload.spec.files[2].path",
                              "objects[2].workload.spec.files[3].content",
                              "objects[2].workload.spec.files[4].path",
                              "objects[2].workload.spec.files[4].mode",
                          });
  // A secret's content never appears in a message, even when it is wrong.
  for (const auto& v : errors.violations()) {
    CHECK(v.description.find("xxxxxxxx") == std::string::npos);
  }
}

TEST_CASE("strings that are not UTF-8 are refused by the server too") {
  WorkloadSpecInput in = Spec();
  in.image = "hel\xfflo";
  in.command = {"ok", "bad\xc3"};
  in.args = {"\xed\xa0\x80"};
  in.env = {{"A", "\xff"}};
  in.secret_env = {{"B", "\xc0\xaf"}};
  FieldErrors errors;
  (void)BuildWorkload(TenantId("t"), "app", in, "", errors);
  CHECK(Fields(errors) ==
        std::set<std::string>{"spec.image", "spec.command[1]", "spec.args[0]",
                              "spec.env[\"A\"]", "spec.secret_env[\"B\"]"});
}

TEST_CASE("a secret file sent back as <secret> keeps its stored content") {
  store::Workload stored;
  stored.files = {{"/s", "old-secret", 0400, true},
                  {"/p", "plain", 0444, false}};
  store::Workload sent = stored;
  sent.files[0].content = std::string(kSecretShown);
  store::Workload next = stored;
  CopyWorkloadSpec(sent, next);
  CHECK(next.files == stored.files);
  CHECK(DiffWorkloads(stored, next).empty());
  CHECK(RejectSecretPlaceholders(next, "").ok());

  // A plain file's content "<secret>" is just content.
  sent.files[1].content = std::string(kSecretShown);
  next = stored;
  CopyWorkloadSpec(sent, next);
  CHECK(next.files[1].content == kSecretShown);

  // A new secret file (other path) has nothing to keep: refused.
  sent = stored;
  sent.files.push_back({"/new", std::string(kSecretShown), 0400, true});
  next = stored;
  CopyWorkloadSpec(sent, next);
  absl::Status s = RejectSecretPlaceholders(next, "objects[0].workload.");
  CHECK(absl::IsInvalidArgument(s));
  auto v = GetFieldViolations(s);
  REQUIRE(v.size() == 1);
  CHECK(v[0].field == "objects[0].workload.spec.files[2].content");
  // A plain file that was secret does not take the secret's content.
  sent = stored;
  sent.files[0] = {"/s", std::string(kSecretShown), 0400, false};
  next = stored;
  CopyWorkloadSpec(sent, next);
  CHECK(next.files[0].content == kSecretShown);
}

TEST_CASE("the diff of files names what changed and never a content") {
  store::Workload a;
  a.files = {{"/s", "old-secret", 0400, true},
             {"/p", "old-plain", 0444, false},
             {"/gone", "bye-content", 0444, false}};
  store::Workload b;
  b.files = {{"/s", "new-secret", 0400, true},
             {"/p", "new-plain", 0440, false},
             {"/added", "hello-content", 0444, true}};
  std::string diff = Joined(DiffWorkloads(a, b));
  CHECK(diff.find("files[/s].content: changed") != std::string::npos);
  CHECK(diff.find("files[/p].content: changed") != std::string::npos);
  CHECK(diff.find("files[/p].mode: 0444 -> 0440") != std::string::npos);
  CHECK(diff.find("files[/gone]: removed") != std::string::npos);
  CHECK(diff.find("files[/added]: added") != std::string::npos);
  for (const char* content : {"old-secret", "new-secret", "old-plain",
                              "new-plain", "bye-content", "hello-content"}) {
    CHECK_MESSAGE(diff.find(content) == std::string::npos, content);
  }
  b.files[0].secret = false;
  CHECK(Joined(DiffWorkloads(a, b)).find("files[/s].secret: true -> false") !=
        std::string::npos);
  CHECK(DiffWorkloads(a, a).empty());
}

}  // namespace
}  // namespace nest::control
