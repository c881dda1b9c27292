#include "core/field_errors.h"

#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace nest {
namespace {

// Payload key; the API layer re-encodes violations as google.rpc.BadRequest.
constexpr char kPayloadUrl[] = "nest.dev/field-violations";

// Violations are encoded as "field\tdescription\n" lines; tabs and newlines
// inside values are replaced so the encoding stays unambiguous.
std::string Clean(absl::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c == '\t' || c == '\n') c = ' ';
  }
  return out;
}

}  // namespace

void FieldErrors::Add(absl::string_view field, absl::string_view description) {
  violations_.push_back({std::string(field), std::string(description)});
}

void FieldErrors::Check(absl::string_view field, const absl::Status& status) {
  if (status.ok()) return;
  absl::string_view msg = status.message();
  if (absl::StartsWith(msg, field) && msg.size() > field.size() &&
      msg[field.size()] == ' ') {
    msg.remove_prefix(field.size() + 1);
  }
  Add(field, msg);
}

absl::Status FieldErrors::ToStatus() const {
  if (violations_.empty()) return absl::OkStatus();
  const FieldViolation& first = violations_.front();
  std::string message = absl::StrCat(first.field, " ", first.description);
  if (violations_.size() > 1) {
    absl::StrAppend(&message, " (and ", violations_.size() - 1, " more)");
  }
  absl::Status status = absl::InvalidArgumentError(message);
  std::string payload;
  for (const FieldViolation& v : violations_) {
    absl::StrAppend(&payload, Clean(v.field), "\t", Clean(v.description), "\n");
  }
  status.SetPayload(kPayloadUrl, absl::Cord(payload));
  return status;
}

std::vector<FieldViolation> GetFieldViolations(const absl::Status& status) {
  std::vector<FieldViolation> out;
  auto payload = status.GetPayload(kPayloadUrl);
  if (!payload.has_value()) return out;
  std::string text(*payload);
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    std::pair<std::string, std::string> kv =
        absl::StrSplit(line, absl::MaxSplits('\t', 1));
    out.push_back({kv.first, kv.second});
  }
  return out;
}

}  // namespace nest
