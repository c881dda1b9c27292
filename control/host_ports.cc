#include "control/host_ports.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "agent/client.h"
#include "images/disk.h"
#include "spdlog/spdlog.h"
#include "vmm/boot.h"
#include "vmm/domain_xml.h"
#include "vmm/libvirt_volumes.h"

namespace nest::control {

absl::StatusOr<std::shared_ptr<vmm::VmDriver>> LibvirtHostConnector::Connect(
    const store::Host& host) {
  vmm::LibvirtOptions options = base_;
  options.uri = host.libvirt_uri;
  if (remote_ && !vmm::IsLocalUri(host.libvirt_uri)) {
    // The accel probe boots the host's own copy of the boot set.
    NEST_ASSIGN_OR_RETURN(RemoteBootSet boot,
                          remote_->EnsureBootSet(host.libvirt_uri));
    options.probe_kernel = boot.kernel_path;
    options.probe_initrd = boot.initrd_path;
  }
  NEST_ASSIGN_OR_RETURN(auto driver, vmm::LibvirtDriver::Open(options));
  return std::shared_ptr<vmm::VmDriver>(std::move(driver));
}

std::string BootSetProvisioner::ConsoleLogPath(const std::string& vms_dir,
                                               const VmId& vm) {
  return absl::StrCat(vms_dir, "/", vm.str(), ".console.log");
}

std::string BootSetProvisioner::DataDiskPath(const std::string& vms_dir,
                                             const VmId& vm) {
  return absl::StrCat(vms_dir, "/", vm.str(), ".data.qcow2");
}

namespace {
namespace fs = std::filesystem;

std::string Mode(mode_t mode) { return absl::StrFormat("%04o", mode & 07777); }

// Whether a process running as some tenant's id may change this inode.
bool TenantCanWrite(const struct stat& st, TenantIdentities& ids) {
  return (st.st_mode & S_IWOTH) != 0 ||
         ((st.st_mode & S_IWUSR) != 0 && ids.IsTenantId(st.st_uid)) ||
         ((st.st_mode & S_IWGRP) != 0 && ids.IsTenantId(st.st_gid));
}

absl::Status NotTenantWritable(const std::string& what, const fs::path& p,
                               const struct stat& st, TenantIdentities& ids) {
  if (!TenantCanWrite(st, ids)) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      what, " ", p.string(),
      " must not be writable by others or by a tenant uid (tenant QEMUs "
      "share it), got mode ",
      Mode(st.st_mode), " owner ", st.st_uid, ":", st.st_gid));
}

// Every directory from / down to `dir`: tenant QEMUs must pass through
// (o+x) and none may change it.
absl::Status CheckDirsDownTo(const fs::path& dir, TenantIdentities& ids) {
  fs::path p;
  for (const fs::path& part : fs::absolute(dir).lexically_normal()) {
    if (part.empty()) continue;
    p /= part;
    struct stat st;
    if (::stat(p.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      return absl::FailedPreconditionError(
          absl::StrCat("directory ", p.string(), " on the path to ",
                       dir.string(), " is missing or not a directory"));
    }
    if ((st.st_mode & S_IXOTH) == 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          "directory ", p.string(),
          " must be searchable by others (o+x) so tenant QEMUs reach their "
          "files, got mode ",
          Mode(st.st_mode)));
    }
    NEST_RETURN_IF_ERROR(NotTenantWritable("directory", p, st, ids));
  }
  return absl::OkStatus();
}

// Kernel and initrd: shared by every tenant, read-only to all of them.
absl::Status CheckSharedFile(const std::string& path, TenantIdentities& ids) {
  std::error_code ec;
  fs::path real = fs::canonical(path, ec);
  if (ec) {
    return absl::FailedPreconditionError(
        absl::StrCat("boot set file ", path, ": ", ec.message()));
  }
  NEST_RETURN_IF_ERROR(CheckDirsDownTo(fs::path(path).parent_path(), ids));
  NEST_RETURN_IF_ERROR(CheckDirsDownTo(real.parent_path(), ids));
  struct stat st;
  if (::stat(real.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat("boot set file ", path, " is not a regular file"));
  }
  if ((st.st_mode & S_IROTH) == 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "boot set file ", real.string(),
        " must be readable by others (o+r) so tenant QEMUs can boot it, got "
        "mode ",
        Mode(st.st_mode)));
  }
  return NotTenantWritable("boot set file", real, st, ids);
}

// Makes the disk the tenant id's own: only it (and root) may open it.
// O_NOFOLLOW: never chown through a link planted in its place.
absl::Status OwnDisk(const std::string& path, const vmm::DacLabel& label) {
  int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    return absl::InternalError(
        absl::StrCat("cannot open ", path, ": ", strerror(errno)));
  }
  bool ok = ::fchown(fd, label.uid, label.gid) == 0 && ::fchmod(fd, 0600) == 0;
  int err = errno;
  ::close(fd);
  if (!ok) {
    return absl::InternalError(absl::StrCat("cannot give ", path, " to ",
                                            vmm::DacLabelText(label), ": ",
                                            strerror(err)));
  }
  return absl::OkStatus();
}

// A tenant's QEMU has no supplementary groups, so it is not in group kvm:
// with /dev/kvm root:kvm 0660 every KVM domain of a tenant fails to start
// ("Could not access KVM kernel module: Permission denied"), while the
// accel probe, which runs as the qemu.conf user, passes. Said once: TCG
// hosts do not need /dev/kvm.
void WarnIfKvmClosedToTenants() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct stat st;
    if (::stat("/dev/kvm", &st) != 0 || !S_ISCHR(st.st_mode)) return;
    if ((st.st_mode & (S_IROTH | S_IWOTH)) == (S_IROTH | S_IWOTH)) return;
    spdlog::warn(
        "/dev/kvm has mode {}: tenant QEMUs run as their own uids outside "
        "group kvm and cannot use KVM; make it 0666 on KVM hosts (README, "
        "host hardening)",
        Mode(st.st_mode));
  });
}

// libvirt gives each domain's own directory under these (monitor socket,
// master key, agent channel) to the domain's uid, 0750, so a QEMU running
// as a tenant's uid must pass through them. Debian's package ships them
// libvirt-qemu's, 0750, which only the shared qemu.conf user can pass
// (measured: "Unable to read .../domain-N-.../master-key.aes: Permission
// denied"). Only o+x is added: others may enter by name, never list, and
// each domain's directory stays its own uid's.
absl::Status MakeLibvirtDirsSearchable(const std::string& qemu_dir) {
  if (qemu_dir.empty()) return absl::OkStatus();
  for (const std::string& dir :
       {qemu_dir, qemu_dir + "/channel", qemu_dir + "/channel/target"}) {
    struct stat st;
    if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) continue;
    if ((st.st_mode & S_IXOTH) != 0) continue;
    if (::chmod(dir.c_str(), (st.st_mode & 07777) | S_IXOTH) != 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          dir,
          " must be searchable by others (o+x) for tenant QEMUs, got mode ",
          Mode(st.st_mode), " and chmod failed: ", strerror(errno)));
    }
    spdlog::info("{}: added o+x for tenant QEMUs (was {})", dir,
                 Mode(st.st_mode));
  }
  return absl::OkStatus();
}

std::string DefaultIdsPath(const std::string& vms_dir) {
  fs::path p = fs::path(vms_dir).lexically_normal();
  if (!p.has_filename()) p = p.parent_path();
  return (p.parent_path() / "tenant-ids").string();
}

}  // namespace

BootSetProvisioner::BootSetProvisioner(std::string kernel_path,
                                       std::string initrd_path,
                                       std::string vms_dir,
                                       std::function<void()> files_changed,
                                       ConfinementOptions confinement)
    : kernel_(std::move(kernel_path)),
      initrd_(std::move(initrd_path)),
      vms_dir_(std::move(vms_dir)),
      files_changed_(std::move(files_changed)),
      libvirt_qemu_dir_(confinement.libvirt_qemu_dir) {
  if (confinement.per_tenant_uids) {
    std::string ids_path = confinement.ids_path.empty()
                               ? DefaultIdsPath(vms_dir_)
                               : confinement.ids_path;
    identities_ =
        std::make_unique<TenantIdentities>(ids_path, confinement.range);
  }
}

absl::Status BootSetProvisioner::CheckHostPaths() {
  if (::geteuid() != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "per-tenant uids need nestd to run as root (it gives each VM's "
        "files to its tenant's uid), got euid ",
        ::geteuid()));
  }
  // Root's and nobody else's: QEMUs open their disks by name, and a
  // tenant must not learn other tenants' VM names by listing.
  if (::chown(vms_dir_.c_str(), 0, 0) != 0 ||
      ::chmod(vms_dir_.c_str(), 0711) != 0) {
    return absl::InternalError(absl::StrCat(
        "cannot make ", vms_dir_, " root's with mode 0711: ", strerror(errno)));
  }
  WarnIfKvmClosedToTenants();
  NEST_RETURN_IF_ERROR(MakeLibvirtDirsSearchable(libvirt_qemu_dir_));
  NEST_RETURN_IF_ERROR(CheckDirsDownTo(vms_dir_, *identities_));
  NEST_RETURN_IF_ERROR(CheckSharedFile(kernel_, *identities_));
  if (!initrd_.empty()) {
    NEST_RETURN_IF_ERROR(CheckSharedFile(initrd_, *identities_));
  }
  return absl::OkStatus();
}

void BootSetProvisioner::EnableRemoteHosts(RemoteFiles* remote,
                                           HostUri host_uri) {
  remote_ = remote;
  host_uri_ = std::move(host_uri);
}

absl::StatusOr<std::optional<std::string>> BootSetProvisioner::RemoteUri(
    const HostId& host) {
  if (!remote_ || !host_uri_ || host.empty()) return std::nullopt;
  NEST_ASSIGN_OR_RETURN(std::string uri, host_uri_(host));
  if (vmm::IsLocalUri(uri)) return std::nullopt;
  return uri;
}

absl::StatusOr<vmm::VmSpec> BootSetProvisioner::PrepareRemote(
    const std::string& uri, const store::Vm& vm, const store::VmGroup& group) {
  NEST_ASSIGN_OR_RETURN(RemoteBootSet boot, remote_->EnsureBootSet(uri));
  vmm::VmSpec spec = ShapeSpec(vm, group);
  spec.kernel_path = boot.kernel_path;
  spec.initrd_path = boot.initrd_path;
  spec.console_log_path = ConsoleLogPath(vms_dir_, vm.id);
  // Always a fresh disk: an upload cut short cannot be told from a whole
  // one on the far side, and the disk holds nothing the guest cannot pull
  // again.
  absl::StatusOr<std::string> data =
      remote_->UploadDataDisk(uri, vm.id, group.disk_mib);
  if (!data.ok()) {
    return Annotate(data.status(),
                    absl::StrCat("data disk of VM ", vm.id.str(), " on ", uri));
  }
  spec.data_disk = vmm::DiskSpec{*data, "qcow2", false};
  return spec;
}

absl::StatusOr<vmm::VmSpec> BootSetProvisioner::Prepare(
    const store::Vm& vm, const store::VmGroup& group) {
  NEST_ASSIGN_OR_RETURN(std::optional<std::string> remote, RemoteUri(vm.host));
  if (remote) return PrepareRemote(*remote, vm, group);
  std::error_code ec;
  std::filesystem::create_directories(vms_dir_, ec);
  if (ec) {
    return absl::InternalError(
        absl::StrCat("cannot create ", vms_dir_, ": ", ec.message()));
  }
  vmm::VmSpec spec = ShapeSpec(vm, group);
  if (identities_) {
    NEST_RETURN_IF_ERROR(CheckHostPaths());
    absl::StatusOr<vmm::DacLabel> label = identities_->LabelFor(vm.tenant);
    if (!label.ok()) {
      return Annotate(label.status(),
                      absl::StrCat("uid of tenant of VM ", vm.id.str()));
    }
    spec.dac_label = *label;
  } else {
    // QEMU runs as the qemu.conf user and must reach its files.
    ::chmod(vms_dir_.c_str(), 0755);
  }
  spec.kernel_path = kernel_;
  spec.initrd_path = initrd_;
  spec.console_log_path = ConsoleLogPath(vms_dir_, vm.id);
  // Container root filesystems and the guest's image cache live on this
  // disk, not in guest RAM. A disk left by an earlier attempt (a crash
  // between Prepare and boot) is reused: it only ever holds an ext4 that
  // the guest owns.
  std::string data = DataDiskPath(vms_dir_, vm.id);
  struct stat st;
  if (::stat(data.c_str(), &st) != 0) {
    NEST_RETURN_IF_ERROR(
        Annotate(images::CreateDataDisk(data, group.disk_mib),
                 absl::StrCat("data disk of VM ", vm.id.str())));
    if (files_changed_) files_changed_();
  }
  if (spec.dac_label) NEST_RETURN_IF_ERROR(OwnDisk(data, *spec.dac_label));
  spec.data_disk = vmm::DiskSpec{data, "qcow2", false};
  return spec;
}

absl::Status BootSetProvisioner::Release(const HostId& host, const VmId& vm) {
  NEST_ASSIGN_OR_RETURN(std::optional<std::string> remote, RemoteUri(host));
  if (remote) return remote_->Release(*remote, vm);
  std::error_code ec;
  for (const std::string& path :
       {DataDiskPath(vms_dir_, vm), ConsoleLogPath(vms_dir_, vm)}) {
    std::filesystem::remove(path, ec);
    if (ec) {
      return absl::InternalError(absl::StrCat("cannot remove ", path, " of VM ",
                                              vm.str(), ": ", ec.message()));
    }
  }
  if (files_changed_) files_changed_();
  return absl::OkStatus();
}

namespace {

// A client whose first stream is `first` (already ready), later ones opened
// through the driver. The driver must outlive the client: the controller
// keeps drivers for the life of the process.
std::shared_ptr<agent::AgentClient> MakeClient(
    vmm::VmDriver& driver, const VmId& vm, std::unique_ptr<ByteStream> first) {
  auto pending =
      std::make_shared<std::unique_ptr<ByteStream>>(std::move(first));
  return std::make_shared<agent::AgentClient>(
      [&driver, vm, pending]() -> absl::StatusOr<std::unique_ptr<ByteStream>> {
        if (*pending) return std::move(*pending);
        return driver.OpenChannel(vm, vmm::kAgentChannel);
      });
}

}  // namespace

absl::StatusOr<std::shared_ptr<agent::AgentApi>> ChannelAgentConnector::Boot(
    vmm::VmDriver& driver, const vmm::VmSpec& spec) {
  vmm::BootOptions boot;
  boot.ready_timeout = options_.ready_timeout;
  boot.max_retries = options_.boot_retries;
  NEST_ASSIGN_OR_RETURN(vmm::BootResult ready, vmm::BootVm(driver, spec, boot));
  auto client = MakeClient(driver, spec.id, std::move(ready.channel));
  auto hello = client->Connect(absl::Now() + options_.attach_timeout);
  if (!hello.ok()) {
    // A VM whose agent does not answer is of no use: leave nothing behind.
    (void)driver.Undefine(spec.id);
    return Annotate(hello.status(), "agent handshake");
  }
  return std::shared_ptr<agent::AgentApi>(client);
}

absl::StatusOr<std::shared_ptr<agent::AgentApi>> ChannelAgentConnector::Attach(
    vmm::VmDriver& driver, const VmId& vm) {
  auto client = MakeClient(driver, vm, nullptr);
  NEST_RETURN_IF_ERROR(
      client->Connect(absl::Now() + options_.attach_timeout).status());
  return std::shared_ptr<agent::AgentApi>(client);
}

}  // namespace nest::control
