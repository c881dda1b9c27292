// The baseline for the store's write throughput: how many bare SQLite
// commits per second the file system under `dir` sustains with the store's
// own durability settings (WAL, synchronous=FULL). bench/control_scale
// divides the store's committed writes/s by this.
#pragma once

#include <string>

#include "core/status.h"

namespace nest::store {

// Creates a scratch database in `dir`, commits `n` one-row transactions,
// deletes the scratch files and returns commits per second. `n` >= 1.
[[nodiscard]] absl::StatusOr<double> MeasureRawCommitsPerSecond(
    const std::string& dir, int n);

}  // namespace nest::store
