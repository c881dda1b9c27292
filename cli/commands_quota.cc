// nestctl quota set|get|list: per-tenant limits (set and list are for
// operators; a tenant token reads its own quota).
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "cli/commands.h"
#include "cli/documents.h"
#include "cli/errors.h"
#include "cli/proto_doc.h"
#include "cli/table.h"
#include "core/resources.h"

namespace nest::cli {
namespace {

// Limits as plain numbers (absent = unlimited), not wrapper objects.
Json QuotaDoc(const nest::v1::TenantQuota& q) {
  Json doc = MessageToJson(q);
  doc["kind"] = "Quota";
  Json limits = Json::object();
  const nest::v1::Quota& l = q.quota();
  if (l.has_vcpus()) limits["vcpus"] = l.vcpus().value();
  if (l.has_memory_mib()) limits["memory_mib"] = l.memory_mib().value();
  if (l.has_vms()) limits["vms"] = l.vms().value();
  if (l.has_containers()) limits["containers"] = l.containers().value();
  if (l.has_images()) limits["images"] = l.images().value();
  doc["quota"] = limits;
  return doc;
}

// "used/limit", or "used/-" when unlimited.
std::string Cell(int64_t used, bool limited,
                 const google::protobuf::Int64Value& limit) {
  return absl::StrCat(used, "/", limited ? absl::StrCat(limit.value()) : "-");
}

std::string QuotaTable(const std::vector<nest::v1::TenantQuota>& all) {
  Table table({"TENANT", "VCPUS", "MEMORY_MIB", "VMS", "CONTAINERS", "IMAGES"});
  for (const auto& t : all) {
    const nest::v1::Quota& q = t.quota();
    const nest::v1::QuotaUsage& u = t.used();
    table.AddRow({t.tenant(), Cell(u.vcpus(), q.has_vcpus(), q.vcpus()),
                  Cell(u.memory_mib(), q.has_memory_mib(), q.memory_mib()),
                  Cell(u.vms(), q.has_vms(), q.vms()),
                  Cell(u.containers(), q.has_containers(), q.containers()),
                  Cell(u.images(), q.has_images(), q.images())});
  }
  return table.Render();
}

absl::Status Render(const Context& ctx,
                    const std::vector<nest::v1::TenantQuota>& all) {
  if (ctx.format == Format::kJson || ctx.format == Format::kYaml) {
    std::vector<Json> docs;
    for (const auto& q : all) docs.push_back(QuotaDoc(q));
    *ctx.out << RenderDocuments(docs, ctx.format, false);
    return absl::OkStatus();
  }
  *ctx.out << QuotaTable(all);
  return absl::OkStatus();
}

// Applies one flag: "unlimited" clears the limit, a count or (for memory)
// a size sets it.
absl::Status ApplyLimit(const std::string& flag, const std::string& text,
                        bool size, nest::v1::Quota* q,
                        google::protobuf::Int64Value* (nest::v1::Quota::*set)(),
                        void (nest::v1::Quota::*clear)()) {
  if (text.empty()) return absl::OkStatus();
  if (text == "unlimited") {
    (q->*clear)();
    return absl::OkStatus();
  }
  int64_t v = 0;
  if (size) {
    NEST_ASSIGN_OR_RETURN(v, ParseMiB(flag, text));
  } else if (!absl::SimpleAtoi(text, &v) || v < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        flag, " must be a count >= 0 or \"unlimited\", got \"", text, "\""));
  }
  (q->*set)()->set_value(v);
  return absl::OkStatus();
}

}  // namespace

absl::Status QuotaSet(const Context& ctx, const std::string& tenant,
                      const QuotaFlags& flags) {
  // Flags change only what they name: start from the current quota.
  nest::v1::GetQuotaRequest get;
  get.set_tenant(tenant);
  nest::v1::GetQuotaResponse current;
  grpc::Status got =
      ctx.client->quotas().GetQuota(ctx.client->Context().get(), get, &current);
  if (!got.ok() && got.error_code() != grpc::StatusCode::NOT_FOUND) {
    return FromGrpc(got, absl::StrCat("get quota of ", tenant));
  }
  nest::v1::SetQuotaRequest req;
  req.set_tenant(tenant);
  nest::v1::Quota* q = req.mutable_quota();
  *q = current.quota().quota();
  using Q = nest::v1::Quota;
  NEST_RETURN_IF_ERROR(ApplyLimit("--vcpus", flags.vcpus, false, q,
                                  &Q::mutable_vcpus, &Q::clear_vcpus));
  NEST_RETURN_IF_ERROR(ApplyLimit("--memory", flags.memory, true, q,
                                  &Q::mutable_memory_mib,
                                  &Q::clear_memory_mib));
  NEST_RETURN_IF_ERROR(
      ApplyLimit("--vms", flags.vms, false, q, &Q::mutable_vms, &Q::clear_vms));
  NEST_RETURN_IF_ERROR(ApplyLimit("--containers", flags.containers, false, q,
                                  &Q::mutable_containers,
                                  &Q::clear_containers));
  NEST_RETURN_IF_ERROR(ApplyLimit("--images", flags.images, false, q,
                                  &Q::mutable_images, &Q::clear_images));
  nest::v1::SetQuotaResponse resp;
  NEST_RETURN_IF_ERROR(FromGrpc(
      ctx.client->quotas().SetQuota(ctx.client->Context().get(), req, &resp),
      absl::StrCat("set quota of ", tenant)));
  return Render(ctx, {resp.quota()});
}

absl::Status QuotaGet(const Context& ctx, const std::string& tenant) {
  nest::v1::GetQuotaRequest req;
  req.set_tenant(tenant);
  nest::v1::GetQuotaResponse resp;
  NEST_RETURN_IF_ERROR(FromGrpc(
      ctx.client->quotas().GetQuota(ctx.client->Context().get(), req, &resp),
      tenant.empty() ? std::string("get quota")
                     : absl::StrCat("get quota of ", tenant)));
  return Render(ctx, {resp.quota()});
}

absl::Status QuotaList(const Context& ctx) {
  nest::v1::ListQuotasRequest req;
  nest::v1::ListQuotasResponse resp;
  NEST_RETURN_IF_ERROR(FromGrpc(
      ctx.client->quotas().ListQuotas(ctx.client->Context().get(), req, &resp),
      "list quotas"));
  return Render(ctx, {resp.quotas().begin(), resp.quotas().end()});
}

}  // namespace nest::cli
