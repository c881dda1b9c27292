// ValidateName accepts exactly the DNS-1123 labels its header promises, and
// QuoteForMessage turns any bytes into a short printable-ASCII quote.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "core/validate.h"
#include "fuzz/check.h"

namespace {

// The rule restated independently of core/validate.cc: 1-63 bytes of
// [a-z0-9-], with a letter or digit at both ends.
bool IsDnsLabel(absl::string_view s) {
  constexpr absl::string_view kAllowed =
      "abcdefghijklmnopqrstuvwxyz0123456789-";
  if (s.empty() || s.size() > 63) return false;
  if (s.find_first_not_of(kAllowed) != absl::string_view::npos) return false;
  return s.front() != '-' && s.back() != '-';
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view in(reinterpret_cast<const char*>(data), size);

  absl::Status status = nest::ValidateName("spec.name", in);
  FUZZ_CHECK(status.ok() == IsDnsLabel(in));
  if (!status.ok()) {
    FUZZ_CHECK(status.code() == absl::StatusCode::kInvalidArgument);
    // Messages name the field, and quote hostile input only in escaped form.
    FUZZ_CHECK(absl::StartsWith(status.message(), "spec.name "));
    for (char c : status.message()) {
      auto u = static_cast<unsigned char>(c);
      FUZZ_CHECK(u >= 0x20 && u < 0x7f);
    }
  }

  std::string quoted = nest::QuoteForMessage(in);
  // At most 80 input bytes are shown, each escaped to at most 4 characters,
  // between quotes, plus "..." when cut.
  FUZZ_CHECK(quoted.size() <= 2 + 4 * 80 + 3);
  FUZZ_CHECK(quoted.size() >= 2 && quoted.front() == '"');
  for (char c : quoted) {
    auto u = static_cast<unsigned char>(c);
    FUZZ_CHECK(u >= 0x20 && u < 0x7f);
  }
  return 0;
}
