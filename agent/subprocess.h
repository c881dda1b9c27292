// Child processes of the agent: one process-wide reaper, because the agent
// is a child subreaper (containers are re-parented to it when `crun create`
// exits) and exactly one waitpid(-1) consumer may exist per process.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "agent/types.h"
#include "core/status.h"

namespace nest::agent {

// Reaps every child of the process and dispatches exit statuses. Created on
// first use (starts one thread and installs a SIGCHLD handler); lives until
// the process exits. Thread-safe.
class ChildReaper {
 public:
  static ChildReaper& Get();

  // Calls `on_exit(wait_status)` once when `pid` has exited, from the reaper
  // thread (or from Watch itself if it was reaped already). `pid` must be a
  // child (or an orphan re-parented to this subreaper).
  void Watch(pid_t pid, std::function<void(int wait_status)> on_exit);

  // Blocks until `pid` exits or `deadline`; returns its wait status.
  [[nodiscard]] absl::StatusOr<int> Wait(pid_t pid, absl::Time deadline);

 private:
  ChildReaper();
  struct Impl;
  Impl* impl_;
};

// Converts a wait status to a shell-style exit code (128+N for signal N).
int ExitCodeFromWaitStatus(int wait_status);

struct SpawnOptions {
  std::vector<std::string> args;  // args[0] is looked up in PATH
  std::vector<std::string> env;   // empty: inherit the agent's environment
  int stdout_fd = -1;             // -1: /dev/null
  int stderr_fd = -1;             // -1: /dev/null
};

// Starts a process (stdin is /dev/null). Watch or Wait for it through
// ChildReaper.
[[nodiscard]] absl::StatusOr<pid_t> Spawn(const SpawnOptions& options);

// Runs a command to completion, capturing stdout+stderr (at most
// `max_output` bytes kept). On timeout the process is SIGKILLed and the
// result has timed_out set. A command that cannot be started is an error;
// a non-zero exit is not.
[[nodiscard]] absl::StatusOr<ExecResult> RunCommand(
    const std::vector<std::string>& args, const std::vector<std::string>& env,
    absl::Duration timeout, size_t max_output = 1 << 20);

}  // namespace nest::agent
