// HealthTracker (the verdict of consecutive probes) and HealthMonitor (the
// probing threads) with scripted probes.
#include "agent/health.h"

#include <map>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "core/clock.h"
#include "doctest/doctest.h"

namespace nest::agent {
namespace {

HealthCheck Check(int success_threshold, int failure_threshold) {
  HealthCheck c;
  c.kind = HealthCheck::Kind::kExec;
  c.exec = {"check"};
  c.success_threshold = success_threshold;
  c.failure_threshold = failure_threshold;
  c.period = absl::Milliseconds(10);
  c.timeout = absl::Milliseconds(10);
  return c;
}

absl::Status Fail(const std::string& why) {
  return absl::UnavailableError(why);
}

TEST_CASE("HealthTracker: thresholds, recovery and the last failure's reason") {
  HealthTracker t(Check(/*success=*/2, /*failure=*/3));
  CHECK(t.health() == Health::kStarting);
  CHECK(t.message().empty());
  // One pass is not enough for a success_threshold of 2.
  CHECK_FALSE(t.Observe(absl::OkStatus()));
  CHECK(t.health() == Health::kStarting);
  CHECK(t.Observe(absl::OkStatus()));
  CHECK(t.health() == Health::kHealthy);

  // Failures below the threshold keep it healthy but show the reason.
  CHECK(t.Observe(Fail("exit 1")));
  CHECK(t.health() == Health::kHealthy);
  CHECK(t.message() == "exit 1");
  CHECK_FALSE(t.Observe(Fail("exit 1")));
  CHECK(t.Observe(Fail("exit 2")));  // the third in a row
  CHECK(t.health() == Health::kUnhealthy);
  CHECK(t.message() == "exit 2");
  CHECK_FALSE(t.Observe(Fail("exit 2")));

  // Back to healthy after two passes in a row; a failure between resets.
  CHECK(t.Observe(absl::OkStatus()));  // the message clears
  CHECK(t.health() == Health::kUnhealthy);
  CHECK(t.message().empty());
  CHECK(t.Observe(Fail("exit 3")));
  CHECK(t.health() == Health::kUnhealthy);
  CHECK(t.Observe(absl::OkStatus()));
  CHECK(t.health() == Health::kUnhealthy);
  CHECK(t.Observe(absl::OkStatus()));
  CHECK(t.health() == Health::kHealthy);

  // Failures must be consecutive.
  for (int i = 0; i < 5; ++i) {
    (void)t.Observe(Fail("flaky"));
    (void)t.Observe(Fail("flaky"));
    (void)t.Observe(absl::OkStatus());
  }
  CHECK(t.health() == Health::kHealthy);
}

TEST_CASE("HealthTracker: a check that never passes ends unhealthy") {
  HealthTracker t(Check(/*success=*/1, /*failure=*/2));
  CHECK(t.Observe(Fail("connect 127.0.0.1:80: Connection refused")));
  CHECK(t.health() == Health::kStarting);
  CHECK(t.Observe(absl::DeadlineExceededError("")));
  CHECK(t.health() == Health::kUnhealthy);
  // A failure without a message still says something.
  CHECK(t.message() == "DEADLINE_EXCEEDED");
}

// Scripted probes: each id answers its current result, and blocks while
// held (a slow probe). Records probes and the monitor's reports.
class Script {
 public:
  struct Report {
    std::string id;
    uint64_t run;
    Health health;
    std::string message;
  };

  HealthMonitor::Probe Probe() {
    return [this](const HealthMonitor::Target& t) {
      absl::MutexLock lock(&mu_);
      Entry& e = entries_[t.id];
      ++e.probes;
      if (e.first == absl::InfinitePast()) {
        e.first = RealClock().MonotonicNow();
      }
      auto released = [&e] { return !e.held; };
      mu_.Await(absl::Condition(&released));
      return e.result;
    };
  }
  HealthMonitor::Report Reporter() {
    return [this](const std::string& id, uint64_t run, Health h,
                  const std::string& message) {
      absl::MutexLock lock(&mu_);
      reports_.push_back({id, run, h, message});
    };
  }

  void Set(const std::string& id, absl::Status result) {
    absl::MutexLock lock(&mu_);
    entries_[id].result = std::move(result);
  }
  void Hold(const std::string& id, bool held) {
    absl::MutexLock lock(&mu_);
    entries_[id].held = held;
  }
  int probes(const std::string& id) {
    absl::MutexLock lock(&mu_);
    return entries_[id].probes;
  }
  absl::Time first_probe(const std::string& id) {
    absl::MutexLock lock(&mu_);
    return entries_[id].first;
  }
  bool AwaitProbes(const std::string& id, int n) {
    absl::MutexLock lock(&mu_);
    Entry& e = entries_[id];
    auto enough = [&e, n] { return e.probes >= n; };
    return mu_.AwaitWithTimeout(absl::Condition(&enough), absl::Seconds(10));
  }
  // Waits until `id` has `n` reports; returns them.
  std::vector<Report> AwaitReports(const std::string& id, size_t n) {
    absl::MutexLock lock(&mu_);
    auto enough = [&] { return Of(id).size() >= n; };
    mu_.AwaitWithTimeout(absl::Condition(&enough), absl::Seconds(10));
    return Of(id);
  }

 private:
  struct Entry {
    absl::Status result;
    bool held = false;
    int probes = 0;
    absl::Time first = absl::InfinitePast();
  };
  std::vector<Report> Of(const std::string& id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    std::vector<Report> out;
    for (const auto& r : reports_) {
      if (r.id == id) out.push_back(r);
    }
    return out;
  }

  absl::Mutex mu_;
  std::map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
  std::vector<Report> reports_ ABSL_GUARDED_BY(mu_);
};

TEST_CASE(
    "HealthMonitor probes after the initial delay, then every period, and "
    "reports changes only") {
  Script script;
  HealthMonitor monitor(script.Probe(), script.Reporter());
  HealthCheck check = Check(/*success=*/1, /*failure=*/2);
  check.initial_delay = absl::Milliseconds(100);
  absl::Time t0 = RealClock().MonotonicNow();
  monitor.Watch({"a", "", check}, /*run=*/7);
  CHECK(monitor.watching() == 1);

  std::vector<Script::Report> r = script.AwaitReports("a", 1);
  REQUIRE(r.size() == 1);
  CHECK(r[0].run == 7);
  CHECK(r[0].health == Health::kHealthy);
  CHECK(script.first_probe("a") - t0 >= absl::Milliseconds(100));

  // Passing probes go on; nothing changes, so nothing is reported.
  REQUIRE(script.AwaitProbes("a", script.probes("a") + 5));
  CHECK(script.AwaitReports("a", 0).size() == 1);

  script.Set("a", Fail("down"));
  r = script.AwaitReports("a", 3);
  REQUIRE(r.size() == 3);
  CHECK(r[1].health == Health::kHealthy);  // one failure: the reason only
  CHECK(r[1].message == "down");
  CHECK(r[2].health == Health::kUnhealthy);
  CHECK(r[2].message == "down");
  REQUIRE(script.AwaitProbes("a", script.probes("a") + 5));
  CHECK(script.AwaitReports("a", 0).size() == 3);

  monitor.Unwatch("a");
  CHECK(monitor.watching() == 0);
  REQUIRE(monitor.AwaitIdle(absl::Now() + absl::Seconds(10)));
  int probes = script.probes("a");
  monitor.Unwatch("a");  // unknown: a no-op
  CHECK(script.probes("a") == probes);
}

TEST_CASE("HealthMonitor: a slow probe delays only its own container") {
  Script script;
  HealthMonitor monitor(script.Probe(), script.Reporter());
  script.Hold("slow", true);
  monitor.Watch({"slow", "", Check(1, 3)}, 1);
  monitor.Watch({"fast", "", Check(1, 3)}, 2);
  REQUIRE(script.AwaitProbes("slow", 1));
  // While the slow probe hangs, the other container is probed on time.
  CHECK(script.AwaitProbes("fast", 10));
  CHECK(script.probes("slow") == 1);
  CHECK(script.AwaitReports("fast", 1).at(0).health == Health::kHealthy);
  script.Hold("slow", false);
  CHECK(script.AwaitReports("slow", 1).at(0).health == Health::kHealthy);
}

TEST_CASE("HealthMonitor: a new watch of an id starts over with its run") {
  Script script;
  HealthMonitor monitor(script.Probe(), script.Reporter());
  monitor.Watch({"a", "", Check(1, 3)}, 1);
  REQUIRE(script.AwaitReports("a", 1).size() == 1);
  monitor.Watch({"a", "", Check(1, 3)}, 2);
  CHECK(monitor.watching() == 1);
  std::vector<Script::Report> r = script.AwaitReports("a", 2);
  REQUIRE(r.size() == 2);
  CHECK(r[1].run == 2);
  CHECK(r[1].health == Health::kHealthy);
  // Checks of kind kNone are not run.
  monitor.Watch({"b", "", HealthCheck{}}, 3);
  CHECK(monitor.watching() == 1);
}

TEST_CASE("HealthMonitor::StopAll waits out an in-flight probe") {
  Script script;
  HealthMonitor monitor(script.Probe(), script.Reporter());
  script.Hold("a", true);
  monitor.Watch({"a", "", Check(1, 3)}, 1);
  monitor.Watch({"b", "", Check(1, 3)}, 2);
  REQUIRE(script.AwaitProbes("a", 1));
  std::thread stopper([&] { monitor.StopAll(); });
  CHECK_FALSE(monitor.AwaitIdle(absl::Now() + absl::Milliseconds(50)));
  script.Hold("a", false);
  stopper.join();
  CHECK(monitor.watching() == 0);
  CHECK(monitor.AwaitIdle(absl::Now()));
  // Stopped for good; its report after the stop was dropped.
  monitor.Watch({"c", "", Check(1, 3)}, 3);
  CHECK(monitor.watching() == 0);
  CHECK(script.AwaitReports("a", 0).empty());
}

}  // namespace
}  // namespace nest::agent
