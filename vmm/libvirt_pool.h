// libvirt `dir` storage pools for the files QEMU opens (per-VM disks and
// console logs), so an operator sees them with `virsh vol-list` and libvirt
// accounts for their space. Files are created by images/ (qemu-img); the
// pool makes them visible. Remote hosts' pools are reached through
// DirPoolVolumes (libvirt_volumes.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "core/status.h"

namespace nest::vmm {

// The pool name Nest uses for a directory: "nest-" and 12 hex digits of the
// path's SHA-256, so two state dirs on one host never share a pool.
std::string DirPoolName(absl::string_view path);

// The pool's XML: <pool type='dir'> with `name` and target `path`, and
// the directory's mode when given (what building the pool creates). Built
// with libxml2 (values escaped by construction). `path` must be absolute.
[[nodiscard]] absl::StatusOr<std::string> BuildDirPoolXml(
    const std::string& name, const std::string& path,
    std::optional<uint32_t> dir_mode = std::nullopt);

// The target path of a pool's XML; INVALID_ARGUMENT when it has none.
[[nodiscard]] absl::StatusOr<std::string> ParsePoolTargetPath(
    absl::string_view xml);

// Defines (if missing), starts (if inactive), autostarts and refreshes the
// `dir` pool DirPoolName(path) on `uri`. An existing pool of that name with
// another target is someone else's: FAILED_PRECONDITION, untouched.
[[nodiscard]] absl::Status EnsureDirPool(const std::string& uri,
                                         const std::string& path);

// Re-reads the pool's volumes after files were added or removed (OK when
// the pool does not exist).
[[nodiscard]] absl::Status RefreshDirPool(const std::string& uri,
                                          const std::string& path);

// Stops and undefines the pool of `path` (its files are left to the
// caller). OK when there is no such pool; FAILED_PRECONDITION when the pool
// of that name targets another path.
[[nodiscard]] absl::Status RemoveDirPool(const std::string& uri,
                                         const std::string& path);

}  // namespace nest::vmm
