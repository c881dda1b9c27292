// The microVM boot set: the guest kernel plus an initramfs (newc cpio,
// zstd or gzip) carrying busybox-static, extra binaries with the shared
// libraries `ldd` resolves for them (crun, nest-agent), the kernel modules
// the guest needs with their dependencies, and an /init.
//
// Reproducible: entries are sorted, with mtime 0, uid/gid 0 and sequential
// inode numbers, so the same inputs give the same bytes and the same
// digest. The digest is computed from the inputs' contents before anything
// is written, so an unchanged set is not rebuilt.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"
#include "images/guest/kernel.h"

namespace nest::images {

// Modules the guest loads (ARCHITECTURE.md: virtio drivers are modules in
// Debian's cloud kernel); their dependencies come from modules.dep.
std::vector<std::string> DefaultGuestModules();

// Host binaries every guest carries, with their shared libraries: crun for
// containers, iproute2's ip and nft for the agent's guest networking (the
// busybox applets lack veth peers in namespaces and nftables).
std::vector<std::string> DefaultGuestBinaries();

// The default /init: mounts proc, sys, dev (devtmpfs), cgroup2; loads the
// modules in dependency order (/etc/nest/modules.load); moves to a tmpfs
// root with switch_root (pivot_root fails on an initramfs, and crun needs
// it); mounts /dev/vda (ext4) at /var/lib/nest when present; starts
// /usr/bin/nest-agent when present and restarts it if it exits. The agent
// finds its port itself through /sys/class/virtio-ports/*/name.
std::string DefaultInitScript();

// Named apart from images/byte_source.h's Compression: both live in
// nest::images and nestd includes both.
enum class InitrdCompression { kNone, kGzip, kZstd };

struct InitramfsSpec {
  GuestKernel kernel;
  std::vector<std::string> modules = DefaultGuestModules();
  std::string busybox_path = "/bin/busybox";
  // Installed at their own absolute paths with their shared libraries
  // (e.g. /usr/bin/crun).
  std::vector<std::string> extra_binaries;
  // Optional: installed as /usr/bin/nest-agent (with its libraries).
  std::string agent_path;
  // Empty = DefaultInitScript().
  std::string init_script;
  InitrdCompression compression = InitrdCompression::kZstd;
};

struct GuestBootSet {
  std::string digest;       // sha256 of the inputs; names the directory
  std::string dir;          // <out_root>/<digest>
  std::string kernel_path;  // <dir>/vmlinuz
  std::string initrd_path;  // <dir>/initrd
  bool built = false;       // false when an identical set already existed
};

// Builds (or reuses) the boot set under `out_root` (e.g.
// /var/lib/nest/images/guest). Files are world-readable: QEMU runs as
// libvirt-qemu. Writes go to a temp dir renamed into place, so a crash
// never leaves a half-written set that looks complete.
[[nodiscard]] absl::StatusOr<GuestBootSet> BuildGuestBootSet(
    const InitramfsSpec& spec, const std::string& out_root);

// Exposed for tests: the shared libraries `ldd` lists for `binary` (empty
// for static binaries and scripts).
[[nodiscard]] absl::StatusOr<std::vector<std::string>> SharedLibraries(
    const std::string& binary);

// Exposed for tests: `wanted` plus their dependencies from
// `<modules_dir>/modules.dep`, dependencies first; paths relative to
// modules_dir.
[[nodiscard]] absl::StatusOr<std::vector<std::string>> ResolveModules(
    const std::string& modules_dir, const std::vector<std::string>& wanted);

}  // namespace nest::images
