// ContainerRuntime: the mechanics of running one container, below the
// agent's bookkeeping (agent/containers.h keeps states, validates requests
// and emits events). CrunRuntime drives crun; FakeRuntime simulates
// processes in memory for unit tests.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "agent/network.h"
#include "agent/types.h"
#include "core/status.h"

namespace nest::agent {

class ContainerRuntime {
 public:
  // Reports that a container's main process ended. exit_code is 128+N for
  // signal N. Called once per created container, from a runtime thread (or
  // from inside Kill for a fake); the receiver must not call back into the
  // runtime synchronously.
  using ExitCallback =
      std::function<void(const std::string& id, int exit_code, bool oom)>;

  virtual ~ContainerRuntime() = default;

  // Must be called once, before Create.
  virtual void SetExitCallback(ExitCallback cb) = 0;

  // Prepares the container from `rootfs` (an unpacked image, not to be
  // modified) with stdout/stderr going to `log_path` (rotated). The process
  // exists but has not run the user's program yet. Returns its pid.
  // `network.netns_path` empty: the guest's network namespace; set: that
  // namespace, with network.hosts_path as /etc/hosts.
  [[nodiscard]] virtual absl::StatusOr<int> Create(
      const ContainerSpec& spec, const std::string& rootfs,
      const std::string& log_path, const NetworkAttachment& network) = 0;
  [[nodiscard]] virtual absl::Status Start(const std::string& id) = 0;
  // Create and Start in one step. The process may have exited (and been
  // reported) by the time this returns. On error nothing is left behind.
  // The default makes the two calls; a runtime that can do it in one
  // (`crun run --detach`) overrides it.
  [[nodiscard]] virtual absl::StatusOr<int> Run(
      const ContainerSpec& spec, const std::string& rootfs,
      const std::string& log_path, const NetworkAttachment& network) {
    NEST_ASSIGN_OR_RETURN(int pid, Create(spec, rootfs, log_path, network));
    absl::Status started = Start(spec.id);
    if (!started.ok()) {
      (void)Delete(spec.id);
      return started;
    }
    return pid;
  }
  [[nodiscard]] virtual absl::Status Kill(const std::string& id,
                                          int signal) = 0;
  // Releases everything of a container whose process has exited (or never
  // started).
  [[nodiscard]] virtual absl::Status Delete(const std::string& id) = 0;
  [[nodiscard]] virtual absl::StatusOr<ExecResult> Exec(
      const std::string& id, const std::vector<std::string>& args,
      const ExecOptions& options) = 0;
  [[nodiscard]] virtual absl::StatusOr<ContainerStats> Stats(
      const std::string& id) = 0;
};

}  // namespace nest::agent
