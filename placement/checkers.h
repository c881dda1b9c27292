// Feasibility checkers. Each is a small class with one fixed reason string
// per way it can fail; Check() returns nullptr when the candidate passes.
// Counting the reasons answers "why is this pending?" (explain.h). The
// chains that use them are wired in stack.cc.
#pragma once

#include "placement/ask.h"
#include "placement/snapshot.h"

namespace nest::placement {

// Fixed reason strings (also the keys of Explanation counts).
inline constexpr char kReasonRetired[] = "vm retired";
inline constexpr char kReasonCordoned[] = "vm cordoned";
inline constexpr char kReasonHostNotReady[] = "host not ready";
inline constexpr char kReasonTenant[] = "tenant isolation";
inline constexpr char kReasonDedicated[] = "dedicated isolation";
inline constexpr char kReasonAntiAffinityVm[] = "anti-affinity (vm)";
inline constexpr char kReasonAntiAffinityHost[] = "anti-affinity (host)";
inline constexpr char kReasonLabels[] = "label constraints";
inline constexpr char kReasonSpread[] = "topology spread";
inline constexpr char kReasonGroupMax[] = "group max vms";
inline constexpr char kReasonTenantQuota[] = "tenant quota";
// Capacity reasons are the dimension names: "cpu", "memory", "disk".
const char* CapacityReason(Dim d);

// Checks an existing VM for ask.items (one container in practice).
class VmChecker {
 public:
  virtual ~VmChecker() = default;
  virtual const char* Check(const Snapshot& s, const Ask& ask,
                            int vm) const = 0;
};

// Checks a host for a new VM of ask.group holding ask.items.
class HostChecker {
 public:
  virtual ~HostChecker() = default;
  virtual const char* Check(const Snapshot& s, const Ask& ask,
                            int host) const = 0;
};

// Checks that do not depend on the host (run once per ask).
class AskChecker {
 public:
  virtual ~AskChecker() = default;
  virtual const char* Check(const Snapshot& s, const Ask& ask) const = 0;
};

// ---- VM checkers ----
// A retired VM (scale-down simulation) or a cordoned one (being drained)
// takes nothing.
class VmRetiredChecker : public VmChecker {
 public:
  const char* Check(const Snapshot& s, const Ask& ask, int vm) const override;
};
// The VM's host must be ready.
class VmHostStateChecker : public VmChecker {
 public:
  const char* Check(const Snapshot& s, const Ask& ask, int vm) const override;
};
// A VM only holds containers of its own tenant.
class VmTenantChecker : public VmChecker {
 public:
  const char* Check(const Snapshot& s, const Ask& ask, int vm) const override;
};
// A dedicated container needs an empty VM; a VM holding one takes no more.
class VmDedicatedChecker : public VmChecker {
 public:
  const char* Check(const Snapshot& s, const Ask& ask, int vm) const override;
};
// Replicas with anti-affinity avoid VMs (and hosts) holding a sibling.
class VmAntiAffinityChecker : public VmChecker {
 public:
  const char* Check(const Snapshot& s, const Ask& ask, int vm) const override;
};
// The items' label constraints hold on the VM's host.
class VmLabelChecker : public VmChecker {
 public:
  const char* Check(const Snapshot& s, const Ask& ask, int vm) const override;
};
// The requests fit the VM's free shape (VM shapes are not overcommitted).
class VmCapacityChecker : public VmChecker {
 public:
  const char* Check(const Snapshot& s, const Ask& ask, int vm) const override;
};

// ---- Host checkers ----
class HostStateChecker : public HostChecker {
 public:
  const char* Check(const Snapshot& s, const Ask& ask, int host) const override;
};
// Group and item label constraints hold on the host.
class HostLabelChecker : public HostChecker {
 public:
  const char* Check(const Snapshot& s, const Ask& ask, int host) const override;
};
// The VM's shape plus overhead fits the host's free allocatable capacity
// (capacity minus reserved, times the overcommit ratio).
class HostCapacityChecker : public HostChecker {
 public:
  const char* Check(const Snapshot& s, const Ask& ask, int host) const override;
};
// Items with AntiAffinity::kDistinctHosts avoid hosts holding a sibling.
class HostAntiAffinityChecker : public HostChecker {
 public:
  const char* Check(const Snapshot& s, const Ask& ask, int host) const override;
};
// With a spread label, the new VM keeps per-domain VM counts within
// max_skew; hosts without the label are rejected.
class HostSpreadChecker : public HostChecker {
 public:
  const char* Check(const Snapshot& s, const Ask& ask, int host) const override;
};

// ---- Ask checkers ----
// The group has room for one more VM (live VMs < max_vms).
class GroupMaxChecker : public AskChecker {
 public:
  const char* Check(const Snapshot& s, const Ask& ask) const override;
};
// One more VM of the group stays within its tenant's quota (VMs, vCPUs,
// memory with VMM overhead).
class TenantQuotaChecker : public AskChecker {
 public:
  const char* Check(const Snapshot& s, const Ask& ask) const override;
};
// The group belongs to the items' tenant (a new VM would hold them).
class GroupTenantChecker : public AskChecker {
 public:
  const char* Check(const Snapshot& s, const Ask& ask) const override;
};

}  // namespace nest::placement
