// The libvirt domain XML for a Nest microVM, built with libxml2's tree API
// (never by string concatenation, so every value is escaped by construction).
// Pure: no libvirt, no I/O. Thread-safe (no shared state).
#pragma once

#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "core/status.h"
#include "vmm/driver.h"

namespace nest::vmm {

// Nest's XML namespace for <metadata>; a domain carrying an element in it is
// owned by Nest.
inline constexpr char kNestXmlNs[] = "https://nest.dev/xmlns/vm/1";
inline constexpr char kNestXmlPrefix[] = "nest";

// Kernel arguments every microVM gets. tsc_early_khz skips the TSC
// calibration that hangs 25-50 % of TCG boots with ACPI on (ARCHITECTURE.md).
inline constexpr char kBaseCmdline[] =
    "console=ttyS0 panic=-1 reboot=t quiet tsc_early_khz=2000000";

// What Nest records in a domain so a fresh driver can re-adopt it.
struct NestMetadata {
  VmId id;
  TenantId tenant;
  GroupId group;
  std::string console_log_path;
};

// The <nest:vm xmlns:nest="..."> element (a standalone document).
[[nodiscard]] absl::StatusOr<std::string> BuildMetadataXml(
    const NestMetadata& md);

// Parses what BuildMetadataXml produced (or what libvirt returns from
// virDomainGetMetadata for kNestXmlNs). INVALID_ARGUMENT when it is not
// Nest's element or lacks the id.
[[nodiscard]] absl::StatusOr<NestMetadata> ParseMetadataXml(
    absl::string_view xml);

// The full domain XML for `spec` under a resolved accelerator (kKvm or
// kTcg; kAuto is rejected). Validates `spec` first.
[[nodiscard]] absl::StatusOr<std::string> BuildDomainXml(const VmSpec& spec,
                                                         Accel accel);

// "+uid:+gid", the <label> of a static DAC <seclabel>.
std::string DacLabelText(const DacLabel& label);

// OK when unset; otherwise both ids must be neither 0 (root) nor
// 4294967295 (the "unchanged" id of chown/setresuid). BuildDomainXml
// checks this, so no domain Nest defines runs QEMU as root by its label.
[[nodiscard]] absl::Status ValidateDacLabel(
    const std::optional<DacLabel>& label);

// The full kernel command line for `spec`.
std::string KernelCmdline(const VmSpec& spec);

}  // namespace nest::vmm
