// Shared set-up for the e2e tier and bench_vm_boot: a temp dir QEMU can
// read, the cached Debian cloud kernel, and boot sets whose guest says
// hello on kAgentChannel and powers off on a "poweroff" line.
#pragma once

#include <string>

#include "absl/time/time.h"
#include "core/byte_stream.h"
#include "core/status.h"
#include "images/guest/initramfs.h"

namespace nest::testenv {

// A fresh directory /var/lib/nest/test-XXXXXX (QEMU runs as libvirt-qemu
// and cannot enter /root or /tmp-private dirs), removed on destruction.
class TestDir {
 public:
  TestDir();
  ~TestDir();
  TestDir(const TestDir&) = delete;
  TestDir& operator=(const TestDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// The guest's side of the channel protocol the e2e tier and the bench use,
// as a shell loop: find the port through /sys/class/virtio-ports/*/name,
// write 'H', then answer "ping" with "pong mounted|unmounted" (whether
// /var/lib/nest is a mount) and power off on "poweroff".
std::string GuestChannelLoop();

// A tiny /init: mounts, loads the carried modules, runs GuestChannelLoop.
std::string HelloInit();

// The Debian cloud kernel, downloaded once into /var/lib/nest/cache/kernel.
[[nodiscard]] absl::StatusOr<images::GuestKernel> CachedKernel();

// Boot set with HelloInit and only virtio_mmio + virtio_console (fast).
[[nodiscard]] absl::StatusOr<images::GuestBootSet> BuildHelloBootSet(
    const std::string& out_root);

// Boot set with the default init, the default module list and a stand-in
// nest-agent (GuestChannelLoop as a script) at /usr/bin/nest-agent.
[[nodiscard]] absl::StatusOr<images::GuestBootSet> BuildAgentBootSet(
    const std::string& out_root);

// Reads one '\n'-terminated line (without it) before `deadline`.
[[nodiscard]] absl::StatusOr<std::string> ReadLine(ByteStream& s,
                                                   absl::Time deadline);

}  // namespace nest::testenv
