// VM disks through qemu-img: per-VM qcow2 overlays on a read-only base,
// per-VM ext4 data disks, and inspection of user-supplied disk images.
// Every qemu-img call names the format explicitly (-f/-F): format probing
// on untrusted images is how a raw disk gets read as qcow2 with a hostile
// backing file.
#pragma once

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "core/status.h"

namespace nest::images {

enum class DiskFormat { kRaw, kQcow2 };

[[nodiscard]] absl::StatusOr<DiskFormat> ParseDiskFormat(absl::string_view s);
absl::string_view DiskFormatName(DiskFormat f);

struct DiskInfo {
  DiskFormat format = DiskFormat::kRaw;
  uint64_t virtual_size = 0;  // bytes the guest sees
  uint64_t actual_size = 0;   // bytes used on the host
};

// Inspects a user-supplied image with `qemu-img info --output=json` and
// rejects it when it has a backing file, an external data file, or when
// its real format differs from `declared`.
[[nodiscard]] absl::StatusOr<DiskInfo> InspectUserDisk(const std::string& path,
                                                       DiskFormat declared);

// `qemu-img create -f qcow2 -F <fmt> -b <base> <overlay>`; `base` must be
// absolute. The overlay appears atomically (created under a temp name).
// The base must not be written while overlays use it.
[[nodiscard]] absl::Status CreateOverlay(const std::string& base,
                                         DiskFormat base_format,
                                         const std::string& overlay);

// A qcow2 disk of `size_mib` holding an empty ext4 filesystem labelled
// `label`, for the guest to mount at /var/lib/nest (see disk.cc for why it
// is formatted on the host).
[[nodiscard]] absl::Status CreateDataDisk(
    const std::string& path, int64_t size_mib,
    absl::string_view label = "nest-data");

// Disks of one storage pool directory (e.g. /var/lib/nest/disks): every path
// is given relative to the pool and resolved inside it (no "..", no symlink
// escape). Thread-safe (no state besides the root).
class DiskPool {
 public:
  explicit DiskPool(std::string root) : root_(std::move(root)) {}

  [[nodiscard]] absl::StatusOr<std::string> Resolve(
      absl::string_view rel) const;
  [[nodiscard]] absl::StatusOr<DiskInfo> Inspect(absl::string_view rel,
                                                 DiskFormat declared) const;
  // Returns the absolute overlay path.
  [[nodiscard]] absl::StatusOr<std::string> CreateOverlay(
      absl::string_view base_rel, DiskFormat base_format,
      absl::string_view overlay_rel) const;
  [[nodiscard]] absl::StatusOr<std::string> CreateDataDisk(
      absl::string_view rel, int64_t size_mib) const;

  const std::string& root() const { return root_; }

 private:
  std::string root_;
};

}  // namespace nest::images
