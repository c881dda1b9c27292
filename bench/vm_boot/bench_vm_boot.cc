// bench_vm_boot: create-to-ready of microVMs launched through Nest's
// LibvirtDriver vs a raw qemu-system-x86_64 command line with the same
// kernel, initrd and machine options, interleaved in one run. Ready is the
// same event for both: the first byte the guest writes on the virtio-serial
// channel org.nest.agent.0 (same initrd, same init).
//
// Usage: bench_vm_boot [N]   (default 10; needs root and libvirtd)
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "tests/vmm/e2e_env.h"
#include "vmm/boot.h"
#include "vmm/domain_xml.h"
#include "vmm/libvirt_bootstrap.h"
#include "vmm/libvirt_driver.h"

namespace nest {
namespace {

constexpr absl::Duration kReadyTimeout = absl::Seconds(120);

double RssMib(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string key;
  while (in >> key) {
    if (key == "VmRSS:") {
      double kib = 0;
      in >> kib;
      return kib / 1024.0;
    }
    in.ignore(1 << 12, '\n');
  }
  return 0;
}

pid_t LibvirtQemuPid(const std::string& domain) {
  std::ifstream in("/run/libvirt/qemu/" + domain + ".pid");
  pid_t pid = -1;
  in >> pid;
  return pid;
}

struct Sample {
  double ms = 0;
  double rss_mib = 0;
  // Nest only: the part spent in libvirt's define+start (QEMU spawned,
  // QMP set-up, vCPUs resumed), to show where any overhead comes from.
  double create_ms = 0;
};

absl::StatusOr<Sample> BootNest(vmm::LibvirtDriver& d,
                                const vmm::VmSpec& spec) {
  absl::Time t0 = absl::Now();
  NEST_RETURN_IF_ERROR(d.Create(spec));
  absl::Time created = absl::Now();
  auto ch = vmm::WaitReady(d, spec.id, absl::Now() + kReadyTimeout);
  absl::Time t1 = absl::Now();
  Sample s;
  s.ms = absl::ToDoubleMilliseconds(t1 - t0);
  s.create_ms = absl::ToDoubleMilliseconds(created - t0);
  s.rss_mib = RssMib(LibvirtQemuPid(vmm::DomainName(spec.id)));
  if (ch.ok()) (*ch)->Close();
  (void)d.Undefine(spec.id);
  if (!ch.ok()) return ch.status();
  return s;
}

// The options libvirt passes for the same domain (see its qemu log), minus
// libvirt's own plumbing (monitor, secrets, sandbox, -S).
std::vector<std::string> RawArgs(const std::string& accel,
                                 const vmm::VmSpec& spec,
                                 const std::string& sock,
                                 const std::string& console) {
  return {
      "qemu-system-x86_64",
      "-machine",
      "microvm,usb=off,dump-guest-core=off,acpi=on",
      "-accel",
      accel,
      "-cpu",
      accel == "kvm" ? "host" : "qemu64",
      "-m",
      std::to_string(spec.memory_mib),
      "-smp",
      "1,sockets=1,cores=1,threads=1",
      "-display",
      "none",
      "-no-user-config",
      "-nodefaults",
      "-rtc",
      "base=utc",
      "-kernel",
      spec.kernel_path,
      "-initrd",
      spec.initrd_path,
      "-append",
      vmm::KernelCmdline(spec),
      "-device",
      "virtio-serial-device,id=virtio-serial0",
      "-chardev",
      absl::StrCat("file,id=charserial0,path=", console),
      "-device",
      "isa-serial,chardev=charserial0,id=serial0,index=0",
      "-chardev",
      absl::StrCat("socket,id=charchannel0,path=", sock, ",server=on,wait=off"),
      "-device",
      "virtserialport,bus=virtio-serial0.0,nr=1,chardev=charchannel0,"
      "id=channel0,name=org.nest.agent.0"};
}

absl::StatusOr<Sample> BootRaw(const std::string& accel,
                               const vmm::VmSpec& spec,
                               const std::string& dir) {
  std::string sock = dir + "/raw-agent.sock";
  std::string console = dir + "/raw-console.log";
  unlink(sock.c_str());
  auto args = RawArgs(accel, spec, sock, console);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  absl::Time t0 = absl::Now();
  pid_t pid = fork();
  if (pid == 0) {
    execvp(argv[0], argv.data());
    _exit(127);
  }
  absl::Time deadline = t0 + kReadyTimeout;
  int fd = -1;
  // Connect as soon as QEMU listens; the guest's write blocks until then.
  while (absl::Now() < deadline) {
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", sock.c_str());
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
      break;
    }
    close(fd);
    fd = -1;
    if (waitpid(pid, nullptr, WNOHANG) == pid) {
      return absl::InternalError("raw qemu exited early");
    }
    absl::SleepFor(absl::Milliseconds(2));
  }
  absl::Status st = absl::OkStatus();
  Sample s;
  if (fd < 0) {
    st = absl::DeadlineExceededError("raw qemu socket never appeared");
  } else {
    auto stream = FdByteStream(fd);
    char c;
    auto n = stream->Read(&c, 1, deadline);
    absl::Time t1 = absl::Now();
    if (!n.ok() || *n != 1) {
      st = absl::DeadlineExceededError("raw guest never said hello");
    }
    s.ms = absl::ToDoubleMilliseconds(t1 - t0);
    s.rss_mib = RssMib(pid);
    stream->Close();
  }
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  unlink(sock.c_str());
  if (!st.ok()) return st;
  return s;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  double idx = p * (v.size() - 1);
  size_t lo = static_cast<size_t>(idx);
  size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (idx - lo);
}

int Run(int n) {
  if (geteuid() != 0) {
    std::fprintf(stderr, "bench_vm_boot needs root (QEMU, libvirtd)\n");
    return 2;
  }
  if (auto st = vmm::EnsureLibvirtd(); !st.ok()) {
    std::fprintf(stderr, "%s\n", st.ToString().c_str());
    return 1;
  }
  testenv::TestDir dir;
  auto set = testenv::BuildHelloBootSet(dir.path() + "/guest");
  if (!set.ok()) {
    std::fprintf(stderr, "boot set: %s\n", set.status().ToString().c_str());
    return 1;
  }
  vmm::LibvirtOptions o;
  o.accel = vmm::Accel::kAuto;
  o.probe_kernel = set->kernel_path;
  o.probe_initrd = set->initrd_path;
  o.probe_cache_dir = "/var/lib/nest/cache";
  auto driver = vmm::LibvirtDriver::Open(o);
  if (!driver.ok()) {
    std::fprintf(stderr, "%s\n", driver.status().ToString().c_str());
    return 1;
  }
  auto accel = (*driver)->ResolvedAccel();
  if (!accel.ok()) return 1;
  std::string accel_name(vmm::AccelName(*accel));

  vmm::VmSpec spec;
  spec.memory_mib = 256;
  spec.kernel_path = set->kernel_path;
  spec.initrd_path = set->initrd_path;
  std::vector<double> nest_ms, raw_ms, nest_rss, raw_rss, create_ms;
  int failures = 0;
  std::printf("%-4s %-8s %10s %9s %10s\n", "run", "launcher", "ready_ms",
              "rss_mib", "create_ms");
  for (int i = 0; i < n; ++i) {
    spec.id = VmId(absl::StrCat("bench-", getpid(), "-", i));
    spec.console_log_path = absl::StrCat(dir.path(), "/console-", i, ".log");
    // Alternate who goes first so drift in host load hits both alike.
    for (int k = 0; k < 2; ++k) {
      bool nest_turn = (i + k) % 2 == 0;
      auto s = nest_turn ? BootNest(**driver, spec)
                         : BootRaw(accel_name, spec, dir.path());
      const char* who = nest_turn ? "nest" : "raw";
      if (!s.ok()) {
        ++failures;
        std::printf("%-4d %-8s %10s %9s  (%s)\n", i, who, "-", "-",
                    s.status().ToString().c_str());
        continue;
      }
      std::string create =
          nest_turn ? absl::StrFormat("%.0f", s->create_ms) : "-";
      std::printf("%-4d %-8s %10.0f %9.1f %10s\n", i, who, s->ms, s->rss_mib,
                  create.c_str());
      std::fflush(stdout);
      (nest_turn ? nest_ms : raw_ms).push_back(s->ms);
      (nest_turn ? nest_rss : raw_rss).push_back(s->rss_mib);
      if (nest_turn) create_ms.push_back(s->create_ms);
    }
  }
  double np50 = Percentile(nest_ms, 0.5), rp50 = Percentile(raw_ms, 0.5);
  double np95 = Percentile(nest_ms, 0.95), rp95 = Percentile(raw_ms, 0.95);
  double ratio = rp50 > 0 ? np50 / rp50 : 0;
  double overhead = np50 - rp50;
  double nrss = Percentile(nest_rss, 0.5), rrss = Percentile(raw_rss, 0.5);
  std::printf("\naccel=%s  n=%d per launcher  failures=%d\n",
              accel_name.c_str(), n, failures);
  std::printf("%-10s %9s %9s %12s\n", "launcher", "p50_ms", "p95_ms",
              "rss_mib_p50");
  std::printf("%-10s %9.0f %9.0f %12.1f\n", "nest", np50, np95, nrss);
  std::printf("%-10s %9.0f %9.0f %12.1f\n", "raw-qemu", rp50, rp95, rrss);
  std::printf("libvirt define+start p50 %.0f ms (part of nest's ready time)\n",
              Percentile(create_ms, 0.5));
  std::printf(
      "ratio_p50 %.3f (goal <= 1.10), nest overhead %.0f ms (goal <= "
      "150 ms)\n",
      ratio, overhead);
  std::printf(
      "{\"bench\":\"vm_boot\",\"accel\":\"%s\",\"n\":%d,\"nest_p50_ms\":%.1f,"
      "\"raw_p50_ms\":%.1f,\"nest_p95_ms\":%.1f,\"raw_p95_ms\":%.1f,"
      "\"ratio_p50\":%.3f,\"nest_overhead_ms\":%.1f,\"qemu_rss_mib\":%.1f,"
      "\"raw_rss_mib\":%.1f}\n",
      accel_name.c_str(), n, np50, rp50, np95, rp95, ratio, overhead, nrss,
      rrss);
  return failures == 0 ? 0 : 1;
}

}  // namespace
}  // namespace nest

int main(int argc, char** argv) {
  int n = argc > 1 ? std::atoi(argv[1]) : 10;
  if (n < 1) n = 10;
  return nest::Run(n);
}
