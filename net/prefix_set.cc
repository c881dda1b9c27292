#include "net/prefix_set.h"

#include <cassert>
#include <iterator>
#include <utility>

namespace nest::net {

const PrefixSet::Entry* PrefixSet::FindOverlap(const Ipv4Prefix& p) const {
  // Entries are disjoint, so only the last one starting at or before p and
  // the first one starting inside p can overlap it; the former is lower.
  auto it = entries_.upper_bound(p.first().value());
  if (it != entries_.begin()) {
    auto before = std::prev(it);
    if (before->second.prefix.Overlaps(p)) return &before->second;
  }
  if (it != entries_.end() && p.Contains(it->second.prefix.first())) {
    return &it->second;
  }
  return nullptr;
}

void PrefixSet::Insert(const Ipv4Prefix& p, std::string label) {
  assert(range_.Contains(p));
  assert(FindOverlap(p) == nullptr);
  entries_.emplace(p.first().value(), Entry{p, std::move(label)});
}

bool PrefixSet::Erase(const Ipv4Prefix& p) {
  auto it = entries_.find(p.first().value());
  if (it == entries_.end() || it->second.prefix != p) return false;
  entries_.erase(it);
  return true;
}

std::optional<Ipv4Prefix> PrefixSet::LowestFree(int length) const {
  if (length < range_.length()) return std::nullopt;
  // 64-bit so that stepping past 255.255.255.255 cannot wrap to 0.
  const uint64_t size = uint64_t{1} << (32 - length);
  const uint64_t end = uint64_t{range_.first().value()} + range_.size();
  uint64_t candidate = range_.first().value();
  for (const auto& [first, entry] : entries_) {
    const uint64_t last = uint64_t{entry.prefix.last().value()};
    if (last < candidate) continue;
    if (candidate + size <= first) break;
    candidate = (last + 1 + size - 1) / size * size;
  }
  if (candidate + size > end) return std::nullopt;
  return Ipv4Prefix::Containing(Ipv4Address(static_cast<uint32_t>(candidate)),
                                length);
}

}  // namespace nest::net
