// Files given to a workload's containers, through the API: a secret file's
// content is write-only, so no response and no event ever carries it.
#include "tests/api/api_world.h"

namespace nest::api::testing {
namespace {

constexpr char kSecret[] = "hunter2-file-secret";
constexpr char kNewSecret[] = "correct-horse-file";

v1::WorkloadSpec FileSpec() {
  v1::WorkloadSpec spec = WorkSpec();
  auto* plain = spec.add_files();
  plain->set_path("/etc/app.conf");
  plain->set_content("mode=prod\n");
  auto* secret = spec.add_files();
  secret->set_path("/run/secrets/db");
  secret->set_content(kSecret);
  secret->set_mode(0400);
  secret->set_secret(true);
  return spec;
}

// Every byte the client saw, for searching.
std::string Bytes(const google::protobuf::Message& m) {
  std::string out;
  REQUIRE(m.SerializeToString(&out));
  return out;
}

bool Leaks(const std::string& seen) {
  return seen.find(kSecret) != std::string::npos ||
         seen.find(kNewSecret) != std::string::npos;
}

TEST_CASE("a secret file's content never leaves the API") {
  World w;
  REQUIRE(w.CreateHost("h1").ok());
  REQUIRE(w.CreateGroup("web", GroupSpec()).ok());
  v1::Workload created;
  REQUIRE(w.CreateWorkload("app", FileSpec(), &created).ok());
  CHECK_FALSE(Leaks(Bytes(created)));
  w.f.Converge();

  v1::Workload got = w.GetWorkload("app");
  REQUIRE(got.spec().files_size() == 2);
  CHECK(got.spec().files(0).content() == "mode=prod\n");
  CHECK(got.spec().files(0).mode() == 0444);
  CHECK(got.spec().files(1).content() == "<secret>");
  CHECK(got.spec().files(1).mode() == 0400);
  CHECK(got.spec().files(1).secret());
  CHECK_FALSE(Leaks(Bytes(got)));

  Ctx list_ctx;
  v1::ListWorkloadsRequest lreq;
  v1::ListWorkloadsResponse list;
  REQUIRE(w.c.workloads->ListWorkloads(&list_ctx, lreq, &list).ok());
  REQUIRE(list.workloads_size() == 1);
  CHECK_FALSE(Leaks(Bytes(list)));

  auto apply = [&](const v1::WorkloadSpec& s, bool dry_run) {
    Ctx ctx;
    v1::ApplyRequest req;
    req.set_dry_run(dry_run);
    auto* o = req.add_objects();
    o->mutable_workload()->set_name("app");
    *o->mutable_workload()->mutable_spec() = s;
    v1::ApplyResponse resp;
    grpc::Status st = w.c.workloads->Apply(&ctx, req, &resp);
    REQUIRE_MESSAGE(st.ok(), st.error_message());
    REQUIRE(resp.changes_size() == 1);
    CHECK_FALSE(Leaks(Bytes(resp)));
    return resp.changes(0);
  };
  // What a read returns, applied back: unchanged, the content kept.
  CHECK(apply(got.spec(), false).action() == v1::APPLY_ACTION_UNCHANGED);
  // A new content is a change whose diff does not show it, dry or not.
  v1::WorkloadSpec changed = got.spec();
  changed.mutable_files(1)->set_content(kNewSecret);
  for (bool dry : {true, false}) {
    v1::ApplyChange ch = apply(changed, dry);
    CHECK(ch.action() == v1::APPLY_ACTION_UPDATE);
    std::string diff;
    for (const auto& d : ch.diff()) diff += d + "\n";
    CHECK(diff == "files[/run/secrets/db].content: changed\n");
  }
  w.f.Converge();

  Ctx ctx;
  v1::ListEventsRequest ereq;
  ereq.set_limit(10000);
  v1::ListEventsResponse events;
  REQUIRE(w.c.events->ListEvents(&ctx, ereq, &events).ok());
  CHECK(events.events_size() > 0);
  CHECK_FALSE(Leaks(Bytes(events)));
  CHECK_FALSE(Leaks(Bytes(w.GetWorkload("app"))));

  // The store holds the new content: the agent gets it from there.
  auto stored = w.f.store->Read([](store::ReadTx& tx) -> absl::Status {
    NEST_ASSIGN_OR_RETURN(
        auto wl, tx.GetWorkload(TenantId("default"), WorkloadId("app")));
    for (const auto& f : wl.files) {
      if (f.path == "/run/secrets/db" && f.secret && f.content == kNewSecret) {
        return absl::OkStatus();
      }
    }
    return absl::NotFoundError("secret file not stored");
  });
  CHECK(stored.ok());
}

TEST_CASE("bad files are refused, each naming its field") {
  World w;
  REQUIRE(w.CreateHost("h1").ok());
  REQUIRE(w.CreateGroup("web", GroupSpec()).ok());
  // "<secret>" with no stored content to keep.
  v1::WorkloadSpec fresh = WorkSpec();
  auto* f = fresh.add_files();
  f->set_path("/run/secrets/token");
  f->set_content("<secret>");
  f->set_secret(true);
  grpc::Status s = w.CreateWorkload("fresh", fresh);
  CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(Fields(s) == std::set<std::string>{"spec.files[0].content"});

  v1::WorkloadSpec bad = WorkSpec();
  for (const char* path : {"/etc/ok", "/proc/self/environ", "/etc/ok"}) {
    auto* b = bad.add_files();
    b->set_path(path);
    b->set_content(kSecret);
    b->set_secret(true);
  }
  bad.mutable_files(0)->set_mode(01000);
  s = w.CreateWorkload("bad", bad);
  CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(Fields(s) == std::set<std::string>{"spec.files[0].mode",
                                           "spec.files[1].path",
                                           "spec.files[2].path"});
  CHECK_FALSE(Leaks(s.error_message() + s.error_details()));

  // Updating in place runs the same checks, and a placeholder for a secret
  // file the workload does not have is refused there too.
  REQUIRE(w.CreateWorkload("app", FileSpec()).ok());
  v1::WorkloadSpec next = w.GetWorkload("app").spec();
  next.mutable_files(1)->set_path("/run/secrets/other");
  Ctx ctx;
  v1::UpdateWorkloadRequest req;
  req.set_name("app");
  *req.mutable_spec() = next;
  v1::UpdateWorkloadResponse resp;
  s = w.c.workloads->UpdateWorkload(&ctx, req, &resp);
  CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(Fields(s) == std::set<std::string>{"spec.files[1].content"});
}

}  // namespace
}  // namespace nest::api::testing
