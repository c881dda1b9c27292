#include "control/host_probe.h"

#include <thread>
#include <utility>

namespace nest::control {

std::shared_ptr<HostProbe> HostProbe::Start(
    std::function<HostProbeResult()> work) {
  std::shared_ptr<HostProbe> probe(new HostProbe());
  std::thread([probe, work = std::move(work)] {
    HostProbeResult r = work();
    absl::MutexLock lock(&probe->mu_);
    probe->result_ = std::move(r);
    probe->done_ = true;
  }).detach();
  return probe;
}

bool HostProbe::Wait(absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  return mu_.AwaitWithDeadline(absl::Condition(&done_), deadline);
}

bool HostProbe::done() {
  absl::MutexLock lock(&mu_);
  return done_;
}

HostProbeResult HostProbe::Take() {
  absl::MutexLock lock(&mu_);
  return std::move(result_);
}

}  // namespace nest::control
