// VMM confinement on real libvirtd + QEMU (issue 11): the production
// provisioner (BootSetProvisioner) prepares two VMs of two tenants, a
// private libvirtd boots them, and the test reads each QEMU's credentials
// from /proc and tries the other tenant's files with exactly those
// credentials. Root only. TCG, so the check does not depend on /dev/kvm
// (README, host hardening, says what KVM hosts need).
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "control/host_ports.h"
#include "doctest/doctest.h"
#include "tests/vmm/e2e_env.h"
#include "tests/vmm/private_libvirtd.h"
#include "vmm/boot.h"
#include "vmm/domain_xml.h"
#include "vmm/libvirt_bootstrap.h"
#include "vmm/libvirt_driver.h"

namespace nest::control {
namespace {
namespace fs = std::filesystem;

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// What /proc/<pid>/status says about a process's credentials.
struct Creds {
  pid_t pid = -1;
  std::vector<uint32_t> uids;  // real, effective, saved, filesystem
  std::vector<uint32_t> gids;
  std::vector<gid_t> groups;  // supplementary
  int seccomp = -1;           // 0 off, 1 strict, 2 filter
};

std::vector<uint32_t> Numbers(absl::string_view text) {
  std::vector<uint32_t> out;
  for (absl::string_view w :
       absl::StrSplit(text, absl::ByAnyChar(" \t"), absl::SkipEmpty())) {
    uint32_t v = 0;
    if (absl::SimpleAtoi(w, &v)) out.push_back(v);
  }
  return out;
}

// The QEMU process of a domain: the one whose command line names it
// ("-name guest=<domain>,..."), found by scanning /proc.
absl::StatusOr<Creds> QemuCreds(const std::string& domain) {
  std::string want = absl::StrCat("guest=", domain, ",");
  for (const auto& e : fs::directory_iterator("/proc")) {
    pid_t pid = 0;
    if (!absl::SimpleAtoi(e.path().filename().string(), &pid)) continue;
    std::string cmdline = Slurp(absl::StrCat("/proc/", pid, "/cmdline"));
    if (cmdline.rfind("/usr/bin/qemu-system", 0) != 0 &&
        cmdline.rfind("qemu-system", 0) != 0) {
      continue;
    }
    if (cmdline.find(want) == std::string::npos) continue;
    Creds c;
    c.pid = pid;
    std::istringstream status(Slurp(absl::StrCat("/proc/", pid, "/status")));
    std::string line;
    while (std::getline(status, line)) {
      auto value = [&](absl::string_view key) -> absl::string_view {
        return absl::string_view(line).substr(key.size());
      };
      if (line.rfind("Uid:", 0) == 0) c.uids = Numbers(value("Uid:"));
      if (line.rfind("Gid:", 0) == 0) c.gids = Numbers(value("Gid:"));
      if (line.rfind("Groups:", 0) == 0) {
        for (uint32_t g : Numbers(value("Groups:"))) c.groups.push_back(g);
      }
      if (line.rfind("Seccomp:", 0) == 0) {
        auto n = Numbers(value("Seccomp:"));
        if (!n.empty()) c.seccomp = static_cast<int>(n[0]);
      }
    }
    if (c.uids.size() != 4 || c.gids.size() != 4) {
      return absl::InternalError(
          absl::StrCat("cannot read the credentials of QEMU pid ", pid));
    }
    return c;
  }
  return absl::NotFoundError(absl::StrCat("no QEMU process for ", domain));
}

// 0 when a process with `c`'s uids, gids and groups can open `path` with
// `flags`, else the errno it got. Runs in a child, so this test keeps root.
int OpenAs(const Creds& c, const std::string& path, int flags) {
  pid_t pid = fork();
  if (pid == 0) {
    if (setgroups(c.groups.size(), c.groups.data()) != 0 ||
        setresgid(c.gids[0], c.gids[1], c.gids[2]) != 0 ||
        setresuid(c.uids[0], c.uids[1], c.uids[2]) != 0) {
      _exit(255);
    }
    int fd = (flags & O_DIRECTORY) != 0 ? open(path.c_str(), flags)
                                        : open(path.c_str(), flags | O_CLOEXEC);
    _exit(fd >= 0 ? 0 : (errno & 0xff));
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 254;
}

std::string Describe(int err) {
  return err == 0 ? "opened" : std::string(strerror(err));
}

struct Tenant {
  store::Vm vm;
  vmm::VmSpec spec;
  Creds qemu;
};

// Undefines the VMs even when a CHECK fails half-way.
struct Guard {
  vmm::VmDriver* driver = nullptr;
  std::vector<VmId> ids;
  ~Guard() {
    for (const VmId& id : ids) (void)driver->Undefine(id);
  }
};

store::VmGroup SmallGroup() {
  store::VmGroup g;
  g.name = GroupId("web");
  g.vcpus = 1;
  g.memory_mib = 256;
  g.disk_mib = 64;
  return g;
}

TEST_CASE(
    "e2e: two tenants' QEMUs run as different non-root uids and cannot "
    "open each other's disks") {
  if (geteuid() != 0) {
    MESSAGE("confinement e2e needs root (libvirtd, chown); skipped");
    return;
  }
  absl::Time t0 = absl::Now();
  testenv::TestDir dir;
  REQUIRE_FALSE(dir.path().empty());
  auto set = testenv::BuildHelloBootSet(dir.path() + "/guest");
  REQUIRE_MESSAGE(set.ok(), set.status().ToString());
  vmm::EnsureKvmDeviceAccess();
  auto daemon = testenv::PrivateLibvirtd::Start(dir.path() + "/libvirtd");
  REQUIRE_MESSAGE(daemon.ok(), daemon.status().ToString());
  vmm::LibvirtOptions lo;
  lo.uri = (*daemon)->uri();
  lo.accel = vmm::Accel::kTcg;
  auto driver = vmm::LibvirtDriver::Open(lo);
  REQUIRE_MESSAGE(driver.ok(), driver.status().ToString());
  absl::Time t_setup = absl::Now();

  // A fresh libvirtd makes its qemu state dirs 0755; Debian's package
  // ships them libvirt-qemu's 0750, which tenant uids cannot pass. Start
  // from Debian's modes so the provisioner must open them (o+x only).
  std::string qemu_dir = dir.path() + "/libvirtd/lib/qemu";
  for (const std::string& d :
       {qemu_dir, qemu_dir + "/channel", qemu_dir + "/channel/target"}) {
    fs::create_directories(d);
    REQUIRE(chmod(d.c_str(), 0750) == 0);
  }
  std::string vms_dir = dir.path() + "/vms";
  ConfinementOptions confinement;
  confinement.libvirt_qemu_dir = qemu_dir;
  BootSetProvisioner prov(set->kernel_path, set->initrd_path, vms_dir, nullptr,
                          confinement);
  Guard guard{driver->get(), {}};
  std::vector<Tenant> tenants(2);
  const char* names[] = {"tenant-a", "tenant-b"};
  for (int i = 0; i < 2; ++i) {
    Tenant& t = tenants[i];
    t.vm.id = VmId(absl::StrCat("conf-", i == 0 ? "a" : "b", "-", getpid()));
    t.vm.tenant = TenantId(names[i]);
    t.vm.group = GroupId("web");
    auto spec = prov.Prepare(t.vm, SmallGroup());
    REQUIRE_MESSAGE(spec.ok(), spec.status().ToString());
    t.spec = *spec;
    REQUIRE(t.spec.dac_label.has_value());
    guard.ids.push_back(t.vm.id);
    vmm::BootOptions bo;
    bo.ready_timeout = absl::Seconds(60);
    absl::Time boot = absl::Now();
    auto ready = vmm::BootVm(**driver, t.spec, bo);
    REQUIRE_MESSAGE(ready.ok(), ready.status().ToString());
    MESSAGE(std::string(names[i]), " ", t.vm.id.str(), " as ",
            vmm::DacLabelText(*t.spec.dac_label), ": ready after ",
            absl::FormatDuration(absl::Now() - boot), " (attempts ",
            ready->attempts, ")");
    auto creds = QemuCreds(vmm::DomainName(t.vm.id));
    REQUIRE_MESSAGE(creds.ok(), creds.status().ToString());
    t.qemu = *creds;
  }
  Tenant& a = tenants[0];
  Tenant& b = tenants[1];

  // Each QEMU runs as its tenant's label, never as root, and not as the
  // other tenant.
  for (const Tenant* t : {&a, &b}) {
    MESSAGE(t->vm.tenant.str(), " QEMU pid ", t->qemu.pid, ": uid ",
            t->qemu.uids[0], " gid ", t->qemu.gids[0], " groups ",
            t->qemu.groups.size(), " seccomp ", t->qemu.seccomp);
    for (int k = 0; k < 4; ++k) {
      CHECK(t->qemu.uids[k] != 0);
      CHECK(t->qemu.gids[k] != 0);
      CHECK(t->qemu.uids[k] == t->spec.dac_label->uid);
      CHECK(t->qemu.gids[k] == t->spec.dac_label->gid);
    }
    for (gid_t g : t->qemu.groups) CHECK(g != 0);
    // libvirt's seccomp sandbox (qemu.conf seccomp_sandbox, default on):
    // QEMU runs under a seccomp filter.
    CHECK(t->qemu.seccomp == 2);
  }
  CHECK(a.qemu.uids[0] != b.qemu.uids[0]);
  CHECK(a.qemu.gids[0] != b.qemu.gids[0]);

  // The files, with each QEMU's own credentials.
  const std::string& a_disk = a.spec.data_disk->path;
  const std::string& b_disk = b.spec.data_disk->path;
  int a_on_b = OpenAs(a.qemu, b_disk, O_RDONLY);
  int b_on_a = OpenAs(b.qemu, a_disk, O_RDONLY);
  int a_on_a = OpenAs(a.qemu, a_disk, O_RDWR);
  int b_on_b = OpenAs(b.qemu, b_disk, O_RDWR);
  MESSAGE("tenant-a's uid on tenant-b's disk: ", Describe(a_on_b),
          "; on its own: ", Describe(a_on_a));
  CHECK(a_on_b == EACCES);
  CHECK(b_on_a == EACCES);
  CHECK(a_on_a == 0);  // the check can fail: the uid does reach its own
  CHECK(b_on_b == 0);
  // Nor another tenant's console log, nor a listing of the VM files.
  CHECK(OpenAs(a.qemu, b.spec.console_log_path, O_RDONLY) == EACCES);
  CHECK(OpenAs(a.qemu, vms_dir, O_RDONLY | O_DIRECTORY) == EACCES);
  // The shared boot set: readable, never writable.
  CHECK(OpenAs(a.qemu, a.spec.kernel_path, O_RDONLY) == 0);
  CHECK(OpenAs(a.qemu, a.spec.initrd_path, O_RDONLY) == 0);
  CHECK(OpenAs(a.qemu, a.spec.kernel_path, O_WRONLY) == EACCES);
  CHECK(OpenAs(b.qemu, b.spec.initrd_path, O_WRONLY) == EACCES);

  struct stat st;
  REQUIRE(stat(qemu_dir.c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0751);
  REQUIRE(stat(b_disk.c_str(), &st) == 0);
  CHECK(st.st_uid == b.spec.dac_label->uid);
  CHECK(st.st_gid == b.spec.dac_label->gid);
  CHECK((st.st_mode & 07777) == 0600);
  REQUIRE(stat(vms_dir.c_str(), &st) == 0);
  CHECK(st.st_uid == 0);
  CHECK((st.st_mode & 07777) == 0711);

  // Prepare again (a retry after a crash) keeps the tenant's id and disk.
  auto again = prov.Prepare(a.vm, SmallGroup());
  REQUIRE(again.ok());
  CHECK(*again->dac_label == *a.spec.dac_label);

  MESSAGE("set-up ", absl::FormatDuration(t_setup - t0), ", whole test ",
          absl::FormatDuration(absl::Now() - t0));
}

TEST_CASE("e2e: the provisioner refuses a boot set tenant uids could change") {
  if (geteuid() != 0) {
    MESSAGE("needs root; skipped");
    return;
  }
  testenv::TestDir dir;
  REQUIRE_FALSE(dir.path().empty());
  std::string kernel = dir.path() + "/boot/vmlinuz";
  std::string initrd = dir.path() + "/boot/initrd";
  fs::create_directories(dir.path() + "/boot");
  chmod((dir.path() + "/boot").c_str(), 0755);
  std::ofstream(kernel) << "k";
  std::ofstream(initrd) << "i";
  chmod(initrd.c_str(), 0644);
  store::Vm vm;
  vm.id = VmId("refused");
  vm.tenant = TenantId("tenant-a");
  ConfinementOptions confinement;
  confinement.libvirt_qemu_dir.clear();  // not this test's business
  BootSetProvisioner prov(kernel, initrd, dir.path() + "/vms", nullptr,
                          confinement);

  auto check = [&](const std::string& expected) {
    absl::Status s = prov.Prepare(vm, SmallGroup()).status();
    CHECK(absl::IsFailedPrecondition(s));
    CHECK_MESSAGE(s.message().find(expected) != std::string::npos,
                  s.ToString());
  };
  chmod(kernel.c_str(), 0600);
  check("must be readable by others");
  chmod(kernel.c_str(), 0666);
  check("must not be writable by others");
  chmod(kernel.c_str(), 0644);
  uint32_t a = *TenantIdentities(dir.path() + "/tenant-ids", {})
                    .IdFor(TenantId("tenant-a"));
  REQUIRE(chown(kernel.c_str(), a, a) == 0);  // a tenant's file
  check("must not be writable by others or by a tenant uid");
  REQUIRE(chown(kernel.c_str(), 0, 0) == 0);
  chmod((dir.path() + "/boot").c_str(), 0700);
  check("must be searchable by others");
  chmod((dir.path() + "/boot").c_str(), 0777);
  check("must not be writable");
  chmod((dir.path() + "/boot").c_str(), 0755);
  // Nothing was created for the refused VM.
  CHECK_FALSE(
      fs::exists(BootSetProvisioner::DataDiskPath(dir.path() + "/vms", vm.id)));
}

}  // namespace
}  // namespace nest::control
