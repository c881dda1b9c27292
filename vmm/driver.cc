#include "vmm/driver.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/validate.h"

namespace nest::vmm {
namespace {

// libxml2 cannot carry NUL and libvirt/QEMU treat control characters and
// commas specially in some places; refusing them keeps every value we pass
// down representable and unambiguous.
absl::Status ValidatePrintable(absl::string_view field, absl::string_view v) {
  for (char c : v) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f) {
      return absl::InvalidArgumentError(absl::StrCat(
          field, " must be printable ASCII, got ", QuoteForMessage(v)));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidatePath(absl::string_view field, absl::string_view v,
                          bool required) {
  if (v.empty()) {
    if (!required) return absl::OkStatus();
    return absl::InvalidArgumentError(
        absl::StrCat(field, " must be an absolute path, got empty"));
  }
  NEST_RETURN_IF_ERROR(ValidatePrintable(field, v));
  if (v.front() != '/' || v.size() > 4096 ||
      absl::StrContains(absl::StrCat(v, "/"), "/../") ||
      absl::StrContains(v, ",")) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, " must be an absolute path without '..' or ',', got ",
        QuoteForMessage(v)));
  }
  return absl::OkStatus();
}

absl::Status ValidateOptionalName(absl::string_view field,
                                  absl::string_view v) {
  if (v.empty()) return absl::OkStatus();
  return ValidateName(field, v);
}

bool IsMac(absl::string_view m) {
  if (m.size() != 17) return false;
  for (size_t i = 0; i < m.size(); ++i) {
    if (i % 3 == 2) {
      if (m[i] != ':') return false;
    } else if (!absl::ascii_isxdigit(static_cast<unsigned char>(m[i]))) {
      return false;
    }
  }
  return true;
}

}  // namespace

absl::string_view AccelName(Accel a) {
  switch (a) {
    case Accel::kAuto:
      return "auto";
    case Accel::kKvm:
      return "kvm";
    case Accel::kTcg:
      return "tcg";
  }
  return "?";
}

absl::StatusOr<Accel> ParseAccel(absl::string_view field,
                                 absl::string_view text) {
  if (text == "auto") return Accel::kAuto;
  if (text == "kvm") return Accel::kKvm;
  if (text == "tcg") return Accel::kTcg;
  return absl::InvalidArgumentError(absl::StrCat(
      field, " must be one of auto|kvm|tcg, got ", QuoteForMessage(text)));
}

absl::string_view VmStateName(VmState s) {
  switch (s) {
    case VmState::kUnknown:
      return "unknown";
    case VmState::kStopped:
      return "stopped";
    case VmState::kRunning:
      return "running";
    case VmState::kPaused:
      return "paused";
    case VmState::kShuttingDown:
      return "shutting-down";
    case VmState::kCrashed:
      return "crashed";
  }
  return "?";
}

absl::string_view LifecycleKindName(LifecycleKind k) {
  switch (k) {
    case LifecycleKind::kDefined:
      return "defined";
    case LifecycleKind::kUndefined:
      return "undefined";
    case LifecycleKind::kStarted:
      return "started";
    case LifecycleKind::kStopped:
      return "stopped";
    case LifecycleKind::kCrashed:
      return "crashed";
    case LifecycleKind::kPaused:
      return "paused";
    case LifecycleKind::kResumed:
      return "resumed";
    case LifecycleKind::kShuttingDown:
      return "shutting-down";
  }
  return "?";
}

absl::string_view ShutdownPathName(ShutdownPath p) {
  switch (p) {
    case ShutdownPath::kAlreadyStopped:
      return "already-stopped";
    case ShutdownPath::kGraceful:
      return "graceful";
    case ShutdownPath::kForced:
      return "forced";
  }
  return "?";
}

std::string DomainName(const VmId& id) {
  return absl::StrCat("nest-", id.str());
}

absl::Status ValidateVmSpec(const VmSpec& spec) {
  NEST_RETURN_IF_ERROR(ValidateName("vm.id", spec.id.str()));
  NEST_RETURN_IF_ERROR(ValidateOptionalName("vm.tenant", spec.tenant.str()));
  NEST_RETURN_IF_ERROR(ValidateOptionalName("vm.group", spec.group.str()));
  if (spec.vcpus < 1 || spec.vcpus > 256) {
    return absl::InvalidArgumentError(
        absl::StrCat("vm.vcpus must be between 1 and 256, got ", spec.vcpus));
  }
  if (spec.memory_mib < 32 || spec.memory_mib > 1048576) {
    return absl::InvalidArgumentError(absl::StrCat(
        "vm.memory_mib must be between 32 and 1048576, got ", spec.memory_mib));
  }
  NEST_RETURN_IF_ERROR(ValidatePath("vm.kernel_path", spec.kernel_path, true));
  NEST_RETURN_IF_ERROR(ValidatePath("vm.initrd_path", spec.initrd_path, false));
  NEST_RETURN_IF_ERROR(
      ValidatePrintable("vm.extra_cmdline", spec.extra_cmdline));
  if (spec.extra_cmdline.size() > 2048) {
    return absl::InvalidArgumentError(
        absl::StrCat("vm.extra_cmdline must be at most 2048 bytes, got ",
                     spec.extra_cmdline.size()));
  }
  NEST_RETURN_IF_ERROR(
      ValidatePath("vm.console_log_path", spec.console_log_path, false));
  if (spec.data_disk) {
    NEST_RETURN_IF_ERROR(
        ValidatePath("vm.data_disk.path", spec.data_disk->path, true));
    if (spec.data_disk->format != "qcow2" && spec.data_disk->format != "raw") {
      return absl::InvalidArgumentError(
          absl::StrCat("vm.data_disk.format must be qcow2 or raw, got ",
                       QuoteForMessage(spec.data_disk->format)));
    }
  }
  if (spec.nic) {
    const std::string& b = spec.nic->bridge;
    bool ok = !b.empty() && b.size() <= 15;
    for (char c : b) {
      ok = ok && (absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
                  c == '-' || c == '_' || c == '.');
    }
    if (!ok) {
      return absl::InvalidArgumentError(absl::StrCat(
          "vm.nic.bridge must be 1-15 characters of [A-Za-z0-9_.-], got ",
          QuoteForMessage(b)));
    }
    if (!spec.nic->mac.empty() && !IsMac(spec.nic->mac)) {
      return absl::InvalidArgumentError(
          absl::StrCat("vm.nic.mac must look like 52:54:00:12:34:56, got ",
                       QuoteForMessage(spec.nic->mac)));
    }
    const std::string& f = spec.nic->filter;
    bool filter_ok = f.size() <= 64;
    for (char c : f) {
      filter_ok =
          filter_ok && (absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
                        c == '-' || c == '_' || c == '.');
    }
    if (!filter_ok) {
      return absl::InvalidArgumentError(absl::StrCat(
          "vm.nic.filter must be at most 64 characters of [A-Za-z0-9_.-], got ",
          QuoteForMessage(f)));
    }
  }
  return absl::OkStatus();
}

}  // namespace nest::vmm
