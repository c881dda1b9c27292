#include "agent/fake_agent.h"

#include <csignal>
#include <memory>
#include <thread>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "doctest/doctest.h"
#include "test_util.h"

namespace nest::agent {
namespace {

using testing::EventRecorder;
using testing::kDigestA;
using testing::Spec;

TEST_CASE("FakeAgent follows the agent's state machine and emits events") {
  FakeAgent agent;
  EventRecorder events;
  agent.SetEventHandler(events.Handler());
  CHECK(absl::IsNotFound(
      agent.CreateContainer(Spec("c", {"sleep"})).status()));  // no image
  auto put = agent.PutImage(kDigestA, "tar");
  REQUIRE(put.ok());
  CHECK(!put->already_present);
  CHECK(agent.PutImage(kDigestA, "tar")->already_present);

  auto c = agent.CreateContainer(Spec("c", {"sleep"}));
  REQUIRE(c.ok());
  CHECK(c->state == ContainerState::kCreated);
  CHECK(absl::IsAlreadyExists(
      agent.CreateContainer(Spec("c", {"sleep"})).status()));
  auto s = agent.StartContainer("c");
  REQUIRE(s.ok());
  CHECK(s->state == ContainerState::kRunning);
  CHECK(events.Count(AgentEventKind::kContainerStarted) == 1);
  CHECK(absl::IsFailedPrecondition(agent.StartContainer("c").status()));
  CHECK(absl::IsFailedPrecondition(agent.DeleteContainer("c")));
  REQUIRE(agent.KillContainer("c", SIGTERM).ok());
  auto exited = events.WaitFor(AgentEventKind::kContainerExited, "c",
                               absl::ZeroDuration());
  REQUIRE(exited.has_value());
  CHECK(exited->exit_code == 143);
  CHECK(agent.ContainerStatus("c")->state == ContainerState::kExited);
  CHECK(agent.DeleteContainer("c").ok());
  CHECK(agent.ListContainers()->empty());
}

TEST_CASE("FakeAgent validates like the real agent") {
  FakeAgent agent;
  REQUIRE(agent.PutImage(kDigestA, "").ok());
  CHECK(absl::IsInvalidArgument(agent.PutImage("sha256:1", "").status()));
  CHECK(absl::IsInvalidArgument(
      agent.CreateContainer(Spec("-bad", {"x"})).status()));
  CHECK(
      absl::IsInvalidArgument(agent.CreateContainer(Spec("ok", {})).status()));
  REQUIRE(agent.CreateContainer(Spec("ok", {"x"})).ok());
  REQUIRE(agent.StartContainer("ok").ok());
  CHECK(absl::IsInvalidArgument(agent.KillContainer("ok", 0)));
  CHECK(absl::IsInvalidArgument(agent.Exec("ok", {}, {}).status()));
  CHECK(absl::IsNotFound(agent.Stats("nope").status()));
}

TEST_CASE("FakeAgent simulates exits, OOM kills, output and outages") {
  FakeAgent agent;
  EventRecorder events;
  agent.SetEventHandler(events.Handler());
  REQUIRE(agent.PutImage(kDigestA, "").ok());
  REQUIRE(agent.CreateContainer(Spec("m", {"x"})).ok());
  REQUIRE(agent.StartContainer("m").ok());
  REQUIRE(agent.AppendOutput("m", "line\n").ok());
  std::string out;
  REQUIRE(agent
              .Logs(
                  "m", false, 0,
                  [&](absl::string_view d) {
                    out.append(d.data(), d.size());
                    return true;
                  },
                  absl::Now() + absl::Seconds(1))
              .ok());
  CHECK(out == "line\n");
  REQUIRE(agent.SimulateExit("m", 137, /*oom=*/true).ok());
  CHECK(events.Count(AgentEventKind::kContainerOomKilled) == 1);
  CHECK(agent.ContainerStatus("m")->oom_killed);

  agent.SetReachable(false);
  CHECK(events.Count(AgentEventKind::kDisconnected) == 1);
  CHECK(absl::IsUnavailable(agent.Hello().status()));
  CHECK(absl::IsUnavailable(agent.ListContainers().status()));
  agent.SetReachable(true);
  CHECK(agent.Hello()->containers == 1);
}

TEST_CASE("FakeAgent follow streams wake on new output and end on exit") {
  FakeAgent agent;
  REQUIRE(agent.PutImage(kDigestA, "").ok());
  REQUIRE(agent.CreateContainer(Spec("f", {"x"})).ok());
  REQUIRE(agent.StartContainer("f").ok());
  absl::Notification first;
  std::string got;
  std::thread writer([&] {
    REQUIRE(agent.AppendOutput("f", "a").ok());
    first.WaitForNotification();
    REQUIRE(agent.AppendOutput("f", "b").ok());
    REQUIRE(agent.SimulateExit("f", 0, false).ok());
  });
  absl::Status s = agent.Logs(
      "f", true, 0,
      [&](absl::string_view d) {
        got.append(d.data(), d.size());
        if (!first.HasBeenNotified()) first.Notify();
        return true;
      },
      absl::Now() + absl::Seconds(30));
  writer.join();
  CHECK(s.ok());
  CHECK(got == "ab");
}

TEST_CASE("FakeAgent shutdown stops containers and powers off") {
  FakeAgent agent;
  REQUIRE(agent.PutImage(kDigestA, "").ok());
  REQUIRE(agent.CreateContainer(Spec("s", {"x"})).ok());
  REQUIRE(agent.StartContainer("s").ok());
  REQUIRE(agent.Shutdown(true).ok());
  CHECK(agent.powered_off());
  CHECK(absl::IsUnavailable(agent.Hello().status()));
}

ContainerSpec WithCheck(const std::string& id) {
  ContainerSpec spec = Spec(id, {"sleep"});
  spec.health_check.kind = HealthCheck::Kind::kHttp;
  spec.health_check.port = 8080;
  spec.health_check.path = "/healthz";
  return spec;
}

TEST_CASE("FakeAgent marks checked containers healthy at start by default") {
  FakeAgent agent;
  EventRecorder events;
  agent.SetEventHandler(events.Handler());
  REQUIRE(agent.PutImage(kDigestA, "").ok());
  auto c = agent.RunContainer(WithCheck("web"));
  REQUIRE(c.ok());
  CHECK(c->health == Health::kHealthy);
  CHECK(agent.SpecOf("web")->health_check == WithCheck("web").health_check);
  auto all = events.All();
  REQUIRE(all.size() == 2);  // started, then the first verdict
  CHECK(all[0].kind == AgentEventKind::kContainerStarted);
  CHECK(all[1].kind == AgentEventKind::kContainerHealth);
  CHECK(all[1].container_id == "web");
  CHECK(all[1].message == "healthy");
  CHECK(all[1].time > all[0].time);
  // Without a check: no health, no event.
  auto plain = agent.RunContainer(Spec("plain", {"sleep"}));
  REQUIRE(plain.ok());
  CHECK(plain->health == Health::kNone);
  CHECK(events.Count(AgentEventKind::kContainerHealth) == 1);
  // Invalid checks are refused like the agent does.
  ContainerSpec bad = WithCheck("bad");
  bad.health_check.port = 0;
  CHECK(absl::IsInvalidArgument(agent.CreateContainer(bad).status()));
}

TEST_CASE("FakeAgent: with auto_healthy off, SetHealth gives the verdicts") {
  FakeAgent agent;
  agent.SetAutoHealthy(false);
  EventRecorder events;
  agent.SetEventHandler(events.Handler());
  REQUIRE(agent.PutImage(kDigestA, "").ok());
  auto c = agent.RunContainer(WithCheck("web"));
  REQUIRE(c.ok());
  CHECK(c->health == Health::kStarting);
  CHECK(events.Count(AgentEventKind::kContainerHealth) == 0);

  REQUIRE(agent.SetHealth("web", Health::kUnhealthy, "exit 1: down").ok());
  auto st = agent.ContainerStatus("web");
  CHECK(st->health == Health::kUnhealthy);
  CHECK(st->health_message == "exit 1: down");
  auto e = events.WaitFor(AgentEventKind::kContainerHealth, "web",
                          absl::ZeroDuration());
  REQUIRE(e.has_value());
  CHECK(e->message == "unhealthy: exit 1: down");
  // The same health with a new reason: updated, but no event.
  REQUIRE(agent.SetHealth("web", Health::kUnhealthy, "exit 2").ok());
  CHECK(agent.ListContainers()->at(0).health_message == "exit 2");
  CHECK(events.Count(AgentEventKind::kContainerHealth) == 1);
  REQUIRE(agent.SetHealth("web", Health::kHealthy, "ignored").ok());
  st = agent.ContainerStatus("web");
  CHECK(st->health == Health::kHealthy);
  CHECK(st->health_message.empty());
  CHECK(events.Count(AgentEventKind::kContainerHealth) == 2);
  CHECK(events.All().back().message == "healthy");

  CHECK(absl::IsNotFound(agent.SetHealth("nope", Health::kHealthy)));
  CHECK(absl::IsInvalidArgument(agent.SetHealth("web", Health::kStarting)));
  REQUIRE(agent.RunContainer(Spec("plain", {"sleep"})).ok());
  CHECK(absl::IsFailedPrecondition(agent.SetHealth("plain", Health::kHealthy)));
  // Exited: the last verdict stays, and no more verdicts come.
  REQUIRE(agent.KillContainer("web", SIGKILL).ok());
  CHECK(agent.ContainerStatus("web")->health == Health::kHealthy);
  CHECK(absl::IsFailedPrecondition(agent.SetHealth("web", Health::kUnhealthy)));
  // Re-created under the same id: starting over.
  REQUIRE(agent.DeleteContainer("web").ok());
  c = agent.RunContainer(WithCheck("web"));
  REQUIRE(c.ok());
  CHECK(c->health == Health::kStarting);
  CHECK(agent.SpecOf("nope").status().code() == absl::StatusCode::kNotFound);
}

TEST_CASE("ten thousand FakeAgents are cheap") {
  std::vector<std::unique_ptr<FakeAgent>> agents;
  absl::Time start = absl::Now();
  for (int i = 0; i < 10000; ++i) {
    auto a = std::make_unique<FakeAgent>();
    REQUIRE(a->PutImage(kDigestA, "").ok());
    REQUIRE(a->CreateContainer(Spec("c", {"x"})).ok());
    REQUIRE(a->StartContainer("c").ok());
    agents.push_back(std::move(a));
  }
  size_t running = 0;
  for (auto& a : agents) {
    running += a->ContainerStatus("c")->state == ContainerState::kRunning;
  }
  CHECK(running == 10000);
  // Generous bound (sanitizer builds): no threads or I/O per agent.
  CHECK(absl::Now() - start < absl::Seconds(30));
}

}  // namespace
}  // namespace nest::agent
