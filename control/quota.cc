#include "control/quota.h"

#include <algorithm>
#include <map>
#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/field_errors.h"

namespace nest::control {
namespace {

struct Dimension {
  const char* name;
  std::optional<int64_t> store::Quota::*limit;
  int64_t QuotaUsage::*used;
};

constexpr Dimension kDimensions[] = {
    {"vcpus", &store::Quota::vcpus, &QuotaUsage::vcpus},
    {"memory_mib", &store::Quota::memory_mib, &QuotaUsage::memory_mib},
    {"vms", &store::Quota::vms, &QuotaUsage::vms},
    {"containers", &store::Quota::containers, &QuotaUsage::containers},
    {"images", &store::Quota::images, &QuotaUsage::images},
};

// Every row a list query matches, across pages.
template <typename T, typename List>
absl::StatusOr<std::vector<T>> All(store::ListQuery q, List list) {
  std::vector<T> out;
  do {
    NEST_ASSIGN_OR_RETURN(store::Page<T> page, list(q));
    for (T& item : page.items) out.push_back(std::move(item));
    q.page_token = page.next_page_token;
  } while (!q.page_token.empty());
  return out;
}

}  // namespace

absl::StatusOr<QuotaUsage> TenantUsage(store::ReadTx& tx,
                                       const TenantId& tenant,
                                       int64_t vmm_overhead_mib) {
  store::ListQuery q;
  q.tenant = tenant;
  QuotaUsage u;
  NEST_ASSIGN_OR_RETURN(auto vms,
                        All<store::Vm>(q, [&](const store::ListQuery& lq) {
                          return tx.ListVms(lq);
                        }));
  std::map<std::string, int64_t> live;
  for (const store::Vm& vm : vms) {
    if (vm.desired != store::VmDesiredState::kDeleted) ++live[vm.group.str()];
  }
  NEST_ASSIGN_OR_RETURN(auto groups,
                        All<store::VmGroup>(q, [&](const store::ListQuery& lq) {
                          return tx.ListGroups(lq);
                        }));
  for (const store::VmGroup& g : groups) {
    int64_t n = std::max({g.min_size, g.desired_size, live[g.name.str()]});
    u.vms += n;
    u.vcpus += n * g.vcpus;
    u.memory_mib += n * (g.memory_mib + vmm_overhead_mib);
  }
  NEST_ASSIGN_OR_RETURN(
      auto workloads, All<store::Workload>(q, [&](const store::ListQuery& lq) {
        return tx.ListWorkloads(lq);
      }));
  for (const store::Workload& w : workloads) u.containers += w.replicas;
  NEST_ASSIGN_OR_RETURN(auto images,
                        All<store::Image>(q, [&](const store::ListQuery& lq) {
                          return tx.ListImages(lq);
                        }));
  u.images = static_cast<int64_t>(images.size());
  return u;
}

absl::Status CheckQuota(const TenantId& tenant, const store::Quota& quota,
                        const QuotaUsage& before, const QuotaUsage& after) {
  std::vector<std::string> over;
  for (const Dimension& d : kDimensions) {
    const std::optional<int64_t>& limit = quota.*d.limit;
    int64_t was = before.*d.used, now = after.*d.used;
    if (!limit || now <= *limit || now <= was) continue;
    over.push_back(absl::StrCat(d.name, ": this change needs ", now,
                                ", allowed ", *limit, ", in use ", was));
  }
  if (over.empty()) return absl::OkStatus();
  return absl::ResourceExhaustedError(
      absl::StrCat("quota of tenant \"", tenant.str(), "\" exceeded (",
                   absl::StrJoin(over, "; "),
                   "); free some or ask an operator to raise it"));
}

absl::Status ValidateQuota(const store::Quota& quota) {
  FieldErrors errors;
  for (const Dimension& d : kDimensions) {
    const std::optional<int64_t>& limit = quota.*d.limit;
    if (limit && *limit < 0) {
      errors.Add(
          absl::StrCat("quota.", d.name),
          absl::StrCat("must be >= 0 (or unset for no limit), got ", *limit));
    }
  }
  return errors.ToStatus();
}

std::string QuotaText(const store::Quota& quota) {
  std::vector<std::string> parts;
  for (const Dimension& d : kDimensions) {
    const std::optional<int64_t>& limit = quota.*d.limit;
    parts.push_back(
        absl::StrCat(d.name, " ", limit ? absl::StrCat(*limit) : "unlimited"));
  }
  return absl::StrJoin(parts, ", ");
}

std::string DescribeQuota(const store::Quota& quota, const QuotaUsage& used) {
  std::vector<std::string> parts;
  for (const Dimension& d : kDimensions) {
    const std::optional<int64_t>& limit = quota.*d.limit;
    parts.push_back(absl::StrCat(d.name, " ", used.*d.used, "/",
                                 limit ? absl::StrCat(*limit) : "unlimited"));
  }
  return absl::StrJoin(parts, ", ");
}

}  // namespace nest::control
