#include "agent/health.h"

#include <algorithm>
#include <vector>

#include "core/clock.h"

namespace nest::agent {

HealthTracker::HealthTracker(const HealthCheck& check)
    : success_threshold_(std::max(1, check.success_threshold)),
      failure_threshold_(std::max(1, check.failure_threshold)) {}

bool HealthTracker::Observe(const absl::Status& probe) {
  const Health before = health_;
  const bool had_message = !message_.empty();
  if (probe.ok()) {
    failures_ = 0;
    ++passes_;
    message_.clear();
    if (passes_ >= success_threshold_) health_ = Health::kHealthy;
    return health_ != before || had_message;
  }
  passes_ = 0;
  ++failures_;
  std::string reason(probe.message());
  // A failure without a message still needs a visible reason.
  if (reason.empty()) reason = absl::StatusCodeToString(probe.code());
  const bool message_changed = reason != message_;
  message_ = std::move(reason);
  if (failures_ >= failure_threshold_) health_ = Health::kUnhealthy;
  return health_ != before || message_changed;
}

HealthMonitor::HealthMonitor(Probe probe, Report report)
    : probe_(std::move(probe)), report_(std::move(report)) {}

HealthMonitor::~HealthMonitor() { StopAll(); }

void HealthMonitor::Watch(Target target, uint64_t run) {
  if (target.check.kind == HealthCheck::Kind::kNone) return;
  Reap();
  absl::MutexLock lock(&mu_);
  if (stopped_) return;
  auto old = watched_.find(target.id);
  if (old != watched_.end()) old->second->stop = true;
  auto slot = std::make_unique<Slot>();
  Slot* s = slot.get();
  s->target = std::move(target);
  s->run = run;
  watched_[s->target.id] = s;
  // Started under the lock: Loop's first step waits for it, so the thread
  // member is assigned before anything can join it.
  s->thread = std::thread([this, s] { Loop(s); });
  slots_.push_back(std::move(slot));
}

void HealthMonitor::Unwatch(const std::string& id) {
  {
    absl::MutexLock lock(&mu_);
    auto it = watched_.find(id);
    if (it != watched_.end()) {
      it->second->stop = true;
      watched_.erase(it);
    }
  }
  Reap();
}

void HealthMonitor::StopAll() {
  std::list<std::unique_ptr<Slot>> slots;
  {
    absl::MutexLock lock(&mu_);
    stopped_ = true;
    for (auto& s : slots_) s->stop = true;
    watched_.clear();
    // Waiting here, not at the joins, keeps AwaitIdle truthful meanwhile.
    auto all_done = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return AllDone();
    };
    mu_.Await(absl::Condition(&all_done));
    slots.swap(slots_);
  }
  for (auto& s : slots) s->thread.join();
}

bool HealthMonitor::AllDone() const {
  return std::all_of(slots_.begin(), slots_.end(),
                     [](const auto& s) { return s->done; });
}

void HealthMonitor::Reap() {
  std::list<std::unique_ptr<Slot>> finished;
  {
    absl::MutexLock lock(&mu_);
    for (auto it = slots_.begin(); it != slots_.end();) {
      if ((*it)->done) {
        finished.push_back(std::move(*it));
        it = slots_.erase(it);
      } else {
        ++it;
      }
    }
  }
  // `done` is set as the thread's last step: these joins return at once.
  for (auto& s : finished) s->thread.join();
}

size_t HealthMonitor::watching() const {
  absl::MutexLock lock(&mu_);
  return watched_.size();
}

bool HealthMonitor::AwaitIdle(absl::Time deadline) {
  bool idle;
  {
    absl::MutexLock lock(&mu_);
    auto all_done = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return AllDone();
    };
    idle = mu_.AwaitWithDeadline(absl::Condition(&all_done), deadline);
  }
  if (idle) Reap();
  return idle;
}

void HealthMonitor::Loop(Slot* slot) {
  const HealthCheck& check = slot->target.check;
  Clock& clock = RealClock();
  HealthTracker tracker(check);
  absl::Time next = clock.MonotonicNow() + check.initial_delay;
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      mu_.AwaitWithTimeout(absl::Condition(&slot->stop),
                           next - clock.MonotonicNow());
      if (slot->stop) break;
    }
    absl::Status result = probe_(slot->target);
    if (tracker.Observe(result)) {
      {
        absl::MutexLock lock(&mu_);
        if (slot->stop) break;
      }
      report_(slot->target.id, slot->run, tracker.health(), tracker.message());
    }
    // Fixed rate; a probe that ran over (timeout close to the period) is
    // followed at once rather than in a burst of catch-up probes.
    next = std::max(next + check.period, clock.MonotonicNow());
  }
  absl::MutexLock lock(&mu_);
  slot->done = true;
}

}  // namespace nest::agent
