#include <set>
#include <atomic>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/rng.h"
#include "doctest/doctest.h"

namespace nest {
namespace {

TEST_CASE("FakeClock moves only when advanced and wakes sleepers") {
  FakeClock clock;
  absl::Time t0 = clock.Now();
  CHECK(clock.Now() == t0);
  clock.Advance(absl::Seconds(5));
  CHECK(clock.Now() - t0 == absl::Seconds(5));

  std::atomic<bool> woke{false};
  std::thread sleeper([&] {
    clock.SleepFor(absl::Seconds(10));
    woke = true;
  });
  clock.AwaitSleepers(1);
  clock.Advance(absl::Seconds(3));
  CHECK_FALSE(woke.load());
  clock.Advance(absl::Seconds(7));
  sleeper.join();
  CHECK(woke.load());
}

TEST_CASE("RealClock monotonic time does not go backwards") {
  absl::Time a = RealClock().MonotonicNow();
  absl::Time b = RealClock().MonotonicNow();
  CHECK(b >= a);
}

TEST_CASE("SeededRng is deterministic and seed-dependent") {
  SeededRng a(42), b(42), c(43);
  std::vector<uint64_t> va, vb, vc;
  for (int i = 0; i < 100; ++i) {
    va.push_back(a.Next());
    vb.push_back(b.Next());
    vc.push_back(c.Next());
  }
  CHECK(va == vb);
  CHECK(va != vc);
  // Known first value pins the algorithm across platforms.
  SeededRng zero(0);
  CHECK(zero.Next() == 0xe220a8397b1dcdafULL);
}

TEST_CASE("Uniform stays in range and covers it") {
  SeededRng rng(7);
  std::set<uint64_t> seen;
  for (int i = 0; i < 1000; ++i) {
    uint64_t x = rng.Uniform(10);
    REQUIRE(x < 10);
    seen.insert(x);
  }
  CHECK(seen.size() == 10);
}

TEST_CASE("StableHash is stable and input-sensitive") {
  std::string a = "req-1", b = "req-2";
  CHECK(StableHash(a.data(), a.size()) == StableHash(a.data(), a.size()));
  CHECK(StableHash(a.data(), a.size()) != StableHash(b.data(), b.size()));
  CHECK(StableHash(a.data(), a.size(), 1) != StableHash(a.data(), a.size(), 2));
}

}  // namespace
}  // namespace nest
