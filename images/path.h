// Path rules for untrusted names: layer entries and user-supplied disk paths.
#pragma once

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "core/status.h"

namespace nest::images {

// Splits a layer entry name into clean components: "./a//b/" -> {"a","b"}.
// Refuses absolute paths and any ".." component (even one that would stay
// inside the root), so an entry can never name something outside the rootfs.
// The root itself ("./") gives an empty vector.
[[nodiscard]] absl::StatusOr<std::vector<std::string>> SplitEntryPath(
    absl::string_view path);

// Resolves `relative` under `root` for a file that may not exist yet:
// refuses absolute paths and "..", then resolves symlinks in the existing
// part (realpath of the parent) and refuses a result outside realpath(root).
// Returns the absolute confined path.
[[nodiscard]] absl::StatusOr<std::string> ResolveUnderRoot(
    const std::string& root, absl::string_view relative);

}  // namespace nest::images
