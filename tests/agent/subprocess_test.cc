#include "agent/subprocess.h"

#include "absl/time/clock.h"
#include "agent/guest.h"
#include "doctest/doctest.h"
#include "test_util.h"

namespace nest::agent {
namespace {

TEST_CASE("RunCommand captures output and exit codes") {
  auto r = RunCommand({"sh", "-c", "echo out; echo err >&2; exit 4"}, {},
                      absl::Seconds(30));
  REQUIRE(r.ok());
  CHECK(r->exit_code == 4);
  CHECK(r->output == "out\nerr\n");
  CHECK(!r->timed_out);
}

TEST_CASE("RunCommand passes an explicit environment") {
  auto r = RunCommand({"/bin/sh", "-c", "echo $FOO"}, {"FOO=bar"},
                      absl::Seconds(30));
  REQUIRE(r.ok());
  CHECK(r->output == "bar\n");
}

TEST_CASE("RunCommand kills a command at its timeout") {
  absl::Time start = absl::Now();
  auto r = RunCommand({"sleep", "30"}, {}, absl::Milliseconds(200));
  REQUIRE(r.ok());
  CHECK(r->timed_out);
  CHECK(r->exit_code == 128 + 9);
  CHECK(absl::Now() - start < absl::Seconds(10));
}

TEST_CASE("RunCommand bounds the output it keeps") {
  auto r = RunCommand({"sh", "-c", "head -c 100000 /dev/zero"}, {},
                      absl::Seconds(30), 1000);
  REQUIRE(r.ok());
  CHECK(r->output.size() == 1000);
  CHECK(r->output_truncated);
}

TEST_CASE(
    "RunCommand returns when the child exits even if a grandchild "
    "keeps the pipe open") {
  absl::Time start = absl::Now();
  auto r = RunCommand({"sh", "-c", "sleep 20 & echo started"}, {},
                      absl::Seconds(10));
  REQUIRE(r.ok());
  CHECK(r->exit_code == 0);
  CHECK(absl::Now() - start < absl::Seconds(8));
}

TEST_CASE("a missing program is an error, not an exit code") {
  auto r = RunCommand({"/nonexistent/program"}, {}, absl::Seconds(5));
  // posix_spawnp reports exec failures either way depending on libc:
  // as an error, or as exit code 127.
  CHECK((!r.ok() || r->exit_code == 127));
}

TEST_CASE("LinuxGuest describes and measures this machine") {
  auto g = NewLinuxGuest();
  AgentHello h = g->Describe();
  CHECK(!h.kernel_release.empty());
  CHECK(h.cpus > 0);
  CHECK(h.memory_bytes > 0);
  auto s = g->Stats();
  REQUIRE(s.ok());
  CHECK(s->cpu_usage_us > 0);
  CHECK(s->memory_total_bytes > 0);
  auto r = g->Exec({"echo", "guest"}, {});
  REQUIRE(r.ok());
  CHECK(r->output == "guest\n");
}

TEST_CASE("FindVirtioPort reads the port names like the guest must") {
  testing::TempDir tmp;
  std::string sys = tmp.path() + "/virtio-ports";
  for (auto [port, name] : {std::pair{"vport0p0", "org.other"},
                            std::pair{"vport0p1", "org.nest.agent.0"}}) {
    std::string d = sys + "/" + port;
    REQUIRE(RunCommand({"mkdir", "-p", d}, {}, absl::Seconds(5))->exit_code ==
            0);
    REQUIRE(RunCommand(
                {"sh", "-c", std::string("echo ") + name + " > " + d + "/name"},
                {}, absl::Seconds(5))
                ->exit_code == 0);
  }
  auto p = FindVirtioPort(sys, kAgentPortName);
  REQUIRE(p.ok());
  CHECK(*p == "/dev/vport0p1");
  CHECK(absl::IsNotFound(FindVirtioPort(sys, "org.missing").status()));
  CHECK(absl::IsNotFound(FindVirtioPort(tmp.path() + "/none", "x").status()));
}

}  // namespace
}  // namespace nest::agent
