#include "tests/agent/vm_env.h"

#include <unistd.h>

#include <cstdio>
#include <exception>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "images/disk.h"
#include "images/guest/initramfs.h"
#include "images/subprocess.h"
#include "vmm/boot.h"
#include "vmm/libvirt_bootstrap.h"

namespace nest::agent::vmtest {
namespace {

bool OnPath(const std::string& tool) {
  auto r = images::RunCommand({"sh", "-c", "command -v " + tool});
  return r.ok() && r->exit_code == 0;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

std::string SkipReason() {
  if (::geteuid() != 0) return "needs root (libvirtd, QEMU, umoci)";
  for (const char* tool : {"qemu-system-x86_64", "libvirtd", "virtlogd", "crun",
                           "umoci", "skopeo", "qemu-img", "mkfs.ext4"}) {
    if (!OnPath(tool)) return absl::StrCat("needs ", tool, " on PATH");
  }
  if (::access("/bin/busybox", X_OK) != 0) return "needs /bin/busybox";
  return "";
}

absl::StatusOr<std::unique_ptr<AgentVm>> AgentVm::Boot(
    const AgentVmOptions& options) {
  std::unique_ptr<AgentVm> vm(new AgentVm());
  if (vm->dir().empty()) {
    return absl::InternalError("cannot create a test dir under /var/lib/nest");
  }
  absl::Time t0 = absl::Now();

  // The product's boot set, with this build's agent.
  NEST_ASSIGN_OR_RETURN(images::GuestKernel kernel, testenv::CachedKernel());
  images::InitramfsSpec initramfs;
  initramfs.kernel = kernel;
  initramfs.extra_binaries = images::DefaultGuestBinaries();
  initramfs.agent_path = NEST_AGENT_BINARY;
  NEST_ASSIGN_OR_RETURN(
      images::GuestBootSet set,
      images::BuildGuestBootSet(initramfs, vm->dir() + "/guest"));

  // Without it the private daemon re-probes QEMU on every domain start.
  vmm::EnsureKvmDeviceAccess();
  NEST_ASSIGN_OR_RETURN(
      vm->daemon_, testenv::PrivateLibvirtd::Start(vm->dir() + "/libvirtd"));
  vmm::LibvirtOptions lo;
  lo.uri = vm->daemon_->uri();
  lo.accel = vmm::Accel::kAuto;
  lo.probe_kernel = set.kernel_path;
  lo.probe_initrd = set.initrd_path;
  lo.probe_timeout = absl::Seconds(10);
  lo.probe_cache_dir = "/var/lib/nest/cache";
  NEST_ASSIGN_OR_RETURN(vm->driver_, vmm::LibvirtDriver::Open(lo));
  NEST_ASSIGN_OR_RETURN(vm->accel_, vm->driver_->ResolvedAccel());

  vmm::VmSpec& spec = vm->spec_;
  spec.id = VmId(absl::StrCat(options.name, "-", ::getpid()));
  spec.tenant = TenantId("e2e");
  spec.vcpus = options.vcpus;
  spec.memory_mib = options.memory_mib;
  spec.kernel_path = set.kernel_path;
  spec.initrd_path = set.initrd_path;
  spec.console_log_path = vm->dir() + "/console.log";
  // Bundles and the image cache live on the data disk, as in production
  // (control/host_ports.cc BootSetProvisioner).
  std::string data = vm->dir() + "/data.qcow2";
  NEST_RETURN_IF_ERROR(images::CreateDataDisk(data, options.data_disk_mib));
  spec.data_disk = vmm::DiskSpec{data, "qcow2", false};

  vmm::BootOptions bo;
  bo.ready_timeout = options.ready_timeout;
  bo.max_retries = options.max_retries;
  int64_t retries0 = vmm::GlobalBootCounters().retries;
  absl::Time create = absl::Now();
  vm->created_ = true;
  NEST_ASSIGN_OR_RETURN(vmm::BootResult ready,
                        vmm::BootVm(*vm->driver_, spec, bo));
  vm->attempts_ = ready.attempts;
  vm->retries_ = vmm::GlobalBootCounters().retries - retries0;
  vm->create_to_ready_ = ready.create_to_ready;

  // As control/host_ports.cc MakeClient: the first stream is the one that
  // proved readiness; later ones (after a disconnect) come from the driver.
  auto first =
      std::make_shared<std::unique_ptr<ByteStream>>(std::move(ready.channel));
  vmm::VmDriver* driver = vm->driver_.get();
  VmId id = spec.id;
  vm->client_ = std::make_unique<AgentClient>(
      [driver, id, first]() -> absl::StatusOr<std::unique_ptr<ByteStream>> {
        if (*first) return std::move(*first);
        return driver->OpenChannel(id, vmm::kAgentChannel);
      },
      options.client);
  NEST_ASSIGN_OR_RETURN(vm->hello_,
                        vm->client_->Connect(absl::Now() + absl::Seconds(60)));
  vm->boot_to_hello_ = absl::Now() - create;
  std::fprintf(
      stderr,
      "agent vm %s: accel %s, boot set %s in %s, hello after %s "
      "(attempts %d, boot retries %lld)\n",
      id.str().c_str(), std::string(vmm::AccelName(vm->accel_)).c_str(),
      set.built ? "built" : "reused", absl::FormatDuration(create - t0).c_str(),
      absl::FormatDuration(vm->boot_to_hello_).c_str(), vm->attempts_,
      static_cast<long long>(vm->retries_));
  return vm;
}

AgentVm::~AgentVm() {
  if (std::uncaught_exceptions() > 0 && !spec_.console_log_path.empty()) {
    std::fprintf(stderr, "---- guest console (tail) ----\n%s\n----\n",
                 ConsoleTail(6000).c_str());
  }
  client_.reset();
  if (driver_ && created_) {
    absl::Status s = driver_->Undefine(spec_.id);
    if (!s.ok() && !absl::IsNotFound(s)) {
      std::fprintf(stderr, "agent vm: undefine %s: %s\n",
                   spec_.id.str().c_str(), s.ToString().c_str());
    }
  }
  driver_.reset();
  daemon_.reset();
}

std::string AgentVm::ConsoleTail(size_t bytes) const {
  std::string all = ReadAll(spec_.console_log_path);
  return all.size() <= bytes ? all : all.substr(all.size() - bytes);
}

std::vector<std::string> PushableImage::Command() const {
  std::vector<std::string> out = config.entrypoint;
  out.insert(out.end(), config.cmd.begin(), config.cmd.end());
  return out;
}

std::vector<std::string> PushableImage::Env() const {
  for (const auto& e : config.env) {
    if (e.rfind("PATH=", 0) == 0) return config.env;
  }
  std::vector<std::string> out = config.env;
  out.push_back("PATH=/bin");
  return out;
}

}  // namespace nest::agent::vmtest
