// A host's connect-and-list, run off the reconciler's pass thread for hosts
// whose libvirt calls may hang: a remote host behind a cut link that some
// middlebox still answers, or a frozen libvirtd, leaves a call blocked for
// minutes. The pass waits for a probe only up to a deadline; a host that
// has not answered by then counts as unreachable for that pass (and,
// after its grace period, as down), while the call finishes in the
// background and no second one is started until it has.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/status.h"
#include "vmm/driver.h"

namespace nest::control {

struct HostProbeResult {
  // Set when the probe opened a new connection.
  std::shared_ptr<vmm::VmDriver> connected;
  absl::StatusOr<std::vector<vmm::VmInfo>> vms =
      absl::UnavailableError("not probed");
};

// Thread-safe. The work runs on a detached thread of its own, so dropping
// the probe never waits for a hung call; the work must therefore hold
// (shared) ownership of everything it touches.
class HostProbe {
 public:
  static std::shared_ptr<HostProbe> Start(
      std::function<HostProbeResult()> work);

  // True once the work finished, waiting for it until `deadline`.
  bool Wait(absl::Time deadline);
  bool done();
  // The result; only after done().
  HostProbeResult Take();

 private:
  HostProbe() = default;
  absl::Mutex mu_;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  HostProbeResult result_ ABSL_GUARDED_BY(mu_);
};

}  // namespace nest::control
