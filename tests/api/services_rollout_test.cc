// WorkloadService's revisions: ListWorkloadRevisions and RollbackWorkload
// through a real gRPC server, with their errors, secrets and roles.
#include "tests/api/api_world.h"

namespace nest::api {
namespace {

using testing::ApiFixtureOptions;
using testing::Ctx;
using testing::Fields;
using testing::GroupSpec;
using testing::WorkSpec;
using testing::World;
namespace v1 = ::nest::v1;

void AddImage(World& w, const std::string& name) {
  w.f.images.Add(name, control::ImageBlob{"sha256:" + std::string(64, 'b'),
                                          "tar",
                                          {"/bin/echo"},
                                          {"hi"},
                                          {},
                                          "/"});
}

grpc::Status Update(World& w, const std::string& name,
                    const v1::WorkloadSpec& spec) {
  Ctx ctx;
  v1::UpdateWorkloadRequest req;
  req.set_name(name);
  *req.mutable_spec() = spec;
  v1::UpdateWorkloadResponse resp;
  return w.c.workloads->UpdateWorkload(&ctx, req, &resp);
}

grpc::Status History(World& w, const std::string& name,
                     v1::ListWorkloadRevisionsResponse* resp,
                     grpc::ClientContext* ctx = nullptr) {
  Ctx own;
  v1::ListWorkloadRevisionsRequest req;
  req.set_name(name);
  return w.c.workloads->ListWorkloadRevisions(ctx ? ctx : &own, req, resp);
}

grpc::Status Rollback(World& w, const std::string& name, int64_t to,
                      v1::RollbackWorkloadResponse* resp,
                      const std::string& request_id = "",
                      grpc::ClientContext* ctx = nullptr) {
  Ctx own;
  v1::RollbackWorkloadRequest req;
  req.set_name(name);
  req.set_to_revision(to);
  req.mutable_options()->set_request_id(request_id);
  return w.c.workloads->RollbackWorkload(ctx ? ctx : &own, req, resp);
}

TEST_CASE("revisions: history masks secrets, rollback flips the template") {
  World w;
  AddImage(w, "hello2");
  REQUIRE(w.CreateGroup("web", GroupSpec()).ok());
  v1::WorkloadSpec first = WorkSpec("web", 2, "hello");
  (*first.mutable_secret_env())["TOKEN"] = "one-secret";
  REQUIRE(w.CreateWorkload("app", first).ok());
  v1::WorkloadSpec second = WorkSpec("web", 2, "hello2");
  (*second.mutable_secret_env())["TOKEN"] = "two-secret";
  REQUIRE(Update(w, "app", second).ok());

  v1::ListWorkloadRevisionsResponse h;
  REQUIRE(History(w, "app", &h).ok());
  CHECK(h.current_revision() == 2);
  REQUIRE(h.revisions_size() == 2);
  CHECK(h.revisions(0).revision() == 1);
  CHECK(h.revisions(0).spec().image() == "hello");
  CHECK(h.revisions(0).spec().secret_env().at("TOKEN") == "<secret>");
  CHECK(h.revisions(0).has_replace_time());
  CHECK(h.revisions(0).summary() == "image hello, 1 env, 100m/32Mi");
  CHECK(h.revisions(1).revision() == 2);
  CHECK(h.revisions(1).spec().image() == "hello2");
  CHECK(h.revisions(1).spec().secret_env().at("TOKEN") == "<secret>");
  CHECK_FALSE(h.revisions(1).has_replace_time());
  CHECK(h.SerializeAsString().find("-secret") == std::string::npos);

  v1::RollbackWorkloadResponse r;
  REQUIRE(Rollback(w, "app", 0, &r, "undo-1").ok());
  CHECK(r.rolled_back_to() == 1);
  CHECK_FALSE(r.unchanged());
  CHECK(r.workload().spec().image() == "hello");
  CHECK(r.workload().spec().replicas() == 2);
  CHECK(r.workload().meta().generation() == 3);
  CHECK(r.workload().spec().secret_env().at("TOKEN") == "<secret>");
  // The same request again is replayed, not a second flip.
  v1::RollbackWorkloadResponse again;
  REQUIRE(Rollback(w, "app", 0, &again, "undo-1").ok());
  CHECK(again.SerializeAsString() == r.SerializeAsString());
  CHECK(w.GetWorkload("app").spec().image() == "hello");

  v1::RollbackWorkloadResponse flip;
  REQUIRE(Rollback(w, "app", 0, &flip).ok());
  CHECK(flip.rolled_back_to() == 2);
  CHECK(w.GetWorkload("app").spec().image() == "hello2");
  REQUIRE(History(w, "app", &h).ok());
  CHECK(h.current_revision() == 4);
}

TEST_CASE("revisions: NOT_FOUND, FAILED_PRECONDITION and to_revision") {
  World w;
  REQUIRE(w.CreateGroup("web", GroupSpec()).ok());
  v1::ListWorkloadRevisionsResponse h;
  CHECK(History(w, "nope", &h).error_code() == grpc::StatusCode::NOT_FOUND);
  v1::RollbackWorkloadResponse r;
  CHECK(Rollback(w, "nope", 0, &r).error_code() == grpc::StatusCode::NOT_FOUND);

  REQUIRE(w.CreateWorkload("app", WorkSpec()).ok());
  REQUIRE(History(w, "app", &h).ok());
  CHECK(h.current_revision() == 1);
  CHECK(h.revisions_size() == 1);
  grpc::Status none = Rollback(w, "app", 0, &r);
  CHECK(none.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
  CHECK(none.error_message().find("workload app has no earlier revision") == 0);

  REQUIRE(Update(w, "app", WorkSpec("web", 2, "hello")).ok());  // no change
  v1::WorkloadSpec cmd = WorkSpec();
  cmd.add_command("sleep");
  cmd.add_args("60");
  REQUIRE(Update(w, "app", cmd).ok());
  grpc::Status bad = Rollback(w, "app", 9, &r);
  CHECK(bad.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(Fields(bad) == std::set<std::string>{"to_revision"});
}

TEST_CASE("revisions: a reader lists, only a writer rolls back, per tenant") {
  ApiFixtureOptions o;
  o.auth = AuthMode::kTokens;
  World w(o);
  auto token = [&](const std::string& tenant, const std::string& role) {
    auto t = w.f.commands->CreateToken("", tenant, role, "test");
    REQUIRE(t.ok());
    return t->secret;
  };
  struct As : Ctx {
    explicit As(const std::string& secret) {
      AddMetadata("authorization", "Bearer " + secret);
    }
  };
  const std::string admin = token("acme", "tenant-admin");
  const std::string reader = token("acme", "tenant-reader");
  const std::string stranger = token("other", "tenant-admin");
  {
    As ctx(admin);
    v1::CreateVmGroupRequest req;
    req.set_name("web");
    *req.mutable_spec() = GroupSpec();
    v1::CreateVmGroupResponse resp;
    REQUIRE(w.c.groups->CreateVmGroup(&ctx, req, &resp).ok());
  }
  auto apply = [&](const v1::WorkloadSpec& spec) {
    As ctx(admin);
    v1::ApplyRequest req;
    auto* obj = req.add_objects()->mutable_workload();
    obj->set_name("app");
    *obj->mutable_spec() = spec;
    v1::ApplyResponse resp;
    REQUIRE(w.c.workloads->Apply(&ctx, req, &resp).ok());
  };
  apply(WorkSpec("web", 1));
  v1::WorkloadSpec with_args = WorkSpec("web", 1);
  with_args.add_args("x");
  apply(with_args);
  v1::ListWorkloadRevisionsResponse h;
  As read(reader);
  REQUIRE(History(w, "app", &h, &read).ok());
  CHECK(h.revisions_size() == 2);
  v1::RollbackWorkloadResponse r;
  As write(reader);
  CHECK(Rollback(w, "app", 0, &r, "", &write).error_code() ==
        grpc::StatusCode::PERMISSION_DENIED);
  As theirs(stranger);
  CHECK(History(w, "app", &h, &theirs).error_code() ==
        grpc::StatusCode::NOT_FOUND);
  As theirs_write(stranger);
  CHECK(Rollback(w, "app", 0, &r, "", &theirs_write).error_code() ==
        grpc::StatusCode::NOT_FOUND);
  As mine(admin);
  REQUIRE(Rollback(w, "app", 0, &r, "", &mine).ok());
  CHECK(r.workload().spec().args_size() == 0);
}

}  // namespace
}  // namespace nest::api
