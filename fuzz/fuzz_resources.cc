// ParseMilliCpu and ParseMiB: what they accept follows the documented
// grammar, is positive and in range, prints back (FormatMilliCpu/FormatMiB)
// to text that parses to the same value, and unit suffixes scale exactly.
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "core/resources.h"
#include "fuzz/check.h"

namespace {

constexpr int64_t kMaxMiB = std::numeric_limits<int64_t>::max() >> 20;
constexpr int64_t kMaxMilliCpu = int64_t{1000} * 1000 * 1000;

// digits, optionally "." and more digits, then `suffix`; at least one digit.
bool MatchesNumber(absl::string_view s, absl::string_view* suffix) {
  size_t i = 0, digits = 0;
  while (i < s.size() && absl::ascii_isdigit(s[i])) ++i, ++digits;
  if (i < s.size() && s[i] == '.') {
    size_t start = ++i;
    while (i < s.size() && absl::ascii_isdigit(s[i])) ++i, ++digits;
    if (i == start) return false;
  }
  *suffix = s.substr(i);
  return digits > 0;
}

bool AllDigits(absl::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!absl::ascii_isdigit(c)) return false;
  }
  return true;
}

void CheckMiB(absl::string_view in) {
  absl::StatusOr<int64_t> mib = nest::ParseMiB("memory", in);
  if (!mib.ok()) {
    FUZZ_CHECK(mib.status().code() == absl::StatusCode::kInvalidArgument);
    return;
  }
  absl::string_view suffix;
  FUZZ_CHECK(MatchesNumber(in, &suffix));
  FUZZ_CHECK(suffix.empty() || suffix == "Ki" || suffix == "Mi" ||
             suffix == "Gi" || suffix == "Ti");
  FUZZ_CHECK(*mib > 0 && *mib <= kMaxMiB);
  // The size in bytes must stay representable (the documented reason for
  // the limit).
  FUZZ_CHECK(*mib <= std::numeric_limits<int64_t>::max() / (1 << 20));

  absl::StatusOr<int64_t> again =
      nest::ParseMiB("memory", nest::FormatMiB(*mib));
  FUZZ_CHECK(again.ok() && *again == *mib);

  // A plain number of bytes is accepted exactly when it is whole MiB.
  if (AllDigits(in) && in.size() <= 18) {
    int64_t bytes = 0;
    for (char c : in) bytes = bytes * 10 + (c - '0');
    FUZZ_CHECK(bytes % (1 << 20) == 0 && *mib == bytes / (1 << 20));
  }
  // The same number in Gi is 1024 times the number in Mi.
  if (suffix == "Mi") {
    std::string gi(in.substr(0, in.size() - 2));
    absl::StatusOr<int64_t> g = nest::ParseMiB("memory", gi + "Gi");
    if (*mib <= kMaxMiB / 1024) {
      FUZZ_CHECK(g.ok() && *g == *mib * 1024);
    } else {
      FUZZ_CHECK(!g.ok());
    }
  }
}

void CheckMilliCpu(absl::string_view in) {
  absl::StatusOr<int64_t> milli = nest::ParseMilliCpu("cpu", in);
  if (!milli.ok()) {
    FUZZ_CHECK(milli.status().code() == absl::StatusCode::kInvalidArgument);
    return;
  }
  absl::string_view suffix;
  FUZZ_CHECK(MatchesNumber(in, &suffix));
  FUZZ_CHECK(suffix.empty() || suffix == "m");
  FUZZ_CHECK(*milli > 0 && *milli <= kMaxMilliCpu);

  absl::StatusOr<int64_t> again =
      nest::ParseMilliCpu("cpu", nest::FormatMilliCpu(*milli));
  FUZZ_CHECK(again.ok() && *again == *milli);

  // Whole cores and the same count of milli-cores differ by 1000.
  if (AllDigits(in)) {
    absl::StatusOr<int64_t> m =
        nest::ParseMilliCpu("cpu", absl::StrCat(in, "m"));
    FUZZ_CHECK(m.ok() && *m * 1000 == *milli);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view in(reinterpret_cast<const char*>(data), size);
  CheckMiB(in);
  CheckMilliCpu(in);
  return 0;
}
