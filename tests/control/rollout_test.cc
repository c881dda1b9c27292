// Workload revisions through Commands: ListRevisions (history) and
// RollbackWorkload (undo) over a real store, as tenants see them.
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "control/commands.h"
#include "control/sim.h"
#include "doctest/doctest.h"
#include "tests/control/cluster_util.h"

namespace nest::control {
namespace {

std::string NoEncode(const auto&) { return ""; }

// Commands over a fresh store, as tenant "default" (`ops`) and "acme",
// with group web and images httpd:1, httpd:2 and httpd:3 in "default".
struct Rollouts {
  testing::TempDir dir;
  FakeClock clock;
  std::unique_ptr<store::Store> store;
  StaticImageSource images;
  std::unique_ptr<Commands> ops;
  std::unique_ptr<Commands> acme;

  Rollouts() {
    store = *store::Store::Open({dir.path + "/state.db"}, clock);
    ops = std::make_unique<Commands>(*store, nullptr, images, clock);
    acme = std::make_unique<Commands>(
        ops->As(TenantId("acme"), "tok-acme", false));
    GroupSpecInput g;
    g.vcpus = 2;
    g.memory = "512Mi";
    g.min_vms = 0;
    g.max_vms = 3;
    REQUIRE(ops->CreateGroup({}, "web", g, NoEncode<GroupView>).ok());
    for (const char* image : {"httpd:1", "httpd:2", "httpd:3"}) {
      REQUIRE(ops->ImportImage({}, image, "oci:x", NoEncode<ImageView>).ok());
    }
  }

  static WorkloadSpecInput Spec(const std::string& image, int64_t replicas) {
    WorkloadSpecInput w;
    w.image = image;
    w.cpu = "100m";
    w.memory = "32Mi";
    w.replicas = replicas;
    w.group = "web";
    return w;
  }
  void Create(const std::string& name, const WorkloadSpecInput& spec) {
    auto made = ops->CreateWorkload({}, name, spec, NoEncode<WorkloadView>);
    REQUIRE_MESSAGE(made.ok(), made.status().ToString());
  }
  void Update(const std::string& name, const WorkloadSpecInput& spec) {
    auto done = ops->UpdateWorkload({}, name, spec, NoEncode<WorkloadView>);
    REQUIRE_MESSAGE(done.ok(), done.status().ToString());
  }
  // Rolls back and returns what the command reported (the view is
  // captured from the encoder).
  absl::StatusOr<RollbackView> Undo(const std::string& name,
                                    int64_t to_revision = 0,
                                    const WriteMeta& m = {}) {
    RollbackView seen;
    auto done =
        ops->RollbackWorkload(m, name, to_revision, [&](const RollbackView& v) {
          seen = v;
          return std::string("encoded");
        });
    if (!done.ok()) return done.status();
    return seen;
  }
  store::Workload Get(const std::string& name) {
    auto v = ops->GetWorkload(name);
    REQUIRE_MESSAGE(v.ok(), v.status().ToString());
    return v->workload;
  }
  std::vector<int64_t> Numbers(const std::string& name) {
    auto h = ops->ListRevisions(name);
    REQUIRE_MESSAGE(h.ok(), h.status().ToString());
    std::vector<int64_t> out;
    for (const auto& r : h->revisions) out.push_back(r.revision);
    return out;
  }
  store::Event LastEvent() {
    auto events = ops->ListEvents({});
    REQUIRE(events.ok());
    REQUIRE(!events->empty());
    return events->back();
  }
};

TEST_CASE("rollout undo restores the previous image; undo again flips back") {
  Rollouts r;
  r.Create("web", Rollouts::Spec("httpd:1", 2));
  r.Update("web", Rollouts::Spec("httpd:2", 2));
  auto history = r.ops->ListRevisions("web");
  REQUIRE(history.ok());
  CHECK(history->current_revision == 2);
  REQUIRE(history->revisions.size() == 2);
  CHECK(history->revisions[0].revision == 1);
  CHECK(history->revisions[0].workload.image == "httpd:1");
  CHECK(history->revisions[0].summary == "image httpd:1, 100m/32Mi");
  CHECK(history->revisions[0].replaced_at == r.clock.Now());
  CHECK(history->revisions[1].revision == 2);
  CHECK(history->revisions[1].workload.image == "httpd:2");
  CHECK(history->revisions[1].replaced_at == absl::InfinitePast());

  // A scale is not a template change: no revision, and it survives undo.
  REQUIRE(r.ops->ScaleWorkload({}, "web", 3, NoEncode<WorkloadView>).ok());
  CHECK(r.Numbers("web") == std::vector<int64_t>{1, 2});
  const int64_t gen = r.Get("web").meta.generation;

  auto undo = r.Undo("web");
  REQUIRE_MESSAGE(undo.ok(), undo.status().ToString());
  CHECK(undo->rolled_back_to == 1);
  CHECK_FALSE(undo->unchanged);
  CHECK(undo->workload.workload.image == "httpd:1");
  store::Workload now = r.Get("web");
  CHECK(now.image == "httpd:1");
  CHECK(now.replicas == 3);
  CHECK(now.meta.generation == gen + 1);
  store::Event ev = r.LastEvent();
  CHECK(ev.kind == "workload");
  CHECK(ev.name == "web");
  CHECK(ev.reason == "RolledBack");
  CHECK(ev.message == "rolled back to revision 1 (image httpd:1)");
  // The template undo replaced is kept in turn.
  CHECK(r.Numbers("web") == std::vector<int64_t>{1, 2, 3});

  auto again = r.Undo("web");
  REQUIRE_MESSAGE(again.ok(), again.status().ToString());
  CHECK(again->rolled_back_to == 2);
  CHECK(r.Get("web").image == "httpd:2");
  CHECK(r.Get("web").replicas == 3);
  CHECK(r.LastEvent().message == "rolled back to revision 2 (image httpd:2)");
  CHECK(r.Numbers("web") == std::vector<int64_t>{1, 2, 3, 4});
}

TEST_CASE("rollout undo --to-revision puts back every template field only") {
  Rollouts r;
  WorkloadSpecInput a = Rollouts::Spec("httpd:1", 2);
  a.command = {"httpd", "-f"};
  a.args = {"-p", "80"};
  a.env = {{"MODE", "a"}, {"LEVEL", "1"}};
  a.ports = {{"http", 80, 0, "tcp"}};
  a.files = {{"/etc/a.conf", "a=1\n", 0, false}};
  a.restart_policy = "on-failure";
  a.stop_grace_s = 5;
  a.isolation = "shared";
  r.Create("web", a);
  const store::Workload first = r.Get("web");

  WorkloadSpecInput b = Rollouts::Spec("httpd:2", 4);
  b.cpu = "250m";
  b.memory = "64Mi";
  b.command = {"sh"};
  b.env = {{"MODE", "b"}};
  b.ports = {{"web", 8000, 0, "tcp"}};
  b.files = {{"/etc/b.conf", "b=1\n", 0600, false}};
  b.restart_policy = "never";
  b.stop_grace_s = 30;
  b.isolation = "dedicated";
  b.priority = 7;
  b.max_unavailable = 2;
  r.Update("web", b);
  WorkloadSpecInput c = b;
  c.image = "httpd:3";
  r.Update("web", c);
  CHECK(r.Numbers("web") == std::vector<int64_t>{1, 2, 3});

  auto undo = r.Undo("web", 1);
  REQUIRE_MESSAGE(undo.ok(), undo.status().ToString());
  CHECK(undo->rolled_back_to == 1);
  const store::Workload now = r.Get("web");
  CHECK_FALSE(store::TemplateDiffers(first, now));
  CHECK(now.image == "httpd:1");
  CHECK(now.command == first.command);
  CHECK(now.env == first.env);
  CHECK(now.files == first.files);
  CHECK(now.requests == first.requests);
  CHECK(now.isolation == store::Isolation::kShared);
  // What is not the template stays as the latest update left it.
  CHECK(now.replicas == 4);
  CHECK(now.priority == 7);
  CHECK(now.max_unavailable == 2);
  CHECK(now.target_group.str() == "web");
  CHECK(r.Numbers("web") == std::vector<int64_t>{1, 2, 3, 4});

  // The default now is revision 3 (httpd:3), the one undo replaced.
  auto back = r.Undo("web");
  REQUIRE(back.ok());
  CHECK(back->rolled_back_to == 3);
  CHECK(r.Get("web").image == "httpd:3");
  CHECK(r.Get("web").stop_grace_s == 30);
}

TEST_CASE("rollout undo restores a health check, which is template too") {
  Rollouts r;
  r.Create("web", Rollouts::Spec("httpd:1", 1));
  // Commands have no health-check input here yet: the store writes one.
  REQUIRE(r.store
              ->Write([&](store::WriteTx& tx) -> absl::Status {
                NEST_ASSIGN_OR_RETURN(
                    store::Workload w,
                    tx.GetWorkload(TenantId("default"), WorkloadId("web")));
                w.health_check.kind = "tcp";
                w.health_check.port = 80;
                return tx.UpdateWorkload(w, 0).status();
              })
              .ok());
  CHECK(r.Numbers("web") == std::vector<int64_t>{1, 2});
  auto h = r.ops->ListRevisions("web");
  REQUIRE(h.ok());
  CHECK(h->revisions[1].summary == "image httpd:1, tcp check, 100m/32Mi");
  REQUIRE(r.Undo("web").ok());
  CHECK(r.Get("web").health_check.kind.empty());
  REQUIRE(r.Undo("web").ok());
  CHECK(r.Get("web").health_check.kind == "tcp");
  CHECK(r.Get("web").health_check.port == 80);
}

TEST_CASE("rollout undo errors: unknown workload, no history, bad revision") {
  Rollouts r;
  CHECK(absl::IsNotFound(r.Undo("nope").status()));
  CHECK(absl::IsNotFound(r.ops->ListRevisions("nope").status()));

  r.Create("web", Rollouts::Spec("httpd:1", 1));
  auto alone = r.ops->ListRevisions("web");
  REQUIRE(alone.ok());
  CHECK(alone->current_revision == 1);
  REQUIRE(alone->revisions.size() == 1);
  CHECK(alone->revisions[0].workload.image == "httpd:1");

  auto none = r.Undo("web");
  REQUIRE(absl::IsFailedPrecondition(none.status()));
  CHECK(absl::StartsWith(none.status().message(),
                         "workload web has no earlier revision"));
  // Scaling keeps no revision either.
  REQUIRE(r.ops->ScaleWorkload({}, "web", 2, NoEncode<WorkloadView>).ok());
  CHECK(absl::IsFailedPrecondition(r.Undo("web").status()));

  r.Update("web", Rollouts::Spec("httpd:2", 2));
  r.Update("web", Rollouts::Spec("httpd:3", 2));
  auto unknown = r.Undo("web", 7);
  REQUIRE(absl::IsInvalidArgument(unknown.status()));
  auto fields = GetFieldViolations(unknown.status());
  REQUIRE(fields.size() == 1);
  CHECK(fields[0].field == "to_revision");
  CHECK(fields[0].description ==
        "workload web has no revision 7; kept revisions: 1, 2 (current 3; "
        "see nestctl rollout history web)");
  auto negative = r.Undo("web", -1);
  REQUIRE(absl::IsInvalidArgument(negative.status()));
  CHECK(GetFieldViolations(negative.status())[0].field == "to_revision");
  CHECK(r.Get("web").image == "httpd:3");  // nothing changed

  // The current revision (or one with the same template) is a no-op.
  const int64_t gen = r.Get("web").meta.generation;
  auto same = r.Undo("web", 3);
  REQUIRE_MESSAGE(same.ok(), same.status().ToString());
  CHECK(same->unchanged);
  CHECK(same->rolled_back_to == 3);
  CHECK(r.Get("web").meta.generation == gen);
  CHECK(r.Numbers("web") == std::vector<int64_t>{1, 2, 3});

  // A stale generation guard refuses like UpdateWorkload's.
  WriteMeta stale;
  stale.expected_generation = gen - 1;
  CHECK(absl::IsFailedPrecondition(r.Undo("web", 0, stale).status()));
  CHECK(r.Get("web").image == "httpd:3");
}

TEST_CASE("rollout history and undo are scoped to the caller's tenant") {
  Rollouts r;
  r.Create("web", Rollouts::Spec("httpd:1", 1));
  r.Update("web", Rollouts::Spec("httpd:2", 1));
  CHECK(absl::IsNotFound(r.acme->ListRevisions("web").status()));
  auto theirs = r.acme->RollbackWorkload({}, "web", 0, NoEncode<RollbackView>);
  CHECK(absl::IsNotFound(theirs.status()));
  CHECK(r.Get("web").image == "httpd:2");
}

TEST_CASE("rollout history never shows secrets; undo restores their values") {
  Rollouts r;
  WorkloadSpecInput a = Rollouts::Spec("httpd:1", 1);
  a.secret_env = {{"TOKEN", "first-secret"}};
  a.files = {{"/run/key", "first-key", 0400, true}};
  r.Create("web", a);
  WorkloadSpecInput b = a;
  b.image = "httpd:2";
  b.secret_env = {{"TOKEN", "second-secret"}};
  b.files = {{"/run/key", "second-key", 0400, true}};
  r.Update("web", b);

  auto h = r.ops->ListRevisions("web");
  REQUIRE(h.ok());
  REQUIRE(h->revisions.size() == 2);
  for (const RevisionView& v : h->revisions) {
    REQUIRE(v.workload.env.size() == 1);
    CHECK(v.workload.env[0].secret);
    CHECK(v.workload.env[0].value == kSecretShown);
    REQUIRE(v.workload.files.size() == 1);
    CHECK(v.workload.files[0].content == kSecretShown);
  }
  CHECK(h->revisions[0].summary == "image httpd:1, 1 env, 1 file, 100m/32Mi");

  // The stored values come back, not the placeholder reads show.
  REQUIRE(r.Undo("web").ok());
  store::Workload now = r.Get("web");
  REQUIRE(now.env.size() == 1);
  CHECK(now.env[0].value == "first-secret");
  REQUIRE(now.files.size() == 1);
  CHECK(now.files[0].content == "first-key");
}

TEST_CASE("rollout undo is checked like an update: image, host ports") {
  Rollouts r;
  WorkloadSpecInput a = Rollouts::Spec("httpd:1", 1);
  a.ports = {{"http", 80, 8080, "tcp"}};
  r.Create("web", a);
  r.Update("web", Rollouts::Spec("httpd:2", 1));
  // Another workload takes the host port revision 1 published.
  WorkloadSpecInput other = Rollouts::Spec("httpd:2", 1);
  other.ports = {{"http", 80, 8080, "tcp"}};
  r.Create("other", other);
  auto taken = r.Undo("web");
  REQUIRE(absl::IsInvalidArgument(taken.status()));
  CHECK(GetFieldViolations(taken.status())[0].field ==
        "spec.ports[0].host_port");
  CHECK(r.Get("web").image == "httpd:2");

  // Revision 1's image was deleted since (no workload used it).
  REQUIRE(r.ops->DeleteWorkload({}, "other").ok());
  REQUIRE(r.ops->DeleteImage({}, "httpd:1").ok());
  auto gone = r.Undo("web");
  REQUIRE(absl::IsInvalidArgument(gone.status()));
  CHECK(GetFieldViolations(gone.status())[0].field == "spec.image");
  CHECK(r.Get("web").image == "httpd:2");
}

TEST_CASE("rollout undo with a request_id is done once") {
  Rollouts r;
  r.Create("web", Rollouts::Spec("httpd:1", 1));
  r.Update("web", Rollouts::Spec("httpd:2", 1));
  WriteMeta m;
  m.request_id = "undo-1";
  m.request_hash = "hash-of-the-undo";
  auto first = r.ops->RollbackWorkload(m, "web", 0, NoEncode<RollbackView>);
  REQUIRE(first.ok());
  CHECK_FALSE(first->replayed);
  auto retry = r.ops->RollbackWorkload(m, "web", 0, NoEncode<RollbackView>);
  REQUIRE(retry.ok());
  CHECK(retry->replayed);
  CHECK(r.Get("web").image == "httpd:1");  // not flipped back
}

}  // namespace
}  // namespace nest::control
