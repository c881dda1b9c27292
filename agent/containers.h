// ContainerManager: the agent's bookkeeping of containers above a
// ContainerRuntime. It validates requests, owns the state machine
// (created -> running -> exited), records exit codes and OOM kills, keeps
// each container's log file, runs health checks (agent/health.h) and emits
// events. State lives for the agent process, independent of any host
// connection. Thread-safe; runtime calls are made without holding the lock.
//
// Health: a container started with a health check is kStarting (message
// empty) from its start, and its probes run from then until it exits or is
// deleted; each change of health is pushed as kContainerHealth. The last
// health stays in ContainerInfo after the exit. A container re-created
// under the same id starts over from kStarting.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "agent/health.h"
#include "agent/image_store.h"
#include "agent/network.h"
#include "agent/runtime.h"
#include "agent/types.h"
#include "agent/validation.h"
#include "core/clock.h"

namespace nest::agent {

class ContainerManager {
 public:
  // Receives container events; called without the manager's lock held.
  using EventSink = std::function<void(const AgentEvent&)>;

  struct Options {
    std::string run_dir;  // per-container files under <run_dir>/<id>/
    uint64_t log_file_bytes = 4 << 20;
  };

  ContainerManager(Options options, ContainerRuntime& runtime,
                   ImageStore& images, Clock& clock);
  // Stops the health checks first (waiting out in-flight probes).
  ~ContainerManager();

  // Replaces the sink; returns once no call into the previous one is in
  // progress, so its owner may then be destroyed.
  void SetEventSink(EventSink sink);

  // Where containers with an address get their network; must outlive the
  // manager. Set before the first request. Without one, ConfigureNetwork
  // and containers with an address are refused (FAILED_PRECONDITION).
  void SetNetwork(GuestNetworking* network);
  [[nodiscard]] absl::Status ConfigureNetwork(const GuestNetwork& network);

  [[nodiscard]] absl::StatusOr<ContainerInfo> Create(const ContainerSpec& spec);
  [[nodiscard]] absl::StatusOr<ContainerInfo> Start(const std::string& id);
  // Create and Start as one runtime call (ContainerRuntime::Run); emits
  // kContainerStarted. On error nothing is left.
  [[nodiscard]] absl::StatusOr<ContainerInfo> Run(const ContainerSpec& spec);
  [[nodiscard]] absl::Status Kill(const std::string& id, int signal);
  [[nodiscard]] absl::Status Delete(const std::string& id);
  [[nodiscard]] absl::StatusOr<ContainerInfo> Get(const std::string& id) const;
  std::vector<ContainerInfo> List() const;
  size_t size() const;
  [[nodiscard]] absl::StatusOr<ExecResult> Exec(
      const std::string& id, const std::vector<std::string>& args,
      const ExecOptions& options);
  // Per-container stats; `id` empty: every container that has a process.
  [[nodiscard]] absl::StatusOr<std::vector<ContainerStats>> Stats(
      const std::string& id);
  [[nodiscard]] absl::StatusOr<std::string> LogPath(
      const std::string& id) const;

  // Waits until the container has exited (true) or `deadline` (false).
  bool WaitExited(const std::string& id, absl::Time deadline);

  // Graceful stop of every running container: SIGTERM to all, then SIGKILL
  // to each one still running after its own stop_grace_s.
  void StopAll();

  // Number of containers whose health checks are running.
  size_t health_checks_running() const;

 private:
  struct Record {
    ContainerSpec spec;
    ContainerInfo info;
    std::string log_path;
    bool busy = false;  // a Create/Start/Delete is running in the runtime
    // Identifies the current run's checks (0: none); stale reports of an
    // earlier run carry another number.
    uint64_t health_run = 0;
  };

  absl::StatusOr<ContainerInfo> Launch(const ContainerSpec& spec, bool start);
  // At a start: kStarting, and a new run number for the checks when the
  // container runs and has a check (0: nothing to watch).
  uint64_t BeginHealthLocked(Record& r) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Starts the checks of `run` unless the container exited meanwhile.
  void WatchHealth(const std::string& id, uint64_t run);
  void OnExit(const std::string& id, int exit_code, bool oom);
  void OnHealth(const std::string& id, uint64_t run, Health health,
                const std::string& message);
  void Emit(const AgentEvent& event);

  const Options options_;
  ContainerRuntime& runtime_;
  ImageStore& images_;
  Clock& clock_;
  GuestNetworking* network_ = nullptr;
  // Held while the sink runs (see SetEventSink). Never taken while mu_ is
  // held; OnHealth takes it before mu_, so a health event cannot follow the
  // container's exit event.
  absl::Mutex sink_mu_;
  EventSink sink_ ABSL_GUARDED_BY(sink_mu_);

  mutable absl::Mutex mu_;
  absl::CondVar exited_cv_;
  std::map<std::string, Record> containers_ ABSL_GUARDED_BY(mu_);
  uint64_t health_runs_ ABSL_GUARDED_BY(mu_) = 0;
  // Watch/Unwatch are called under mu_ (they never wait for a probe); the
  // probes' threads call OnHealth.
  HealthMonitor health_;
};

}  // namespace nest::agent
