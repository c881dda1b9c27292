// Each tenant's QEMU processes run under a host uid/gid of the tenant's own
// (libvirt's static DAC label), so one tenant's VMM cannot open another
// tenant's disks. This maps tenants to those ids.
//
// An id is uid == gid == base + k for a k in [0, size). A tenant's id is
// its preferred slot (a stable hash of its name) unless an earlier tenant
// holds that slot; then the next free slot. Once given, an id is kept in a
// small file and never changes or moves to another tenant, including
// after a restart or a change of the range.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "core/ids.h"
#include "core/status.h"
#include "vmm/driver.h"

namespace nest::control {

struct TenantIdRange {
  // Far above Debian's system and login accounts (< 65536) and its
  // default subuid ranges (100000 + 65536 per user). The operator must
  // keep the range free of host accounts (README, host hardening).
  uint32_t base = 200000;
  uint32_t size = 65536;
};

// base >= 1000 (no system account, never root) and base + size - 1 <=
// 2147483647 (no id that tools read as negative or as "unchanged").
[[nodiscard]] absl::Status ValidateTenantIdRange(const TenantIdRange& range);

// Ids already given, by tenant.
using TenantIdMap = std::map<TenantId, uint32_t>;

// Pure: base + (64-bit FNV-1a of the name) % size. The same on every
// host and in every build.
uint32_t PreferredTenantId(const TenantId& tenant, const TenantIdRange& range);

// Pure: the id `assigned` holds for `tenant`, otherwise the first id not
// in `assigned` from PreferredTenantId onwards (wrapping inside the range).
// INVALID_ARGUMENT for an empty tenant or an invalid range,
// RESOURCE_EXHAUSTED when every id of the range is taken.
[[nodiscard]] absl::StatusOr<uint32_t> AssignTenantId(
    const TenantId& tenant, const TenantIdMap& assigned,
    const TenantIdRange& range);

// The DAC label of a tenant id: uid and gid both the id.
vmm::DacLabel TenantDacLabel(uint32_t id);

// The persisted assignment: one "<tenant> <id>" line per tenant in
// `path` (root-owned, 0600), rewritten atomically on each new tenant.
// Ids are never reused, so a deleted tenant's leftover files stay out of
// reach of a new tenant. Thread-safe.
class TenantIdentities {
 public:
  // No I/O here: the file is read on first use.
  TenantIdentities(std::string path, TenantIdRange range)
      : path_(std::move(path)), range_(range) {}

  // The tenant's id, assigning and persisting one when it has none.
  [[nodiscard]] absl::StatusOr<uint32_t> IdFor(const TenantId& tenant);
  [[nodiscard]] absl::StatusOr<vmm::DacLabel> LabelFor(const TenantId& tenant);

  const TenantIdRange& range() const { return range_; }
  // True when `id` lies in the range or was ever given to a tenant.
  bool IsTenantId(uint32_t id);

 private:
  absl::Status LoadLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status SaveLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string path_;
  const TenantIdRange range_;
  absl::Mutex mu_;
  bool loaded_ ABSL_GUARDED_BY(mu_) = false;
  TenantIdMap ids_ ABSL_GUARDED_BY(mu_);
};

}  // namespace nest::control
