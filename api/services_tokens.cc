// TokenService: operators create, list and revoke API tokens.
#include "api/services_internal.h"
#include "nest/v1/token.grpc.pb.h"

namespace nest::api::internal {
namespace {

using grpc::ServerContext;
using grpc::Status;

// Leaves the field unset for InfinitePast ("never").
void SetTimestamp(absl::Time t,
                  google::protobuf::Timestamp* (*field)(v1::ApiToken*),
                  v1::ApiToken* msg) {
  if (t == absl::InfinitePast()) return;
  google::protobuf::Timestamp* out = field(msg);
  int64_t ns = absl::ToUnixNanos(t);
  out->set_seconds(ns / 1000000000);
  out->set_nanos(static_cast<int32_t>(ns % 1000000000));
}

v1::ApiToken ToProto(const control::TokenView& v) {
  v1::ApiToken out;
  out.set_id(v.token.id);
  out.set_tenant(v.token.tenant.str());
  out.set_role(v.token.role);
  out.set_description(v.token.description);
  SetTimestamp(
      v.token.created_at,
      [](v1::ApiToken* m) { return m->mutable_create_time(); }, &out);
  SetTimestamp(
      v.token.revoked_at,
      [](v1::ApiToken* m) { return m->mutable_revoke_time(); }, &out);
  return out;
}

class TokenServiceImpl final : public v1::TokenService::Service {
 public:
  explicit TokenServiceImpl(Gate& g) : gate_(g) {}

  Status CreateToken(ServerContext* ctx, const v1::CreateTokenRequest* req,
                     v1::CreateTokenResponse* resp) override {
    auto c = gate_.Enter(ctx, "CreateToken");
    if (!c.ok()) return ToGrpcStatus(c.status());
    auto t = c->CreateToken(req->options().request_id(), req->tenant(),
                            req->role(), req->description());
    if (!t.ok()) return ToGrpcStatus(t.status());
    *resp->mutable_token() = ToProto(*t);
    resp->set_secret(t->secret);
    return Status::OK;
  }

  Status ListTokens(ServerContext* ctx, const v1::ListTokensRequest*,
                    v1::ListTokensResponse* resp) override {
    auto c = gate_.Enter(ctx, "ListTokens");
    if (!c.ok()) return ToGrpcStatus(c.status());
    auto tokens = c->ListTokens();
    if (!tokens.ok()) return ToGrpcStatus(tokens.status());
    for (const auto& t : *tokens) *resp->add_tokens() = ToProto(t);
    return Status::OK;
  }

  Status RevokeToken(ServerContext* ctx, const v1::RevokeTokenRequest* req,
                     v1::RevokeTokenResponse* resp) override {
    auto c = gate_.Enter(ctx, "RevokeToken");
    if (!c.ok()) return ToGrpcStatus(c.status());
    auto t = c->RevokeToken(req->options().request_id(), req->id());
    if (!t.ok()) return ToGrpcStatus(t.status());
    *resp->mutable_token() = ToProto(*t);
    return Status::OK;
  }

 private:
  Gate& gate_;
};

}  // namespace

std::unique_ptr<grpc::Service> MakeTokenService(Gate& g) {
  return std::make_unique<TokenServiceImpl>(g);
}

}  // namespace nest::api::internal
