// Runs the nest-agent binary as a process, as the guest init would (but on
// a unix socket instead of the virtio port).
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <csignal>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "agent/client.h"
#include "agent/subprocess.h"
#include "doctest/doctest.h"
#include "test_util.h"

namespace nest::agent {
namespace {

TEST_CASE("nest-agent --version and --help") {
  auto v = RunCommand({NEST_AGENT_BINARY, "--version"}, {}, absl::Seconds(10));
  REQUIRE(v.ok());
  CHECK(v->exit_code == 0);
  CHECK(absl::StartsWith(v->output, "nest-agent "));
  auto h = RunCommand({NEST_AGENT_BINARY, "--help"}, {}, absl::Seconds(10));
  REQUIRE(h.ok());
  CHECK(h->exit_code == 0);
  CHECK(h->output.find("--device") != std::string::npos);
  auto bad =
      RunCommand({NEST_AGENT_BINARY, "--no-such-flag"}, {}, absl::Seconds(10));
  REQUIRE(bad.ok());
  CHECK(bad->exit_code != 0);
}

absl::StatusOr<std::unique_ptr<ByteStream>> ConnectUnix(
    const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return absl::UnavailableError("agent socket not ready");
  }
  return FdByteStream(fd);
}

TEST_CASE("nest-agent serves hello, guest exec and reconnects on --listen") {
  testing::IgnoreSigpipe();
  testing::TempDir tmp;
  std::string sock = tmp.path() + "/agent.sock";
  SpawnOptions so;
  so.args = {NEST_AGENT_BINARY,
             "--listen",
             sock,
             "--state-dir",
             tmp.path() + "/state",
             "--run-dir",
             tmp.path() + "/run",
             "--log-level",
             "warn"};
  auto pid = Spawn(so);
  REQUIRE(pid.ok());
  struct Reap {
    pid_t pid;
    ~Reap() {
      ::kill(pid, SIGKILL);
      (void)ChildReaper::Get().Wait(pid, absl::Now() + absl::Seconds(10));
    }
  } reap{*pid};

  AgentClient client([&] { return ConnectUnix(sock); });
  // Connect retries until the agent listens.
  auto hello = client.Connect(absl::Now() + absl::Seconds(20));
  REQUIRE_MESSAGE(hello.ok(), hello.status().ToString());
  CHECK(hello->protocol_version == 1);
  CHECK(!hello->kernel_release.empty());
  CHECK(hello->cpus > 0);

  auto r = client.GuestExec({"sh", "-c", "echo in the guest; exit 3"}, {});
  REQUIRE(r.ok());
  CHECK(r->exit_code == 3);
  CHECK(r->output == "in the guest\n");
  auto stats = client.Stats("");
  REQUIRE(stats.ok());
  CHECK(stats->guest.memory_total_bytes > 0);

  client.Disconnect();
  auto again = client.Hello();
  REQUIRE_MESSAGE(again.ok(), again.status().ToString());
  CHECK(again->boot_id == hello->boot_id);
  CHECK(client.Shutdown(/*power_off=*/false).ok());
}

}  // namespace
}  // namespace nest::agent
