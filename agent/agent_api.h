// AgentApi: what the control plane programs against to drive the containers
// of one microVM. Implemented by AgentClient (the real protocol over a
// ByteStream) and FakeAgent (in memory, for control-plane tests and
// simulations of thousands of hosts).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "agent/types.h"
#include "core/status.h"

namespace nest::agent {

// Called for every event the agent pushes. Runs on an internal thread (the
// client's reader thread, or the caller of a FakeAgent method): it must not
// block and must not call back into the AgentApi synchronously, and what it
// captures must outlive the AgentApi (destroying a client reports
// kDisconnected). A kHello after a kDisconnected means the stream was
// reopened: events raised during the gap may be lost, so re-read the state
// (ListContainers) then.
using EventHandler = std::function<void(const AgentEvent&)>;

// Called for each piece of a log stream; return false to stop the stream.
using LogSink = std::function<bool(absl::string_view data)>;

// Every method is thread-safe and bounded in time: a call that gets no reply
// within the implementation's timeout returns DEADLINE_EXCEEDED; a broken
// connection gives UNAVAILABLE. Errors from the guest keep their code
// (NOT_FOUND for an unknown container, FAILED_PRECONDITION for a wrong state,
// INVALID_ARGUMENT for a bad request).
class AgentApi {
 public:
  virtual ~AgentApi() = default;

  // Handshake; also the readiness signal of a VM.
  [[nodiscard]] virtual absl::StatusOr<AgentHello> Hello() = 0;

  // Uploads an image (uncompressed tar of a rootfs) unless the guest has
  // `digest` cached already.
  [[nodiscard]] virtual absl::StatusOr<PutImageResult> PutImage(
      absl::string_view digest, absl::string_view tar) = 0;

  [[nodiscard]] virtual absl::StatusOr<ContainerInfo> CreateContainer(
      const ContainerSpec& spec) = 0;
  [[nodiscard]] virtual absl::StatusOr<ContainerInfo> StartContainer(
      absl::string_view id) = 0;
  // Creates and starts in one call. The agent does it in one round trip and
  // one crun call; this default makes the two calls. A container that fails
  // to start is not left behind.
  [[nodiscard]] virtual absl::StatusOr<ContainerInfo> RunContainer(
      const ContainerSpec& spec) {
    NEST_RETURN_IF_ERROR(CreateContainer(spec).status());
    absl::StatusOr<ContainerInfo> started = StartContainer(spec.id);
    if (!started.ok()) (void)DeleteContainer(spec.id);
    return started;
  }
  [[nodiscard]] virtual absl::Status KillContainer(absl::string_view id,
                                                   int signal) = 0;
  // Only a created or exited container can be deleted.
  [[nodiscard]] virtual absl::Status DeleteContainer(absl::string_view id) = 0;
  [[nodiscard]] virtual absl::StatusOr<ContainerInfo> ContainerStatus(
      absl::string_view id) = 0;
  [[nodiscard]] virtual absl::StatusOr<std::vector<ContainerInfo>>
  ListContainers() = 0;

  // Runs `args` inside a running container and waits for it.
  [[nodiscard]] virtual absl::StatusOr<ExecResult> Exec(
      absl::string_view id, const std::vector<std::string>& args,
      const ExecOptions& options) = 0;

  // Streams the container's retained output (the last `tail_bytes`, 0 for
  // all) to `sink`; with `follow`, keeps streaming until the container exits,
  // `sink` returns false, or `deadline` passes (then OK, not an error).
  [[nodiscard]] virtual absl::Status Logs(absl::string_view id, bool follow,
                                          uint64_t tail_bytes,
                                          const LogSink& sink,
                                          absl::Time deadline) = 0;

  // `id` empty: the guest and every container.
  [[nodiscard]] virtual absl::StatusOr<StatsReport> Stats(
      absl::string_view id) = 0;

  // Puts the guest into its tenant network (GuestNetwork): the NIC's
  // address and default route, the VIPs on lo, the nftables table and the
  // containers' /etc/hosts. Idempotent and callable at any time, before or
  // after containers run; a container with an address needs it first
  // (FAILED_PRECONDITION "guest network not configured" otherwise).
  // INVALID_ARGUMENT naming the field for bad input; NOT_FOUND naming the
  // mac when no interface of the guest has it.
  [[nodiscard]] virtual absl::Status ConfigureNetwork(
      const GuestNetwork& network) = 0;

  // Operator-only: runs a command in the guest itself.
  [[nodiscard]] virtual absl::StatusOr<ExecResult> GuestExec(
      const std::vector<std::string>& args, const ExecOptions& options) = 0;

  // Stops every container (SIGTERM, SIGKILL after its stop_grace_s), syncs,
  // and powers the guest off when `power_off`.
  [[nodiscard]] virtual absl::Status Shutdown(bool power_off) = 0;

  // Replaces the event handler (nullptr: drop events).
  virtual void SetEventHandler(EventHandler handler) = 0;
};

}  // namespace nest::agent
