// Health checks of running containers (issue 10): HealthTracker turns
// consecutive probe results into a Health; HealthMonitor runs each watched
// container's probes on a thread of its own, so a slow probe delays only
// its own container, and reports every change. ContainerManager owns one
// and keeps the result in ContainerInfo.
#pragma once

#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "agent/types.h"
#include "core/status.h"

namespace nest::agent {

// The verdict of one run of a check. Starts kStarting; kHealthy after
// success_threshold consecutive passes, kUnhealthy after failure_threshold
// consecutive failures, from any state (so a container that never passes
// ends unhealthy). message() is the last failure's reason, empty after a
// pass. Thread-compatible.
class HealthTracker {
 public:
  explicit HealthTracker(const HealthCheck& check);

  // Records one probe: OK passed; otherwise its message is the reason.
  // True when health() or message() changed.
  bool Observe(const absl::Status& probe);

  Health health() const { return health_; }
  const std::string& message() const { return message_; }

 private:
  const int success_threshold_;
  const int failure_threshold_;
  Health health_ = Health::kStarting;
  std::string message_;
  int passes_ = 0;
  int failures_ = 0;
};

// Runs health checks, one thread per watched container. Waits are in real
// (monotonic) time: a check's initial_delay and period are real durations.
// Thread-safe. Watch and Unwatch never wait for a probe or a report, so
// the caller may hold a lock around them that Report takes too.
class HealthMonitor {
 public:
  struct Target {
    std::string id;
    std::string address;  // for TCP/HTTP probes; empty: 127.0.0.1
    HealthCheck check;
  };
  // Runs one probe of `target`; returns within about target.check.timeout.
  // OK is a pass; an error's message is the reason of the failure.
  using Probe = std::function<absl::Status(const Target& target)>;
  // After each probe that changed the tracker's health or message: the new
  // state of the watch `run` of `id`. Called on that container's thread
  // without the monitor's lock, one call at a time per watch, in order. A
  // report already under way when Unwatch (or a new Watch of the id)
  // returns may still arrive: the receiver must drop reports of a `run`
  // that is no longer current. It may take locks its caller holds around
  // Watch/Unwatch, since those never wait for it.
  using Report = std::function<void(const std::string& id, uint64_t run,
                                    Health health, const std::string& message)>;

  HealthMonitor(Probe probe, Report report);
  // StopAll().
  ~HealthMonitor();
  HealthMonitor(const HealthMonitor&) = delete;
  HealthMonitor& operator=(const HealthMonitor&) = delete;

  // Starts checking `target` (a check of kind kNone is ignored): the first
  // probe target.check.initial_delay from now, then one every period
  // (counted from the start of the previous one; at once when a probe ran
  // over). Replaces any watch of the same id. A no-op after StopAll.
  void Watch(Target target, uint64_t run);
  // Stops checking `id`, if watched. An in-flight probe runs to its end on
  // its thread; the thread is joined later (a later Watch/Unwatch, AwaitIdle
  // or StopAll).
  void Unwatch(const std::string& id);
  // Stops every check and joins every thread: returns once no probe runs,
  // after at most the longest in-flight probe's timeout. The caller must not
  // hold a lock that Report takes.
  void StopAll();

  // Number of ids being checked.
  size_t watching() const;
  // Waits until no thread of this monitor runs (every watch was stopped and
  // its probe has returned): true, or false at `deadline`.
  bool AwaitIdle(absl::Time deadline);

 private:
  struct Slot {
    Target target;
    uint64_t run = 0;
    bool stop = false;  // guarded by mu_
    bool done = false;  // guarded by mu_; the thread is about to return
    std::thread thread;
  };

  void Loop(Slot* slot);
  // Joins and frees the slots whose thread has finished.
  void Reap();
  bool AllDone() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Probe probe_;
  const Report report_;
  mutable absl::Mutex mu_;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  // Every slot whose thread has not been joined, watched or stopping.
  std::list<std::unique_ptr<Slot>> slots_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Slot*> watched_ ABSL_GUARDED_BY(mu_);
};

}  // namespace nest::agent
