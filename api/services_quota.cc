// QuotaService: operators set per-tenant quotas; tenants read their own.
#include "api/services_internal.h"
#include "nest/v1/quota.grpc.pb.h"

namespace nest::api::internal {
namespace {

using grpc::ServerContext;
using grpc::Status;

store::Quota FromProto(const v1::Quota& q) {
  store::Quota out;
  if (q.has_vcpus()) out.vcpus = q.vcpus().value();
  if (q.has_memory_mib()) out.memory_mib = q.memory_mib().value();
  if (q.has_vms()) out.vms = q.vms().value();
  if (q.has_containers()) out.containers = q.containers().value();
  if (q.has_images()) out.images = q.images().value();
  return out;
}

v1::TenantQuota ToProto(const control::QuotaView& v) {
  v1::TenantQuota out;
  out.set_tenant(v.tenant.str());
  v1::Quota* q = out.mutable_quota();
  if (v.quota.vcpus) q->mutable_vcpus()->set_value(*v.quota.vcpus);
  if (v.quota.memory_mib)
    q->mutable_memory_mib()->set_value(*v.quota.memory_mib);
  if (v.quota.vms) q->mutable_vms()->set_value(*v.quota.vms);
  if (v.quota.containers)
    q->mutable_containers()->set_value(*v.quota.containers);
  if (v.quota.images) q->mutable_images()->set_value(*v.quota.images);
  v1::QuotaUsage* u = out.mutable_used();
  u->set_vcpus(v.used.vcpus);
  u->set_memory_mib(v.used.memory_mib);
  u->set_vms(v.used.vms);
  u->set_containers(v.used.containers);
  u->set_images(v.used.images);
  return out;
}

class QuotaServiceImpl final : public v1::QuotaService::Service {
 public:
  explicit QuotaServiceImpl(Gate& g) : gate_(g) {}

  Status SetQuota(ServerContext* ctx, const v1::SetQuotaRequest* req,
                  v1::SetQuotaResponse* resp) override {
    auto c = gate_.Enter(ctx, "SetQuota");
    if (!c.ok()) return ToGrpcStatus(c.status());
    auto w = c->SetQuota(MetaOf("SetQuota", *req, req->options()),
                         req->tenant(), FromProto(req->quota()));
    if (!w.ok()) return ToGrpcStatus(w.status());
    auto v = c->GetQuota(req->tenant());
    if (!v.ok()) return ToGrpcStatus(v.status());
    *resp->mutable_quota() = ToProto(*v);
    return Status::OK;
  }

  Status GetQuota(ServerContext* ctx, const v1::GetQuotaRequest* req,
                  v1::GetQuotaResponse* resp) override {
    auto c = gate_.Enter(ctx, "GetQuota");
    if (!c.ok()) return ToGrpcStatus(c.status());
    auto v = c->GetQuota(req->tenant());
    if (!v.ok()) return ToGrpcStatus(v.status());
    *resp->mutable_quota() = ToProto(*v);
    return Status::OK;
  }

  Status ListQuotas(ServerContext* ctx, const v1::ListQuotasRequest*,
                    v1::ListQuotasResponse* resp) override {
    auto c = gate_.Enter(ctx, "ListQuotas");
    if (!c.ok()) return ToGrpcStatus(c.status());
    auto all = c->ListQuotas();
    if (!all.ok()) return ToGrpcStatus(all.status());
    for (const auto& v : *all) *resp->add_quotas() = ToProto(v);
    return Status::OK;
  }

 private:
  Gate& gate_;
};

}  // namespace

std::unique_ptr<grpc::Service> MakeQuotaService(Gate& g) {
  return std::make_unique<QuotaServiceImpl>(g);
}

}  // namespace nest::api::internal
