#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/byte_stream.h"

namespace nest {
namespace {

absl::Status Errno(absl::string_view what) {
  return absl::UnavailableError(absl::StrCat(what, ": ", std::strerror(errno)));
}

class FdStream : public ByteStream {
 public:
  explicit FdStream(int fd) : fd_(fd), wake_(eventfd(0, EFD_CLOEXEC)) {}
  ~FdStream() override {
    Close();
    ::close(fd_);
    if (wake_ >= 0) ::close(wake_);
  }

  absl::StatusOr<size_t> Read(void* buf, size_t size,
                              absl::Time deadline) override {
    for (;;) {
      if (closed_.load()) return absl::CancelledError("stream closed");
      // The eventfd lets Close() wake a reader blocked in poll().
      pollfd fds[2] = {{fd_, POLLIN, 0}, {wake_, POLLIN, 0}};
      int timeout_ms = -1;
      if (deadline != absl::InfiniteFuture()) {
        absl::Duration left = deadline - absl::Now();
        if (left <= absl::ZeroDuration()) {
          return absl::DeadlineExceededError("read deadline passed");
        }
        timeout_ms = static_cast<int>(absl::ToInt64Milliseconds(
            absl::Ceil(left, absl::Milliseconds(1))));
      }
      int n = ::poll(fds, wake_ >= 0 ? 2 : 1, timeout_ms);
      if (n < 0) {
        if (errno == EINTR) continue;
        return Errno("poll");
      }
      if (n == 0) continue;  // re-check the deadline
      if (fds[1].revents) return absl::CancelledError("stream closed");
      ssize_t r = ::read(fd_, buf, size);
      if (r < 0) {
        if (errno == EINTR || errno == EAGAIN) continue;
        return Errno("read");
      }
      return static_cast<size_t>(r);
    }
  }

  absl::Status Write(const void* buf, size_t size) override {
    const char* p = static_cast<const char*>(buf);
    while (size > 0) {
      if (closed_.load()) return absl::CancelledError("stream closed");
      ssize_t w = ::write(fd_, p, size);
      if (w < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN) {
          pollfd pfd{fd_, POLLOUT, 0};
          ::poll(&pfd, 1, 100);
          continue;
        }
        return Errno("write");
      }
      p += w;
      size -= static_cast<size_t>(w);
    }
    return absl::OkStatus();
  }

  void Close() override {
    if (closed_.exchange(true)) return;
    if (wake_ >= 0) {
      uint64_t one = 1;
      [[maybe_unused]] ssize_t r = ::write(wake_, &one, sizeof(one));
    }
  }

 private:
  const int fd_;
  const int wake_;
  std::atomic<bool> closed_{false};
};

}  // namespace

std::unique_ptr<ByteStream> FdByteStream(int fd) {
  return std::make_unique<FdStream>(fd);
}

}  // namespace nest
