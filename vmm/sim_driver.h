// SimDriver: an in-process hypervisor for control-plane tests and benchmarks
// at 10,000 hosts. It implements VmDriver with the same contracts as
// LibvirtDriver (ownership, ALREADY_EXISTS, shutdown paths, events) and no
// threads of its own; one instance is one host and costs a few hundred
// bytes plus its VMs.
//
// The simulated guest speaks the same channel protocol as the e2e test init:
// it writes one hello byte 'H' on kAgentChannel once `boot_latency` has
// passed on the injected clock, and powers off when it reads a line
// "poweroff". A channel factory can replace it (e.g. with an in-memory
// agent).
//
// Events are delivered synchronously on the thread that caused them, after
// the driver's lock is released. Thread-safe.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "core/clock.h"
#include "vmm/driver.h"

namespace nest::vmm {

struct SimHostConfig {
  std::string hostname = "sim-host";
  int cpus = 16;               // host CPUs
  int64_t memory_mib = 65536;  // capacity: sum of memory of running VMs
  absl::Duration boot_latency = absl::ZeroDuration();  // create -> hello
  Accel accel = Accel::kKvm;
  // Like a real hypervisor, running vCPUs may exceed host CPUs: up to
  // cpus x this (placement's default CPU overcommit). Memory is never
  // overcommitted.
  double cpu_overcommit = 4.0;
  // Share of each vCPU a running VM keeps busy: its reported CPU time grows
  // by vcpus x this per second of the clock since it started.
  double cpu_load = 0.1;
};

class SimDriver : public VmDriver {
 public:
  // `clock` must outlive the driver.
  explicit SimDriver(SimHostConfig config, Clock& clock = RealClock());
  ~SimDriver() override;

  absl::Status Create(const VmSpec& spec) override;
  absl::Status Start(const VmId& id) override;
  absl::StatusOr<ShutdownPath> Shutdown(
      const VmId& id, absl::Time deadline,
      const GracefulRequest& graceful_request) override;
  absl::Status Destroy(const VmId& id) override;
  absl::Status Undefine(const VmId& id) override;
  absl::Status Pause(const VmId& id) override;
  absl::Status Resume(const VmId& id) override;
  absl::StatusOr<VmState> GetState(const VmId& id) override;
  absl::StatusOr<VmStats> GetStats(const VmId& id) override;
  absl::StatusOr<std::vector<VmInfo>> List(bool include_foreign) override;
  absl::StatusOr<HostFacts> GetHostFacts() override;
  absl::StatusOr<std::unique_ptr<ByteStream>> OpenChannel(
      const VmId& id, absl::string_view channel) override;
  int AddListener(EventCallback cb) override;
  void RemoveListener(int handle) override;

  // --- Fault injection -----------------------------------------------------
  // The next `n` Create calls fail with `status` (nothing is defined).
  void FailNextCreates(int n, absl::Status status);
  // The guest crashes: state kCrashed (kRestart policy: restarted, and a
  // kStarted event follows), kCrashed event. NOT_FOUND if no such VM.
  absl::Status CrashVm(const VmId& id);
  // The host becomes unreachable: every call fails UNAVAILABLE. With
  // `lose_vms`, its VMs are gone when it comes back (a rebooted host).
  void SetHostDown(bool down, bool lose_vms = false);
  // Guests stop saying hello (boot hangs) until cleared.
  void SetBootHang(bool hang);
  // List blocks until cleared (a connection that hangs, not fails).
  void SetListHang(bool hang);
  // Adds a domain Nest does not own, for ownership tests.
  void AddForeignVm(const std::string& name);

  // Replaces the simulated guest end of OpenChannel.
  using ChannelFactory =
      std::function<absl::StatusOr<std::unique_ptr<ByteStream>>(const VmId&)>;
  void SetChannelFactory(ChannelFactory factory);

  // Sums over running VMs.
  int used_vcpus();
  int64_t used_memory_mib();

  struct Shared;  // state the simulated guests' channels also reach

 private:
  std::shared_ptr<Shared> s_;
};

}  // namespace nest::vmm
