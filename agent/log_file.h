// Bounded container logs: output goes to `path`; when it would exceed
// max_bytes the file is renamed to `path.1` (replacing the older one) and a
// new file is started, so at most 2 * max_bytes are retained.
#pragma once

#include <cstdint>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/status.h"

namespace nest::agent {

inline constexpr uint64_t kDefaultLogFileBytes = 4 << 20;

// Wakes log followers at once instead of letting them poll: every
// RotatingLog::Append bumps one process-wide generation, and so does anyone
// whose news a follower must re-check (a container exited, a stream was
// cancelled). Followers read the generation, read the log, and wait for the
// generation to move on. Thread-safe.
class LogSignal {
 public:
  static LogSignal& Get();

  uint64_t generation() const;
  void Notify();
  // Returns once the generation differs from `seen`, or at `deadline`.
  void Await(uint64_t seen, absl::Time deadline) const;

 private:
  mutable absl::Mutex mu_;
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
};

// Thread-safe appender; notifies LogSignal after each append.
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
