// Tenant quotas at admission. A change is refused (RESOURCE_EXHAUSTED) when
// it makes what the tenant's objects commit to pass the tenant's quota in a
// dimension the change grew; a change that shrinks or holds usage always
// passes, so an operator who lowers a quota never blocks a scale-down.
// Placement bounds what the autoscaler creates on top (placement/).
#pragma once

#include <cstdint>
#include <string>

#include "core/ids.h"
#include "core/status.h"
#include "store/store.h"

namespace nest::control {

// What one tenant's objects commit to. VMs per group are the larger of
// the group's floor (min, desired) and its live VMs, so VMs the autoscaler
// added count too; memory includes each VM's VMM overhead; containers are
// the workloads' replicas.
struct QuotaUsage {
  int64_t vcpus = 0;
  int64_t memory_mib = 0;
  int64_t vms = 0;
  int64_t containers = 0;
  int64_t images = 0;
  friend bool operator==(const QuotaUsage&, const QuotaUsage&) = default;
};

[[nodiscard]] absl::StatusOr<QuotaUsage> TenantUsage(store::ReadTx& tx,
                                                     const TenantId& tenant,
                                                     int64_t vmm_overhead_mib);

// OK unless `after` passes `quota` in a dimension where after > before;
// then RESOURCE_EXHAUSTED naming the tenant, the dimension, what the
// change would bring it to, what was used before and what is allowed.
[[nodiscard]] absl::Status CheckQuota(const TenantId& tenant,
                                      const store::Quota& quota,
                                      const QuotaUsage& before,
                                      const QuotaUsage& after);

// Field errors (INVALID_ARGUMENT) for negative limits.
[[nodiscard]] absl::Status ValidateQuota(const store::Quota& quota);

// "vcpus 8, memory_mib unlimited, ..." for humans.
std::string QuotaText(const store::Quota& quota);

// "vcpus 4/8, memory_mib 1152/unlimited, ..." for humans.
std::string DescribeQuota(const store::Quota& quota, const QuotaUsage& used);

}  // namespace nest::control
