#include "core/resources.h"

#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace nest {
namespace {

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
// Sizes must stay representable in bytes as int64 for every consumer.
constexpr int64_t kMaxMiB = kMax >> 20;
constexpr int64_t kMaxMilliCpu = int64_t{1000} * 1000 * 1000;

absl::Status Invalid(absl::string_view field, absl::string_view text,
                     absl::string_view expected) {
  return absl::InvalidArgumentError(
      absl::StrCat(field, " must be ", expected, ", got \"",
                   absl::CEscape(text), "\""));
}

// Splits "12.5Gi" into digits "12", fraction "5" and suffix "Gi". Returns
// false on anything else (signs, spaces, empty number).
bool Split(absl::string_view text, absl::string_view* whole,
           absl::string_view* frac, absl::string_view* suffix) {
  size_t i = 0;
  while (i < text.size() && absl::ascii_isdigit(text[i])) ++i;
  *whole = text.substr(0, i);
  *frac = {};
  if (i < text.size() && text[i] == '.') {
    size_t j = i + 1;
    while (j < text.size() && absl::ascii_isdigit(text[j])) ++j;
    *frac = text.substr(i + 1, j - i - 1);
    if (frac->empty()) return false;
    i = j;
  }
  *suffix = text.substr(i);
  return !whole->empty() || !frac->empty();
}

enum class ScaleResult { kOk, kOverflow, kFraction };

// *out = (whole.frac) * num / den, exact in integers. `limit` bounds the
// result.
ScaleResult Scale(absl::string_view whole, absl::string_view frac, int64_t num,
                  int64_t den, int64_t limit, int64_t* out) {
  if (frac.size() > 9) return ScaleResult::kFraction;
  // 128-bit arithmetic with an early bail-out keeps every step exact.
  __int128 value = 0;
  for (char c : whole) {
    value = value * 10 + (c - '0');
    if (value > kMax) return ScaleResult::kOverflow;
  }
  __int128 pow10 = 1;
  for (char c : frac) {
    value = value * 10 + (c - '0');
    pow10 *= 10;
  }
  __int128 scaled = value * num;
  __int128 divisor = pow10 * den;
  if (scaled / divisor > limit) return ScaleResult::kOverflow;
  if (scaled % divisor != 0) return ScaleResult::kFraction;
  *out = static_cast<int64_t>(scaled / divisor);
  return ScaleResult::kOk;
}

}  // namespace

absl::string_view DimName(Dim d) {
  switch (d) {
    case Dim::kCpuMilli:
      return "cpu";
    case Dim::kMemoryMiB:
      return "memory";
    case Dim::kDiskMiB:
      return "disk";
  }
  return "unknown";
}

Resources& Resources::operator+=(const Resources& o) {
  for (int i = 0; i < kDims; ++i) v[i] += o.v[i];
  return *this;
}

Resources& Resources::operator-=(const Resources& o) {
  for (int i = 0; i < kDims; ++i) v[i] -= o.v[i];
  return *this;
}

bool Resources::fits(const Resources& capacity) const {
  for (int i = 0; i < kDims; ++i) {
    if (v[i] > capacity.v[i]) return false;
  }
  return true;
}

bool Resources::is_zero() const {
  for (int i = 0; i < kDims; ++i) {
    if (v[i] != 0) return false;
  }
  return true;
}

bool Resources::any_negative() const {
  for (int i = 0; i < kDims; ++i) {
    if (v[i] < 0) return true;
  }
  return false;
}

std::string Resources::ToString() const {
  return absl::StrCat("cpu=", FormatMilliCpu(milli_cpu()),
                      " memory=", FormatMiB(memory_mib()),
                      " disk=", FormatMiB(disk_mib()));
}

absl::StatusOr<int64_t> ParseMilliCpu(absl::string_view field,
                                      absl::string_view text) {
  constexpr absl::string_view kExpected =
      "a positive CPU quantity such as \"500m\", \"0.5\" or \"2\"";
  absl::string_view whole, frac, suffix;
  if (!Split(text, &whole, &frac, &suffix)) {
    return Invalid(field, text, kExpected);
  }
  int64_t milli = 0;
  ScaleResult r;
  if (suffix == "m") {
    r = frac.empty() ? Scale(whole, frac, 1, 1, kMaxMilliCpu, &milli)
                     : ScaleResult::kFraction;
  } else if (suffix.empty()) {
    r = Scale(whole, frac, 1000, 1, kMaxMilliCpu, &milli);
  } else {
    return Invalid(field, text, kExpected);
  }
  if (r == ScaleResult::kOverflow) {
    return Invalid(field, text, "at most 1000000 CPUs");
  }
  if (r == ScaleResult::kFraction) {
    return Invalid(field, text, "a whole number of milli-CPUs (e.g. \"1500m\")");
  }
  if (milli == 0) return Invalid(field, text, kExpected);
  return milli;
}

absl::StatusOr<int64_t> ParseMiB(absl::string_view field,
                                 absl::string_view text) {
  constexpr absl::string_view kExpected =
      "a positive size such as \"512Mi\", \"4Gi\" or \"1Ti\"";
  absl::string_view whole, frac, suffix;
  if (!Split(text, &whole, &frac, &suffix)) {
    return Invalid(field, text, kExpected);
  }
  int64_t num, den;
  if (suffix.empty()) {
    num = 1, den = 1024 * 1024;  // bytes
  } else if (suffix == "Ki") {
    num = 1, den = 1024;
  } else if (suffix == "Mi") {
    num = 1, den = 1;
  } else if (suffix == "Gi") {
    num = 1024, den = 1;
  } else if (suffix == "Ti") {
    num = 1024 * 1024, den = 1;
  } else {
    return Invalid(field, text, kExpected);
  }
  int64_t mib = 0;
  switch (Scale(whole, frac, num, den, kMaxMiB, &mib)) {
    case ScaleResult::kOk:
      break;
    case ScaleResult::kOverflow:
      return Invalid(field, text, "at most 8589934591Gi (2^63 bytes)");
    case ScaleResult::kFraction:
      return Invalid(field, text, "a whole number of MiB");
  }
  if (mib == 0) return Invalid(field, text, kExpected);
  return mib;
}

std::string FormatMilliCpu(int64_t milli) {
  if (milli % 1000 == 0) return absl::StrCat(milli / 1000);
  return absl::StrCat(milli, "m");
}

std::string FormatMiB(int64_t mib) {
  if (mib != 0 && mib % (1024 * 1024) == 0) {
    return absl::StrCat(mib / (1024 * 1024), "Ti");
  }
  if (mib != 0 && mib % 1024 == 0) return absl::StrCat(mib / 1024, "Gi");
  return absl::StrCat(mib, "Mi");
}

}  // namespace nest
