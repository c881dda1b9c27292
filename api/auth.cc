#include "api/auth.h"

#include <map>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace nest::api {
namespace {

const std::map<std::string, Access, std::less<>>& AccessTable() {
  static const auto* table = new std::map<std::string, Access, std::less<>>{
      // Cluster-wide: hosts, the whole cluster's plan, tokens.
      {"CreateHost", Access::kOperator},
      {"GetHost", Access::kOperator},
      {"ListHosts", Access::kOperator},
      {"DeleteHost", Access::kOperator},
      {"CordonHost", Access::kOperator},
      {"UncordonHost", Access::kOperator},
      {"DrainHost", Access::kOperator},
      {"DryRun", Access::kOperator},
      {"CreateToken", Access::kOperator},
      {"ListTokens", Access::kOperator},
      {"RevokeToken", Access::kOperator},
      {"SetQuota", Access::kOperator},
      {"ListQuotas", Access::kOperator},
      // A tenant's objects, changed.
      {"CreateVmGroup", Access::kWrite},
      {"UpdateVmGroup", Access::kWrite},
      {"DeleteVmGroup", Access::kWrite},
      {"ScaleVmGroup", Access::kWrite},
      {"StopVm", Access::kWrite},
      {"StartVm", Access::kWrite},
      {"DeleteVm", Access::kWrite},
      {"CreateWorkload", Access::kWrite},
      {"UpdateWorkload", Access::kWrite},
      {"DeleteWorkload", Access::kWrite},
      {"ScaleWorkload", Access::kWrite},
      {"RollbackWorkload", Access::kWrite},
      {"Apply", Access::kWrite},
      {"Exec", Access::kWrite},
      {"ImportImage", Access::kWrite},
      {"DeleteImage", Access::kWrite},
      // A tenant's objects, read.
      {"GetVmGroup", Access::kRead},
      {"ListVmGroups", Access::kRead},
      {"GetVm", Access::kRead},
      {"ListVms", Access::kRead},
      {"GetConsoleLog", Access::kRead},
      {"GetWorkload", Access::kRead},
      {"ListWorkloads", Access::kRead},
      {"ListWorkloadRevisions", Access::kRead},
      {"GetContainer", Access::kRead},
      {"ListContainers", Access::kRead},
      {"StreamLogs", Access::kRead},
      {"GetContainerStats", Access::kRead},
      {"ListImages", Access::kRead},
      {"ListEvents", Access::kRead},
      {"Watch", Access::kRead},
      {"Explain", Access::kRead},
      {"GetUsage", Access::kRead},
      {"GetQuota", Access::kRead},  // its own tenant's only (Commands)
  };
  return *table;
}

bool Allows(absl::string_view role, Access access) {
  switch (access) {
    case Access::kRead:
      return role == "operator" || role == "tenant-admin" ||
             role == "tenant-reader";
    case Access::kWrite:
      return role == "operator" || role == "tenant-admin";
    case Access::kOperator:
      return role == "operator";
    case Access::kDenied:
      return false;
  }
  return false;
}

}  // namespace

Access AccessOf(absl::string_view rpc) {
  const auto& table = AccessTable();
  auto it = table.find(rpc);
  return it == table.end() ? Access::kDenied : it->second;
}

absl::StatusOr<control::Commands> Gate::Enter(const grpc::ServerContext* ctx,
                                              absl::string_view rpc) {
  if (mode_ == AuthMode::kTrustAll) return EnterWithToken("", rpc);
  const auto& md = ctx->client_metadata();
  auto it = md.find("authorization");
  if (it == md.end()) {
    return absl::UnauthenticatedError(
        "this call needs an API token (nestctl --token, or NEST_TOKEN)");
  }
  absl::string_view value(it->second.data(), it->second.size());
  constexpr absl::string_view kBearer = "Bearer ";
  if (!absl::StartsWith(value, kBearer)) {
    return absl::UnauthenticatedError(
        "the authorization header must be \"Bearer <token>\"");
  }
  return EnterWithToken(value.substr(kBearer.size()), rpc);
}

absl::StatusOr<control::Commands> Gate::EnterWithToken(absl::string_view secret,
                                                       absl::string_view rpc) {
  Access access = AccessOf(rpc);
  if (mode_ == AuthMode::kTrustAll) {
    if (access == Access::kDenied) {
      return absl::PermissionDeniedError(absl::StrCat(rpc, " is not allowed"));
    }
    return base_.As(base_.tenant(), "api", /*cluster_wide=*/true);
  }
  NEST_ASSIGN_OR_RETURN(store::ApiTokenRow token, base_.Authenticate(secret));
  if (!Allows(token.role, access)) {
    return absl::PermissionDeniedError(
        absl::StrCat("a ", token.role, " token may not call ", rpc));
  }
  return base_.As(token.tenant, token.id, token.role == "operator");
}

}  // namespace nest::api
