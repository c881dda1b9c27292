#include "tests/vmm/e2e_env.h"

#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"

namespace nest::testenv {
namespace fs = std::filesystem;

TestDir::TestDir() {
  fs::create_directories("/var/lib/nest");
  chmod("/var/lib/nest", 0755);
  char tmpl[] = "/var/lib/nest/test-XXXXXX";
  if (mkdtemp(tmpl) != nullptr) {
    path_ = tmpl;
    chmod(tmpl, 0755);
  }
}

TestDir::~TestDir() {
  std::error_code ec;
  if (!path_.empty()) fs::remove_all(path_, ec);
}

std::string GuestChannelLoop() {
  return R"SH(
port=
i=0
while [ -z "$port" ] && [ $i -lt 200 ]; do
  for p in /sys/class/virtio-ports/*; do
    [ "$(cat "$p/name" 2>/dev/null)" = org.nest.agent.0 ] && port=/dev/${p##*/}
  done
  [ -n "$port" ] || sleep 0.05
  i=$((i+1))
done
[ -n "$port" ] || { echo "guest: no org.nest.agent.0 port" > /dev/console; exit 1; }
exec 3<>"$port"
printf H >&3
while :; do
  # read fails while no host end is connected; wait for one.
  while read -r line <&3; do
    case "$line" in
      poweroff) sync; poweroff -f ;;
      ping)
        if grep -q ' /var/lib/nest ' /proc/mounts; then m=mounted; else m=unmounted; fi
        echo "pong $m" >&3 ;;
    esac
  done
  sleep 0.2
done
)SH";
}

std::string HelloInit() {
  return absl::StrCat(R"SH(#!/bin/sh
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
rel=$(uname -r)
while read -r m; do insmod "/lib/modules/$rel/$m"; done < /etc/nest/modules.load
)SH",
                      GuestChannelLoop());
}

absl::StatusOr<images::GuestKernel> CachedKernel() {
  images::KernelFetchOptions o;
  o.cache_dir = "/var/lib/nest/cache/kernel";
  return images::FetchGuestKernel(o);
}

absl::StatusOr<images::GuestBootSet> BuildHelloBootSet(
    const std::string& out_root) {
  NEST_ASSIGN_OR_RETURN(images::GuestKernel k, CachedKernel());
  images::InitramfsSpec spec;
  spec.kernel = k;
  spec.modules = {"virtio_mmio", "virtio_console"};
  spec.init_script = HelloInit();
  return images::BuildGuestBootSet(spec, out_root);
}

absl::StatusOr<images::GuestBootSet> BuildAgentBootSet(
    const std::string& out_root) {
  NEST_ASSIGN_OR_RETURN(images::GuestKernel k, CachedKernel());
  fs::create_directories(out_root);
  std::string agent = out_root + "/fake-nest-agent";
  std::ofstream(agent) << "#!/bin/sh\n" << GuestChannelLoop();
  chmod(agent.c_str(), 0755);
  images::InitramfsSpec spec;
  spec.kernel = k;
  spec.agent_path = agent;
  spec.extra_binaries = images::DefaultGuestBinaries();
  return images::BuildGuestBootSet(spec, out_root);
}

absl::StatusOr<std::string> ReadLine(ByteStream& s, absl::Time deadline) {
  std::string line;
  char c;
  for (;;) {
    NEST_ASSIGN_OR_RETURN(size_t n, s.Read(&c, 1, deadline));
    if (n == 0) return absl::UnavailableError("channel closed mid-line");
    if (c == '\n') return line;
    line.push_back(c);
  }
}

}  // namespace nest::testenv
