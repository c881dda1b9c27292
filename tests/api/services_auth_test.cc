// Authentication and authorization of every RPC: tokens, roles, and
// tenants that never see, change or learn of each other's objects.
#include <map>
#include <random>

#include "nest/v1/quota.grpc.pb.h"
#include "tests/api/api_world.h"

namespace nest::api::testing {
namespace {

// A context carrying `secret` as its bearer token ("" for none).
struct As : Ctx {
  explicit As(const std::string& secret) {
    if (!secret.empty()) AddMetadata("authorization", "Bearer " + secret);
  }
};

struct AuthWorld {
  AuthWorld() : w(Options()) {
    operator_token = Token("default", "operator");
    Ctx ctx;
    v1::CreateHostRequest req;
    req.set_name("h1");
    req.set_uri("sim://h1");
    v1::CreateHostResponse resp;
    As op(operator_token);
    REQUIRE(w.c.hosts->CreateHost(&op, req, &resp).ok());
  }
  static ApiFixtureOptions Options() {
    ApiFixtureOptions o;
    o.auth = AuthMode::kTokens;
    return o;
  }
  // A token made directly through Commands (the bootstrap path).
  std::string Token(const std::string& tenant, const std::string& role) {
    auto t = w.f.commands->CreateToken("", tenant, role, "test");
    REQUIRE(t.ok());
    return t->secret;
  }
  grpc::Status CreateGroup(const std::string& secret, const std::string& name) {
    As ctx(secret);
    v1::CreateVmGroupRequest req;
    req.set_name(name);
    *req.mutable_spec() = GroupSpec();
    v1::CreateVmGroupResponse resp;
    return w.c.groups->CreateVmGroup(&ctx, req, &resp);
  }
  grpc::Status CreateWorkload(const std::string& secret,
                              const std::string& name, const std::string& group,
                              int replicas) {
    As ctx(secret);
    v1::CreateWorkloadRequest req;
    req.set_name(name);
    *req.mutable_spec() = WorkSpec(group, replicas);
    v1::CreateWorkloadResponse resp;
    return w.c.workloads->CreateWorkload(&ctx, req, &resp);
  }
  grpc::Status GetWorkload(const std::string& secret, const std::string& name) {
    As ctx(secret);
    v1::GetWorkloadRequest req;
    req.set_name(name);
    v1::GetWorkloadResponse resp;
    return w.c.workloads->GetWorkload(&ctx, req, &resp);
  }
  World w;
  std::string operator_token;
};

TEST_CASE("no, malformed, unknown and revoked tokens are UNAUTHENTICATED") {
  AuthWorld a;
  std::string admin = a.Token("acme", "tenant-admin");
  REQUIRE(a.CreateGroup(admin, "web").ok());
  for (const std::string& bad : {std::string(), std::string("nest_0000"),
                                 std::string("garbage"), admin + "x"}) {
    auto s = a.GetWorkload(bad, "anything");
    CHECK_MESSAGE(s.error_code() == grpc::StatusCode::UNAUTHENTICATED, bad);
  }
  // Not "Bearer": refused the same way.
  Ctx ctx;
  ctx.AddMetadata("authorization", "Basic " + admin);
  v1::ListWorkloadsRequest req;
  v1::ListWorkloadsResponse resp;
  CHECK(a.w.c.workloads->ListWorkloads(&ctx, req, &resp).error_code() ==
        grpc::StatusCode::UNAUTHENTICATED);

  // Revoked through the API by an operator: refused from then on.
  v1::ListTokensRequest lreq;
  v1::ListTokensResponse lresp;
  auto tokens = v1::TokenService::NewStub(a.w.c.ch);
  {
    As op(a.operator_token);
    REQUIRE(tokens->ListTokens(&op, lreq, &lresp).ok());
  }
  std::string id;
  for (const auto& t : lresp.tokens()) {
    CHECK(t.ByteSizeLong() > 0);
    if (t.tenant() == "acme") id = t.id();
  }
  REQUIRE(!id.empty());
  {
    As op(a.operator_token);
    v1::RevokeTokenRequest r;
    r.set_id(id);
    v1::RevokeTokenResponse rr;
    REQUIRE(tokens->RevokeToken(&op, r, &rr).ok());
    CHECK(rr.token().has_revoke_time());
  }
  CHECK(a.CreateGroup(admin, "web2").error_code() ==
        grpc::StatusCode::UNAUTHENTICATED);
}

TEST_CASE(
    "roles: readers read, admins write their tenant, operators run "
    "the cluster") {
  AuthWorld a;
  std::string admin = a.Token("acme", "tenant-admin");
  std::string reader = a.Token("acme", "tenant-reader");
  REQUIRE(a.CreateGroup(admin, "web").ok());
  REQUIRE(a.CreateWorkload(admin, "hello", "web", 1).ok());
  CHECK(a.GetWorkload(reader, "hello").ok());
  auto denied = a.CreateWorkload(reader, "more", "web", 1);
  CHECK(denied.error_code() == grpc::StatusCode::PERMISSION_DENIED);
  CHECK(denied.error_message().find("tenant-reader") != std::string::npos);
  // Hosts and tokens are the operator's.
  for (const std::string& who : {admin, reader}) {
    As ctx(who);
    v1::ListHostsRequest req;
    v1::ListHostsResponse resp;
    CHECK(a.w.c.hosts->ListHosts(&ctx, req, &resp).error_code() ==
          grpc::StatusCode::PERMISSION_DENIED);
    As ctx2(who);
    auto tokens = v1::TokenService::NewStub(a.w.c.ch);
    v1::CreateTokenRequest treq;
    treq.set_tenant("acme");
    treq.set_role("operator");
    v1::CreateTokenResponse tresp;
    CHECK(tokens->CreateToken(&ctx2, treq, &tresp).error_code() ==
          grpc::StatusCode::PERMISSION_DENIED);
  }
  As op(a.operator_token);
  v1::ListHostsRequest req;
  v1::ListHostsResponse resp;
  REQUIRE(a.w.c.hosts->ListHosts(&op, req, &resp).ok());
  CHECK(resp.hosts_size() == 1);
  // A token the operator creates works at once; bad roles are named.
  auto tokens = v1::TokenService::NewStub(a.w.c.ch);
  As op2(a.operator_token);
  v1::CreateTokenRequest treq;
  treq.set_tenant("beta");
  treq.set_role("tenant-admin");
  v1::CreateTokenResponse tresp;
  REQUIRE(tokens->CreateToken(&op2, treq, &tresp).ok());
  CHECK(tresp.secret().rfind("nest_", 0) == 0);
  CHECK(a.CreateGroup(tresp.secret(), "web").ok());
  As op3(a.operator_token);
  treq.set_role("root");
  grpc::Status bad = tokens->CreateToken(&op3, treq, &tresp);
  CHECK(bad.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(Fields(bad).count("role") == 1);
}

TEST_CASE("another tenant's objects are NOT_FOUND, never forbidden") {
  AuthWorld a;
  std::string acme = a.Token("acme", "tenant-admin");
  std::string beta = a.Token("beta", "tenant-admin");
  REQUIRE(a.CreateGroup(acme, "web").ok());
  REQUIRE(a.CreateWorkload(acme, "secret-app", "web", 1).ok());
  auto s = a.GetWorkload(beta, "secret-app");
  CHECK(s.error_code() == grpc::StatusCode::NOT_FOUND);
  // Same name, other tenant: a separate object.
  REQUIRE(a.CreateGroup(beta, "web").ok());
  REQUIRE(a.CreateWorkload(beta, "secret-app", "web", 2).ok());
  As ctx(acme);
  v1::GetWorkloadRequest req;
  req.set_name("secret-app");
  v1::GetWorkloadResponse resp;
  REQUIRE(a.w.c.workloads->GetWorkload(&ctx, req, &resp).ok());
  CHECK(resp.workload().spec().replicas() == 1);
  CHECK(resp.workload().meta().tenant() == "acme");
  // Deleting another tenant's object: NOT_FOUND, and it survives.
  As del_ctx(beta);
  v1::DeleteWorkloadRequest dreq;
  dreq.set_name("secret-app");
  v1::DeleteWorkloadResponse dresp;
  REQUIRE(a.w.c.workloads->DeleteWorkload(&del_ctx, dreq, &dresp).ok());
  CHECK(a.GetWorkload(acme, "secret-app").ok());
}

TEST_CASE("property: lists and Watch never leak another tenant's objects") {
  AuthWorld a;
  const std::vector<std::string> tenants = {"acme", "beta", "gamma"};
  std::map<std::string, std::string> admin;
  for (const auto& t : tenants) admin[t] = a.Token(t, "tenant-admin");
  std::mt19937 rng(7);
  std::map<std::string, int> workloads;
  for (int i = 0; i < 24; ++i) {
    const std::string& t = tenants[rng() % tenants.size()];
    if (workloads[t] == 0) REQUIRE(a.CreateGroup(admin[t], "web").ok());
    REQUIRE(a.CreateWorkload(admin[t], "w" + std::to_string(i), "web",
                             1 + static_cast<int>(rng() % 2))
                .ok());
    ++workloads[t];
  }
  a.w.f.Converge();
  for (const auto& t : tenants) {
    const std::string& tok = admin[t];
    {
      As ctx(tok);
      v1::ListWorkloadsRequest req;
      v1::ListWorkloadsResponse resp;
      REQUIRE(a.w.c.workloads->ListWorkloads(&ctx, req, &resp).ok());
      CHECK(resp.workloads_size() == workloads[t]);
      for (const auto& w : resp.workloads()) CHECK(w.meta().tenant() == t);
    }
    {
      As ctx(tok);
      v1::ListContainersRequest req;
      v1::ListContainersResponse resp;
      REQUIRE(a.w.c.containers->ListContainers(&ctx, req, &resp).ok());
      for (const auto& c : resp.containers()) CHECK(c.meta().tenant() == t);
    }
    {
      As ctx(tok);
      v1::ListVmsRequest req;
      v1::ListVmsResponse resp;
      REQUIRE(a.w.c.vms->ListVms(&ctx, req, &resp).ok());
      for (const auto& v : resp.vms()) CHECK(v.meta().tenant() == t);
    }
    {
      As ctx(tok);
      v1::ListEventsRequest req;
      req.set_limit(10000);
      v1::ListEventsResponse resp;
      REQUIRE(a.w.c.events->ListEvents(&ctx, req, &resp).ok());
      CHECK(resp.events_size() > 0);
      for (const auto& e : resp.events()) CHECK(e.tenant() == t);
    }
    {
      // Watch from the oldest event: everything delivered is the tenant's.
      As ctx(tok);
      v1::WatchEventsRequest req;
      req.set_from_oldest(true);
      auto reader = a.w.c.events->Watch(&ctx, req);
      v1::Event e;
      int seen = 0;
      while (seen < 5 && reader->Read(&e)) {
        CHECK(e.tenant() == t);
        ++seen;
      }
      CHECK(seen == 5);
      ctx.TryCancel();
      reader->Finish();
    }
  }
  // The operator sees every tenant's events.
  As op(a.operator_token);
  v1::ListEventsRequest req;
  req.set_limit(10000);
  v1::ListEventsResponse resp;
  REQUIRE(a.w.c.events->ListEvents(&op, req, &resp).ok());
  std::set<std::string> seen;
  for (const auto& e : resp.events()) seen.insert(e.tenant());
  for (const auto& t : tenants) CHECK(seen.count(t) == 1);
}

TEST_CASE("every mutation's event names the token that made it") {
  AuthWorld a;
  auto t = a.w.f.commands->CreateToken("", "acme", "tenant-admin", "audit");
  REQUIRE(t.ok());
  As ctx(t->secret);
  v1::CreateVmGroupRequest req;
  req.set_name("web");
  *req.mutable_spec() = GroupSpec();
  req.mutable_options()->set_request_id("req-42");
  v1::CreateVmGroupResponse resp;
  REQUIRE(a.w.c.groups->CreateVmGroup(&ctx, req, &resp).ok());
  store::EventQuery q;
  q.tenant = TenantId("acme");
  auto events = a.w.f.store->EventsSince(q);
  REQUIRE(events.ok());
  bool found = false;
  for (const auto& e : *events) {
    if (e.kind != "vm_group" && e.kind != "group") continue;
    found = true;
    CHECK(e.actor == t->token.id);
    CHECK(e.request_id == "req-42");
  }
  CHECK(found);
}

TEST_CASE("secret env values are write-only") {
  World w;
  REQUIRE(w.CreateHost("h1").ok());
  REQUIRE(w.CreateGroup("web", GroupSpec()).ok());
  v1::WorkloadSpec spec = WorkSpec();
  (*spec.mutable_env())["MODE"] = "prod";
  (*spec.mutable_secret_env())["DB_PASSWORD"] = "hunter2-very-secret";
  REQUIRE(w.CreateWorkload("app", spec).ok());
  v1::Workload got = w.GetWorkload("app");
  CHECK(got.spec().env().at("MODE") == "prod");
  CHECK(got.spec().secret_env().at("DB_PASSWORD") == "<secret>");
  CHECK(got.spec().env().count("DB_PASSWORD") == 0);

  auto apply = [&](const v1::WorkloadSpec& s, v1::ApplyResponse* resp) {
    Ctx ctx;
    v1::ApplyRequest req;
    auto* o = req.add_objects();
    o->mutable_workload()->set_name("app");
    *o->mutable_workload()->mutable_spec() = s;
    return w.c.workloads->Apply(&ctx, req, resp);
  };
  // What a read returns, applied back: unchanged, the value kept.
  v1::ApplyResponse resp;
  REQUIRE(apply(got.spec(), &resp).ok());
  REQUIRE(resp.changes_size() == 1);
  CHECK(resp.changes(0).action() == v1::APPLY_ACTION_UNCHANGED);
  // A new value is a change whose diff does not show it.
  v1::WorkloadSpec changed = got.spec();
  (*changed.mutable_secret_env())["DB_PASSWORD"] = "correct-horse";
  REQUIRE(apply(changed, &resp).ok());
  CHECK(resp.changes(0).action() == v1::APPLY_ACTION_UPDATE);
  std::string diff;
  for (const auto& d : resp.changes(0).diff()) diff += d + "\n";
  CHECK(diff.find("secret_env.DB_PASSWORD: changed") != std::string::npos);

  // No event and no read anywhere carries either value.
  Ctx ctx;
  v1::ListEventsRequest req;
  req.set_limit(10000);
  v1::ListEventsResponse events;
  REQUIRE(w.c.events->ListEvents(&ctx, req, &events).ok());
  std::string all = events.DebugString() + w.GetWorkload("app").DebugString();
  CHECK(all.find("hunter2") == std::string::npos);
  CHECK(all.find("correct-horse") == std::string::npos);
  // The stored value is the new one (the agent gets it from there).
  auto stored = w.f.store->Read([](store::ReadTx& tx) -> absl::Status {
    NEST_ASSIGN_OR_RETURN(
        auto wl, tx.GetWorkload(TenantId("default"), WorkloadId("app")));
    for (const auto& e : wl.env) {
      if (e.name == "DB_PASSWORD" && e.secret && e.value == "correct-horse") {
        return absl::OkStatus();
      }
    }
    return absl::NotFoundError("secret not stored");
  });
  CHECK(stored.ok());

  // "<secret>" for a workload that has no stored value: refused.
  v1::WorkloadSpec fresh = WorkSpec();
  (*fresh.mutable_secret_env())["TOKEN"] = "<secret>";
  grpc::Status s = w.CreateWorkload("other", fresh);
  CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(Fields(s).count("spec.secret_env[\"TOKEN\"]") == 1);
  // The same name in env and secret_env: refused.
  v1::WorkloadSpec both = WorkSpec();
  (*both.mutable_env())["X"] = "1";
  (*both.mutable_secret_env())["X"] = "2";
  CHECK(w.CreateWorkload("both", both).error_code() ==
        grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_CASE(
    "quotas: operators set them, tenants read their own, admission says why") {
  AuthWorld a;
  std::string admin = a.Token("acme", "tenant-admin");
  std::string other = a.Token("beta", "tenant-admin");
  auto quotas = v1::QuotaService::NewStub(a.w.c.ch);
  v1::SetQuotaRequest set;
  set.set_tenant("acme");
  set.mutable_quota()->mutable_vms()->set_value(1);
  set.mutable_quota()->mutable_memory_mib()->set_value(4096);
  v1::SetQuotaResponse set_resp;
  {
    As ctx(admin);  // a tenant cannot raise its own quota
    CHECK(quotas->SetQuota(&ctx, set, &set_resp).error_code() ==
          grpc::StatusCode::PERMISSION_DENIED);
  }
  {
    As ctx(a.operator_token);
    REQUIRE(quotas->SetQuota(&ctx, set, &set_resp).ok());
    CHECK(set_resp.quota().quota().vms().value() == 1);
    CHECK_FALSE(set_resp.quota().quota().has_vcpus());  // unlimited
  }
  REQUIRE(a.CreateGroup(admin, "web").ok());  // min 1: the one VM allowed
  As ctx(admin);
  v1::CreateVmGroupRequest big;
  big.set_name("big");
  *big.mutable_spec() = GroupSpec(1, 3);
  v1::CreateVmGroupResponse big_resp;
  grpc::Status over = a.w.c.groups->CreateVmGroup(&ctx, big, &big_resp);
  CHECK(over.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);
  CHECK(over.error_message().find("vms: this change needs 2, allowed 1, in "
                                  "use 1") != std::string::npos);

  v1::GetQuotaRequest get;  // empty tenant: the caller's own
  v1::GetQuotaResponse got;
  {
    As own(admin);
    REQUIRE(quotas->GetQuota(&own, get, &got).ok());
    CHECK(got.quota().tenant() == "acme");
    CHECK(got.quota().used().vms() == 1);
    CHECK(got.quota().used().vcpus() == 1);
  }
  for (const char* foreign : {"acme", "default", "nobody"}) {
    As ctx2(other);  // beta learns nothing of other tenants
    get.set_tenant(foreign);
    CHECK_MESSAGE(quotas->GetQuota(&ctx2, get, &got).error_code() ==
                      grpc::StatusCode::NOT_FOUND,
                  foreign);
  }
  v1::ListQuotasRequest list;
  v1::ListQuotasResponse listed;
  {
    As ctx2(other);
    CHECK(quotas->ListQuotas(&ctx2, list, &listed).error_code() ==
          grpc::StatusCode::PERMISSION_DENIED);
  }
  As op(a.operator_token);
  REQUIRE(quotas->ListQuotas(&op, list, &listed).ok());
  bool seen = false;
  for (const auto& q : listed.quotas()) {
    if (q.tenant() == "acme") seen = q.quota().vms().value() == 1;
  }
  CHECK(seen);
}

}  // namespace
}  // namespace nest::api::testing
