// The production implementations of the control plane's ports: libvirt
// hosts, microVMs booted from the guest boot set, and agents reached over
// the virtio-serial channel.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "control/networking.h"
#include "control/ports.h"
#include "control/remote_files.h"
#include "control/tenant_identity.h"
#include "vmm/libvirt_driver.h"
#include "vmm/libvirt_volumes.h"

namespace nest::control {

// Opens a LibvirtDriver on the host's URI. Thread-safe.
class LibvirtHostConnector : public HostConnector {
 public:
  // `base` supplies accel, probe and keepalive settings; the URI comes from
  // each host row. With `remote`, a remote host first gets the boot set,
  // and its accel probe boots that copy.
  explicit LibvirtHostConnector(vmm::LibvirtOptions base,
                                RemoteFiles* remote = nullptr)
      : base_(base), remote_(remote) {}
  absl::StatusOr<std::shared_ptr<vmm::VmDriver>> Connect(
      const store::Host& host) override;
  bool MayBlock(const store::Host& host) const override {
    return !vmm::IsLocalUri(host.libvirt_uri);
  }

 private:
  const vmm::LibvirtOptions base_;
  RemoteFiles* const remote_;
};

// How QEMU processes are confined (README, "Operator: host hardening").
struct ConfinementOptions {
  // Each tenant's VMs run as a uid:gid of its own (static DAC label) and
  // their files are owned by it; off = the qemu.conf user for every VM.
  bool per_tenant_uids = true;
  TenantIdRange range;
  // Where the tenant -> id assignment persists; empty = "tenant-ids" next
  // to `vms_dir` (in the state dir).
  std::string ids_path;
  // The local libvirtd's qemu state dir: it, channel/ and channel/target
  // get o+x, so tenant QEMUs reach the per-domain directories libvirt
  // gives them (Debian ships these 0750). Empty = leave them alone.
  std::string libvirt_qemu_dir = "/var/lib/libvirt/qemu";
};

// VmSpecs that boot the guest boot set. Per-VM files lie flat in `vms_dir`
// (a libvirt dir storage pool, whose volumes are its plain files):
// `<vm id>.data.qcow2` and `<vm id>.console.log`. Thread-safe when
// `files_changed` is.
//
// With per-tenant uids, Prepare gives the VM its tenant's DAC label and
// makes the data disk the tenant id's own (mode 0600), so another
// tenant's QEMU cannot open it. `vms_dir` becomes root-owned 0711 (tenant
// QEMUs reach their own files by name but cannot list others). The console
// log is written by virtlogd (root), not by QEMU, and stays root's 0600.
// Prepare refuses a boot set a tenant uid cannot read, or could write:
// kernel and initrd must be readable by others and neither they nor any
// directory above them (or above `vms_dir`) writable by others or by a
// tenant id.
//
// VMs on remote hosts (a libvirt URI with a host part) get their files
// through RemoteFiles instead, at the same paths in that host's pool; they
// run as the host's qemu.conf user (tenant uids are local-only, see
// docs/scale-out.md).
class BootSetProvisioner : public VmProvisioner {
 public:
  // The URI of a host (from the store).
  using HostUri = std::function<absl::StatusOr<std::string>(const HostId&)>;

  // `files_changed` (optional) runs after files were created or removed,
  // e.g. to refresh the storage pool.
  BootSetProvisioner(std::string kernel_path, std::string initrd_path,
                     std::string vms_dir,
                     std::function<void()> files_changed = nullptr,
                     ConfinementOptions confinement = {});
  // VMs on hosts whose URI is remote get their files from `remote`.
  void EnableRemoteHosts(RemoteFiles* remote, HostUri host_uri);

  absl::StatusOr<vmm::VmSpec> Prepare(const store::Vm& vm,
                                      const store::VmGroup& group) override;
  absl::Status Release(const HostId& host, const VmId& vm) override;

  static std::string ConsoleLogPath(const std::string& vms_dir, const VmId& vm);
  static std::string DataDiskPath(const std::string& vms_dir, const VmId& vm);

 private:
  absl::Status CheckHostPaths();
  // The host's URI when it is remote and remote hosts are enabled.
  absl::StatusOr<std::optional<std::string>> RemoteUri(const HostId& host);
  absl::StatusOr<vmm::VmSpec> PrepareRemote(const std::string& uri,
                                            const store::Vm& vm,
                                            const store::VmGroup& group);

  const std::string kernel_, initrd_, vms_dir_;
  const std::function<void()> files_changed_;
  const std::string libvirt_qemu_dir_;
  // Null without per-tenant uids.
  std::unique_ptr<TenantIdentities> identities_;
  RemoteFiles* remote_ = nullptr;
  HostUri host_uri_;
};

struct ChannelAgentOptions {
  // Create to agent hello, per attempt (TCG boots take seconds).
  absl::Duration ready_timeout = absl::Seconds(60);
  int boot_retries = 2;
  absl::Duration attach_timeout = absl::Seconds(15);
};

// Boots with vmm::BootVm (deadline + retries) and talks to the agent with
// agent::AgentClient over virDomainOpenChannel. Thread-safe.
class ChannelAgentConnector : public AgentConnector {
 public:
  explicit ChannelAgentConnector(ChannelAgentOptions options = {})
      : options_(options) {}
  absl::StatusOr<std::shared_ptr<agent::AgentApi>> Boot(
      vmm::VmDriver& driver, const vmm::VmSpec& spec) override;
  absl::StatusOr<std::shared_ptr<agent::AgentApi>> Attach(
      vmm::VmDriver& driver, const VmId& vm) override;

 private:
  const ChannelAgentOptions options_;
};

// Tenant networks and filters through each host's libvirt connection, the
// local table through `nft -f`. Thread-compatible (the pass thread).
class LibvirtNetworkOps : public HostNetworkOps {
 public:
  absl::Status EnsureNetwork(const store::Host& host,
                             const vmm::NetworkSpec& spec) override;
  absl::Status EnsureFilter(const store::Host& host,
                            const vmm::NwFilterSpec& spec) override;
  absl::Status RemoveNetwork(const store::Host& host, const std::string& name,
                             const std::string& uuid) override;
  absl::Status RemoveFilter(const store::Host& host, const std::string& name,
                            const std::string& uuid) override;
  absl::Status ApplyLocalRuleset(const std::string& script) override;
  absl::StatusOr<bool> LocalTablePresent(const std::string& table) override;
};

}  // namespace nest::control
