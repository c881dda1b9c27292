// API tokens: creation (secret shown once), listing, revocation and the
// lookup every authenticated request makes.
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "control/commands.h"
#include "core/secure_random.h"
#include "core/sha256.h"
#include "core/validate.h"

namespace nest::control {
namespace {

constexpr absl::string_view kSecretPrefix = "nest_";
constexpr size_t kMaxDescription = 256;

bool KnownRole(absl::string_view role) {
  return role == "operator" || role == "tenant-admin" ||
         role == "tenant-reader";
}

}  // namespace

Commands Commands::As(const TenantId& tenant, std::string actor,
                      bool cluster_wide) const {
  Commands c(store_, controller_, images_, clock_, options_, tenant);
  c.actor_ = std::move(actor);
  c.cluster_wide_ = cluster_wide;
  return c;
}

absl::StatusOr<TokenView> Commands::CreateToken(
    const std::string& request_id, const std::string& tenant,
    const std::string& role, const std::string& description) {
  FieldErrors errors;
  if (absl::Status s = ValidateName("tenant", tenant); !s.ok()) {
    errors.Add("tenant", std::string(s.message()));
  }
  if (!KnownRole(role)) {
    errors.Add("role",
               absl::StrCat("must be operator, tenant-admin or tenant-reader, "
                            "got \"",
                            role, "\""));
  }
  if (description.size() > kMaxDescription) {
    errors.Add("description", absl::StrCat("must be at most ", kMaxDescription,
                                           " bytes, got ", description.size()));
  }
  NEST_RETURN_IF_ERROR(errors.ToStatus());
  NEST_ASSIGN_OR_RETURN(std::string secret, SecureRandomHex(20));
  secret = absl::StrCat(kSecretPrefix, secret);
  NEST_ASSIGN_OR_RETURN(std::string id_hex, SecureRandomHex(5));
  store::ApiTokenRow row;
  row.id = absl::StrCat("tok-", id_hex);
  row.tenant = TenantId(tenant);
  row.role = role;
  row.digest = Sha256Hex(secret);
  row.description = description;
  NEST_RETURN_IF_ERROR(store_.Write([&](store::WriteTx& tx) -> absl::Status {
    tx.SetActor(actor_, request_id);
    NEST_ASSIGN_OR_RETURN(row, tx.CreateApiToken(row));
    store::Event e;
    e.kind = "token";
    e.name = row.id;
    e.tenant = row.tenant;
    e.reason = "TokenCreated";
    e.message = absl::StrCat(role, " token for tenant ", tenant,
                             description.empty() ? "" : ": ", description);
    return tx.AppendEvent(e).status();
  }));
  return TokenView{row, secret};
}

absl::StatusOr<std::vector<TokenView>> Commands::ListTokens() {
  std::vector<TokenView> out;
  NEST_RETURN_IF_ERROR(store_.Read([&](store::ReadTx& tx) -> absl::Status {
    NEST_ASSIGN_OR_RETURN(auto rows, tx.ListApiTokens());
    for (auto& r : rows) out.push_back(TokenView{std::move(r), ""});
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<TokenView> Commands::RevokeToken(const std::string& request_id,
                                                const std::string& id) {
  store::ApiTokenRow row;
  NEST_RETURN_IF_ERROR(store_.Write([&](store::WriteTx& tx) -> absl::Status {
    tx.SetActor(actor_, request_id);
    NEST_ASSIGN_OR_RETURN(store::ApiTokenRow before, tx.GetApiToken(id));
    NEST_ASSIGN_OR_RETURN(row, tx.RevokeApiToken(id));
    if (before.revoked_at != absl::InfinitePast()) return absl::OkStatus();
    store::Event e;
    e.kind = "token";
    e.name = row.id;
    e.tenant = row.tenant;
    e.reason = "TokenRevoked";
    e.message = absl::StrCat(row.role, " token for tenant ", row.tenant.str(),
                             " revoked");
    return tx.AppendEvent(e).status();
  }));
  return TokenView{row, ""};
}

absl::StatusOr<store::ApiTokenRow> Commands::Authenticate(
    absl::string_view secret) {
  const auto denied = absl::UnauthenticatedError(
      "invalid or revoked API token (nestctl --token, or NEST_TOKEN)");
  if (!absl::StartsWith(secret, kSecretPrefix) || secret.size() > 256) {
    return denied;
  }
  std::string digest = Sha256Hex(secret);
  absl::StatusOr<store::ApiTokenRow> row;
  NEST_RETURN_IF_ERROR(store_.Read([&](store::ReadTx& tx) -> absl::Status {
    row = tx.GetApiTokenByDigest(digest);
    return absl::OkStatus();
  }));
  if (!row.ok()) {
    if (absl::IsNotFound(row.status())) return denied;
    return row.status();
  }
  if (row->revoked_at != absl::InfinitePast()) return denied;
  return row;
}

}  // namespace nest::control
