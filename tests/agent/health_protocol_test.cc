// Health checks on the wire: proto <-> types both ways, the defaults of
// zero fields, and validation naming the field.
#include "absl/strings/match.h"
#include "agent/convert.h"
#include "agent/validation.h"
#include "doctest/doctest.h"
#include "nest/agent/v1/agent.pb.h"
#include "test_util.h"

namespace nest::agent {
namespace {

HealthCheck Http() {
  HealthCheck c;
  c.kind = HealthCheck::Kind::kHttp;
  c.port = 8080;
  c.path = "/healthz?full=1";
  c.initial_delay = absl::Milliseconds(1500);
  c.period = absl::Seconds(10);
  c.timeout = absl::Milliseconds(750);
  c.failure_threshold = 5;
  c.success_threshold = 2;
  return c;
}

TEST_CASE("a health check round-trips through CreateContainerRequest") {
  for (HealthCheck c : {Http(), HealthCheck{}}) {
    ContainerSpec spec = testing::Spec("web", {"httpd"});
    spec.health_check = c;
    v1::CreateContainerRequest req;
    ToProto(spec, &req);
    CHECK(req.has_health_check() == (c.kind != HealthCheck::Kind::kNone));
    CHECK(FromProto(req).health_check == c);
  }
  HealthCheck exec;
  exec.kind = HealthCheck::Kind::kExec;
  exec.exec = {"sh", "-c", "test -f /tmp/ready"};
  v1::HealthCheck p;
  ToProto(exec, &p);
  CHECK(p.kind() == v1::HEALTH_CHECK_KIND_EXEC);
  CHECK(p.period_ms() == 5000);
  CHECK(FromProto(p) == exec);
  exec.kind = HealthCheck::Kind::kTcp;
  exec.exec.clear();
  exec.port = 5432;
  v1::HealthCheck tcp;
  ToProto(exec, &tcp);
  CHECK(tcp.kind() == v1::HEALTH_CHECK_KIND_TCP);
  CHECK(FromProto(tcp) == exec);
}

TEST_CASE("zero fields of a HealthCheck take the defaults") {
  v1::HealthCheck p;
  p.set_kind(v1::HEALTH_CHECK_KIND_TCP);
  p.set_port(80);
  HealthCheck c = FromProto(p);
  HealthCheck want;
  want.kind = HealthCheck::Kind::kTcp;
  want.port = 80;
  CHECK(c == want);
  CHECK(c.period == absl::Seconds(5));
  CHECK(c.timeout == absl::Seconds(2));
  CHECK(c.failure_threshold == 3);
  CHECK(c.success_threshold == 1);
  CHECK(c.path == "/");
  // A kind this agent does not know is refused, not ignored.
  p.set_kind(static_cast<v1::HealthCheckKind>(9));
  absl::Status s = ValidateHealthCheck(FromProto(p));
  CHECK(s.message() == "health_check.kind must be exec, tcp or http, got 9");
}

TEST_CASE("ContainerInfo health and the health event round-trip") {
  for (Health h : {Health::kNone, Health::kStarting, Health::kHealthy,
                   Health::kUnhealthy}) {
    ContainerInfo in;
    in.id = "web";
    in.state = ContainerState::kRunning;
    in.health = h;
    in.health_message = h == Health::kUnhealthy ? "exit 1: no" : "";
    v1::ContainerInfo p;
    ToProto(in, &p);
    ContainerInfo out = FromProto(p);
    CHECK(out.health == h);
    CHECK(out.health_message == in.health_message);
  }
  CHECK(std::string(HealthName(Health::kNone)) == "none");
  CHECK(std::string(HealthName(Health::kStarting)) == "starting");
  CHECK(std::string(HealthName(Health::kHealthy)) == "healthy");
  CHECK(std::string(HealthName(Health::kUnhealthy)) == "unhealthy");
  CHECK(HealthEventMessage(Health::kHealthy, "ignored") == "healthy");
  CHECK(HealthEventMessage(Health::kUnhealthy, "exit 1") ==
        "unhealthy: exit 1");

  AgentEvent e{AgentEventKind::kContainerHealth,
               "web",
               0,
               absl::FromUnixMillis(1700000000123),
               "unhealthy: exit 1",
               std::nullopt};
  v1::Event p;
  ToProto(e, &p);
  CHECK(p.kind() == v1::EVENT_KIND_CONTAINER_HEALTH);
  AgentEvent back = FromProto(p);
  CHECK(back.kind == AgentEventKind::kContainerHealth);
  CHECK(back.container_id == "web");
  CHECK(back.message == "unhealthy: exit 1");
  CHECK(back.time == e.time);
  CHECK(std::string(AgentEventKindName(back.kind)) == "container_health");
}

TEST_CASE("health check validation names the field and the rule") {
  auto error = [](auto mutate) {
    ContainerSpec spec = testing::Spec("web", {"httpd"});
    spec.health_check = Http();
    mutate(spec.health_check);
    absl::Status s = ValidateSpec(spec);
    CHECK(absl::IsInvalidArgument(s));
    return std::string(s.message());
  };
  CHECK(ValidateHealthCheck(Http()).ok());
  CHECK(ValidateHealthCheck(HealthCheck{}).ok());
  // Fields of other kinds do not matter.
  HealthCheck none;
  none.port = -1;
  CHECK(ValidateHealthCheck(none).ok());

  CHECK(error([](HealthCheck& c) {
          c.kind = HealthCheck::Kind::kExec;
          c.exec.clear();
        }) ==
        "health_check.exec must name the program to run when kind is exec, "
        "got none");
  CHECK(error([](HealthCheck& c) { c.port = 0; }) ==
        "health_check.port must be between 1 and 65535, got 0");
  CHECK(error([](HealthCheck& c) {
          c.kind = HealthCheck::Kind::kTcp;
          c.port = 65536;
        }) == "health_check.port must be between 1 and 65535, got 65536");
  CHECK(absl::StartsWith(error([](HealthCheck& c) { c.path = "healthz"; }),
                         "health_check.path must start with '/'"));
  CHECK(absl::StrContains(
      error([](HealthCheck& c) { c.path = "/a HTTP/1.1\r\nX: y"; }),
      "no spaces or control characters"));
  CHECK(error([](HealthCheck& c) { c.period = absl::ZeroDuration(); }) ==
        "health_check.period must be between 10ms and 1h, got 0");
  CHECK(error([](HealthCheck& c) { c.period = absl::Hours(2); }) ==
        "health_check.period must be between 10ms and 1h, got 2h");
  CHECK(error([](HealthCheck& c) { c.timeout = absl::ZeroDuration(); }) ==
        "health_check.timeout must be at least 1ms and at most the period "
        "(10s), got 0");
  CHECK(error([](HealthCheck& c) { c.timeout = absl::Seconds(11); }) ==
        "health_check.timeout must be at least 1ms and at most the period "
        "(10s), got 11s");
  CHECK(error([](HealthCheck& c) {
          c.initial_delay = absl::Milliseconds(-1);
        }) == "health_check.initial_delay must be between 0 and 1h, got -1ms");
  CHECK(error([](HealthCheck& c) { c.failure_threshold = 0; }) ==
        "health_check.failure_threshold must be between 1 and 1000, got 0");
  CHECK(error([](HealthCheck& c) { c.success_threshold = 1001; }) ==
        "health_check.success_threshold must be between 1 and 1000, got 1001");
}

}  // namespace
}  // namespace nest::agent
