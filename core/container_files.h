// The rules for files given to a container (workload `files`): where they
// may be mounted and how big they may be. One definition, checked by the
// control plane on every write and again by the agent, which never trusts
// the host.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "core/field_errors.h"

namespace nest {

inline constexpr int64_t kMaxContainerFiles = 32;
inline constexpr int64_t kMaxContainerFileBytes = int64_t{1} << 20;
inline constexpr int64_t kMaxContainerFilesTotalBytes = int64_t{4} << 20;
inline constexpr int64_t kMaxContainerFileMode = 0777;

// What the rules look at of one file; views into the caller's objects.
struct ContainerFileView {
  absl::string_view path;
  int64_t size = 0;
  int64_t mode = 0;
};

// Adds a violation, named `<prefix>[<i>].<field>` (or `<prefix>` for the
// limits on the whole list), for every broken rule: each path absolute and
// normalised (no ".", "..", "//" or trailing "/"), not "/" and not under
// /proc, /sys or /dev, at most 1024 bytes without control characters, and
// unique; at most kMaxContainerFiles files of at most kMaxContainerFileBytes
// each and kMaxContainerFilesTotalBytes together; modes within 0..0777.
void CheckContainerFiles(const std::vector<ContainerFileView>& files,
                         absl::string_view prefix, FieldErrors& errors);

// "0444" for 0444: a permission mode as people write it.
std::string FormatFileMode(int64_t mode);

// True when `s` is well-formed UTF-8: no stray continuation bytes, overlong
// forms, surrogates or code points above U+10FFFF.
bool IsValidUtf8(absl::string_view s);

}  // namespace nest
