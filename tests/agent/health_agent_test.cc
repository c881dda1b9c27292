// Health checks through the whole agent: AgentClient <-> AgentServer over a
// socketpair, ContainerManager running the probes, the FakeRuntime
// answering exec probes. Periods are real milliseconds; tests wait on
// events and counts with deadlines.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "agent/fake_runtime.h"
#include "doctest/doctest.h"
#include "test_util.h"

namespace nest::agent {
namespace {

using testing::AgentHarness;
using testing::EventRecorder;
using testing::kDigestA;
using testing::Spec;

constexpr absl::Duration kWait = absl::Seconds(10);

HealthCheck ExecCheck(int failure_threshold = 2) {
  HealthCheck c;
  c.kind = HealthCheck::Kind::kExec;
  c.exec = {"check"};
  c.period = absl::Milliseconds(20);
  c.timeout = absl::Milliseconds(20);
  c.failure_threshold = failure_threshold;
  return c;
}

ContainerSpec Checked(const std::string& id, HealthCheck check) {
  ContainerSpec s = Spec(id, {"sleep"});
  s.health_check = std::move(check);
  return s;
}

ExecResult Exit(int code, std::string output = "") {
  ExecResult r;
  r.exit_code = code;
  r.output = std::move(output);
  return r;
}

std::vector<AgentEvent> HealthEvents(EventRecorder& events,
                                     const std::string& id) {
  return events.WaitForCount(AgentEventKind::kContainerHealth, id, 0,
                             absl::ZeroDuration());
}

// Waits until `id` has had `n` health events; returns them.
std::vector<AgentEvent> AwaitHealthEvents(EventRecorder& events,
                                          const std::string& id, size_t n) {
  return events.WaitForCount(AgentEventKind::kContainerHealth, id, n, kWait);
}

// Polls a condition no callback announces (the fake runtime's exec count).
template <typename F>
bool Eventually(F done) {
  absl::Time until = absl::Now() + kWait;
  while (!done()) {
    if (absl::Now() > until) return false;
    absl::SleepFor(absl::Milliseconds(1));
  }
  return true;
}

size_t IndexOf(const std::vector<AgentEvent>& all, AgentEventKind kind,
               const std::string& id) {
  for (size_t i = 0; i < all.size(); ++i) {
    if (all[i].kind == kind && all[i].container_id == id) return i;
  }
  return all.size();
}

TEST_CASE(
    "the agent checks a running container and pushes each change of its "
    "health once") {
  FakeRuntime rt;
  EventRecorder events;  // outlives the client, which reports to it
  AgentHarness h(rt);
  h.client().SetEventHandler(events.Handler());
  h.AddImage(kDigestA);
  rt.SetExecResult("check", Exit(0));

  auto started = h.client().RunContainer(Checked("web", ExecCheck()));
  REQUIRE_MESSAGE(started.ok(), started.status().ToString());
  CHECK(started->health == Health::kStarting);
  CHECK(started->health_message.empty());
  std::vector<AgentEvent> e = AwaitHealthEvents(events, "web", 1);
  REQUIRE(e.size() == 1);
  CHECK(e[0].message == "healthy");
  auto all = events.All();
  CHECK(IndexOf(all, AgentEventKind::kContainerStarted, "web") <
        IndexOf(all, AgentEventKind::kContainerHealth, "web"));
  auto st = h.client().ContainerStatus("web");
  REQUIRE(st.ok());
  CHECK(st->health == Health::kHealthy);

  rt.SetExecResult("check", Exit(1, "not ready\n"));
  e = AwaitHealthEvents(events, "web", 2);
  REQUIRE(e.size() == 2);
  CHECK(e[1].message == "unhealthy: exit 1: not ready");
  auto list = h.client().ListContainers();
  REQUIRE(list.ok());
  REQUIRE(list->size() == 1);
  CHECK(list->at(0).health == Health::kUnhealthy);
  CHECK(list->at(0).health_message == "exit 1: not ready");

  // More failing probes change nothing, so no more events.
  uint64_t execs = rt.execs();
  REQUIRE(Eventually([&] { return rt.execs() >= execs + 5; }));
  CHECK(HealthEvents(events, "web").size() == 2);

  rt.SetExecResult("check", Exit(0));
  e = AwaitHealthEvents(events, "web", 3);
  REQUIRE(e.size() == 3);
  CHECK(e[2].message == "healthy");
  st = h.client().ContainerStatus("web");
  REQUIRE(st.ok());
  CHECK(st->health == Health::kHealthy);
  CHECK(st->health_message.empty());

  // A container without a check has no health and no probes.
  auto plain = h.client().RunContainer(Spec("plain", {"sleep"}));
  REQUIRE(plain.ok());
  CHECK(plain->health == Health::kNone);
  CHECK(h.containers().health_checks_running() == 1);
}

TEST_CASE(
    "checks stop when the container exits and start over when its id is "
    "re-created") {
  FakeRuntime rt;
  EventRecorder events;
  AgentHarness h(rt);
  h.client().SetEventHandler(events.Handler());
  h.AddImage(kDigestA);
  rt.SetExecResult("check", Exit(0));

  // Created, not started: not checked yet.
  auto created = h.client().CreateContainer(Checked("app", ExecCheck()));
  REQUIRE(created.ok());
  CHECK(created->health == Health::kNone);
  CHECK(h.containers().health_checks_running() == 0);
  auto started = h.client().StartContainer("app");
  REQUIRE(started.ok());
  CHECK(started->health == Health::kStarting);
  REQUIRE(AwaitHealthEvents(events, "app", 1).size() == 1);
  CHECK(h.containers().health_checks_running() == 1);

  REQUIRE(h.client().KillContainer("app", SIGTERM).ok());
  REQUIRE(events.WaitFor(AgentEventKind::kContainerExited, "app", kWait));
  CHECK(h.containers().health_checks_running() == 0);
  auto st = h.client().ContainerStatus("app");
  REQUIRE(st.ok());
  CHECK(st->health == Health::kHealthy);  // the last verdict stays
  // Probes stopped with the exit: none in ten periods.
  uint64_t execs = rt.execs();
  absl::SleepFor(absl::Milliseconds(200));
  CHECK(rt.execs() == execs);

  // The same id again, now failing from the first probe: kStarting first,
  // then unhealthy, whatever the earlier run ended with.
  REQUIRE(h.client().DeleteContainer("app").ok());
  rt.SetExecResult("check", Exit(3));
  started = h.client().RunContainer(Checked("app", ExecCheck()));
  REQUIRE(started.ok());
  CHECK(started->health == Health::kStarting);
  std::vector<AgentEvent> e = AwaitHealthEvents(events, "app", 2);
  REQUIRE(e.size() == 2);
  CHECK(e[1].message == "unhealthy: exit 3");

  // Health events come only between a start and the exit.
  REQUIRE(h.client().KillContainer("app", SIGKILL).ok());
  REQUIRE(events.WaitForCount(AgentEventKind::kContainerExited, "app", 2, kWait)
              .size() == 2);
  bool running = false;
  for (const AgentEvent& ev : events.All()) {
    if (ev.container_id != "app") continue;
    if (ev.kind == AgentEventKind::kContainerStarted) running = true;
    if (ev.kind == AgentEventKind::kContainerExited) running = false;
    if (ev.kind == AgentEventKind::kContainerHealth) CHECK(running);
  }
}

TEST_CASE("the first probe waits for the initial delay") {
  FakeRuntime rt;
  EventRecorder events;
  AgentHarness h(rt);
  h.client().SetEventHandler(events.Handler());
  h.AddImage(kDigestA);
  rt.SetExecResult("check", Exit(0));
  HealthCheck check = ExecCheck();
  check.initial_delay = absl::Milliseconds(300);
  auto started = h.client().RunContainer(Checked("late", check));
  REQUIRE(started.ok());
  std::vector<AgentEvent> e = AwaitHealthEvents(events, "late", 1);
  REQUIRE(e.size() == 1);
  // Both times travel as whole milliseconds.
  CHECK(e[0].time - started->started >= absl::Milliseconds(299));
}

TEST_CASE("a TCP check reaches the guest's own address by default") {
  FakeRuntime rt;
  EventRecorder events;
  AgentHarness h(rt);
  h.client().SetEventHandler(events.Handler());
  h.AddImage(kDigestA);
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(sa);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&sa), len) == 0);
  REQUIRE(::listen(fd, 64) == 0);
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) == 0);
  int port = ntohs(sa.sin_port);

  HealthCheck check;
  check.kind = HealthCheck::Kind::kTcp;
  check.port = port;
  check.period = absl::Milliseconds(20);
  check.timeout = absl::Milliseconds(20);
  check.failure_threshold = 1;
  REQUIRE(h.client().RunContainer(Checked("db", check)).ok());
  std::vector<AgentEvent> e = AwaitHealthEvents(events, "db", 1);
  REQUIRE(e.size() == 1);
  CHECK(e[0].message == "healthy");

  ::close(fd);  // the port closes: refused
  e = AwaitHealthEvents(events, "db", 2);
  REQUIRE(e.size() == 2);
  CHECK(e[1].message == absl::StrCat("unhealthy: connect 127.0.0.1:", port,
                                     ": Connection refused"));
  auto st = h.client().ContainerStatus("db");
  REQUIRE(st.ok());
  CHECK(st->health_message ==
        absl::StrCat("connect 127.0.0.1:", port, ": Connection refused"));
}

TEST_CASE("the agent refuses a bad health check, naming the field") {
  FakeRuntime rt;
  AgentHarness h(rt);
  h.AddImage(kDigestA);
  HealthCheck check = ExecCheck();
  check.exec.clear();
  absl::Status s = h.client().CreateContainer(Checked("bad", check)).status();
  CHECK(absl::IsInvalidArgument(s));
  CHECK(absl::StrContains(s.message(), "health_check.exec"));
  check = ExecCheck();
  check.timeout = absl::Seconds(1);  // longer than the 20ms period
  s = h.client().RunContainer(Checked("bad", check)).status();
  CHECK(absl::IsInvalidArgument(s));
  CHECK(absl::StrContains(s.message(), "health_check.timeout"));
  CHECK(rt.size() == 0);
}

}  // namespace
}  // namespace nest::agent
