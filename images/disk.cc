#include "images/disk.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "core/validate.h"
#include "images/fs.h"
#include "images/path.h"
#include "images/subprocess.h"

namespace nest::images {

using json = nlohmann::json;

absl::StatusOr<DiskFormat> ParseDiskFormat(absl::string_view s) {
  if (s == "raw") return DiskFormat::kRaw;
  if (s == "qcow2") return DiskFormat::kQcow2;
  return absl::InvalidArgumentError(absl::StrCat(
      "disk format must be raw or qcow2, got ", QuoteForMessage(s)));
}

absl::string_view DiskFormatName(DiskFormat f) {
  return f == DiskFormat::kRaw ? "raw" : "qcow2";
}

absl::StatusOr<DiskInfo> InspectUserDisk(const std::string& path,
                                         DiskFormat declared) {
  // Probing here is deliberate and harmless: qemu-img info opens the image
  // without its backing chain (and -U without taking locks), and we only use
  // the probed format to refuse a mismatch with what the user declared.
  NEST_ASSIGN_OR_RETURN(CommandResult r, RunChecked({"qemu-img", "info", "-U",
                                                     "--output=json", path}));
  json j = json::parse(r.out, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::InternalError("qemu-img info printed invalid JSON for " +
                               path);
  }
  std::string format = j.value("format", "");
  if (j.contains("backing-filename") || j.contains("full-backing-filename")) {
    return absl::PermissionDeniedError(
        absl::StrCat("disk ", path, " has a backing file (",
                     QuoteForMessage(j.value("backing-filename", "")),
                     "); expected a self-contained image"));
  }
  if (j.contains("format-specific") && j["format-specific"].is_object()) {
    const json& fs = j["format-specific"];
    if (fs.contains("data") && fs["data"].is_object() &&
        fs["data"].contains("data-file")) {
      return absl::PermissionDeniedError(
          absl::StrCat("disk ", path,
                       " uses an external data file; expected a "
                       "self-contained image"));
    }
  }
  if (format != DiskFormatName(declared)) {
    return absl::InvalidArgumentError(
        absl::StrCat("disk ", path, " is declared ", DiskFormatName(declared),
                     " but its content is ", QuoteForMessage(format)));
  }
  DiskInfo info;
  info.format = declared;
  info.virtual_size = j.value("virtual-size", uint64_t{0});
  info.actual_size = j.value("actual-size", uint64_t{0});
  return info;
}

absl::Status CreateOverlay(const std::string& base, DiskFormat base_format,
                           const std::string& overlay) {
  if (base.empty() || base[0] != '/') {
    return absl::InvalidArgumentError(absl::StrCat(
        "overlay base must be an absolute path, got ", QuoteForMessage(base)));
  }
  if (PathExists(overlay)) {
    return absl::AlreadyExistsError(overlay + " already exists");
  }
  std::string tmp = overlay + ".tmp";
  ::unlink(tmp.c_str());
  auto r =
      RunChecked({"qemu-img", "create", "-q", "-f", "qcow2", "-F",
                  std::string(DiskFormatName(base_format)), "-b", base, tmp});
  if (!r.ok()) {
    ::unlink(tmp.c_str());
    return Annotate(r.status(), "create overlay " + overlay);
  }
  if (::rename(tmp.c_str(), overlay.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return ErrnoStatus(errno, "rename to", overlay);
  }
  return absl::OkStatus();
}

// Why the data disk is formatted on the host rather than by the guest: the
// guest initramfs carries busybox, whose mke2fs cannot make ext4, and
// formatting in the guest would add seconds of TCG time to every boot. A
// sparse raw file formatted with lazy inode/journal init is a few MiB of
// writes; `qemu-img convert` skips the zero regions, so the qcow2 stays tiny.
absl::Status CreateDataDisk(const std::string& path, int64_t size_mib,
                            absl::string_view label) {
  if (size_mib < 16 || size_mib > (int64_t{16} << 20)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "data disk size_mib must be between 16 and 16777216, got ", size_mib));
  }
  if (PathExists(path))
    return absl::AlreadyExistsError(path + " already exists");
  std::string raw = path + ".raw.tmp", tmp = path + ".tmp";
  auto cleanup = [&] {
    ::unlink(raw.c_str());
    ::unlink(tmp.c_str());
  };
  cleanup();
  {
    ScopedFd fd(
        ::open(raw.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (!fd.valid()) return ErrnoStatus(errno, "create", raw);
    if (::ftruncate(fd.get(), size_mib * 1024 * 1024) != 0) {
      cleanup();
      return ErrnoStatus(errno, "size", raw);
    }
  }
  auto mk =
      RunChecked({"mkfs.ext4", "-q", "-F", "-L", std::string(label), "-m", "0",
                  "-E", "lazy_itable_init=1,lazy_journal_init=1", raw});
  if (!mk.ok()) {
    cleanup();
    return Annotate(mk.status(), "format data disk " + path);
  }
  auto cv = RunChecked(
      {"qemu-img", "convert", "-q", "-f", "raw", "-O", "qcow2", raw, tmp});
  if (!cv.ok()) {
    cleanup();
    return Annotate(cv.status(), "convert data disk " + path);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    cleanup();
    return ErrnoStatus(errno, "rename to", path);
  }
  ::unlink(raw.c_str());
  return absl::OkStatus();
}

absl::StatusOr<std::string> DiskPool::Resolve(absl::string_view rel) const {
  return ResolveUnderRoot(root_, rel);
}

absl::StatusOr<DiskInfo> DiskPool::Inspect(absl::string_view rel,
                                           DiskFormat declared) const {
  NEST_ASSIGN_OR_RETURN(std::string p, Resolve(rel));
  return InspectUserDisk(p, declared);
}

absl::StatusOr<std::string> DiskPool::CreateOverlay(
    absl::string_view base_rel, DiskFormat base_format,
    absl::string_view overlay_rel) const {
  NEST_ASSIGN_OR_RETURN(std::string base, Resolve(base_rel));
  NEST_ASSIGN_OR_RETURN(std::string overlay, Resolve(overlay_rel));
  // The base itself must be self-contained: an overlay chain of unknown
  // depth would reach files outside the pool.
  NEST_RETURN_IF_ERROR(InspectUserDisk(base, base_format).status());
  NEST_RETURN_IF_ERROR(images::CreateOverlay(base, base_format, overlay));
  return overlay;
}

absl::StatusOr<std::string> DiskPool::CreateDataDisk(absl::string_view rel,
                                                     int64_t size_mib) const {
  NEST_ASSIGN_OR_RETURN(std::string p, Resolve(rel));
  NEST_RETURN_IF_ERROR(images::CreateDataDisk(p, size_mib));
  return p;
}

}  // namespace nest::images
