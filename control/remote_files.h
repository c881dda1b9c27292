// The files a VM needs on a host nestd reaches only through libvirt
// (issue 13): the guest boot set, uploaded once per host as content-named
// volumes, and each VM's data disk, built here and uploaded; console logs
// are read back and per-VM files deleted the same way. They live in Nest's
// `dir` pool on that host, at the same path as the local pool, so a VM's
// data disk and console log have the same path on every host.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "core/ids.h"
#include "core/status.h"
#include "vmm/libvirt_volumes.h"

namespace nest::control {

// Where a host's copy of the boot set is.
struct RemoteBootSet {
  std::string kernel_path;
  std::string initrd_path;  // empty when the boot set has no initrd
};

// Thread-safe; work for one host is serialised (one connection per host,
// reopened when it breaks), different hosts proceed in parallel.
class RemoteFiles {
 public:
  // `kernel`/`initrd` are this machine's boot set, `pool_path` the pool
  // directory used on every host, `staging_dir` a local directory for data
  // disks on their way to a host.
  RemoteFiles(std::string kernel, std::string initrd, std::string pool_path,
              std::string staging_dir);

  // Uploads the boot set unless the host already holds a complete copy.
  [[nodiscard]] absl::StatusOr<RemoteBootSet> EnsureBootSet(
      const std::string& uri);

  // A fresh `size_mib` data disk for `vm` on the host; returns its path.
  [[nodiscard]] absl::StatusOr<std::string> UploadDataDisk(
      const std::string& uri, const VmId& vm, int64_t size_mib);

  // Deletes the VM's data disk and console log; OK when gone already.
  [[nodiscard]] absl::Status Release(const std::string& uri, const VmId& vm);

  // The last `max_bytes` of the VM's console log.
  [[nodiscard]] absl::StatusOr<std::string> ConsoleTail(const std::string& uri,
                                                        const VmId& vm,
                                                        uint64_t max_bytes);

  // Volume names, for tests and messages.
  static std::string DataDiskName(const VmId& vm);
  static std::string ConsoleLogName(const VmId& vm);

 private:
  struct Host {
    absl::Mutex mu;
    std::unique_ptr<vmm::DirPoolVolumes> pool ABSL_GUARDED_BY(mu);
  };
  struct BootFile {
    std::string local;
    std::string volume;  // "boot-<sha256 prefix>-<basename>"
  };

  std::shared_ptr<Host> HostFor(const std::string& uri);
  // The host's pool, connecting (again) when needed.
  absl::StatusOr<vmm::DirPoolVolumes*> Pool(const std::string& uri, Host& h)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(h.mu);
  absl::StatusOr<std::vector<BootFile>> BootFiles();

  const std::string kernel_, initrd_, pool_path_, staging_dir_;
  absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<Host>> hosts_ ABSL_GUARDED_BY(mu_);
  std::vector<BootFile> boot_files_ ABSL_GUARDED_BY(mu_);
};

}  // namespace nest::control
