#include "tests/vmm/private_libvirtd.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "vmm/libvirt_bootstrap.h"

namespace nest::testenv {
namespace fs = std::filesystem;

namespace {

absl::Status WaitUntil(const std::function<bool()>& cond,
                       absl::Duration timeout, const std::string& what) {
  absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (cond()) return absl::OkStatus();
    absl::SleepFor(absl::Milliseconds(50));
  }
  return absl::DeadlineExceededError(absl::StrCat("timed out: ", what));
}

}  // namespace

absl::StatusOr<std::unique_ptr<PrivateLibvirtd>> PrivateLibvirtd::Start(
    const std::string& dir) {
  std::unique_ptr<PrivateLibvirtd> d(new PrivateLibvirtd());
  d->dir_ = dir;
  for (const char* sub : {"lib", "log", "etc", "sock"}) {
    fs::create_directories(fs::path(dir) / sub);
  }
  std::ofstream(fs::path(dir) / "etc/libvirtd.conf")
      << "unix_sock_dir = \"" << dir << "/sock\"\n"
      << "unix_sock_rw_perms = \"0700\"\n";
  if (fs::exists("/etc/libvirt/qemu.conf")) {
    fs::copy_file("/etc/libvirt/qemu.conf", fs::path(dir) / "etc/qemu.conf");
  }
  d->uri_ =
      absl::StrCat("qemu+unix:///system?socket=", dir, "/sock/libvirt-sock");
  std::string script = absl::StrCat(
      "mount -t tmpfs tmpfs /run && mkdir -p /run/lock && "
      "mount --bind ",
      dir,
      "/lib /var/lib/libvirt && "
      "mount --bind ",
      dir,
      "/log /var/log/libvirt && "
      "mount --bind ",
      dir,
      "/etc /etc/libvirt && "
      "virtlogd -d && libvirtd -d && exec sleep 1000000");
  pid_t pid = fork();
  if (pid == 0) {
    execlp("unshare", "unshare", "-m", "--propagation", "private", "sh", "-c",
           script.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  if (pid < 0) return absl::UnavailableError("fork failed");
  d->keeper_ = pid;
  NEST_RETURN_IF_ERROR(WaitUntil([&] { return vmm::LibvirtAnswers(d->uri_); },
                                 absl::Seconds(60),
                                 "private libvirtd to answer at " + d->uri_));
  return d;
}

absl::StatusOr<pid_t> PrivateLibvirtd::DaemonPid(const char* name) {
  // The daemons' pid files live in the namespace's private /run.
  std::ifstream in(absl::StrCat("/proc/", keeper_, "/root/run/", name, ".pid"));
  pid_t pid = -1;
  if (!(in >> pid) || pid <= 0 || kill(pid, 0) != 0) {
    return absl::NotFoundError(absl::StrCat(name, " is not running"));
  }
  return pid;
}

absl::Status PrivateLibvirtd::Kill() {
  NEST_ASSIGN_OR_RETURN(pid_t pid, DaemonPid("libvirtd"));
  kill(pid, SIGKILL);
  return WaitUntil([&] { return kill(pid, 0) != 0; }, absl::Seconds(10),
                   "libvirtd to die");
}

absl::Status PrivateLibvirtd::Restart() {
  std::string ns = absl::StrCat("/proc/", keeper_, "/ns/mnt");
  pid_t pid = fork();
  if (pid == 0) {
    execlp("nsenter", "nsenter", absl::StrCat("--mount=", ns).c_str(),
           "libvirtd", "-d", static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::InternalError("nsenter libvirtd -d failed");
  }
  return WaitUntil([&] { return vmm::LibvirtAnswers(uri_); }, absl::Seconds(60),
                   "restarted libvirtd to answer");
}

PrivateLibvirtd::~PrivateLibvirtd() {
  for (const char* name : {"libvirtd", "virtlogd"}) {
    auto pid = DaemonPid(name);
    if (pid.ok()) {
      kill(*pid, SIGTERM);
      (void)WaitUntil([&] { return kill(*pid, 0) != 0; }, absl::Seconds(10),
                      name);
    }
  }
  if (keeper_ > 0) {
    kill(keeper_, SIGKILL);
    waitpid(keeper_, nullptr, 0);
  }
}

}  // namespace nest::testenv
