// Makes sure a libvirtd answers on a local URI, for scripts, tests and
// `nestd --dev` on hosts without systemd.
#pragma once

#include <string>

#include "absl/time/time.h"
#include "core/status.h"

namespace nest::vmm {

// If nothing answers at `uri` (default qemu:///system) and we are root,
// starts `virtlogd -d` and `libvirtd -d`, then waits until `uri` answers or
// `timeout` passes. OK immediately when it already answers. Not root and
// nothing answering: FAILED_PRECONDITION saying what to run.
[[nodiscard]] absl::Status EnsureLibvirtd(
    const std::string& uri = "qemu:///system",
    absl::Duration timeout = absl::Seconds(20));

// True when a connection to `uri` can be opened right now.
bool LibvirtAnswers(const std::string& uri);

}  // namespace nest::vmm
