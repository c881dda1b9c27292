#include "control/remote_files.h"

#include <unistd.h>

#include <filesystem>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/sha256.h"
#include "images/disk.h"
#include "spdlog/spdlog.h"

namespace nest::control {
namespace {

// Pool directory on remote hosts: root's, searchable by the QEMUs.
constexpr uint32_t kPoolDirMode = 0755;

}  // namespace

RemoteFiles::RemoteFiles(std::string kernel, std::string initrd,
                         std::string pool_path, std::string staging_dir)
    : kernel_(std::move(kernel)),
      initrd_(std::move(initrd)),
      pool_path_(std::move(pool_path)),
      staging_dir_(std::move(staging_dir)) {}

std::string RemoteFiles::DataDiskName(const VmId& vm) {
  return absl::StrCat(vm.str(), ".data.qcow2");
}

std::string RemoteFiles::ConsoleLogName(const VmId& vm) {
  return absl::StrCat(vm.str(), ".console.log");
}

std::shared_ptr<RemoteFiles::Host> RemoteFiles::HostFor(
    const std::string& uri) {
  absl::MutexLock lock(&mu_);
  auto& h = hosts_[uri];
  if (!h) h = std::make_shared<Host>();
  return h;
}

absl::StatusOr<vmm::DirPoolVolumes*> RemoteFiles::Pool(const std::string& uri,
                                                       Host& h) {
  if (!h.pool || !h.pool->alive()) {
    h.pool.reset();
    NEST_ASSIGN_OR_RETURN(
        h.pool, vmm::DirPoolVolumes::Open(uri, pool_path_, kPoolDirMode));
  }
  return h.pool.get();
}

absl::StatusOr<std::vector<RemoteFiles::BootFile>> RemoteFiles::BootFiles() {
  absl::MutexLock lock(&mu_);
  if (!boot_files_.empty()) return boot_files_;
  std::vector<BootFile> files;
  for (const std::string& local : {kernel_, initrd_}) {
    if (local.empty()) continue;
    // Content-named, so a host never boots a stale copy of a changed file
    // and the same boot set is uploaded once per host.
    NEST_ASSIGN_OR_RETURN(std::string sha, Sha256FileHex(local));
    files.push_back(BootFile{
        local, absl::StrCat("boot-", sha.substr(0, 16), "-",
                            std::filesystem::path(local).filename().string())});
  }
  boot_files_ = files;
  return files;
}

absl::StatusOr<RemoteBootSet> RemoteFiles::EnsureBootSet(
    const std::string& uri) {
  NEST_ASSIGN_OR_RETURN(std::vector<BootFile> files, BootFiles());
  std::shared_ptr<Host> h = HostFor(uri);
  absl::MutexLock lock(&h->mu);
  NEST_ASSIGN_OR_RETURN(vmm::DirPoolVolumes * pool, Pool(uri, *h));
  RemoteBootSet out;
  for (const BootFile& f : files) {
    std::error_code ec;
    const uint64_t size = std::filesystem::file_size(f.local, ec);
    if (ec) {
      return absl::NotFoundError(
          absl::StrCat("boot file ", f.local, ": ", ec.message()));
    }
    NEST_ASSIGN_OR_RETURN(std::optional<vmm::VolumeSize> there,
                          pool->Stat(f.volume));
    // A complete copy: the whole length and every block written (an
    // upload cut short leaves the file's tail unallocated).
    const bool complete = there && there->capacity == size &&
                          there->allocation + 4096 > there->capacity;
    if (!complete) {
      absl::Time start = absl::Now();
      NEST_RETURN_IF_ERROR(pool->Upload(f.volume, f.local, {0644, 0, 0}));
      spdlog::info("{}: uploaded {} ({} bytes) in {:.2f} s", uri, f.volume,
                   size, absl::ToDoubleSeconds(absl::Now() - start));
    }
    (f.local == kernel_ ? out.kernel_path : out.initrd_path) =
        pool->PathOf(f.volume);
  }
  return out;
}

absl::StatusOr<std::string> RemoteFiles::UploadDataDisk(const std::string& uri,
                                                        const VmId& vm,
                                                        int64_t size_mib) {
  std::error_code ec;
  std::filesystem::create_directories(staging_dir_, ec);
  if (ec) {
    return absl::InternalError(
        absl::StrCat("cannot create ", staging_dir_, ": ", ec.message()));
  }
  const std::string local =
      absl::StrCat(staging_dir_, "/", DataDiskName(vm), ".upload");
  ::unlink(local.c_str());  // left by an earlier attempt
  NEST_RETURN_IF_ERROR(images::CreateDataDisk(local, size_mib));
  std::shared_ptr<Host> h = HostFor(uri);
  absl::Status st;
  std::string path;
  {
    absl::MutexLock lock(&h->mu);
    auto pool = Pool(uri, *h);
    st = pool.status();
    if (st.ok()) {
      st = (*pool)->Upload(DataDiskName(vm), local, {0600, 0, 0});
      path = (*pool)->PathOf(DataDiskName(vm));
    }
  }
  ::unlink(local.c_str());
  NEST_RETURN_IF_ERROR(st);
  return path;
}

absl::Status RemoteFiles::Release(const std::string& uri, const VmId& vm) {
  std::shared_ptr<Host> h = HostFor(uri);
  absl::MutexLock lock(&h->mu);
  NEST_ASSIGN_OR_RETURN(vmm::DirPoolVolumes * pool, Pool(uri, *h));
  NEST_RETURN_IF_ERROR(pool->Delete(DataDiskName(vm)));
  return pool->Delete(ConsoleLogName(vm));
}

absl::StatusOr<std::string> RemoteFiles::ConsoleTail(const std::string& uri,
                                                     const VmId& vm,
                                                     uint64_t max_bytes) {
  std::shared_ptr<Host> h = HostFor(uri);
  absl::MutexLock lock(&h->mu);
  NEST_ASSIGN_OR_RETURN(vmm::DirPoolVolumes * pool, Pool(uri, *h));
  return pool->ReadTail(ConsoleLogName(vm), max_bytes);
}

}  // namespace nest::control
