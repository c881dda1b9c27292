// VmDriver over libvirt. The public header carries no libvirt types; the
// implementation (vmm/libvirt_*.cc) is the only code in Nest that includes
// libvirt.
//
// Behaviour:
//  - One instance serves one URI (qemu:///system, test:///default,
//    qemu+tcp://..., qemu+tls://..., qemu+ssh://...).
//  - Lifecycle events arrive on libvirt's event-loop thread (one per
//    process). Keepalive detects a dead peer; the driver then reconnects in
//    the background with backoff and resyncs: it lists every owned domain and
//    emits `from_resync` events for each state that changed while it was
//    away (level-triggered, like the reconcilers above it).
//  - Ownership: domains carry NestMetadata under kNestXmlNs. Any operation on
//    a domain without it (or with another VM's id) fails FAILED_PRECONDITION
//    and leaves the domain untouched.
// Thread-safe.
#pragma once

#include <memory>
#include <string>

#include "absl/time/time.h"
#include "core/clock.h"
#include "vmm/driver.h"

namespace nest::vmm {

struct LibvirtOptions {
  std::string uri = "qemu:///system";
  Accel accel = Accel::kAuto;
  // accel=auto boots this kernel+initrd under KVM (its init must write a
  // byte on kAgentChannel) to prove KVM runs guests. Without them, auto
  // cannot prove KVM and picks TCG.
  std::string probe_kernel;
  std::string probe_initrd;
  absl::Duration probe_timeout = absl::Seconds(8);
  // When set, the probe verdict is cached in `<dir>/accel-<hostname>` so a
  // restart does not pay for the probe again.
  std::string probe_cache_dir;
  absl::Duration keepalive_interval = absl::Seconds(2);
  int keepalive_count = 3;
  absl::Duration reconnect_backoff_max = absl::Seconds(2);
  // How often Shutdown polls the domain state while waiting.
  absl::Duration shutdown_poll = absl::Milliseconds(50);
  Clock* clock = nullptr;  // nullptr = RealClock()
};

class LibvirtDriver : public VmDriver {
 public:
  // Connects (UNAVAILABLE when nothing answers at `uri`) and adopts the
  // owned domains already there. The accelerator is resolved lazily, on the
  // first Create or GetHostFacts.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<LibvirtDriver>> Open(
      LibvirtOptions options);
  ~LibvirtDriver() override;

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

  // The accelerator Create uses (resolving auto on first call).
  [[nodiscard]] absl::StatusOr<Accel> ResolvedAccel();
  // True while a live connection exists.
  bool IsConnected();
  // Incremented on every successful (re)connection; starts at 1.
  int64_t connection_generation();

  class Impl;

 private:
  explicit LibvirtDriver(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace nest::vmm
