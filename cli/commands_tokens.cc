// nestctl token create|list|revoke (operators), and the token nestctl
// uses when none is given.
#include <cstdlib>
#include <fstream>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "cli/commands.h"
#include "cli/documents.h"
#include "cli/errors.h"
#include "cli/proto_doc.h"
#include "cli/table.h"

namespace nest::cli {
namespace {

constexpr char kLocalTokenFile[] = "/var/lib/nest/operator.token";

Json TokenDoc(const nest::v1::ApiToken& t) {
  Json doc = MessageToJson(t);
  doc["kind"] = "Token";
  return doc;
}

std::string TokenTable(const std::vector<nest::v1::ApiToken>& tokens) {
  Table table({"ID", "TENANT", "ROLE", "CREATED", "REVOKED", "DESCRIPTION"});
  for (const auto& t : tokens) {
    table.AddRow({t.id(), t.tenant(), t.role(), FormatTime(t.create_time()),
                  t.has_revoke_time() ? FormatTime(t.revoke_time()) : "-",
                  t.description().empty() ? "-" : t.description()});
  }
  return table.Render();
}

}  // namespace

std::string LocalOperatorToken() {
  const char* env = std::getenv("NEST_TOKEN_FILE");
  std::ifstream in(env != nullptr && *env ? env : kLocalTokenFile);
  std::string line;
  if (!in || !std::getline(in, line)) return "";
  return std::string(absl::StripAsciiWhitespace(line));
}

absl::Status TokenCreate(const Context& ctx, const std::string& tenant,
                         const std::string& role,
                         const std::string& description) {
  nest::v1::CreateTokenRequest req;
  req.set_tenant(tenant);
  req.set_role(role);
  req.set_description(description);
  nest::v1::CreateTokenResponse resp;
  NEST_RETURN_IF_ERROR(FromGrpc(
      ctx.client->tokens().CreateToken(ctx.client->Context().get(), req, &resp),
      "create token"));
  if (ctx.format == Format::kJson || ctx.format == Format::kYaml) {
    Json doc = TokenDoc(resp.token());
    doc["secret"] = resp.secret();
    *ctx.out << RenderDocuments({doc}, ctx.format, false);
    return absl::OkStatus();
  }
  *ctx.out << "token " << resp.token().id() << " (" << role << " of tenant "
           << tenant << "); the secret is shown only now:\n"
           << resp.secret() << "\n";
  return absl::OkStatus();
}

absl::Status TokenList(const Context& ctx) {
  nest::v1::ListTokensRequest req;
  nest::v1::ListTokensResponse resp;
  NEST_RETURN_IF_ERROR(FromGrpc(
      ctx.client->tokens().ListTokens(ctx.client->Context().get(), req, &resp),
      "list tokens"));
  std::vector<nest::v1::ApiToken> tokens(resp.tokens().begin(),
                                         resp.tokens().end());
  if (ctx.format == Format::kJson || ctx.format == Format::kYaml) {
    std::vector<Json> docs;
    for (const auto& t : tokens) docs.push_back(TokenDoc(t));
    *ctx.out << RenderDocuments(docs, ctx.format, false);
    return absl::OkStatus();
  }
  *ctx.out << TokenTable(tokens);
  return absl::OkStatus();
}

absl::Status TokenRevoke(const Context& ctx, const std::string& id) {
  nest::v1::RevokeTokenRequest req;
  req.set_id(id);
  nest::v1::RevokeTokenResponse resp;
  NEST_RETURN_IF_ERROR(FromGrpc(
      ctx.client->tokens().RevokeToken(ctx.client->Context().get(), req, &resp),
      absl::StrCat("revoke token ", id)));
  *ctx.out << "token " << id << " revoked\n";
  return absl::OkStatus();
}

}  // namespace nest::cli
