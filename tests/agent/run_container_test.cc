// RunContainer (create and start in one call, one runtime call in the
// guest) and the log signal that wakes followed log streams.
#include <thread>

#include "absl/time/clock.h"
#include "agent/fake_runtime.h"
#include "agent/log_file.h"
#include "doctest/doctest.h"
#include "test_util.h"

namespace nest::agent {
namespace {

using testing::AgentHarness;
using testing::EventRecorder;
using testing::kDigestA;
using testing::Spec;

TEST_CASE("RunContainer creates and starts in one call") {
  FakeRuntime rt;
  EventRecorder events;  // outlives the client, which reports to it
  AgentHarness h(rt);
  h.client().SetEventHandler(events.Handler());
  h.AddImage(kDigestA);

  auto web = h.client().RunContainer(Spec("web", {"print", "up"}));
  REQUIRE_MESSAGE(web.ok(), web.status().ToString());
  CHECK(web->state == ContainerState::kRunning);
  CHECK(web->pid > 0);
  CHECK(web->started != absl::InfinitePast());
  CHECK(events.WaitFor(AgentEventKind::kContainerStarted, "web",
                       absl::Seconds(5)));
  // Started already: a second start is refused.
  CHECK(absl::IsFailedPrecondition(h.client().StartContainer("web").status()));
  CHECK(absl::IsAlreadyExists(
      h.client().RunContainer(Spec("web", {"sleep"})).status()));

  // A program that exits at once is reported as exited, not running.
  auto quick = h.client().RunContainer(Spec("quick", {"exit", "3"}));
  REQUIRE_MESSAGE(quick.ok(), quick.status().ToString());
  CHECK(quick->state == ContainerState::kExited);
  CHECK(quick->exit_code == 3);
  auto exited = events.WaitFor(AgentEventKind::kContainerExited, "quick",
                               absl::Seconds(5));
  REQUIRE(exited.has_value());
  CHECK(exited->exit_code == 3);
}

TEST_CASE("RunContainer errors leave nothing behind") {
  FakeRuntime rt;
  AgentHarness h(rt);
  h.AddImage(kDigestA);
  CHECK(absl::IsInternal(
      h.client().RunContainer(Spec("bad", {"fail-create"})).status()));
  CHECK(
      absl::IsNotFound(h.client()
                           .RunContainer(Spec("orphan", {"sleep"},
                                              "sha256:" + std::string(64, 'c')))
                           .status()));
  CHECK(absl::IsInvalidArgument(
      h.client().RunContainer(Spec("../escape", {"sleep"})).status()));
  auto list = h.client().ListContainers();
  REQUIRE(list.ok());
  CHECK(list->empty());
  CHECK(rt.size() == 0);
}

TEST_CASE("the log signal wakes a waiter on append, not at its deadline") {
  testing::TempDir tmp;
  RotatingLog log(tmp.path() + "/out.log", 1024);
  uint64_t seen = LogSignal::Get().generation();
  std::thread writer([&] { REQUIRE(log.Append("x").ok()); });
  absl::Time t0 = absl::Now();
  LogSignal::Get().Await(seen, t0 + absl::Seconds(60));
  writer.join();
  CHECK(absl::Now() - t0 < absl::Seconds(30));
  CHECK(LogSignal::Get().generation() != seen);
}

}  // namespace
}  // namespace nest::agent
