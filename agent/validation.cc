#include "agent/validation.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
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
  if (spec.stop_grace_s > 3600) {
    return absl::InvalidArgumentError(absl::StrCat(
        "stop_grace_s must be at most 3600, got ", spec.stop_grace_s));
  }
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

absl::Status ValidateSignal(int signal) {
  if (signal >= 1 && signal <= 64) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("signal must be between 1 and 64, got ", signal));
}

}  // namespace nest::agent
