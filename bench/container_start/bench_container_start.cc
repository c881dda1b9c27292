// bench_container_start: container start latency through nest-agent vs
// `crun run` run directly in the guest, in one microVM, interleaved.
//
// Both run the `hello` example image's rootfs as the agent cached it (one
// pre-unpacked copy in the guest) with the same OCI config
// (agent/oci_config.h), and the same program: /bin/echo, which writes its
// output and exits.
//
// *Start* is from the host's request until the container's process has
// written its first byte, as seen by the host:
//  - agent:  RunContainer (create and start in one call), then a followed
//            Logs call, which delivers the first byte of output (the
//            agent's own path for `nestctl logs -f`);
//  - direct: one GuestExec of `crun run --detach ... | head -c1`, which
//            returns once head has read the container's first byte (crun
//            starts the container and exits; its teardown is not counted).
// Clean-up (delete) is outside the timed part for both. A third path,
// agent-2call (CreateContainer + StartContainer: a crun create and a crun
// start), is printed for context; it is what RunContainer saves.
//
// Usage: bench_container_start [N]   (default 20 per path; needs root)
// The last line of output is one JSON object.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "agent/oci_config.h"
#include "tests/agent/vm_env.h"

namespace nest::agent {
namespace {

// The guest paths the direct path uses; the agent keeps its image cache in
// <state dir>/images/<hex> (agent/image_store.h), on the data disk.
constexpr char kImageCache[] = "/var/lib/nest/images/";
constexpr char kBundle[] = "/var/lib/nest/bench-bundle";

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  double idx = p * static_cast<double>(v.size() - 1);
  size_t lo = static_cast<size_t>(idx);
  size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (idx - static_cast<double>(lo));
}

absl::Status GuestOk(AgentClient& c, const std::vector<std::string>& args,
                     const std::vector<std::string>& env = {}) {
  ExecOptions o;
  o.env = env;
  NEST_ASSIGN_OR_RETURN(ExecResult r, c.GuestExec(args, o));
  if (r.exit_code != 0) {
    return absl::InternalError(absl::StrCat(args.back(),
                                            " failed in the guest (exit ",
                                            r.exit_code, "): ", r.output));
  }
  return absl::OkStatus();
}

ContainerSpec HelloSpec(const vmtest::PushableImage& image,
                        const std::string& id) {
  ContainerSpec s;
  s.id = id;
  s.image_digest = image.digest;
  s.args = image.Command();
  s.env = image.Env();
  s.limits.memory_max_bytes = 64 << 20;
  s.limits.pids_max = 64;
  s.stop_grace_s = 1;
  return s;
}

// One pre-unpacked bundle for every direct run: the agent's config for the
// same spec, rooted (read-only, as the agent's overlay lower layer is) at
// the agent's cached rootfs.
absl::Status PrepareBundle(AgentClient& c, const vmtest::PushableImage& image) {
  OciRoot root;
  root.path = kImageCache + image.digest.substr(image.digest.find(':') + 1);
  root.readonly = true;
  std::string config =
      BuildOciConfig(HelloSpec(image, "direct"), root, "/nest/direct",
                     absl::StrCat(kBundle, "/files"));
  return GuestOk(
      c,
      {"sh", "-c",
       absl::StrCat("mkdir -p ", kBundle, " && printf '%s' \"$CONFIG\" > ",
                    kBundle, "/config.json")},
      {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", absl::StrCat("CONFIG=", config)});
}

absl::StatusOr<double> AgentStart(AgentClient& c,
                                  const vmtest::PushableImage& image,
                                  const std::string& id) {
  absl::Time t0 = absl::Now();
  NEST_RETURN_IF_ERROR(c.RunContainer(HelloSpec(image, id)).status());
  absl::Time first = absl::InfinitePast();
  NEST_RETURN_IF_ERROR(c.Logs(
      id, /*follow=*/true, 0,
      [&](absl::string_view data) {
        if (data.empty()) return true;
        first = absl::Now();
        return false;
      },
      absl::Now() + absl::Seconds(60)));
  if (first == absl::InfinitePast()) {
    return absl::InternalError(absl::StrCat(id, " wrote nothing"));
  }
  return absl::ToDoubleMilliseconds(first - t0);
}

// For comparison only (not in the JSON): the two-call path, CreateContainer
// then StartContainer (a crun create and a crun start), with the follow
// stream opened in between (attach, then start, as `docker run` does).
absl::StatusOr<double> AgentTwoCallStart(AgentClient& c,
                                         const vmtest::PushableImage& image,
                                         const std::string& id) {
  absl::Time t0 = absl::Now();
  NEST_RETURN_IF_ERROR(c.CreateContainer(HelloSpec(image, id)).status());
  absl::Time first = absl::InfinitePast();
  absl::Status logs;
  std::thread follower([&] {
    logs = c.Logs(
        id, /*follow=*/true, 0,
        [&](absl::string_view data) {
          if (data.empty()) return true;
          first = absl::Now();
          return false;
        },
        absl::Now() + absl::Seconds(60));
  });
  absl::Status started = c.StartContainer(id).status();
  follower.join();
  NEST_RETURN_IF_ERROR(started);
  NEST_RETURN_IF_ERROR(logs);
  if (first == absl::InfinitePast()) {
    return absl::InternalError(absl::StrCat(id, " wrote nothing"));
  }
  return absl::ToDoubleMilliseconds(first - t0);
}

absl::StatusOr<double> DirectStart(AgentClient& c, const std::string& id) {
  ExecOptions o;
  o.timeout = absl::Seconds(60);
  std::vector<std::string> args = {
      "sh", "-c",
      absl::StrCat("crun run --detach --bundle ", kBundle, " ", id,
                   " | head -c1")};
  absl::Time t0 = absl::Now();
  NEST_ASSIGN_OR_RETURN(ExecResult r, c.GuestExec(args, o));
  absl::Time t1 = absl::Now();
  if (r.exit_code != 0 || r.output.empty()) {
    return absl::InternalError(
        absl::StrCat("crun run ", id, " (exit ", r.exit_code, "): ", r.output));
  }
  return absl::ToDoubleMilliseconds(t1 - t0);
}

// Untimed: the agent's container has exited (echo) and is deleted.
absl::Status AgentCleanup(AgentClient& c, const std::string& id) {
  absl::Time deadline = absl::Now() + absl::Seconds(30);
  for (;;) {
    NEST_ASSIGN_OR_RETURN(ContainerInfo info, c.ContainerStatus(id));
    if (info.state == ContainerState::kExited) break;
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(absl::StrCat(id, " did not exit"));
    }
    absl::SleepFor(absl::Milliseconds(20));  // polling a condition
  }
  return c.DeleteContainer(id);
}

absl::Status DirectCleanup(AgentClient& c, const std::string& id) {
  return GuestOk(c, {"crun", "delete", "--force", id});
}

int Run(int n) {
  std::string skip = vmtest::SkipReason();
  if (!skip.empty()) {
    std::fprintf(stderr, "bench_container_start: %s\n", skip.c_str());
    return 2;
  }
  testenv::TestDir work;
  auto images = vmtest::BuildExampleImages(work.path(), {"hello"});
  if (!images.ok()) {
    std::fprintf(stderr, "example images: %s\n",
                 images.status().ToString().c_str());
    return 1;
  }
  const vmtest::PushableImage& hello = (*images)[0];
  vmtest::AgentVmOptions vo;
  vo.name = "bench-cstart";
  auto vm = vmtest::AgentVm::Boot(vo);
  if (!vm.ok()) {
    std::fprintf(stderr, "boot: %s\n", vm.status().ToString().c_str());
    return 1;
  }
  AgentClient& c = (*vm)->client();
  auto put = c.PutImage(hello.digest, hello.tar);
  absl::Status prepared = put.ok() ? PrepareBundle(c, hello) : put.status();
  if (!prepared.ok()) {
    std::fprintf(stderr, "setup: %s\n", prepared.ToString().c_str());
    return 1;
  }

  struct Path {
    const char* name;
    std::vector<double> ms;
  };
  // agent and direct are the comparison; agent-2call is shown for context.
  Path paths[] = {{"agent", {}}, {"direct", {}}, {"agent-2call", {}}};
  int failures = 0;
  std::printf("%-4s %-12s %9s\n", "run", "path", "start_ms");
  // Run -1 warms caches (crun, the rootfs) for every path and is not kept.
  for (int i = -1; i < n; ++i) {
    // Rotate who goes first so drift in host load hits every path alike.
    for (int k = 0; k < 3; ++k) {
      int p = (i + 1 + k) % 3;
      std::string id = absl::StrCat(paths[p].name, "-", i + 1);
      absl::StatusOr<double> ms = p == 0   ? AgentStart(c, hello, id)
                                  : p == 1 ? DirectStart(c, id)
                                           : AgentTwoCallStart(c, hello, id);
      absl::Status cleaned =
          p == 1 ? DirectCleanup(c, id) : AgentCleanup(c, id);
      if (!ms.ok() || !cleaned.ok()) {
        ++failures;
        std::printf("%-4d %-12s %9s  (%s)\n", i, paths[p].name, "-",
                    (ms.ok() ? cleaned : ms.status()).ToString().c_str());
        continue;
      }
      if (i < 0) continue;
      std::printf("%-4d %-12s %9.1f\n", i, paths[p].name, *ms);
      std::fflush(stdout);
      paths[p].ms.push_back(*ms);
    }
  }

  double dp50 = Percentile(paths[1].ms, 0.5);
  std::printf("\naccel=%s  vcpus=%d  n=%d per path  failures=%d\n",
              std::string(vmm::AccelName((*vm)->accel())).c_str(), vo.vcpus, n,
              failures);
  std::printf("%-12s %9s %9s %10s\n", "path", "p50_ms", "p95_ms", "vs_direct");
  for (const Path& path : paths) {
    double p50 = Percentile(path.ms, 0.5);
    std::printf("%-12s %9.1f %9.1f %10.3f\n", path.name, p50,
                Percentile(path.ms, 0.95), dp50 > 0 ? p50 / dp50 : 0);
  }
  double ap50 = Percentile(paths[0].ms, 0.5);
  double ap95 = Percentile(paths[0].ms, 0.95);
  double dp95 = Percentile(paths[1].ms, 0.95);
  double ratio = dp50 > 0 ? ap50 / dp50 : 0;
  std::printf(
      "agent = RunContainer (one call, crun run --detach); agent-2call = "
      "CreateContainer + StartContainer\n");
  std::printf("ratio_p50 %.3f (agent vs direct, goal <= 1.20)%s\n", ratio,
              ratio <= 1.2 ? "" : "  MISSED");
  std::printf(
      "{\"bench\":\"container_start\",\"agent_p50_ms\":%.1f,"
      "\"direct_p50_ms\":%.1f,\"agent_p95_ms\":%.1f,\"direct_p95_ms\":%.1f,"
      "\"ratio_p50\":%.3f}\n",
      ap50, dp50, ap95, dp95, ratio);
  return failures == 0 ? 0 : 1;
}

}  // namespace
}  // namespace nest::agent

int main(int argc, char** argv) {
  int n = argc > 1 ? std::atoi(argv[1]) : 20;
  if (n < 1) n = 20;
  return nest::agent::Run(n);
}
