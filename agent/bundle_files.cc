#include "agent/bundle_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace nest::agent {
namespace {

absl::Status Errno(absl::string_view what, const std::string& path) {
  return absl::InternalError(
      absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

absl::Status WriteOne(const std::string& path, const ContainerFile& f) {
  // O_EXCL|O_NOFOLLOW: the directory is new, so anything already there is
  // not ours to write through.
  int fd = ::open(path.c_str(),
                  O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return Errno("create", path);
  absl::Status s;
  size_t done = 0;
  while (s.ok() && done < f.content.size()) {
    ssize_t n = ::write(fd, f.content.data() + done, f.content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) s = Errno("write", path);
    if (n > 0) done += static_cast<size_t>(n);
  }
  // Explicitly root's: a set-group-id parent would otherwise lend its group.
  if (s.ok() && ::fchown(fd, 0, 0) != 0) s = Errno("chown", path);
  // After the write: the mode may leave the owner no write permission.
  if (s.ok() && ::fchmod(fd, static_cast<mode_t>(f.mode & 0777)) != 0) {
    s = Errno("chmod", path);
  }
  if (::close(fd) != 0 && s.ok()) s = Errno("close", path);
  return s;
}

}  // namespace

std::string ContainerFilePath(const std::string& dir, size_t index) {
  return absl::StrCat(dir, "/", index);
}

absl::Status WriteContainerFiles(const std::string& dir,
                                 const std::vector<ContainerFile>& files) {
  if (::mkdir(dir.c_str(), 0700) != 0) return Errno("create", dir);
  // mkdir's mode is filtered by the umask; this one must be exact.
  if (::chmod(dir.c_str(), 0700) != 0) return Errno("chmod", dir);
  for (size_t i = 0; i < files.size(); ++i) {
    NEST_RETURN_IF_ERROR(WriteOne(ContainerFilePath(dir, i), files[i]));
  }
  return absl::OkStatus();
}

}  // namespace nest::agent
