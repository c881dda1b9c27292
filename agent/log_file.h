// Bounded container logs: output goes to `path`; when it would exceed
// max_bytes the file is renamed to `path.1` (replacing the older one) and a
// new file is started, so at most 2 * max_bytes are retained.
#pragma once

#include <cstdint>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "core/status.h"

namespace nest::agent {

inline constexpr uint64_t kDefaultLogFileBytes = 4 << 20;

// Thread-safe appender.
class RotatingLog {
 public:
  RotatingLog(std::string path, uint64_t max_bytes);
  ~RotatingLog();
  RotatingLog(const RotatingLog&) = delete;
  RotatingLog& operator=(const RotatingLog&) = delete;

  [[nodiscard]] absl::Status Append(absl::string_view data);

 private:
  absl::Status OpenLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string path_;
  const uint64_t max_bytes_;
  absl::Mutex mu_;
  int fd_ ABSL_GUARDED_BY(mu_) = -1;
  uint64_t size_ ABSL_GUARDED_BY(mu_) = 0;
};

// The retained output (path.1 then path), last `tail_bytes` of it (0: all).
// A missing file reads as empty. If `end_offset` is set it receives the
// offset in `path` where the returned data ends, to follow from there.
[[nodiscard]] absl::StatusOr<std::string> ReadLog(
    const std::string& path, uint64_t tail_bytes,
    uint64_t* end_offset = nullptr);

// Reads `path` from `*offset` on, appending to `out` (at most max bytes) and
// advancing *offset. When the file shrank (rotated), restarts at 0.
[[nodiscard]] absl::Status ReadLogFrom(const std::string& path,
                                       uint64_t* offset, size_t max,
                                       std::string* out);

}  // namespace nest::agent
