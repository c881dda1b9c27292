#include "core/validate.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace nest {
namespace {

constexpr size_t kMaxLabel = 63;
constexpr size_t kQuoteLimit = 80;

bool IsLowerAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

}  // namespace

std::string QuoteForMessage(absl::string_view value) {
  std::string shown(value.substr(0, kQuoteLimit));
  std::string out = absl::StrCat("\"", absl::CEscape(shown), "\"");
  if (value.size() > kQuoteLimit) absl::StrAppend(&out, "...");
  return out;
}

absl::Status ValidateName(absl::string_view field, absl::string_view value) {
  constexpr absl::string_view kRule =
      "must be a DNS-1123 label (1-63 characters of a-z, 0-9 and '-', "
      "starting and ending with a letter or digit)";
  if (value.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, " ", kRule, ", got an empty string"));
  }
  if (value.size() > kMaxLabel) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, " ", kRule, ", got ", value.size(), " characters"));
  }
  for (size_t i = 0; i < value.size(); ++i) {
    char c = value[i];
    if (IsLowerAlnum(c)) continue;
    if (c == '-' && i != 0 && i + 1 != value.size()) continue;
    return absl::InvalidArgumentError(
        absl::StrCat(field, " ", kRule, ", got ", QuoteForMessage(value)));
  }
  return absl::OkStatus();
}

}  // namespace nest
