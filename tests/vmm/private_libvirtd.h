// A libvirtd of our own for tests that must kill and restart the daemon
// (the "second host" recipe in ARCHITECTURE.md, without the network
// namespace): a private mount namespace with a tmpfs /run and private
// /var/lib/libvirt, /var/log/libvirt and /etc/libvirt, and its socket in a
// test directory. Killing it never disturbs the host's libvirtd or anyone
// else's VMs. Needs root.
#pragma once

#include <sys/types.h>

#include <string>

#include "core/status.h"

namespace nest::testenv {

class PrivateLibvirtd {
 public:
  // Starts virtlogd + libvirtd under `dir` (created) and waits until the
  // URI answers.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<PrivateLibvirtd>> Start(
      const std::string& dir);
  ~PrivateLibvirtd();  // stops the daemons it started and the namespace

  const std::string& uri() const { return uri_; }

  // SIGKILLs this libvirtd (its QEMU guests keep running) and waits for it
  // to be gone.
  [[nodiscard]] absl::Status Kill();
  // Starts libvirtd again in the same namespace; waits until it answers.
  [[nodiscard]] absl::Status Restart();

 private:
  PrivateLibvirtd() = default;
  absl::StatusOr<pid_t> DaemonPid(const char* name);

  std::string dir_;
  std::string uri_;
  pid_t keeper_ = -1;  // holds the mount namespace
};

}  // namespace nest::testenv
