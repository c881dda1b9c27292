// The agent with the real CrunRuntime on this machine: a busybox rootfs
// assembled in a temp dir, pushed through AgentClient as a tar, run by crun.
// Needs root, crun and /bin/busybox; skips (saying why) without them.
//
// On a hybrid cgroup host (v1 controllers plus an empty cgroup2 at
// /sys/fs/cgroup/unified) crun refuses to run ("cgroups in hybrid mode not
// supported"), so the test moves itself into a private mount namespace
// without the unified mount, where crun uses cgroup v1. The guest kernel
// runs pure cgroup v2 and needs none of this.
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "agent/crun_runtime.h"
#include "agent/subprocess.h"
#include "doctest/doctest.h"
#include "test_util.h"

namespace nest::agent {
namespace {

using testing::AgentHarness;
using testing::EventRecorder;

// Set once the image is built: its real sha256.
std::string g_busybox_digest;

std::string SkipReason() {
  if (::geteuid() != 0) return "needs root";
  if (::access("/bin/busybox", X_OK) != 0) return "needs /bin/busybox";
  auto crun = RunCommand({"crun", "--version"}, {}, absl::Seconds(10));
  if (!crun.ok() || crun->exit_code != 0) return "needs crun on PATH";
  return "";
}

// See the file comment. Must run before any thread exists.
void LeaveHybridCgroups() {
  struct statfs fs;
  if (::statfs("/sys/fs/cgroup", &fs) != 0 || fs.f_type == 0x63677270) return;
  if (::access("/sys/fs/cgroup/unified/cgroup.controllers", F_OK) != 0) return;
  REQUIRE(::unshare(CLONE_NEWNS) == 0);
  REQUIRE(::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0);
  REQUIRE(::umount2("/sys/fs/cgroup/unified", MNT_DETACH) == 0);
  MESSAGE(
      "hybrid cgroups: running crun with cgroup v1 in a private mount "
      "namespace");
}

std::string Logs(AgentClient& c, const std::string& id) {
  std::string out;
  absl::Status s = c.Logs(
      id, false, 0,
      [&](absl::string_view d) {
        out.append(d.data(), d.size());
        return true;
      },
      absl::Now() + absl::Seconds(10));
  REQUIRE_MESSAGE(s.ok(), s.ToString());
  return out;
}

void MustCreate(AgentClient& c, const ContainerSpec& spec) {
  auto r = c.CreateContainer(spec);
  REQUIRE_MESSAGE(r.ok(), r.status().ToString());
}

ContainerSpec Busybox(const std::string& id, std::vector<std::string> args) {
  ContainerSpec s = testing::Spec(id, std::move(args), g_busybox_digest);
  s.env = {"PATH=/bin"};
  return s;
}

TEST_CASE(
    "crun: containers from a pushed busybox image run, exit, serve, "
    "get OOM-killed and survive a host reconnect") {
  std::string skip = SkipReason();
  if (!skip.empty()) {
    MESSAGE("skipped: " << skip);
    return;
  }
  LeaveHybridCgroups();
  testing::TempDir tmp;
  CrunRuntime::Options ro;
  ro.state_root = tmp.path() + "/crun";
  ro.bundle_root = tmp.path() + "/bundles";
  ro.cgroup_parent = absl::StrCat("/nest-test-", ::getpid());
  testing::CgroupParentCleanup cleanup{ro.cgroup_parent};
  CrunRuntime runtime(ro);
  EventRecorder events;
  AgentHarness h(runtime);
  AgentClient& c = h.client();
  c.SetEventHandler(events.Handler());
  REQUIRE(c.Connect(absl::Now() + absl::Seconds(10)).ok());

  absl::StatusOr<std::string> tar = testing::BusyboxImageTar(tmp.path());
  REQUIRE_MESSAGE(tar.ok(), tar.status().ToString());
  g_busybox_digest = testing::Sha256Digest(*tar);
  REQUIRE(!g_busybox_digest.empty());
  auto put = c.PutImage(g_busybox_digest, *tar);
  REQUIRE_MESSAGE(put.ok(), put.status().ToString());

  SUBCASE("output and exit codes") {
    MustCreate(c, Busybox("hello", {"sh", "-c", "echo hello from crun"}));
    auto started = c.StartContainer("hello");
    REQUIRE_MESSAGE(started.ok(), started.status().ToString());
    auto e = events.WaitFor(AgentEventKind::kContainerExited, "hello",
                            absl::Seconds(30));
    REQUIRE(e.has_value());
    CHECK(e->exit_code == 0);
    CHECK(Logs(c, "hello") == "hello from crun\n");

    MustCreate(c, Busybox("seven", {"sh", "-c", "exit 7"}));
    REQUIRE(c.StartContainer("seven").ok());
    e = events.WaitFor(AgentEventKind::kContainerExited, "seven",
                       absl::Seconds(30));
    REQUIRE(e.has_value());
    CHECK(e->exit_code == 7);
    CHECK(c.DeleteContainer("hello").ok());
    CHECK(c.DeleteContainer("seven").ok());
    CHECK(!std::filesystem::exists(ro.bundle_root + "/hello"));
  }

  SUBCASE("httpd answers an exec'd wget; stats; kill gives an exit event") {
    int port = 20000 + ::getpid() % 10000;
    ContainerSpec web =
        Busybox("web", {"httpd", "-f", "-p", absl::StrCat(port), "-h", "/www"});
    web.limits.memory_max_bytes = 64 << 20;
    web.limits.pids_max = 32;
    MustCreate(c, web);
    REQUIRE(c.StartContainer("web").ok());
    // httpd needs a moment to listen; poll the real condition.
    std::string body;
    absl::Time until = absl::Now() + absl::Seconds(30);
    while (body.empty() && absl::Now() < until) {
      auto r = c.Exec(
          "web",
          {"wget", "-q", "-O-", absl::StrCat("http://127.0.0.1:", port, "/")},
          {});
      REQUIRE_MESSAGE(r.ok(), r.status().ToString());
      if (r->exit_code == 0) body = r->output;
    }
    CHECK(body == "it works\n");
    auto stats = c.Stats("web");
    REQUIRE(stats.ok());
    REQUIRE(stats->containers.size() == 1);
    CHECK(stats->containers[0].memory_bytes > 0);
    CHECK(stats->containers[0].pids >= 1);
    CHECK(stats->guest.memory_total_bytes > 0);
    REQUIRE(c.KillContainer("web", SIGKILL).ok());
    auto e = events.WaitFor(AgentEventKind::kContainerExited, "web",
                            absl::Seconds(30));
    REQUIRE(e.has_value());
    CHECK(e->exit_code == 137);
    CHECK(c.DeleteContainer("web").ok());
  }

  SUBCASE("a container past its memory limit is reported as OOM-killed") {
    ContainerSpec hog = Busybox(
        "hog", {"sh", "-c", "x=aaaaaaaaaaaaaaaa; while true; do x=$x$x; done"});
    hog.limits.memory_max_bytes = 16 << 20;
    MustCreate(c, hog);
    REQUIRE(c.StartContainer("hog").ok());
    auto oom = events.WaitFor(AgentEventKind::kContainerOomKilled, "hog",
                              absl::Seconds(60));
    REQUIRE(oom.has_value());
    auto st = c.ContainerStatus("hog");
    REQUIRE(st.ok());
    CHECK(st->oom_killed);
    CHECK(st->exit_code == 137);
    CHECK(c.DeleteContainer("hog").ok());
  }

  SUBCASE("a given file is readable at its path and cannot be written") {
    ContainerSpec spec = Busybox("files", {"sleep", "300"});
    spec.files = {{"/etc/app/secret.txt", "s3cret-value\n", 0400},
                  {"/tmp/plain.conf", "plain\n", 0444}};
    MustCreate(c, spec);
    REQUIRE(c.StartContainer("files").ok());
    auto run = [&](std::vector<std::string> args) {
      auto r = c.Exec("files", args, {});
      REQUIRE_MESSAGE(r.ok(), r.status().ToString());
      return *r;
    };
    ExecResult r = run({"cat", "/etc/app/secret.txt"});
    CHECK(r.exit_code == 0);
    CHECK(r.output == "s3cret-value\n");
    CHECK(run({"cat", "/tmp/plain.conf"}).output == "plain\n");
    CHECK(run({"stat", "-c", "%a %u %g", "/etc/app/secret.txt"}).output ==
          "400 0 0\n");
    // Root in the container: neither a write, nor a remount, nor removing
    // it gets past the read-only bind mount.
    r = run({"sh", "-c", "echo changed > /etc/app/secret.txt"});
    CHECK(r.exit_code != 0);
    CHECK_MESSAGE(r.output.find("Read-only file system") != std::string::npos,
                  r.output);
    r = run({"mount", "-o", "remount,rw,bind", "/etc/app/secret.txt"});
    CHECK(r.exit_code != 0);
    r = run({"sh", "-c", "echo changed > /etc/app/secret.txt"});
    CHECK(r.exit_code != 0);
    CHECK(run({"cat", "/etc/app/secret.txt"}).output == "s3cret-value\n");
    // The content lives in the bundle's private directory, not the image.
    struct stat st;
    REQUIRE(::stat((ro.bundle_root + "/files/files").c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0700);
    REQUIRE(c.KillContainer("files", SIGKILL).ok());
    REQUIRE(events.WaitFor(AgentEventKind::kContainerExited, "files",
                           absl::Seconds(30)));
    CHECK(c.DeleteContainer("files").ok());
    CHECK(!std::filesystem::exists(ro.bundle_root + "/files"));
  }

  SUBCASE("exec and HTTP health checks probe the real containers") {
    // Exec: fails until the file exists, then passes.
    ContainerSpec app = Busybox("app", {"sleep", "300"});
    app.health_check.kind = HealthCheck::Kind::kExec;
    app.health_check.exec = {"sh", "-c", "test -f /tmp/ready"};
    app.health_check.period = absl::Seconds(1);
    app.health_check.timeout = absl::Seconds(1);
    app.health_check.failure_threshold = 1;
    // HTTP: busybox httpd in the guest's namespace, so on 127.0.0.1.
    int port = 20000 + (::getpid() + 1) % 10000;
    ContainerSpec web = Busybox(
        "hweb", {"httpd", "-f", "-p", absl::StrCat(port), "-h", "/www"});
    web.health_check.kind = HealthCheck::Kind::kHttp;
    web.health_check.port = port;
    web.health_check.path = "/index.html";
    web.health_check.period = absl::Milliseconds(200);
    web.health_check.timeout = absl::Milliseconds(200);
    web.health_check.failure_threshold = 100;  // while httpd comes up
    REQUIRE(c.RunContainer(app).ok());
    REQUIRE(c.RunContainer(web).ok());
    auto health = [&](const std::string& id, size_t n) {
      auto e = events.WaitForCount(AgentEventKind::kContainerHealth, id, n,
                                   absl::Seconds(30));
      REQUIRE(e.size() == n);
      return e.back().message;
    };
    CHECK(health("hweb", 1) == "healthy");
    CHECK(health("app", 1) == "unhealthy: exit 1");
    auto r = c.Exec("app", {"sh", "-c", "echo > /tmp/ready"}, {});
    REQUIRE_MESSAGE(r.ok(), r.status().ToString());
    CHECK(health("app", 2) == "healthy");
    for (const char* id : {"app", "hweb"}) {
      REQUIRE(c.KillContainer(id, SIGKILL).ok());
      REQUIRE(events.WaitFor(AgentEventKind::kContainerExited, id,
                             absl::Seconds(30)));
      CHECK(c.DeleteContainer(id).ok());
    }
  }

  SUBCASE("the host disconnects and reconnects; the container keeps running") {
    MustCreate(c, Busybox("bg", {"sleep", "300"}));
    REQUIRE(c.StartContainer("bg").ok());
    c.Disconnect();
    REQUIRE(
        events.WaitFor(AgentEventKind::kDisconnected, "", absl::Seconds(10)));
    auto st = c.ContainerStatus("bg");  // reconnects
    REQUIRE_MESSAGE(st.ok(), st.status().ToString());
    CHECK(st->state == ContainerState::kRunning);
    auto r = c.Exec("bg", {"echo", "still here"}, {});
    REQUIRE(r.ok());
    CHECK(r->output == "still here\n");
    REQUIRE(c.KillContainer("bg", SIGKILL).ok());
    REQUIRE(events.WaitFor(AgentEventKind::kContainerExited, "bg",
                           absl::Seconds(30)));
    CHECK(c.DeleteContainer("bg").ok());
  }
}

}  // namespace
}  // namespace nest::agent
