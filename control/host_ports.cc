#include "control/host_ports.h"

#include <sys/stat.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "agent/client.h"
#include "images/disk.h"
#include "vmm/boot.h"

namespace nest::control {

absl::StatusOr<std::shared_ptr<vmm::VmDriver>> LibvirtHostConnector::Connect(
    const store::Host& host) {
  vmm::LibvirtOptions options = base_;
  options.uri = host.libvirt_uri;
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

absl::StatusOr<vmm::VmSpec> BootSetProvisioner::Prepare(
    const store::Vm& vm, const store::VmGroup& group) {
  std::error_code ec;
  std::filesystem::create_directories(vms_dir_, ec);
  if (ec) {
    return absl::InternalError(
        absl::StrCat("cannot create ", vms_dir_, ": ", ec.message()));
  }
  // QEMU runs as libvirt-qemu and opens the console log itself.
  ::chmod(vms_dir_.c_str(), 0755);
  vmm::VmSpec spec;
  spec.id = vm.id;
  spec.tenant = vm.tenant;
  spec.group = vm.group;
  spec.vcpus = static_cast<int>(group.vcpus);
  spec.memory_mib = group.memory_mib;
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
  spec.data_disk = vmm::DiskSpec{data, "qcow2", false};
  return spec;
}

absl::Status BootSetProvisioner::Release(const VmId& vm) {
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
