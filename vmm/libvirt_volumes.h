// Files on a host that nestd reaches only through libvirt (issue 13): the
// volumes of Nest's `dir` storage pool there. The boot set and each VM's
// data disk are uploaded with virStorageVolUpload, console logs read back
// with virStorageVolDownload and per-VM files deleted with
// virStorageVolDelete, so nestd needs no shell or file access on the host.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "core/status.h"

namespace nest::vmm {

// How a new volume's file is owned on the host.
struct VolumeAccess {
  uint32_t mode = 0644;
  uint32_t uid = 0;
  uint32_t gid = 0;
};

// What a volume holds, from virStorageVolGetInfo.
struct VolumeSize {
  uint64_t capacity = 0;
  uint64_t allocation = 0;
};

// One connection to a host and Nest's pool for `path` there (defined,
// built and started by Open if missing; see EnsureDirPool for the naming).
// Not thread-safe: callers serialise, one pool object per host.
class DirPoolVolumes {
 public:
  // Connects to `uri` and makes sure the pool for `path` exists and runs,
  // creating the directory on the host (mode `dir_mode`) when it is new.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<DirPoolVolumes>> Open(
      const std::string& uri, const std::string& path, uint32_t dir_mode);
  ~DirPoolVolumes();
  DirPoolVolumes(const DirPoolVolumes&) = delete;
  DirPoolVolumes& operator=(const DirPoolVolumes&) = delete;

  // The volume's path on the host.
  std::string PathOf(absl::string_view name) const;

  // The volume's sizes, or nullopt when there is none (after a refresh,
  // so files the host's libvirt wrote itself, like console logs, count).
  [[nodiscard]] absl::StatusOr<std::optional<VolumeSize>> Stat(
      const std::string& name);

  // Creates volume `name` (replacing one of that name) with the bytes of
  // the local file `local_path`. A failed upload deletes the half-written
  // volume.
  [[nodiscard]] absl::Status Upload(const std::string& name,
                                    const std::string& local_path,
                                    const VolumeAccess& access);

  // Up to the last `max_bytes` bytes of the volume; NOT_FOUND when missing.
  [[nodiscard]] absl::StatusOr<std::string> ReadTail(const std::string& name,
                                                     uint64_t max_bytes);

  // Deletes the volume; OK when there is none.
  [[nodiscard]] absl::Status Delete(const std::string& name);

  // False once the connection broke; reopen then.
  bool alive() const;

 private:
  struct Handles;
  explicit DirPoolVolumes(std::unique_ptr<Handles> h);
  std::unique_ptr<Handles> h_;
};

// True for libvirt URIs that name no remote host ("qemu:///system",
// "test:///default", "qemu+unix:///system"): their files are this
// machine's. Anything with a host part ("qemu+tcp://h/system") is remote.
bool IsLocalUri(absl::string_view uri);

}  // namespace nest::vmm
