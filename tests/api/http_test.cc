// nestd's HTTP port: /metrics in the exposition format, the bearer token,
// and the refusal to expose metrics off loopback without one.
#include <httplib.h>

#include <functional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "api/http_server.h"
#include "doctest/doctest.h"

namespace nest::api {
namespace {

struct Served {
  metrics::Registry registry;
  std::unique_ptr<HttpServer> server;

  explicit Served(
      std::function<absl::Status(absl::string_view)> authorize = nullptr) {
    auto g = registry.AddGauge("nest_test_gauge", "A test gauge.", {"vm"});
    REQUIRE(g.ok());
    (*g)->With({"web-1"}).Set(42);
    HttpOptions opts;
    opts.listen_address = "127.0.0.1:0";
    opts.registry = &registry;
    opts.authorize = std::move(authorize);
    auto s = StartHttpServer(opts);
    REQUIRE_MESSAGE(s.ok(), s.status().ToString());
    server = std::move(*s);
  }

  httplib::Result Get(const std::string& path, const std::string& auth = "") {
    httplib::Client cli("127.0.0.1", server->port());
    cli.set_connection_timeout(5);
    cli.set_read_timeout(5);
    httplib::Headers h;
    if (!auth.empty()) h.emplace("Authorization", auth);
    return cli.Get(path.c_str(), h);
  }
};

TEST_CASE("/metrics serves the registry in the text format") {
  Served s;
  auto r = s.Get("/metrics");
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(absl::StartsWith(r->get_header_value("Content-Type"),
                         "text/plain; version=0.0.4"));
  CHECK(absl::StrContains(r->body, "# TYPE nest_test_gauge gauge\n"));
  CHECK(absl::StrContains(r->body, "nest_test_gauge{vm=\"web-1\"} 42\n"));
  auto health = s.Get("/healthz");
  REQUIRE(health);
  CHECK(health->status == 200);
  auto missing = s.Get("/nope");
  REQUIRE(missing);
  CHECK(missing->status == 404);
}

TEST_CASE("with a token check, /metrics needs an admitted bearer token") {
  const std::string token = "s3cret-token-for-metrics";
  std::vector<std::string> asked;
  Served s([&](absl::string_view t) -> absl::Status {
    asked.emplace_back(t);
    if (t == token) return absl::OkStatus();
    if (t == "reader-token") return absl::PermissionDeniedError("a reader");
    return absl::UnauthenticatedError("unknown token");
  });
  auto none = s.Get("/metrics");
  REQUIRE(none);
  CHECK(none->status == 401);
  CHECK(none->get_header_value("WWW-Authenticate") == "Bearer");
  CHECK_FALSE(absl::StrContains(none->body, "nest_test_gauge"));
  auto wrong = s.Get("/metrics", "Bearer not-the-token-at-all");
  REQUIRE(wrong);
  CHECK(wrong->status == 401);
  auto reader = s.Get("/metrics", "Bearer reader-token");
  REQUIRE(reader);
  CHECK(reader->status == 403);
  CHECK(absl::StrContains(reader->body, "operator token"));
  auto basic = s.Get("/metrics", "Basic " + token);
  REQUIRE(basic);
  CHECK(basic->status == 401);
  auto good = s.Get("/metrics", "Bearer " + token);
  REQUIRE(good);
  CHECK(good->status == 200);
  CHECK(absl::StrContains(good->body, "nest_test_gauge{vm=\"web-1\"} 42"));
  // Only what followed "Bearer " was checked; "Basic" never reached it.
  CHECK(asked == std::vector<std::string>{"not-the-token-at-all",
                                          "reader-token", token});
}

TEST_CASE("addresses: loopback only without a token, and clear errors") {
  CHECK(IsLoopbackHost("127.0.0.1"));
  CHECK(IsLoopbackHost("127.1.2.3"));
  CHECK(IsLoopbackHost("::1"));
  CHECK(IsLoopbackHost("localhost"));
  CHECK_FALSE(IsLoopbackHost("0.0.0.0"));
  CHECK_FALSE(IsLoopbackHost("10.0.0.1"));
  CHECK_FALSE(IsLoopbackHost("1270.0.0.1"));

  HttpOptions opts;
  opts.listen_address = "0.0.0.0:0";
  auto open = StartHttpServer(opts);
  REQUIRE_FALSE(open.ok());
  CHECK(absl::IsInvalidArgument(open.status()));
  CHECK(absl::StrContains(open.status().message(), "operator token"));

  for (const char* bad : {"nope", "127.0.0.1:", "127.0.0.1:99999", ":80"}) {
    opts.listen_address = bad;
    auto s = StartHttpServer(opts);
    REQUIRE_FALSE(s.ok());
    CHECK(absl::IsInvalidArgument(s.status()));
    CHECK(absl::StrContains(s.status().message(), "HOST:PORT"));
  }
  opts.listen_address = "203.0.113.1:1";  // TEST-NET-3: not ours
  opts.authorize = [](absl::string_view) { return absl::OkStatus(); };
  auto unbindable = StartHttpServer(opts);
  REQUIRE_FALSE(unbindable.ok());
  CHECK(absl::IsUnavailable(unbindable.status()));
}

}  // namespace
}  // namespace nest::api
