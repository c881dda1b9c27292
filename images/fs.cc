#include "images/fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"

namespace nest::images {

void ScopedFd::Reset() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

absl::Status ErrnoStatus(int err, absl::string_view op,
                         absl::string_view path) {
  std::string msg = absl::StrCat(op, " ", path, ": ", std::strerror(err));
  switch (err) {
    case ENOENT:
      return absl::NotFoundError(msg);
    case EEXIST:
      return absl::AlreadyExistsError(msg);
    case EACCES:
    case EPERM:
      return absl::PermissionDeniedError(msg);
    case ENOSPC:
    case EDQUOT:
      return absl::ResourceExhaustedError(msg);
    default:
      return absl::InternalError(msg);
  }
}

absl::Status WriteAll(int fd, const void* data, size_t n,
                      absl::string_view path_for_errors) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, "write", path_for_errors);
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadFileToString(const std::string& path) {
  ScopedFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoStatus(errno, "open", path);
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t r = ::read(fd.get(), buf, sizeof buf);
    if (r < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, "read", path);
    }
    if (r == 0) break;
    out.append(buf, static_cast<size_t>(r));
  }
  return out;
}

absl::Status FsyncDir(const std::string& dir) {
  ScopedFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoStatus(errno, "open", dir);
  if (::fsync(fd.get()) != 0) return ErrnoStatus(errno, "fsync", dir);
  return absl::OkStatus();
}

absl::Status AtomicWriteFile(const std::string& path, absl::string_view data,
                             int mode) {
  auto slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
  std::string tmpl = path + ".tmp-XXXXXX";
  int raw = ::mkostemp(tmpl.data(), O_CLOEXEC);
  if (raw < 0) return ErrnoStatus(errno, "create temp for", path);
  ScopedFd fd(raw);
  absl::Status st = WriteAll(fd.get(), data.data(), data.size(), tmpl);
  if (st.ok() && ::fchmod(fd.get(), static_cast<mode_t>(mode)) != 0) {
    st = ErrnoStatus(errno, "chmod", tmpl);
  }
  if (st.ok() && ::fsync(fd.get()) != 0) st = ErrnoStatus(errno, "fsync", tmpl);
  fd.Reset();
  if (st.ok() && ::rename(tmpl.c_str(), path.c_str()) != 0) {
    st = ErrnoStatus(errno, "rename to", path);
  }
  if (!st.ok()) {
    ::unlink(tmpl.c_str());
    return st;
  }
  return FsyncDir(dir);
}

absl::Status MakeDirs(const std::string& path, int mode) {
  if (path.empty()) return absl::InvalidArgumentError("empty directory path");
  struct stat st;
  if (::stat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return absl::OkStatus();
    return absl::FailedPreconditionError(
        absl::StrCat(path, " exists and is not a directory"));
  }
  auto slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0) {
    NEST_RETURN_IF_ERROR(MakeDirs(path.substr(0, slash), mode));
  }
  if (::mkdir(path.c_str(), static_cast<mode_t>(mode)) != 0 &&
      errno != EEXIST) {
    return ErrnoStatus(errno, "mkdir", path);
  }
  return absl::OkStatus();
}

namespace {

// Removes the children of the directory open at `dirfd`, never following
// symlinks (unlinkat removes the link itself).
absl::Status RemoveChildren(int dirfd, const std::string& path) {
  int dupfd = ::dup(dirfd);
  if (dupfd < 0) return ErrnoStatus(errno, "dup", path);
  DIR* d = ::fdopendir(dupfd);
  if (d == nullptr) {
    ::close(dupfd);
    return ErrnoStatus(errno, "opendir", path);
  }
  std::vector<std::string> names;
  while (struct dirent* e = ::readdir(d)) {
    if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0)
      continue;
    names.emplace_back(e->d_name);
  }
  ::closedir(d);
  for (const std::string& name : names) {
    if (::unlinkat(dirfd, name.c_str(), 0) == 0) continue;
    if (errno != EISDIR && errno != EPERM && errno != ENOTEMPTY) {
      if (errno == ENOENT) continue;
      return ErrnoStatus(errno, "unlink", path + "/" + name);
    }
    ScopedFd child(::openat(dirfd, name.c_str(),
                            O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!child.valid()) return ErrnoStatus(errno, "open", path + "/" + name);
    NEST_RETURN_IF_ERROR(RemoveChildren(child.get(), path + "/" + name));
    if (::unlinkat(dirfd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT) {
      return ErrnoStatus(errno, "rmdir", path + "/" + name);
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status RemoveTreeAt(int dirfd, const std::string& name,
                          const std::string& path_for_errors) {
  if (::unlinkat(dirfd, name.c_str(), 0) == 0 || errno == ENOENT) {
    return absl::OkStatus();
  }
  if (errno != EISDIR && errno != EPERM) {
    return ErrnoStatus(errno, "unlink", path_for_errors);
  }
  {
    ScopedFd child(::openat(dirfd, name.c_str(),
                            O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!child.valid()) return ErrnoStatus(errno, "open", path_for_errors);
    NEST_RETURN_IF_ERROR(RemoveChildren(child.get(), path_for_errors));
  }
  if (::unlinkat(dirfd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT) {
    return ErrnoStatus(errno, "rmdir", path_for_errors);
  }
  return absl::OkStatus();
}

absl::Status RemoveChildrenExcept(
    int dirfd, const std::string& path_for_errors,
    const std::function<bool(const std::string& name)>& keep) {
  int dupfd = ::dup(dirfd);
  if (dupfd < 0) return ErrnoStatus(errno, "dup", path_for_errors);
  DIR* d = ::fdopendir(dupfd);
  if (d == nullptr) {
    ::close(dupfd);
    return ErrnoStatus(errno, "opendir", path_for_errors);
  }
  std::vector<std::string> names;
  while (struct dirent* e = ::readdir(d)) {
    if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0)
      continue;
    if (!keep(e->d_name)) names.emplace_back(e->d_name);
  }
  ::closedir(d);
  for (const std::string& name : names) {
    NEST_RETURN_IF_ERROR(
        RemoveTreeAt(dirfd, name, path_for_errors + "/" + name));
  }
  return absl::OkStatus();
}

absl::Status RemoveTree(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return absl::OkStatus();
    return ErrnoStatus(errno, "stat", path);
  }
  if (!S_ISDIR(st.st_mode)) {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      return ErrnoStatus(errno, "unlink", path);
    }
    return absl::OkStatus();
  }
  {
    ScopedFd fd(
        ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd.valid()) return ErrnoStatus(errno, "open", path);
    NEST_RETURN_IF_ERROR(RemoveChildren(fd.get(), path));
  }
  if (::rmdir(path.c_str()) != 0 && errno != ENOENT) {
    return ErrnoStatus(errno, "rmdir", path);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> MakeTempDir(const std::string& parent,
                                        absl::string_view prefix) {
  std::string tmpl = absl::StrCat(parent, "/", prefix, "XXXXXX");
  if (::mkdtemp(tmpl.data()) == nullptr) {
    return ErrnoStatus(errno, "mkdtemp", tmpl);
  }
  return tmpl;
}

bool PathExists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

ScopedTempDir::ScopedTempDir(const std::string& parent) {
  std::string base = parent;
  if (base.empty()) {
    const char* t = std::getenv("TMPDIR");
    base = (t != nullptr && *t != '\0') ? t : "/tmp";
  }
  auto dir = MakeTempDir(base, "nest-");
  if (!dir.ok()) abort();
  path_ = *dir;
}

ScopedTempDir::~ScopedTempDir() { (void)RemoveTree(path_); }

}  // namespace nest::images
