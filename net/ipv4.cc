#include "net/ipv4.h"

#include <cassert>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/validate.h"

namespace nest::net {
namespace {

constexpr absl::string_view kAddressRule =
    "must be an IPv4 address such as \"10.88.0.1\"";
constexpr absl::string_view kPrefixRule =
    "must be an IPv4 prefix such as \"10.88.0.0/16\"";

absl::Status Invalid(absl::string_view field, absl::string_view rule,
                     absl::string_view text) {
  return absl::InvalidArgumentError(
      absl::StrCat(field, " ", rule, ", got ", QuoteForMessage(text)));
}

// A decimal number in [0, max] with no sign and no leading zero.
bool ParseSmall(absl::string_view text, uint32_t max, uint32_t* out) {
  if (text.empty() || text.size() > 3) return false;
  if (text.size() > 1 && text[0] == '0') return false;
  uint32_t v = 0;
  for (char c : text) {
    if (!absl::ascii_isdigit(c)) return false;
    v = v * 10 + static_cast<uint32_t>(c - '0');
  }
  if (v > max) return false;
  *out = v;
  return true;
}

bool ParseQuad(absl::string_view text, Ipv4Address* out) {
  std::vector<absl::string_view> parts = absl::StrSplit(text, '.');
  if (parts.size() != 4) return false;
  uint32_t value = 0;
  for (absl::string_view part : parts) {
    uint32_t octet = 0;
    if (!ParseSmall(part, 255, &octet)) return false;
    value = (value << 8) | octet;
  }
  *out = Ipv4Address(value);
  return true;
}

uint32_t Mask(int length) {
  return length == 0 ? 0 : ~uint32_t{0} << (32 - length);
}

}  // namespace

std::string Ipv4Address::ToString() const {
  return absl::StrCat(value_ >> 24, ".", (value_ >> 16) & 0xff, ".",
                      (value_ >> 8) & 0xff, ".", value_ & 0xff);
}

Ipv4Prefix Ipv4Prefix::Containing(Ipv4Address address, int length) {
  assert(length >= 0 && length <= 32);
  Ipv4Prefix p;
  p.first_ = Ipv4Address(address.value() & Mask(length));
  p.length_ = length;
  return p;
}

std::string Ipv4Prefix::ToString() const {
  return absl::StrCat(first_.ToString(), "/", length_);
}

absl::StatusOr<Ipv4Address> ParseIpv4Address(absl::string_view field,
                                             absl::string_view text) {
  Ipv4Address a;
  if (!ParseQuad(text, &a)) return Invalid(field, kAddressRule, text);
  return a;
}

absl::StatusOr<Ipv4Prefix> ParseIpv4Prefix(absl::string_view field,
                                           absl::string_view text) {
  std::pair<absl::string_view, absl::string_view> parts =
      absl::StrSplit(text, absl::MaxSplits('/', 1));
  Ipv4Address a;
  uint32_t length = 0;
  if (text.find('/') == absl::string_view::npos ||
      !ParseQuad(parts.first, &a) || !ParseSmall(parts.second, 32, &length)) {
    return Invalid(field, kPrefixRule, text);
  }
  Ipv4Prefix p = Ipv4Prefix::Containing(a, static_cast<int>(length));
  if (p.first() != a) {
    return Invalid(field,
                   absl::StrCat("must be an IPv4 prefix with no host bits set "
                                "(did you mean \"",
                                p.ToString(), "\"?)"),
                   text);
  }
  return p;
}

}  // namespace nest::net
