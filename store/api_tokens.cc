// API bearer tokens: digests only, looked up by digest on every request.

#include "absl/strings/str_cat.h"
#include "core/validate.h"
#include "store/sqlite_util.h"
#include "store/store.h"

namespace nest::store {

using internal::Stmt;

namespace {

constexpr char kColumns[] =
    "id, tenant, role, digest, description, created_ns, revoked_ns";

ApiTokenRow FromRow(Stmt& s) {
  ApiTokenRow t;
  t.id = s.Text(0);
  t.tenant = TenantId(s.Text(1));
  t.role = s.Text(2);
  t.digest = s.Text(3);
  t.description = s.Text(4);
  t.created_at = absl::FromUnixNanos(s.Int(5));
  int64_t revoked = s.Int(6);
  t.revoked_at =
      revoked == 0 ? absl::InfinitePast() : absl::FromUnixNanos(revoked);
  return t;
}

}  // namespace

absl::StatusOr<std::vector<ApiTokenRow>> ReadTx::ListApiTokens() {
  NEST_ASSIGN_OR_RETURN(Stmt s,
                        db_->Prepare(absl::StrCat("SELECT ", kColumns,
                                                  " FROM api_tokens ORDER BY "
                                                  "created_ns, id")));
  std::vector<ApiTokenRow> out;
  while (true) {
    NEST_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    out.push_back(FromRow(s));
  }
  return out;
}

absl::StatusOr<ApiTokenRow> ReadTx::GetApiTokenByDigest(
    absl::string_view digest) {
  NEST_ASSIGN_OR_RETURN(
      Stmt s, db_->Prepare(absl::StrCat("SELECT ", kColumns,
                                        " FROM api_tokens WHERE digest = ?")));
  s.Bind(digest);
  NEST_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return absl::NotFoundError("no such API token");
  return FromRow(s);
}

absl::StatusOr<ApiTokenRow> ReadTx::GetApiToken(absl::string_view id) {
  NEST_ASSIGN_OR_RETURN(
      Stmt s, db_->Prepare(absl::StrCat("SELECT ", kColumns,
                                        " FROM api_tokens WHERE id = ?")));
  s.Bind(id);
  NEST_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) {
    return absl::NotFoundError(
        absl::StrCat("API token ", QuoteForMessage(id), " not found"));
  }
  return FromRow(s);
}

absl::StatusOr<ApiTokenRow> WriteTx::CreateApiToken(ApiTokenRow row) {
  if (row.id.empty() || row.digest.empty() || row.tenant.empty() ||
      row.role.empty()) {
    return absl::InvalidArgumentError(
        "an API token needs an id, a tenant, a role and a digest");
  }
  auto by_id = GetApiToken(row.id);
  if (by_id.ok()) {
    return absl::AlreadyExistsError(
        absl::StrCat("API token ", QuoteForMessage(row.id), " already exists"));
  }
  if (GetApiTokenByDigest(row.digest).ok()) {
    return absl::AlreadyExistsError("an API token with this secret exists");
  }
  row.created_at = clock_.Now();
  row.revoked_at = absl::InfinitePast();
  NEST_ASSIGN_OR_RETURN(
      Stmt ins, db_->Prepare(absl::StrCat("INSERT INTO api_tokens(", kColumns,
                                          ") VALUES (?, ?, ?, ?, ?, ?, 0)")));
  ins.Bind(row.id)
      .Bind(row.tenant.str())
      .Bind(row.role)
      .Bind(row.digest)
      .Bind(row.description)
      .BindInt(absl::ToUnixNanos(row.created_at));
  NEST_RETURN_IF_ERROR(Annotate(ins.Run(), "saving an API token"));
  ++rows_;
  return row;
}

absl::StatusOr<ApiTokenRow> WriteTx::RevokeApiToken(absl::string_view id) {
  NEST_ASSIGN_OR_RETURN(ApiTokenRow row, GetApiToken(id));
  if (row.revoked_at != absl::InfinitePast()) return row;
  row.revoked_at = clock_.Now();
  NEST_ASSIGN_OR_RETURN(
      Stmt up,
      db_->Prepare("UPDATE api_tokens SET revoked_ns = ? WHERE id = ?"));
  up.BindInt(absl::ToUnixNanos(row.revoked_at)).Bind(id);
  NEST_RETURN_IF_ERROR(Annotate(up.Run(), "revoking an API token"));
  ++rows_;
  return row;
}

}  // namespace nest::store
