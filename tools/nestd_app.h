// What nestd does, as functions its main() dispatches to.
#pragma once

#include <string>

#include "absl/time/time.h"
#include "api/tls.h"
#include "core/status.h"
#include "images/guest/initramfs.h"
#include "vmm/driver.h"

namespace nest::tools {

struct DaemonConfig {
  bool dev = false;
  bool down = false;
  int sim_hosts = 0;
  std::string state_dir = "/var/lib/nest";
  std::string listen = "127.0.0.1:7443";
  // TLS on the API port (--tls-cert/--tls-key/--client-ca); none means
  // plaintext, refused off loopback unless `insecure` (--insecure).
  api::TlsFiles tls;
  bool insecure = false;
  vmm::Accel accel = vmm::Accel::kAuto;
  // /metrics (and /healthz); empty: no HTTP port.
  std::string http_listen = "127.0.0.1:7444";
  // How often VM and container usage is sampled.
  absl::Duration usage_interval = absl::Seconds(10);
  // How long a host may be unreachable before it is down.
  absl::Duration host_down_grace = absl::Seconds(30);
  // Events older than this are pruned (every minute).
  absl::Duration event_retention = absl::Hours(24 * 7);
  // Tenant networks' address pool (--net-pool); empty: no networking (VMs
  // get no NIC, containers share their guest's network).
  std::string net_pool = "10.88.0.0/14";
};

// What names this installation's network objects: libvirt networks and
// filters are keyed by it, and its nftables table is named after it. It is
// the pool, so installations with disjoint pools never share or remove
// each other's objects, and a restored backup finds its own.
std::string NetInstallation(const DaemonConfig& cfg);
std::string NetTable(const DaemonConfig& cfg);

// Builds (or reuses) the microVM boot set: Debian's cloud kernel and an
// initramfs carrying busybox, crun and the nest-agent next to this binary.
absl::StatusOr<images::GuestBootSet> EnsureGuestBootSet(
    const DaemonConfig& cfg);

// Runs the control plane until SIGINT or SIGTERM. VMs keep running after.
absl::Status RunDaemon(const DaemonConfig& cfg);

// nestd --dev --down: removes every Nest-owned domain on qemu:///system and
// the state directory.
absl::Status TearDownDev(const DaemonConfig& cfg);

// Online backup of the state database to `file`.
absl::Status BackupState(const DaemonConfig& cfg, const std::string& file);

}  // namespace nest::tools
