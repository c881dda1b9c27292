// The occupied part of one address range: non-overlapping prefixes, each with
// a label, ordered by address. The IPAM keeps one for the pool (tenant
// subnets) and one per tenant subnet (VM addresses and container blocks).
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>

#include "net/ipv4.h"

namespace nest::net {

// A plain value; thread-compatible.
class PrefixSet {
 public:
  struct Entry {
    Ipv4Prefix prefix;
    std::string label;  // chosen by the caller, returned with overlaps
  };

  PrefixSet() = default;
  explicit PrefixSet(Ipv4Prefix range) : range_(range) {}

  const Ipv4Prefix& range() const { return range_; }
  size_t size() const { return entries_.size(); }

  // The lowest-addressed entry that overlaps `p`, or null.
  const Entry* FindOverlap(const Ipv4Prefix& p) const;

  // Adds `p`. Precondition: range().Contains(p) and no FindOverlap(p).
  void Insert(const Ipv4Prefix& p, std::string label);
  // Removes the entry that is exactly `p`; false when there is none.
  bool Erase(const Ipv4Prefix& p);

  // The lowest prefix of `length` (at most 32) inside range() that overlaps
  // no entry; none when `length` is shorter than the range's.
  // O(entries): the sets stay small (a pool holds hundreds of subnets, a
  // subnet hundreds of VMs).
  std::optional<Ipv4Prefix> LowestFree(int length) const;

 private:
  Ipv4Prefix range_;
  std::map<uint32_t, Entry> entries_;  // by first address
};

}  // namespace nest::net
