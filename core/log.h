// Process-wide logging through spdlog: human-readable text by default, one
// JSON object per line with --log-format=json.
#pragma once

#include "absl/strings/string_view.h"

#include "core/status.h"

namespace nest {

enum class LogFormat { kText, kJson };

// Parses "text" or "json"; `field` names the flag in the error.
absl::StatusOr<LogFormat> ParseLogFormat(absl::string_view field,
                                         absl::string_view value);

// Installs the default logger writing to stderr. `level` is one of
// trace|debug|info|warn|error. Call once from main().
absl::Status SetupLogging(absl::string_view program, LogFormat format,
                          absl::string_view level);

}  // namespace nest
