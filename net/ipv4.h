// IPv4 addresses and prefixes as plain values, with strict parsing. Tenant
// networks, VM addresses and container blocks are all prefixes (a VM address
// is a /32), so one type carries every allocation the IPAM makes.
#pragma once

#include <compare>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "core/status.h"

namespace nest::net {

class Ipv4Address {
 public:
  constexpr Ipv4Address() = default;
  // `value` in host byte order: 10.88.0.1 is 0x0a580001.
  constexpr explicit Ipv4Address(uint32_t value) : value_(value) {}
  static constexpr Ipv4Address Of(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
    return Ipv4Address((uint32_t{a} << 24) | (uint32_t{b} << 16) |
                       (uint32_t{c} << 8) | uint32_t{d});
  }

  constexpr uint32_t value() const { return value_; }
  // Dotted quad, "10.88.0.1".
  std::string ToString() const;

  friend constexpr auto operator<=>(const Ipv4Address&,
                                    const Ipv4Address&) = default;

 private:
  uint32_t value_ = 0;
};

// An aligned range of 2^(32 - length) addresses. The invariant (no host bits
// set) holds for every value: the only constructor clears them.
class Ipv4Prefix {
 public:
  // 0.0.0.0/0.
  constexpr Ipv4Prefix() = default;
  // The prefix of `length` that contains `address`, i.e. `address` with its
  // host bits cleared. Precondition: 0 <= length <= 32.
  static Ipv4Prefix Containing(Ipv4Address address, int length);
  // The /32 of one address.
  static Ipv4Prefix Host(Ipv4Address address) {
    return Containing(address, 32);
  }

  int length() const { return length_; }
  // The first (network) address.
  Ipv4Address first() const { return first_; }
  // The last (broadcast) address.
  Ipv4Address last() const {
    return Ipv4Address(first_.value() + static_cast<uint32_t>(size() - 1));
  }
  // Number of addresses, 1 to 2^32.
  uint64_t size() const { return uint64_t{1} << (32 - length_); }

  bool Contains(Ipv4Address a) const { return first_ <= a && a <= last(); }
  bool Contains(const Ipv4Prefix& p) const {
    return length_ <= p.length_ && Contains(p.first_);
  }
  bool Overlaps(const Ipv4Prefix& p) const {
    return Contains(p.first_) || p.Contains(first_);
  }

  // "10.88.0.0/16".
  std::string ToString() const;

  // By first address, then shorter prefixes first.
  friend auto operator<=>(const Ipv4Prefix&, const Ipv4Prefix&) = default;

 private:
  Ipv4Address first_;
  int length_ = 0;
};

// Parses a dotted quad: four decimal octets 0-255 without signs, spaces or
// leading zeros ("010" could mean octal to other tools, so it is refused).
// `field` names the input in error messages.
[[nodiscard]] absl::StatusOr<Ipv4Address> ParseIpv4Address(
    absl::string_view field, absl::string_view text);

// Parses "ADDRESS/LENGTH" with a decimal length 0-32. Host bits must be
// clear: "10.88.1.0/16" is refused, naming "10.88.0.0/16" as the likely
// intent, because silently masking it hides a typo.
[[nodiscard]] absl::StatusOr<Ipv4Prefix> ParseIpv4Prefix(
    absl::string_view field, absl::string_view text);

}  // namespace nest::net
