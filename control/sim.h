// In-process implementations of the control plane's ports: simulated hosts
// (vmm::SimDriver), in-memory agents (agent::FakeAgent), a provisioner that
// creates no files and an image source fed by the caller. They back
// `nestd --sim`, the control-plane benchmark and the reconciler tests.
#pragma once

#include <atomic>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "agent/fake_agent.h"
#include "control/ports.h"
#include "vmm/sim_driver.h"

namespace nest::control {

// One SimDriver per host name, created on first Connect and kept, so a
// "reconnect" finds the same VMs. Thread-safe.
class SimHostConnector : public HostConnector {
 public:
  explicit SimHostConnector(vmm::SimHostConfig config,
                            Clock& clock = RealClock())
      : config_(config), clock_(clock) {}
  absl::StatusOr<std::shared_ptr<vmm::VmDriver>> Connect(
      const store::Host& host) override;
  // The host's simulator (nullptr before the first Connect).
  std::shared_ptr<vmm::SimDriver> Host(const HostId& host);
  // While set, Connect fails for this host (a host that is unreachable).
  void SetUnreachable(const HostId& host, bool unreachable);
  // Makes the controller treat every host as remote (calls may hang).
  void SetMayBlock(bool may_block) { may_block_ = may_block; }
  bool MayBlock(const store::Host&) const override { return may_block_; }
  int64_t connects() const;

 private:
  const vmm::SimHostConfig config_;
  Clock& clock_;
  std::atomic<bool> may_block_{false};
  mutable absl::Mutex mu_;
  std::map<HostId, std::shared_ptr<vmm::SimDriver>> hosts_ ABSL_GUARDED_BY(mu_);
  std::set<HostId> unreachable_ ABSL_GUARDED_BY(mu_);
  int64_t connects_ ABSL_GUARDED_BY(mu_) = 0;
};

// Boots VMs on the driver and gives each a FakeAgent, which answers
// `boot_latency` after the domain was created (as a guest's hello would).
// Boot blocks for that long; BootAsync waits on one timer thread for all
// VMs, so 10,000 VMs can boot at once. Thread-safe.
//
// The destructor drops boots still waiting; it may wait for the timer
// thread's current sleep on `clock` to end (a FakeClock must be advanced).
class SimAgentConnector : public AgentConnector {
 public:
  explicit SimAgentConnector(
      Clock& clock = RealClock(),
      absl::Duration boot_latency = absl::ZeroDuration());
  ~SimAgentConnector() override;
  absl::StatusOr<std::shared_ptr<agent::AgentApi>> Boot(
      vmm::VmDriver& driver, const vmm::VmSpec& spec) override;
  void BootAsync(vmm::VmDriver& driver, const vmm::VmSpec& spec,
                 BootDone done) override;
  absl::StatusOr<std::shared_ptr<agent::AgentApi>> Attach(
      vmm::VmDriver& driver, const VmId& vm) override;
  // The VM's agent (nullptr when it never booted).
  std::shared_ptr<agent::FakeAgent> Agent(const VmId& vm);
  // Makes the next `n` boots fail with `status`.
  void FailNextBoots(int n, absl::Status status);
  int64_t boots() const;

 private:
  // Defines the domain and makes its agent; the agent answers later.
  absl::StatusOr<std::shared_ptr<agent::FakeAgent>> Create(
      vmm::VmDriver& driver, const vmm::VmSpec& spec);
  // The agent answers unless the guest died while booting.
  static absl::StatusOr<std::shared_ptr<agent::AgentApi>> Hello(
      vmm::VmDriver& driver, const VmId& vm,
      std::shared_ptr<agent::FakeAgent> agent);
  void TimerLoop();

  struct Timer {
    absl::Time at;  // on clock_.MonotonicNow()
    std::function<void()> fire;
  };

  Clock& clock_;
  const absl::Duration boot_latency_;
  mutable absl::Mutex mu_;
  std::map<VmId, std::shared_ptr<agent::FakeAgent>> agents_
      ABSL_GUARDED_BY(mu_);
  // Deadlines are now + the fixed latency, so arrival order is firing
  // order and a queue suffices.
  std::deque<Timer> timers_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread timer_thread_;  // started by the first BootAsync that waits
  int fail_next_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status fail_status_ ABSL_GUARDED_BY(mu_);
  int64_t boots_ ABSL_GUARDED_BY(mu_) = 0;
};

// VmSpecs without files. Thread-safe.
class SimProvisioner : public VmProvisioner {
 public:
  absl::StatusOr<vmm::VmSpec> Prepare(const store::Vm& vm,
                                      const store::VmGroup& group) override;
  absl::Status Release(const HostId& host, const VmId& vm) override;
  int64_t released() const;

 private:
  mutable absl::Mutex mu_;
  int64_t released_ ABSL_GUARDED_BY(mu_) = 0;
};

// Images registered by name (for every tenant). Thread-safe.
class StaticImageSource : public ImageSource {
 public:
  void Add(const std::string& name, ImageBlob blob);
  absl::StatusOr<std::shared_ptr<const ImageBlob>> Get(
      const TenantId& tenant, const std::string& name) override;
  // Registers a placeholder image whose digest derives from `source`, so
  // simulations can import without files.
  absl::StatusOr<ImportedImage> Import(const TenantId& tenant,
                                       const std::string& name,
                                       const std::string& source) override;
  absl::Status Remove(const TenantId& tenant, const std::string& name) override;

 private:
  absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<const ImageBlob>> images_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace nest::control
