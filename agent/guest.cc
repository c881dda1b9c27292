#include "agent/guest.h"

#include <sys/reboot.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "agent/subprocess.h"

namespace nest::agent {
namespace {

std::string ReadSmallFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class LinuxGuest : public GuestOps {
 public:
  AgentHello Describe() override {
    AgentHello h;
    utsname u;
    if (::uname(&u) == 0) h.kernel_release = u.release;
    h.cpus = std::thread::hardware_concurrency();
    struct sysinfo si;
    if (::sysinfo(&si) == 0) {
      h.memory_bytes = uint64_t{si.totalram} * si.mem_unit;
    }
    return h;
  }

  absl::StatusOr<GuestStats> Stats() override {
    GuestStats g;
    // /proc/stat "cpu user nice system idle ..." in USER_HZ ticks.
    std::string stat = ReadSmallFile("/proc/stat");
    std::vector<std::string> f =
        absl::StrSplit(stat.substr(0, stat.find('\n')), ' ', absl::SkipEmpty());
    if (f.size() < 4 || f[0] != "cpu") {
      return absl::InternalError("/proc/stat does not start with a cpu line");
    }
    uint64_t ticks = 0;
    for (size_t i : {1, 2, 3, 6, 7}) {  // user nice system irq softirq
      uint64_t v = 0;
      if (i < f.size() && absl::SimpleAtoi(f[i], &v)) ticks += v;
    }
    long hz = ::sysconf(_SC_CLK_TCK);
    g.cpu_usage_us = ticks * 1000000 / static_cast<uint64_t>(hz > 0 ? hz : 100);
    for (absl::string_view line :
         absl::StrSplit(ReadSmallFile("/proc/meminfo"), '\n')) {
      std::vector<absl::string_view> kv =
          absl::StrSplit(line, ' ', absl::SkipEmpty());
      uint64_t kb = 0;
      if (kv.size() < 2 || !absl::SimpleAtoi(kv[1], &kb)) continue;
      if (kv[0] == "MemTotal:") g.memory_total_bytes = kb * 1024;
      if (kv[0] == "MemAvailable:") g.memory_available_bytes = kb * 1024;
    }
    std::string load = ReadSmallFile("/proc/loadavg");
    (void)absl::SimpleAtod(load.substr(0, load.find(' ')), &g.load1);
    std::string up = ReadSmallFile("/proc/uptime");
    double up_s = 0;
    if (absl::SimpleAtod(up.substr(0, up.find(' ')), &up_s)) {
      g.uptime_ms = static_cast<uint64_t>(up_s * 1000);
    }
    return g;
  }

  absl::StatusOr<ExecResult> Exec(const std::vector<std::string>& args,
                                  const ExecOptions& options) override {
    if (args.empty() || args[0].empty()) {
      return absl::InvalidArgumentError("args must name the program to run");
    }
    return RunCommand(args, options.env, options.timeout);
  }

  void Sync() override { ::sync(); }

  absl::Status PowerOff() override {
    ::sync();
    if (::reboot(RB_POWER_OFF) != 0) {
      return absl::PermissionDeniedError(
          absl::StrCat("reboot(RB_POWER_OFF): ", std::strerror(errno)));
    }
    return absl::OkStatus();
  }
};

}  // namespace

std::unique_ptr<GuestOps> NewLinuxGuest() {
  return std::make_unique<LinuxGuest>();
}

absl::StatusOr<std::string> FindVirtioPort(const std::string& sys_dir,
                                           const std::string& name) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(sys_dir, ec)) {
    std::string got = ReadSmallFile(entry.path().string() + "/name");
    if (absl::StripTrailingAsciiWhitespace(got) == name) {
      return "/dev/" + entry.path().filename().string();
    }
  }
  if (ec) {
    return absl::NotFoundError(absl::StrCat("no virtio-serial ports (", sys_dir,
                                            ": ", ec.message(),
                                            "); is virtio_console loaded?"));
  }
  return absl::NotFoundError(
      absl::StrCat("no virtio-serial port named ", name, " under ", sys_dir));
}

}  // namespace nest::agent
