// Time is injected: production code takes a Clock&, tests pass a FakeClock.
#pragma once

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace nest {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time, for timestamps shown to users and stored.
  virtual absl::Time Now() = 0;
  // Monotonic time for deadlines; never goes backwards.
  virtual absl::Time MonotonicNow() = 0;
  // Blocks the caller for `d` (a fake clock returns once time is advanced).
  virtual void SleepFor(absl::Duration d) = 0;
};

// The process's real clock. Thread-safe.
Clock& RealClock();

// A clock that moves only when told. Thread-safe. SleepFor blocks until
// another thread advances the clock past the wake-up time.
class FakeClock : public Clock {
 public:
  explicit FakeClock(absl::Time start = absl::FromUnixSeconds(1700000000))
      : now_(start) {}
  absl::Time Now() override;
  absl::Time MonotonicNow() override { return Now(); }
  void SleepFor(absl::Duration d) override;
  void Advance(absl::Duration d);
  // Blocks until at least `n` threads are inside SleepFor, so a test can
  // advance time knowing who will observe it.
  void AwaitSleepers(int n);

 private:
  absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
  int sleepers_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace nest
