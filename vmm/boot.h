// Boot readiness: a VM counts as running only once the guest says so. The
// signal is the first byte the guest writes on kAgentChannel (the agent's
// hello, or a test init's marker).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "absl/time/time.h"
#include "core/byte_stream.h"
#include "core/clock.h"
#include "vmm/driver.h"

namespace nest::vmm {

// Opens kAgentChannel of `id` and waits for the guest's first byte until
// `deadline`. The returned stream replays that byte (and anything read with
// it) before reading further, so the agent client sees the whole stream.
// DEADLINE_EXCEEDED when the guest stays silent; UNAVAILABLE when the
// channel closes first.
[[nodiscard]] absl::StatusOr<std::unique_ptr<ByteStream>> WaitReady(
    VmDriver& driver, const VmId& id, absl::Time deadline);

struct BootOptions {
  absl::Duration ready_timeout = absl::Seconds(30);  // per attempt
  int max_retries = 2;
  Clock* clock = nullptr;  // nullptr = RealClock()
};

struct BootResult {
  std::unique_ptr<ByteStream> channel;  // ready; replays the hello byte
  int attempts = 0;                     // 1 + retries
  absl::Duration create_to_ready;       // of the successful attempt
};

// Creates the VM and waits until it is ready. A VM that misses its
// deadline is destroyed, undefined and created again, up to
// `max_retries` times; every retry is counted in BootCounters(). On final
// failure nothing of the VM is left defined.
[[nodiscard]] absl::StatusOr<BootResult> BootVm(VmDriver& driver,
                                                const VmSpec& spec,
                                                const BootOptions& options);

// Process-wide counters, for reporting (tests print them; nestd exports).
struct BootCounters {
  std::atomic<int64_t> boots{0};     // successful boots
  std::atomic<int64_t> retries{0};   // attempts that missed the deadline
  std::atomic<int64_t> failures{0};  // boots that failed after all retries
};
BootCounters& GlobalBootCounters();

}  // namespace nest::vmm
