// FakeRuntime: an in-memory ContainerRuntime for unit tests. No processes,
// no threads: a container's behaviour comes from its args:
//
//   {"echo", words...}   prints the words (space-joined, "\n") and exits 0
//   {"exit", "N"}        exits with code N
//   {"oom"}              is OOM-killed at start (exit 137, oom)
//   {"sleep"}            runs until killed (SIGTERM or SIGKILL ends it)
//   {"stubborn"}         runs until SIGKILL; ignores every other signal
//   {"print", text}      prints text, then runs like "sleep"
//   {"fail-create"}      Create fails with INTERNAL
//   anything else        runs like "sleep"
//
// Exec of {"echo", ...} prints its words; {"exit", "N"} returns N;
// {"sleep-ms", "N"} takes N ms (at most the exec's timeout, then it has
// timed out) and returns 0; a program given to SetExecResult returns that
// result; anything else returns 0 with empty output. Exits are reported
// synchronously from Start or Kill, after the fake's lock is released.
// Thread-safe.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "agent/log_file.h"
#include "agent/runtime.h"

namespace nest::agent {

class FakeRuntime : public ContainerRuntime {
 public:
  FakeRuntime() = default;

  void SetExitCallback(ExitCallback cb) override;
  absl::StatusOr<int> Create(const ContainerSpec& spec,
                             const std::string& rootfs,
                             const std::string& log_path,
                             const NetworkAttachment& network) override;
  absl::Status Start(const std::string& id) override;
  absl::Status Kill(const std::string& id, int signal) override;
  absl::Status Delete(const std::string& id) override;
  absl::StatusOr<ExecResult> Exec(const std::string& id,
                                  const std::vector<std::string>& args,
                                  const ExecOptions& options) override;
  absl::StatusOr<ContainerStats> Stats(const std::string& id) override;

  // Every later Exec of `program` (args[0]) returns `result`, in any
  // running container.
  void SetExecResult(const std::string& program, ExecResult result);
  // Number of Exec calls made on a running container so far.
  uint64_t execs() const;

  // Appends output as if the container's process wrote it.
  [[nodiscard]] absl::Status Emit(const std::string& id,
                                  absl::string_view data);
  // Number of containers the fake currently holds (created, not deleted).
  size_t size() const;
  // The limits a container was created with (for tests of the mapping).
  [[nodiscard]] absl::StatusOr<ContainerLimits> LimitsOf(
      const std::string& id) const;
  // The whole spec the runtime was given (files included).
  [[nodiscard]] absl::StatusOr<ContainerSpec> SpecOf(
      const std::string& id) const;

 private:
  struct Fake {
    ContainerSpec spec;
    std::unique_ptr<RotatingLog> log;
    bool running = false;
    bool exited = false;
    int pid = 0;
  };

  // Marks the process dead; the caller reports the exit after unlocking.
  void ExitLocked(Fake& f) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  ExitCallback on_exit_;
  std::map<std::string, Fake> containers_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, ExecResult> exec_results_ ABSL_GUARDED_BY(mu_);
  uint64_t execs_ ABSL_GUARDED_BY(mu_) = 0;
  int next_pid_ ABSL_GUARDED_BY(mu_) = 100;
};

}  // namespace nest::agent
