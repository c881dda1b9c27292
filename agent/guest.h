// GuestOps: what the agent does to the guest itself (not to a container):
// describe it, measure it, run an operator command, sync and power off.
// LinuxGuest is the real one; tests pass a fake so Shutdown never powers
// off the test machine.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "agent/types.h"
#include "core/status.h"

namespace nest::agent {

class GuestOps {
 public:
  virtual ~GuestOps() = default;
  // Kernel release, CPUs and memory; the rest of AgentHello is the server's.
  virtual AgentHello Describe() = 0;
  [[nodiscard]] virtual absl::StatusOr<GuestStats> Stats() = 0;
  [[nodiscard]] virtual absl::StatusOr<ExecResult> Exec(
      const std::vector<std::string>& args, const ExecOptions& options) = 0;
  virtual void Sync() = 0;
  // Does not return on success.
  [[nodiscard]] virtual absl::Status PowerOff() = 0;
};

// The guest this process runs in (uname, /proc, sync(2), reboot(2)).
std::unique_ptr<GuestOps> NewLinuxGuest();

// Finds the character device of the virtio-serial port named `name` by
// reading <sys_dir>/*/name (no udev in the guest): "/dev/vport0p1".
[[nodiscard]] absl::StatusOr<std::string> FindVirtioPort(
    const std::string& sys_dir, const std::string& name);

inline constexpr char kAgentPortName[] = "org.nest.agent.0";

}  // namespace nest::agent
