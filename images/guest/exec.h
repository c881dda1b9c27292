// Running the host tools the guest builder relies on (apt-get, dpkg-deb,
// depmod, ldd, zstd). Internal to images/guest.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"

namespace nest::images::guest_internal {

struct ExecResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr interleaved
};

// Runs argv[0] (searched in PATH) in `cwd` (empty = ours), with stdin from
// /dev/null. Error only when it could not be started.
[[nodiscard]] absl::StatusOr<ExecResult> Exec(
    const std::vector<std::string>& argv, const std::string& cwd = "");

// Like Exec, but a non-zero exit is an error naming the command and its
// output.
[[nodiscard]] absl::StatusOr<std::string> ExecOk(
    const std::vector<std::string>& argv, const std::string& cwd = "");

}  // namespace nest::images::guest_internal
