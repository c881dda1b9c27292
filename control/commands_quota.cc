// Commands: per-tenant quotas (control/quota.h holds the rules).
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "control/commands.h"
#include "core/validate.h"

namespace nest::control {

absl::StatusOr<Written> Commands::SetQuota(const WriteMeta& m,
                                           const std::string& tenant,
                                           const store::Quota& quota) {
  NEST_RETURN_IF_ERROR(ValidateName("tenant", tenant));
  NEST_RETURN_IF_ERROR(ValidateQuota(quota));
  return Mutate(m, [&](store::WriteTx& tx) -> absl::StatusOr<std::string> {
    TenantId id(tenant);
    store::EventNote note{"QuotaSet", absl::StrCat("quota of tenant ", tenant,
                                                   ": ", QuotaText(quota))};
    auto t = tx.GetTenant(id);
    if (absl::IsNotFound(t.status())) {
      store::Tenant fresh;
      fresh.name = id;
      fresh.quota = quota;
      NEST_RETURN_IF_ERROR(tx.CreateTenant(fresh, note).status());
      return std::string();
    }
    if (!t.ok()) return t.status();
    if (t->quota == quota) return std::string();
    t->quota = quota;
    NEST_RETURN_IF_ERROR(tx.UpdateTenant(*t, 0, note).status());
    return std::string();
  });
}

absl::StatusOr<QuotaView> Commands::GetQuota(const std::string& name) {
  const std::string& tenant = name.empty() ? tenant_.str() : name;
  NEST_RETURN_IF_ERROR(ValidateName("tenant", tenant));
  auto not_found = [&] {
    return absl::NotFoundError(
        absl::StrCat("tenant \"", tenant, "\" was not found"));
  };
  // A tenant learns nothing of another tenant, not even that it exists.
  if (!cluster_wide_ && TenantId(tenant) != tenant_) return not_found();
  QuotaView v;
  NEST_RETURN_IF_ERROR(store_.Read([&](store::ReadTx& tx) -> absl::Status {
    auto t = tx.GetTenant(TenantId(tenant));
    if (absl::IsNotFound(t.status())) return not_found();
    NEST_RETURN_IF_ERROR(t.status());
    v.tenant = t->name;
    v.quota = t->quota;
    NEST_ASSIGN_OR_RETURN(
        v.used, TenantUsage(tx, t->name, options_.placement.vmm_overhead_mib));
    return absl::OkStatus();
  }));
  return v;
}

absl::StatusOr<std::vector<QuotaView>> Commands::ListQuotas() {
  std::vector<QuotaView> out;
  NEST_RETURN_IF_ERROR(store_.Read([&](store::ReadTx& tx) -> absl::Status {
    store::ListQuery q;
    do {
      NEST_ASSIGN_OR_RETURN(store::Page<store::Tenant> page, tx.ListTenants(q));
      for (const store::Tenant& t : page.items) {
        QuotaView v;
        v.tenant = t.name;
        v.quota = t.quota;
        NEST_ASSIGN_OR_RETURN(
            v.used,
            TenantUsage(tx, t.name, options_.placement.vmm_overhead_mib));
        out.push_back(std::move(v));
      }
      q.page_token = page.next_page_token;
    } while (!q.page_token.empty());
    return absl::OkStatus();
  }));
  return out;
}

}  // namespace nest::control
