// Process-wide logging through spdlog: human-readable text by default, one
// JSON object per line with --log-format=json.
#pragma once

#include <string>

#include "absl/strings/string_view.h"
#include "core/status.h"

namespace nest {

enum class LogFormat { kText, kJson };

// Parses "text" or "json"; `field` names the flag in the error.
absl::StatusOr<LogFormat> ParseLogFormat(absl::string_view field,
                                         absl::string_view value);

// The `key=value` words of a log message as extra JSON fields, each
// `,"key":value` (a number when the value parses as one, else a string).
// Keys are [a-z][a-z0-9_]*, and carry their unit ("duration_s=1.25",
// "memory_bytes=4096"); the JSON format appends them after "msg", so
// `spdlog::info("vm {} ready boot_s={:.2f}", …)` is readable as text and
// queryable as JSON. Reserved keys (ts, level, logger, msg) and repeats are
// left in the message only.
std::string JsonLogFields(absl::string_view message);

// Installs the default logger writing to stderr. `level` is one of
// trace|debug|info|warn|error. Call once from main().
absl::Status SetupLogging(absl::string_view program, LogFormat format,
                          absl::string_view level);

}  // namespace nest
