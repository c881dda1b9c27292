// Strong id types: a VmId cannot be passed where a HostId is expected.
// Ids are opaque strings chosen by the control plane (names or generated).
#pragma once

#include <compare>
#include <functional>
#include <ostream>
#include <string>
#include <utility>

namespace nest {

template <typename Tag>
class Id {
 public:
  Id() = default;
  explicit Id(std::string value) : value_(std::move(value)) {}

  const std::string& str() const { return value_; }
  bool empty() const { return value_.empty(); }

  friend auto operator<=>(const Id&, const Id&) = default;
  friend std::ostream& operator<<(std::ostream& os, const Id& id) {
    return os << id.value_;
  }
  template <typename H>
  friend H AbslHashValue(H h, const Id& id) {
    return H::combine(std::move(h), id.value_);
  }

 private:
  std::string value_;
};

using TenantId = Id<struct TenantTag>;
using HostId = Id<struct HostTag>;
using GroupId = Id<struct GroupTag>;
using VmId = Id<struct VmTag>;
using WorkloadId = Id<struct WorkloadTag>;
using ContainerId = Id<struct ContainerTag>;
using ImageId = Id<struct ImageTag>;

}  // namespace nest

template <typename Tag>
struct std::hash<nest::Id<Tag>> {
  size_t operator()(const nest::Id<Tag>& id) const noexcept {
    return std::hash<std::string>()(id.str());
  }
};
