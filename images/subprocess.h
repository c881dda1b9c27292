// Runs helper programs (qemu-img, mkfs.ext4, skopeo, umoci) without a shell:
// argv goes to posix_spawnp as is, so nothing in it is ever interpreted.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"

namespace nest::images {

struct CommandResult {
  int exit_code = -1;  // 128+N when killed by signal N
  std::string out;     // captured stdout
  std::string err;     // captured stderr
};

// Runs argv[0] (looked up in PATH) and waits for it. Fails only when the
// program cannot be started; a non-zero exit is reported in the result.
// Thread-safe.
[[nodiscard]] absl::StatusOr<CommandResult> RunCommand(
    const std::vector<std::string>& argv);

// Like RunCommand, but a non-zero exit becomes an error whose message holds
// the command name and the last line of its stderr.
[[nodiscard]] absl::StatusOr<CommandResult> RunChecked(
    const std::vector<std::string>& argv);

}  // namespace nest::images
