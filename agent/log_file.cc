#include "agent/log_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"

namespace nest::agent {
namespace {

absl::Status Errno(absl::string_view what, const std::string& path) {
  return absl::InternalError(
      absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

absl::Status ReadRange(const std::string& path, uint64_t from, size_t max,
                       std::string* out) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return absl::OkStatus();
    return Errno("open", path);
  }
  char buf[64 * 1024];
  uint64_t pos = from;
  while (max > 0) {
    ssize_t n =
        ::pread(fd, buf, std::min(sizeof(buf), max), static_cast<off_t>(pos));
    if (n < 0) {
      if (errno == EINTR) continue;
      absl::Status s = Errno("read", path);
      ::close(fd);
      return s;
    }
    if (n == 0) break;
    out->append(buf, static_cast<size_t>(n));
    pos += static_cast<uint64_t>(n);
    max -= static_cast<size_t>(n);
  }
  ::close(fd);
  return absl::OkStatus();
}

uint64_t FileSize(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return 0;
  return static_cast<uint64_t>(st.st_size);
}

}  // namespace

LogSignal& LogSignal::Get() {
  static LogSignal* signal = new LogSignal();
  return *signal;
}

uint64_t LogSignal::generation() const {
  absl::MutexLock lock(&mu_);
  return generation_;
}

void LogSignal::Notify() {
  absl::MutexLock lock(&mu_);
  ++generation_;
}

void LogSignal::Await(uint64_t seen, absl::Time deadline) const {
  absl::MutexLock lock(&mu_);
  auto moved = [this, seen]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return generation_ != seen;
  };
  mu_.AwaitWithDeadline(absl::Condition(&moved), deadline);
}

RotatingLog::RotatingLog(std::string path, uint64_t max_bytes)
    : path_(std::move(path)), max_bytes_(max_bytes == 0 ? 1 : max_bytes) {}

RotatingLog::~RotatingLog() {
  absl::MutexLock lock(&mu_);
  if (fd_ >= 0) ::close(fd_);
}

absl::Status RotatingLog::OpenLocked() {
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd_ < 0) return Errno("open", path_);
  size_ = FileSize(path_);
  return absl::OkStatus();
}

absl::Status RotatingLog::Append(absl::string_view data) {
  // After the write (the lock is released first), so a woken follower
  // finds the data.
  absl::Cleanup notify = [] { LogSignal::Get().Notify(); };
  absl::MutexLock lock(&mu_);
  while (!data.empty()) {
    if (fd_ < 0) NEST_RETURN_IF_ERROR(OpenLocked());
    if (size_ >= max_bytes_) {
      ::close(fd_);
      fd_ = -1;
      std::string old = path_ + ".1";
      if (::rename(path_.c_str(), old.c_str()) != 0) {
        return Errno("rename", path_);
      }
      continue;
    }
    size_t room = static_cast<size_t>(max_bytes_ - size_);
    size_t n = std::min(room, data.size());
    ssize_t w = ::write(fd_, data.data(), n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return Errno("write", path_);
    }
    size_ += static_cast<uint64_t>(w);
    data.remove_prefix(static_cast<size_t>(w));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadLog(const std::string& path,
                                    uint64_t tail_bytes, uint64_t* end_offset) {
  std::string old_path = path + ".1";
  uint64_t cur = FileSize(path);
  if (end_offset != nullptr) *end_offset = cur;
  uint64_t old = FileSize(old_path);
  std::string out;
  uint64_t want = tail_bytes == 0 ? cur + old : tail_bytes;
  if (want > cur) {
    uint64_t from_old = std::min(old, want - cur);
    NEST_RETURN_IF_ERROR(ReadRange(old_path, old - from_old,
                                   static_cast<size_t>(from_old), &out));
    NEST_RETURN_IF_ERROR(ReadRange(path, 0, static_cast<size_t>(cur), &out));
  } else {
    NEST_RETURN_IF_ERROR(
        ReadRange(path, cur - want, static_cast<size_t>(want), &out));
  }
  return out;
}

absl::Status ReadLogFrom(const std::string& path, uint64_t* offset, size_t max,
                         std::string* out) {
  uint64_t size = FileSize(path);
  if (size < *offset) *offset = 0;
  size_t before = out->size();
  NEST_RETURN_IF_ERROR(ReadRange(path, *offset, max, out));
  *offset += out->size() - before;
  return absl::OkStatus();
}

}  // namespace nest::agent
