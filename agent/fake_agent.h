// FakeAgent: an in-memory AgentApi for control-plane tests and simulations
// of thousands of VMs. No threads, no files, no sockets: a few hundred bytes
// per VM plus container state. It validates requests exactly like the real
// agent (agent/validation.h) and follows the same state machine:
// created -> running -> exited, delete only when created or exited.
//
// Containers run until killed (any signal but 0 ends them with 128+N) or
// until the test calls SimulateExit. Events go to the handler synchronously,
// on the thread that caused them, after the fake's lock is released.
// Thread-safe.
//
// Health checks are not run: a container started with one becomes kHealthy
// at once (with a kContainerHealth "healthy" event after its
// kContainerStarted) while auto_healthy is on, the default; with it off it
// stays kStarting until the test calls SetHealth.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "agent/agent_api.h"

namespace nest::agent {

class FakeAgent : public AgentApi {
 public:
  // `hello` is what Hello() returns (containers is filled in).
  explicit FakeAgent(AgentHello hello = DefaultHello());
  static AgentHello DefaultHello();

  absl::StatusOr<AgentHello> Hello() override;
  absl::StatusOr<PutImageResult> PutImage(absl::string_view digest,
                                          absl::string_view tar) override;
  absl::StatusOr<ContainerInfo> CreateContainer(
      const ContainerSpec& spec) override;
  absl::StatusOr<ContainerInfo> StartContainer(absl::string_view id) override;
  absl::Status KillContainer(absl::string_view id, int signal) override;
  absl::Status DeleteContainer(absl::string_view id) override;
  absl::StatusOr<ContainerInfo> ContainerStatus(absl::string_view id) override;
  absl::StatusOr<std::vector<ContainerInfo>> ListContainers() override;
  absl::StatusOr<ExecResult> Exec(absl::string_view id,
                                  const std::vector<std::string>& args,
                                  const ExecOptions& options) override;
  absl::Status Logs(absl::string_view id, bool follow, uint64_t tail_bytes,
                    const LogSink& sink, absl::Time deadline) override;
  absl::StatusOr<StatsReport> Stats(absl::string_view id) override;
  // Validates like the agent (agent/validation.h; any mac is found) and
  // records the configuration.
  absl::Status ConfigureNetwork(const GuestNetwork& network) override;
  absl::StatusOr<ExecResult> GuestExec(const std::vector<std::string>& args,
                                       const ExecOptions& options) override;
  absl::Status Shutdown(bool power_off) override;
  void SetEventHandler(EventHandler handler) override;

  // --- Test controls (what the guest would do on its own). ---

  // While unreachable every call fails with UNAVAILABLE (a VM that is down
  // or not yet booted); going unreachable also emits kDisconnected.
  void SetReachable(bool reachable);
  // The container's process ends with `exit_code` (OOM-killed if `oom`).
  [[nodiscard]] absl::Status SimulateExit(absl::string_view id, int exit_code,
                                          bool oom);
  // Appends output as if the container wrote it.
  [[nodiscard]] absl::Status AppendOutput(absl::string_view id,
                                          absl::string_view data);
  // Result of every later Exec/GuestExec.
  void SetExecResult(ExecResult result);
  // Whether containers started later with a health check are healthy at
  // once (true, the default) or stay kStarting until SetHealth.
  void SetAutoHealthy(bool auto_healthy);
  // What the agent does when a running container's check reaches a
  // verdict: sets its health (kHealthy or kUnhealthy) and health_message
  // (`message` when unhealthy, empty when healthy) and, when the health
  // changed, emits kContainerHealth. NOT_FOUND for an unknown id,
  // FAILED_PRECONDITION when it is not running or has no check,
  // INVALID_ARGUMENT for kNone or kStarting.
  [[nodiscard]] absl::Status SetHealth(absl::string_view id, Health health,
                                       std::string message = "");
  // The spec a container was created with (health check included).
  [[nodiscard]] absl::StatusOr<ContainerSpec> SpecOf(
      absl::string_view id) const;
  bool powered_off() const;
  // The last configuration ConfigureNetwork accepted (nullopt: none yet), and
  // how many it accepted.
  std::optional<GuestNetwork> network() const;
  uint64_t network_configs() const;
  // Number of calls made through the AgentApi (for "no call was made").
  uint64_t calls() const;

 private:
  struct Container {
    ContainerSpec spec;
    ContainerInfo info;
    std::string output;
  };

  // Common prologue: counts the call, fails when unreachable.
  absl::Status Enter() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Marks an exit; returns the events to emit after unlocking.
  std::vector<AgentEvent> ExitLocked(Container& c, int code, bool oom)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Emit(const std::vector<AgentEvent>& events);

  mutable absl::Mutex mu_;
  absl::CondVar changed_;
  AgentHello hello_ ABSL_GUARDED_BY(mu_);
  bool reachable_ ABSL_GUARDED_BY(mu_) = true;
  bool powered_off_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t calls_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t time_ms_ ABSL_GUARDED_BY(mu_) = 0;
  std::set<std::string> images_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Container> containers_ ABSL_GUARDED_BY(mu_);
  ExecResult exec_result_ ABSL_GUARDED_BY(mu_);
  bool auto_healthy_ ABSL_GUARDED_BY(mu_) = true;
  std::optional<GuestNetwork> network_ ABSL_GUARDED_BY(mu_);
  uint64_t network_configs_ ABSL_GUARDED_BY(mu_) = 0;
  EventHandler handler_ ABSL_GUARDED_BY(mu_);
};

}  // namespace nest::agent
