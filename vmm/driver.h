// The hypervisor boundary. Everything above vmm/ manages VMs through
// VmDriver; LibvirtDriver (the only code that includes libvirt) and SimDriver
// (in-process, for control-plane tests and benchmarks) implement it.
//
// One driver instance serves one host. VMs are named by VmId; the driver
// names the hypervisor object `DomainName(id)` and records Nest's ids in it,
// so a fresh driver re-adopts what an earlier one created. Objects the driver
// did not create (foreign) are listed as such and never modified.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "core/byte_stream.h"
#include "core/ids.h"
#include "core/status.h"

namespace nest::vmm {

// The virtio-serial port the in-guest agent listens on.
inline constexpr char kAgentChannel[] = "org.nest.agent.0";

enum class Accel { kAuto, kKvm, kTcg };
absl::string_view AccelName(Accel a);  // "auto", "kvm", "tcg"
// Parses "auto|kvm|tcg"; `field` names the input in the error.
absl::StatusOr<Accel> ParseAccel(absl::string_view field,
                                 absl::string_view text);

// What the hypervisor reports about a VM. Readiness (the guest said hello) is
// not a hypervisor state: see WaitReady / BootVm.
enum class VmState {
  kUnknown,
  kStopped,  // defined, not running
  kRunning,
  kPaused,
  kShuttingDown,  // a guest-initiated shutdown is in progress
  kCrashed,
};
absl::string_view VmStateName(VmState s);

enum class CrashPolicy { kDestroy, kRestart, kPreserve };

struct DiskSpec {
  std::string path;              // absolute path on the host
  std::string format = "qcow2";  // "qcow2" or "raw"; always explicit
  bool read_only = false;
};

struct NicSpec {
  std::string bridge;  // host bridge to attach to
  std::string mac;     // "52:54:00:xx:xx:xx"; empty = hypervisor chooses
  // A libvirt network filter the interface references (tenant isolation,
  // see libvirt_network.h); empty = none.
  std::string filter;
};

// The host uid and gid a VM's QEMU process runs as (libvirt's static DAC
// label). Both must be non-zero: QEMU never runs as root.
struct DacLabel {
  uint32_t uid = 0;
  uint32_t gid = 0;
  friend bool operator==(const DacLabel&, const DacLabel&) = default;
};

struct VmSpec {
  VmId id;  // a DNS-1123 label; the domain is named DomainName(id)
  TenantId tenant;
  GroupId group;
  int vcpus = 1;
  int64_t memory_mib = 256;
  std::string kernel_path;  // absolute host paths readable by QEMU
  std::string initrd_path;
  // Appended to the fixed microvm arguments (console, panic, tsc_early_khz).
  std::string extra_cmdline;
  std::optional<DiskSpec> data_disk;  // becomes virtio-blk `vda`
  std::optional<NicSpec> nic;
  // The serial console goes to this file. libvirt hands file chardevs to
  // virtlogd, which rotates at its max_size (2 MiB default, 3 backups), so
  // the log is bounded by max_size * (1 + max_backups). Empty = no console.
  std::string console_log_path;
  CrashPolicy on_crash = CrashPolicy::kDestroy;
  // Runs QEMU as this uid:gid without relabelling anything: whoever sets it
  // owns the VM's files accordingly (control/host_ports.h). Unset = the
  // host's qemu.conf user and libvirt's dynamic ownership.
  std::optional<DacLabel> dac_label;
};

// Checks every field of `spec`; messages name the field and what was
// expected. Hostile strings (NUL, control characters) are rejected here;
// everything else is escaped by the XML builder.
[[nodiscard]] absl::Status ValidateVmSpec(const VmSpec& spec);

// The hypervisor object name for a VM: "nest-" + id.
std::string DomainName(const VmId& id);

struct VmInfo {
  VmId id;             // empty for foreign VMs
  std::string name;    // hypervisor object name
  bool owned = false;  // carries Nest's metadata
  TenantId tenant;
  GroupId group;
  VmState state = VmState::kUnknown;
};

struct VmStats {
  uint64_t cpu_time_ns = 0;
  int vcpus = 0;
  uint64_t memory_kib = 0;      // current allocation
  uint64_t rss_kib = 0;         // host RSS of the VM process, when known
  uint64_t block_rd_bytes = 0;  // summed over disks
  uint64_t block_wr_bytes = 0;
  uint64_t net_rx_bytes = 0;  // summed over interfaces
  uint64_t net_tx_bytes = 0;
};

struct HostFacts {
  std::string hostname;
  int cpus = 0;
  int64_t memory_mib = 0;
  int64_t free_memory_mib = 0;
  Accel accel = Accel::kTcg;  // resolved: never kAuto
  std::string hypervisor;     // e.g. "QEMU 7.2.0"
};

enum class LifecycleKind {
  kDefined,
  kUndefined,
  kStarted,
  kStopped,  // shut off: guest poweroff, destroy, or QEMU exit
  kCrashed,
  kPaused,
  kResumed,
  kShuttingDown,
};
absl::string_view LifecycleKindName(LifecycleKind k);

struct LifecycleEvent {
  VmId id;  // owned VMs only; foreign domains emit no events
  LifecycleKind kind;
  std::string detail;  // hypervisor's reason, e.g. "destroyed", "shutdown"
  // True when the driver synthesised the event from a resync after a
  // reconnect instead of receiving it from the hypervisor.
  bool from_resync = false;
};

using EventCallback = std::function<void(const LifecycleEvent&)>;

// How Shutdown ended.
enum class ShutdownPath { kAlreadyStopped, kGraceful, kForced };
absl::string_view ShutdownPathName(ShutdownPath p);

// Asks the guest to power itself off (later: the agent's Shutdown RPC). An
// error means "could not ask"; Shutdown then destroys.
using GracefulRequest = std::function<absl::Status()>;

// Thread-safety: every method may be called from any thread concurrently.
class VmDriver {
 public:
  virtual ~VmDriver() = default;

  // Defines and starts a VM. ALREADY_EXISTS when a VM with this id exists
  // (the driver never creates a duplicate). RESOURCE_EXHAUSTED when the host
  // cannot hold it (SimDriver). The VM is *running* as far as the hypervisor
  // knows; it is ready only once WaitReady succeeds.
  [[nodiscard]] virtual absl::Status Create(const VmSpec& spec) = 0;

  // Starts a defined, stopped VM again.
  [[nodiscard]] virtual absl::Status Start(const VmId& id) = 0;

  // Calls `graceful_request` (when set), waits for the VM to stop until
  // `deadline` (wall-clock, the driver's Clock::Now, like ByteStream
  // deadlines), then destroys it. Reports which path stopped it: kGraceful
  // only when a request was made and the VM stopped before the deadline.
  [[nodiscard]] virtual absl::StatusOr<ShutdownPath> Shutdown(
      const VmId& id, absl::Time deadline,
      const GracefulRequest& graceful_request) = 0;

  // Stops the VM immediately. OK when already stopped.
  [[nodiscard]] virtual absl::Status Destroy(const VmId& id) = 0;

  // Destroys (if running) and removes the definition and what Nest created
  // for it (console logs). NOT_FOUND when no such VM.
  [[nodiscard]] virtual absl::Status Undefine(const VmId& id) = 0;

  [[nodiscard]] virtual absl::Status Pause(const VmId& id) = 0;
  [[nodiscard]] virtual absl::Status Resume(const VmId& id) = 0;

  [[nodiscard]] virtual absl::StatusOr<VmState> GetState(const VmId& id) = 0;
  [[nodiscard]] virtual absl::StatusOr<VmStats> GetStats(const VmId& id) = 0;

  // Every VM on the host: owned ones with their ids, foreign ones with
  // owned=false (when `include_foreign`).
  [[nodiscard]] virtual absl::StatusOr<std::vector<VmInfo>> List(
      bool include_foreign) = 0;

  [[nodiscard]] virtual absl::StatusOr<HostFacts> GetHostFacts() = 0;

  // Opens the named virtio-serial channel of a running VM as a byte stream.
  // The guest's writes block until a host end is connected, so nothing the
  // guest writes after this call is lost.
  [[nodiscard]] virtual absl::StatusOr<std::unique_ptr<ByteStream>> OpenChannel(
      const VmId& id, absl::string_view channel) = 0;

  // Registers a lifecycle listener; returns a handle for RemoveListener.
  // Callbacks run on a driver thread (or the caller's thread for SimDriver),
  // must be quick and must not call back into the driver.
  virtual int AddListener(EventCallback cb) = 0;
  virtual void RemoveListener(int handle) = 0;
};

}  // namespace nest::vmm
