// The dashboard's HTTP side over a simulated cluster: the embedded files,
// login and its session cookie, 401 without a token, and every JSON
// document scoped to the token's tenant (an operator also sees hosts).
#include <httplib.h>

#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>

#include "absl/strings/match.h"
#include "api/http_server.h"
#include "doctest/doctest.h"
#include "tests/api/api_fixture.h"

namespace nest::api::testing {
namespace {

using nlohmann::json;

template <typename V>
control::Encoder<V> NoEncoding() {
  return [](const V&) { return std::string(); };
}

struct DashWorld {
  DashWorld() : f(Options()) {
    op = Token("default", "operator");
    acme = Token("acme", "tenant-reader");
    globex = Token("globex", "tenant-admin");
    control::Commands root = f.commands->As(TenantId("default"), "t", true);
    REQUIRE(root.CreateHost({}, {"h1", "sim://h1", {}},
                            NoEncoding<control::HostView>())
                .ok());
    for (const char* tenant : {"acme", "globex"}) {
      control::Commands c = f.commands->As(TenantId(tenant), "t", false);
      REQUIRE(c.ImportImage({}, "hello", "/srv/hello.tar",
                            NoEncoding<control::ImageView>())
                  .ok());
      control::GroupSpecInput g;
      g.vcpus = 1;
      g.memory = "256Mi";
      g.min_vms = 1;
      g.max_vms = 2;
      REQUIRE(c.CreateGroup({}, std::string(tenant) + "-web", g,
                            NoEncoding<control::GroupView>())
                  .ok());
      control::WorkloadSpecInput w;
      w.image = "hello";
      w.cpu = "100m";
      w.memory = "32Mi";
      w.replicas = 2;
      w.group = std::string(tenant) + "-web";
      auto app = c.CreateWorkload({}, std::string(tenant) + "-app", w,
                                  NoEncoding<control::WorkloadView>());
      REQUIRE_MESSAGE(app.ok(), app.status().ToString());
      // Bigger than any VM of the group: stays pending, with a reason.
      w.memory = "4Gi";
      w.replicas = 1;
      REQUIRE(c.CreateWorkload({}, std::string(tenant) + "-huge", w,
                               NoEncoding<control::WorkloadView>())
                  .ok());
    }
    f.Converge();
    HttpOptions o;
    o.listen_address = "127.0.0.1:0";
    o.dashboard.commands = f.commands.get();
    o.dashboard.clock = &f.clock;
    auto s = StartHttpServer(o);
    REQUIRE_MESSAGE(s.ok(), s.status().ToString());
    http = std::move(*s);
  }
  ~DashWorld() { http->Shutdown(); }
  static ApiFixtureOptions Options() {
    ApiFixtureOptions o;
    o.auth = AuthMode::kTokens;
    return o;
  }
  std::string Token(const std::string& tenant, const std::string& role) {
    auto t = f.commands->CreateToken("", tenant, role, "test");
    REQUIRE(t.ok());
    return t->secret;
  }
  httplib::Client Client() {
    httplib::Client c("127.0.0.1", http->port());
    c.set_connection_timeout(5);
    c.set_read_timeout(5);
    return c;
  }
  httplib::Result Get(const std::string& path, const std::string& token) {
    httplib::Headers h;
    if (!token.empty()) h.emplace("Authorization", "Bearer " + token);
    return Client().Get(path.c_str(), h);
  }
  json GetJson(const std::string& path, const std::string& token) {
    auto r = Get(path, token);
    REQUIRE(r);
    REQUIRE_MESSAGE(r->status == 200, r->body);
    return json::parse(r->body);
  }

  ApiFixture f;
  std::unique_ptr<HttpServer> http;
  std::string op, acme, globex;
};

std::set<std::string> Tenants(const json& cluster) {
  std::set<std::string> out;
  for (const char* list : {"groups", "vms", "workloads", "containers"}) {
    for (const auto& o : cluster[list]) out.insert(o["tenant"]);
  }
  return out;
}

TEST_CASE("the embedded page and its scripts are served") {
  DashWorld w;
  for (const char* path :
       {"/", "/index.html", "/app.js", "/packing.js", "/app.css"}) {
    auto r = w.Get(path, "");
    REQUIRE(r);
    CHECK_MESSAGE(r->status == 200, path);
    CHECK(!r->body.empty());
  }
  auto index = w.Get("/", "");
  CHECK(absl::StrContains(index->body, "packing.js"));
  CHECK(absl::StartsWith(index->get_header_value("Content-Type"), "text/html"));
  CHECK(absl::StrContains(index->get_header_value("Content-Security-Policy"),
                          "default-src 'self'"));
  CHECK(w.Get("/nope.js", "")->status == 404);
}

TEST_CASE("every JSON endpoint answers 401 without a valid token") {
  DashWorld w;
  for (const char* path :
       {"/api/ui/me", "/api/ui/cluster", "/api/ui/workload?name=acme-app",
        "/api/ui/group?name=acme-web", "/api/ui/events"}) {
    auto none = w.Get(path, "");
    REQUIRE(none);
    CHECK_MESSAGE(none->status == 401, path);
    auto bad = w.Get(path, "nest_bogus");
    REQUIRE(bad);
    CHECK_MESSAGE(bad->status == 401, path);
  }
  httplib::Headers cookie{{"Cookie", "nest_session=deadbeef"}};
  CHECK(w.Client().Get("/api/ui/cluster", cookie)->status == 401);
}

TEST_CASE("an operator sees hosts and every tenant") {
  DashWorld w;
  json c = w.GetJson("/api/ui/cluster", w.op);
  CHECK(c["operator"] == true);
  REQUIRE(c["hosts"].size() == 1);
  CHECK(c["hosts"][0]["name"] == "h1");
  CHECK(c["hosts"][0]["cap"][1].get<int64_t>() > 0);
  CHECK(Tenants(c) == std::set<std::string>{"acme", "globex"});
  CHECK(c["vms"].size() == 2);
  int running = 0;
  for (const auto& x : c["containers"]) running += x["state"] == "running";
  CHECK(running == 4);
  // Any tenant's pages, by name.
  json app = w.GetJson("/api/ui/workload?tenant=acme&name=acme-app", w.op);
  CHECK(app["workload"]["tenant"] == "acme");
  json web = w.GetJson("/api/ui/group?tenant=globex&name=globex-web", w.op);
  CHECK(web["group"]["tenant"] == "globex");
}

TEST_CASE("a tenant sees only its own objects and no hosts") {
  DashWorld w;
  json c = w.GetJson("/api/ui/cluster", w.acme);
  CHECK(c["operator"] == false);
  CHECK(c["hosts"].empty());
  CHECK(Tenants(c) == std::set<std::string>{"acme"});
  CHECK(c["vms"].size() == 1);
  // Another tenant's workload and group do not exist for it, named or not.
  CHECK(w.Get("/api/ui/workload?name=globex-app", w.acme)->status == 404);
  CHECK(w.Get("/api/ui/group?name=globex-web", w.acme)->status == 404);
  CHECK(
      w.Get("/api/ui/workload?tenant=globex&name=globex-app", w.acme)->status ==
      404);
  CHECK(w.Get("/api/ui/group?tenant=globex&name=globex-web", w.acme)->status ==
        404);
  json mine = w.GetJson("/api/ui/workload?name=acme-app", w.acme);
  CHECK(mine["replicas"].size() == 2);
  for (const auto& r : mine["replicas"]) CHECK(r["tenant"] == "acme");
  for (const auto& e : mine["events"]) CHECK(e["tenant"] == "acme");
}

TEST_CASE("a pending workload comes with the scheduler's explanation") {
  DashWorld w;
  json huge = w.GetJson("/api/ui/workload?name=globex-huge", w.globex);
  CHECK(huge["workload"]["pending"] == 1);
  REQUIRE(huge["explain"].is_object());
  REQUIRE(!huge["explain"]["reasons"].empty());
  CHECK(!huge["explain"]["reasons"][0]["reason"].get<std::string>().empty());
  json fine = w.GetJson("/api/ui/workload?name=globex-app", w.globex);
  CHECK(fine["explain"].is_null());
}

TEST_CASE("the group page carries the sampled size history") {
  DashWorld w;
  json g = w.GetJson("/api/ui/group?name=acme-web", w.acme);
  CHECK(g["group"]["name"] == "acme-web");
  CHECK(g["vms"].size() == 1);
  // The sampler takes one sample at start.
  REQUIRE(!g["history"].empty());
  CHECK(g["history"].back()["vms"] == 1);
  CHECK(g["history"].back()["pending"] == 1);
}

TEST_CASE("login trades a token for an HttpOnly SameSite=Strict cookie") {
  DashWorld w;
  auto cli = w.Client();
  auto bad =
      cli.Post("/api/ui/login", R"({"token":"nest_nope"})", "application/json");
  REQUIRE(bad);
  CHECK(bad->status == 401);
  CHECK(bad->get_header_value("Set-Cookie").empty());
  CHECK(cli.Post("/api/ui/login", "nonsense", "application/json")->status ==
        400);
  json body = {{"token", w.acme}};
  auto ok = cli.Post("/api/ui/login", body.dump(), "application/json");
  REQUIRE(ok);
  REQUIRE(ok->status == 200);
  CHECK(json::parse(ok->body)["tenant"] == "acme");
  std::string set = ok->get_header_value("Set-Cookie");
  CHECK(absl::StrContains(set, "HttpOnly"));
  CHECK(absl::StrContains(set, "SameSite=Strict"));
  std::string cookie = set.substr(0, set.find(';'));
  httplib::Headers h{{"Cookie", cookie}};
  auto c = cli.Get("/api/ui/cluster", h);
  REQUIRE(c);
  REQUIRE(c->status == 200);
  CHECK(Tenants(json::parse(c->body)) == std::set<std::string>{"acme"});
  // Logging out ends the session.
  CHECK(cli.Post("/api/ui/logout", h, "", "application/json")->status == 200);
  CHECK(cli.Get("/api/ui/cluster", h)->status == 401);
}

TEST_CASE("the live stream sends the caller's events only") {
  DashWorld w;
  std::string got;
  httplib::Client cli("127.0.0.1", w.http->port());
  cli.set_read_timeout(10);
  // Resuming from before the changes, as a reconnecting browser does, so
  // the test does not race the stream's start.
  httplib::Headers h{
      {"Authorization", "Bearer " + w.acme},
      {"Last-Event-ID", std::to_string(w.f.commands->LastEventSeq())}};
  // Changes in both tenants; the stream is read until acme's arrives.
  std::thread writer([&] {
    for (const char* tenant : {"globex", "acme"}) {
      control::Commands c = w.f.commands->As(TenantId(tenant), "t", false);
      (void)c.ScaleWorkload({}, std::string(tenant) + "-app", 3,
                            NoEncoding<control::WorkloadView>());
    }
  });
  auto r = cli.Get("/api/ui/events", h, [&](const char* data, size_t n) {
    got.append(data, n);
    return !absl::StrContains(got, "acme-app");
  });
  writer.join();
  CHECK(absl::StrContains(got, "event: change"));
  CHECK(absl::StrContains(got, "\"name\":\"acme-app\""));
  CHECK(!absl::StrContains(got, "globex"));
}

}  // namespace
}  // namespace nest::api::testing
