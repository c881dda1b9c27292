// ContainerManager: the agent's bookkeeping of containers above a
// ContainerRuntime. It validates requests, owns the state machine
// (created -> running -> exited), records exit codes and OOM kills, keeps
// each container's log file, and emits events. State lives for the agent
// process, independent of any host connection. Thread-safe; runtime calls
// are made without holding the lock.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
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

 private:
  struct Record {
    ContainerSpec spec;
    ContainerInfo info;
    std::string log_path;
    bool busy = false;  // a Create/Start/Delete is running in the runtime
  };

  absl::StatusOr<ContainerInfo> Launch(const ContainerSpec& spec, bool start);
  void OnExit(const std::string& id, int exit_code, bool oom);
  void Emit(const AgentEvent& event);

  const Options options_;
  ContainerRuntime& runtime_;
  ImageStore& images_;
  Clock& clock_;
  GuestNetworking* network_ = nullptr;
  // Held while the sink runs (see SetEventSink). Never taken with mu_.
  absl::Mutex sink_mu_;
  EventSink sink_ ABSL_GUARDED_BY(sink_mu_);

  mutable absl::Mutex mu_;
  absl::CondVar exited_cv_;
  std::map<std::string, Record> containers_ ABSL_GUARDED_BY(mu_);
};

}  // namespace nest::agent
