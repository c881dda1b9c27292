// Small POSIX file helpers shared by the image store, the layer unpacker and
// the disk tools. Every function is thread-safe in the POSIX sense (no shared
// state) and returns errors naming the path and the failed operation.
#pragma once

#include <functional>
#include <string>

#include "absl/strings/string_view.h"
#include "core/status.h"

namespace nest::images {

// Owns one file descriptor; closes it on destruction.
class ScopedFd {
 public:
  ScopedFd() = default;
  explicit ScopedFd(int fd) : fd_(fd) {}
  ~ScopedFd() { Reset(); }
  ScopedFd(ScopedFd&& o) noexcept : fd_(o.Release()) {}
  ScopedFd& operator=(ScopedFd&& o) noexcept {
    if (this != &o) {
      Reset();
      fd_ = o.Release();
    }
    return *this;
  }
  ScopedFd(const ScopedFd&) = delete;
  ScopedFd& operator=(const ScopedFd&) = delete;

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int Release() {
    int f = fd_;
    fd_ = -1;
    return f;
  }
  void Reset();

 private:
  int fd_ = -1;
};

// "<op> <path>: <strerror(err)>" with a code derived from errno.
[[nodiscard]] absl::Status ErrnoStatus(int err, absl::string_view op,
                                       absl::string_view path);

[[nodiscard]] absl::Status WriteAll(int fd, const void* data, size_t n,
                                    absl::string_view path_for_errors);
[[nodiscard]] absl::StatusOr<std::string> ReadFileToString(
    const std::string& path);

// Writes `data` to `path` so that readers see either the old or the new
// content, never a mix: temp file in the same directory, fsync, rename,
// fsync of the directory.
[[nodiscard]] absl::Status AtomicWriteFile(const std::string& path,
                                           absl::string_view data,
                                           int mode = 0644);

[[nodiscard]] absl::Status FsyncDir(const std::string& dir);

// mkdir -p with `mode` for the directories it creates.
[[nodiscard]] absl::Status MakeDirs(const std::string& path, int mode = 0755);

// rm -rf without following symlinks. A missing path is not an error.
[[nodiscard]] absl::Status RemoveTree(const std::string& path);

// Removes `name` in the directory open at `dirfd` (recursively if it is a
// directory) without following symlinks. A missing name is not an error.
// `path_for_errors` names it in messages.
[[nodiscard]] absl::Status RemoveTreeAt(int dirfd, const std::string& name,
                                        const std::string& path_for_errors);

// Removes every child of the directory open at `dirfd` for which `keep`
// returns false.
[[nodiscard]] absl::Status RemoveChildrenExcept(
    int dirfd, const std::string& path_for_errors,
    const std::function<bool(const std::string& name)>& keep);

// Creates a fresh directory "<parent>/<prefix>XXXXXX" and returns its path.
[[nodiscard]] absl::StatusOr<std::string> MakeTempDir(const std::string& parent,
                                                      absl::string_view prefix);

bool PathExists(const std::string& path);

// A temporary directory removed (recursively) on destruction. For tests,
// benchmarks and staging areas.
class ScopedTempDir {
 public:
  // Creates the directory under `parent` (default: $TMPDIR or /tmp); aborts
  // the process if that fails, because callers cannot proceed without it.
  explicit ScopedTempDir(const std::string& parent = "");
  ~ScopedTempDir();
  ScopedTempDir(const ScopedTempDir&) = delete;
  ScopedTempDir& operator=(const ScopedTempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace nest::images
