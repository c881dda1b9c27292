#include "vmm/libvirt_bootstrap.h"

#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"
#include "vmm/libvirt_util.h"

namespace nest::vmm {
namespace {

// Runs a daemon that forks itself into the background (-d); we only wait
// for the foreground part to exit.
int RunDaemon(const char* prog) {
  pid_t pid = fork();
  if (pid == 0) {
    execlp(prog, prog, "-d", static_cast<char*>(nullptr));
    _exit(127);
  }
  if (pid < 0) return -1;
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

bool EnsureKvmDeviceAccess() {
  struct stat st;
  if (stat("/dev/kvm", &st) != 0 || !S_ISCHR(st.st_mode)) return false;
  struct group* kvm = getgrnam("kvm");
  if (kvm == nullptr) return false;
  if (st.st_gid == kvm->gr_gid && (st.st_mode & 0060) == 0060) return true;
  if (geteuid() != 0) return false;
  if (chown("/dev/kvm", 0, kvm->gr_gid) != 0 || chmod("/dev/kvm", 0660) != 0) {
    return false;
  }
  spdlog::info("/dev/kvm set to root:kvm 0660 (what udev does on Debian)");
  return true;
}

bool LibvirtAnswers(const std::string& uri) {
  internal::EnsureEventLoop();
  internal::ConnPtr c(virConnectOpen(uri.c_str()));
  virResetLastError();
  return c != nullptr;
}

absl::Status EnsureLibvirtd(const std::string& uri, absl::Duration timeout) {
  EnsureKvmDeviceAccess();
  if (LibvirtAnswers(uri)) return absl::OkStatus();
  if (geteuid() != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "no libvirtd answers at ", uri,
        " and we are not root; start it with: virtlogd -d && libvirtd -d"));
  }
  spdlog::info("starting virtlogd and libvirtd for {}", uri);
  // Either may already run (e.g. virtlogd left from before); a second copy
  // exits non-zero on its pid file, which is fine.
  RunDaemon("virtlogd");
  RunDaemon("libvirtd");
  absl::Time deadline = absl::Now() + timeout;
  absl::Duration step = absl::Milliseconds(20);
  while (absl::Now() < deadline) {
    if (LibvirtAnswers(uri)) return absl::OkStatus();
    absl::SleepFor(step);
    step = std::min(step * 2, absl::Milliseconds(250));
  }
  return absl::DeadlineExceededError(
      absl::StrCat("started libvirtd but ", uri, " did not answer within ",
                   absl::FormatDuration(timeout)));
}

}  // namespace nest::vmm
