#include "agent/validation.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/container_files.h"
#include "core/validate.h"

namespace nest::agent {

absl::Status ValidateDigest(absl::string_view field, absl::string_view digest) {
  bool ok = digest.size() == 71 && absl::StartsWith(digest, "sha256:");
  for (size_t i = 7; ok && i < digest.size(); ++i) {
    char c = digest[i];
    ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
  }
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      field, " must be \"sha256:\" and 64 lowercase hex digits, got ",
      QuoteForMessage(digest)));
}

absl::Status ValidateContainerId(absl::string_view field,
                                 absl::string_view id) {
  bool ok = !id.empty() && id.size() <= 128 && id[0] != '.' && id[0] != '-';
  for (char c : id) {
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-');
  }
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      field,
      " must be 1-128 characters of [A-Za-z0-9_.-] not starting with '.' or "
      "'-', got ",
      QuoteForMessage(id)));
}

namespace {

absl::Status BadAddress(absl::string_view field, absl::string_view value) {
  return absl::InvalidArgumentError(
      absl::StrCat(field, " must be an IPv4 address like 10.88.0.2, got ",
                   QuoteForMessage(value)));
}

bool ValidHostName(absl::string_view name) {
  if (name.empty() || name.size() > 253 || name[0] == '-' || name[0] == '.') {
    return false;
  }
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_')) {
      return false;
    }
  }
  return true;
}

absl::Status BadDuration(absl::string_view field, absl::string_view rule,
                         absl::Duration got) {
  return absl::InvalidArgumentError(absl::StrCat("health_check.", field,
                                                 " must be ", rule, ", got ",
                                                 absl::FormatDuration(got)));
}

bool ValidHttpPath(absl::string_view path) {
  if (path.empty() || path[0] != '/' || path.size() > 2048) return false;
  // It goes into the request line as is.
  for (char c : path) {
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) return false;
  }
  return true;
}

}  // namespace

absl::Status ValidateHealthCheck(const HealthCheck& c) {
  using Kind = HealthCheck::Kind;
  switch (c.kind) {
    case Kind::kNone:
      return absl::OkStatus();
    case Kind::kExec:
      if (c.exec.empty() || c.exec[0].empty()) {
        return absl::InvalidArgumentError(
            "health_check.exec must name the program to run when kind is "
            "exec, got none");
      }
      break;
    case Kind::kHttp:
      if (!ValidHttpPath(c.path)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "health_check.path must start with '/' and have no spaces or "
            "control characters (at most 2048 bytes), got ",
            QuoteForMessage(c.path)));
      }
      [[fallthrough]];
    case Kind::kTcp:
      if (c.port < 1 || c.port > 65535) {
        return absl::InvalidArgumentError(absl::StrCat(
            "health_check.port must be between 1 and 65535, got ", c.port));
      }
      break;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("health_check.kind must be exec, tcp or http, got ",
                       static_cast<int>(c.kind)));
  }
  if (c.initial_delay < absl::ZeroDuration() ||
      c.initial_delay > kMaxHealthPeriod) {
    return BadDuration("initial_delay", "between 0 and 1h", c.initial_delay);
  }
  if (c.period < kMinHealthPeriod || c.period > kMaxHealthPeriod) {
    return BadDuration("period", "between 10ms and 1h", c.period);
  }
  if (c.timeout < absl::Milliseconds(1) || c.timeout > c.period) {
    return BadDuration("timeout",
                       absl::StrCat("at least 1ms and at most the period (",
                                    absl::FormatDuration(c.period), ")"),
                       c.timeout);
  }
  if (c.failure_threshold < 1 || c.failure_threshold > kMaxHealthThreshold) {
    return absl::InvalidArgumentError(
        absl::StrCat("health_check.failure_threshold must be between 1 and ",
                     kMaxHealthThreshold, ", got ", c.failure_threshold));
  }
  if (c.success_threshold < 1 || c.success_threshold > kMaxHealthThreshold) {
    return absl::InvalidArgumentError(
        absl::StrCat("health_check.success_threshold must be between 1 and ",
                     kMaxHealthThreshold, ", got ", c.success_threshold));
  }
  return absl::OkStatus();
}

bool ParseIpv4(absl::string_view text, uint32_t* out) {
  std::vector<absl::string_view> parts = absl::StrSplit(text, '.');
  if (parts.size() != 4) return false;
  uint32_t value = 0;
  for (absl::string_view p : parts) {
    if (p.empty() || p.size() > 3 || (p.size() > 1 && p[0] == '0')) {
      return false;
    }
    uint32_t octet = 0;
    for (char c : p) {
      if (c < '0' || c > '9') return false;
      octet = octet * 10 + static_cast<uint32_t>(c - '0');
    }
    if (octet > 255) return false;
    value = (value << 8) | octet;
  }
  if (out != nullptr) *out = value;
  return true;
}

absl::Status ValidateMac(absl::string_view field, absl::string_view mac) {
  bool ok = mac.size() == 17;
  for (size_t i = 0; ok && i < mac.size(); ++i) {
    char c = mac[i];
    ok = i % 3 == 2 ? c == ':'
                    : ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
                       (c >= 'A' && c <= 'F'));
  }
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(field, " must be a MAC address like 52:54:00:12:34:56, got ",
                   QuoteForMessage(mac)));
}

absl::Status ValidateGuestNetwork(const GuestNetwork& n) {
  NEST_RETURN_IF_ERROR(ValidateMac("mac", n.mac));
  uint32_t address = 0, gateway = 0;
  if (!ParseIpv4(n.address, &address)) return BadAddress("address", n.address);
  if (n.prefix_length < 8 || n.prefix_length > 30) {
    return absl::InvalidArgumentError(absl::StrCat(
        "prefix_length must be between 8 and 30, got ", n.prefix_length));
  }
  if (!ParseIpv4(n.gateway, &gateway)) return BadAddress("gateway", n.gateway);
  uint32_t mask = ~uint32_t{0} << (32 - n.prefix_length);
  if ((gateway & mask) != (address & mask) || gateway == address) {
    return absl::InvalidArgumentError(
        absl::StrCat("gateway must be an address of the subnet ", n.address,
                     "/", n.prefix_length, " other than the address, got ",
                     QuoteForMessage(n.gateway)));
  }
  for (size_t i = 0; i < n.vips.size(); ++i) {
    if (!ParseIpv4(n.vips[i], nullptr)) {
      return BadAddress(absl::StrCat("vips[", i, "]"), n.vips[i]);
    }
  }
  for (size_t i = 0; i < n.hosts.size(); ++i) {
    const auto& [name, addr] = n.hosts[i];
    if (!ValidHostName(name)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "hosts[", i,
          "].name must be 1-253 characters of [A-Za-z0-9._-] not starting "
          "with '.' or '-', got ",
          QuoteForMessage(name)));
    }
    if (!ParseIpv4(addr, nullptr)) {
      return BadAddress(absl::StrCat("hosts[", i, "].address"), addr);
    }
  }
  if (n.ruleset.size() > (1 << 20)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ruleset must be at most 1048576 bytes, got ", n.ruleset.size()));
  }
  return absl::OkStatus();
}

absl::Status ValidateSpec(const ContainerSpec& spec) {
  NEST_RETURN_IF_ERROR(ValidateContainerId("id", spec.id));
  NEST_RETURN_IF_ERROR(ValidateDigest("image_digest", spec.image_digest));
  if (spec.args.empty() || spec.args[0].empty()) {
    return absl::InvalidArgumentError(
        "args must name the program to run, got none");
  }
  for (const auto& e : spec.env) {
    if (e.find('=') == std::string::npos || e[0] == '=') {
      return absl::InvalidArgumentError(absl::StrCat(
          "env entries must be KEY=value, got ", QuoteForMessage(e)));
    }
  }
  if (spec.cwd.empty() || spec.cwd[0] != '/') {
    return absl::InvalidArgumentError(absl::StrCat(
        "cwd must be an absolute path, got ", QuoteForMessage(spec.cwd)));
  }
  const ContainerLimits& l = spec.limits;
  if (l.cpu_quota_us < 0 || (l.cpu_quota_us > 0 && l.cpu_quota_us < 1000)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "limits.cpu.quota_us must be 0 (unlimited) or at least 1000, got ",
        l.cpu_quota_us));
  }
  if (l.cpu_period_us < 1000 || l.cpu_period_us > 1000000) {
    return absl::InvalidArgumentError(absl::StrCat(
        "limits.cpu.period_us must be between 1000 and 1000000, got ",
        l.cpu_period_us));
  }
  if (l.memory_max_bytes < 0 ||
      (l.memory_max_bytes > 0 && l.memory_max_bytes < (4 << 20))) {
    return absl::InvalidArgumentError(absl::StrCat(
        "limits.memory_max_bytes must be 0 (unlimited) or at least 4194304, "
        "got ",
        l.memory_max_bytes));
  }
  if (l.pids_max < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "limits.pids_max must be 0 (unlimited) or positive, got ", l.pids_max));
  }
  if (!spec.address.empty() && !ParseIpv4(spec.address, nullptr)) {
    return BadAddress("address", spec.address);
  }
  if (spec.stop_grace_s > 3600) {
    return absl::InvalidArgumentError(absl::StrCat(
        "stop_grace_s must be at most 3600, got ", spec.stop_grace_s));
  }
  NEST_RETURN_IF_ERROR(ValidateHealthCheck(spec.health_check));
  // The same rules as the control plane's: a path that escapes the
  // container's root, or lands on /proc, must never reach crun.
  std::vector<ContainerFileView> files;
  for (const auto& f : spec.files) {
    files.push_back({f.path, static_cast<int64_t>(f.content.size()),
                     static_cast<int64_t>(f.mode)});
  }
  FieldErrors errors;
  CheckContainerFiles(files, "files", errors);
  return errors.ToStatus();
}

absl::Status NetworkNotConfigured(absl::string_view id,
                                  absl::string_view address) {
  return absl::FailedPreconditionError(absl::StrCat(
      "guest network not configured: container ", id, " asks for address ",
      address, "; call ConfigureNetwork first"));
}

absl::Status ValidateSignal(int signal) {
  if (signal >= 1 && signal <= 64) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("signal must be between 1 and 64, got ", signal));
}

}  // namespace nest::agent
