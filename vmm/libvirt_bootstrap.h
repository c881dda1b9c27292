// Makes sure a libvirtd answers on a local URI, for scripts, tests and
// `nestd --dev` on hosts without systemd.
#pragma once

#include <string>

#include "absl/time/time.h"
#include "core/status.h"

namespace nest::vmm {

// Applies EnsureKvmDeviceAccess(). Then, if nothing answers at `uri`
// (default qemu:///system) and we are root,
// starts `virtlogd -d` and `libvirtd -d`, then waits until `uri` answers or
// `timeout` passes. OK immediately when it already answers. Not root and
// nothing answering: FAILED_PRECONDITION saying what to run.
[[nodiscard]] absl::Status EnsureLibvirtd(
    const std::string& uri = "qemu:///system",
    absl::Duration timeout = absl::Seconds(20));

// Without udev (no systemd here) /dev/kvm stays root:root 0600. libvirt's
// QEMU capability cache then sees KVM as "probed but not usable" on every
// domain start and re-probes QEMU each time (measured: virDomainCreateXML
// 35 s instead of 2 s on a loaded host). When root, this applies what
// Debian's udev rule would: root:kvm 0660. Returns whether libvirt-qemu can
// now open /dev/kvm. (Whether KVM really *runs* guests is accel=auto's
// probe's business.) Called by EnsureLibvirtd.
bool EnsureKvmDeviceAccess();

// True when a connection to `uri` can be opened right now.
bool LibvirtAnswers(const std::string& uri);

}  // namespace nest::vmm
