// The guest kernel: Debian's linux-image-cloud-amd64, downloaded and
// unpacked into a cache, never installed on the host (that would add a boot
// entry to the host's own bootloader).
#pragma once

#include <string>

#include "core/status.h"

namespace nest::images {

struct GuestKernel {
  std::string package;       // e.g. linux-image-6.1.0-56-cloud-amd64
  std::string release;       // e.g. 6.1.0-56-cloud-amd64 (uname -r)
  std::string vmlinuz_path;  // <cache>/<package>/boot/vmlinuz-<release>
  std::string modules_dir;   // <cache>/<package>/lib/modules/<release>
};

struct KernelFetchOptions {
  std::string cache_dir = "/var/lib/nest/cache/kernel";
  std::string meta_package = "linux-image-cloud-amd64";
  // When set, skip `apt-cache depends` and use this versioned package.
  std::string package;
};

// Resolves the versioned package the meta-package depends on, then
// `apt-get download`s and `dpkg-deb -x`es it into `<cache_dir>/<package>`
// and generates modules.dep there with `depmod -b`. Reuses a completed
// unpack (marked by `.complete`), so a second call costs no download. Safe
// against a crash mid-way: work happens in a temp dir renamed at the end.
[[nodiscard]] absl::StatusOr<GuestKernel> FetchGuestKernel(
    const KernelFetchOptions& options);

}  // namespace nest::images
