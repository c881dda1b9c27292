// The IPAM's rows. They ride in the caller's transaction: an allocation
// committed without its VM (or the reverse) would leak an address or, after
// a restart, hand one out twice.

#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/validate.h"
#include "store/sqlite_util.h"
#include "store/store.h"

namespace nest::store {

using internal::Stmt;

namespace {

constexpr size_t kMaxFieldLength = 256;

absl::Status ValidateRow(const IpAllocationRow& row) {
  for (const auto& [field, value] :
       {std::pair<const char*, const std::string&>{"kind", row.kind},
        {"owner", row.owner},
        {"prefix", row.prefix}}) {
    if (value.empty() || value.size() > kMaxFieldLength) {
      return absl::InvalidArgumentError(
          absl::StrCat("ip allocation ", field, " must be 1 to ",
                       kMaxFieldLength, " characters, got ", value.size()));
    }
  }
  return absl::OkStatus();
}

std::string Describe(absl::string_view kind, absl::string_view owner) {
  return absl::StrCat("ip allocation ", kind, " of ", QuoteForMessage(owner));
}

}  // namespace

absl::StatusOr<std::vector<IpAllocationRow>> ReadTx::ListIpAllocations() {
  NEST_ASSIGN_OR_RETURN(Stmt s, db_->Prepare("SELECT kind, owner, prefix FROM "
                                             "ip_allocations ORDER BY kind, "
                                             "owner"));
  std::vector<IpAllocationRow> out;
  while (true) {
    NEST_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    out.push_back(IpAllocationRow{s.Text(0), s.Text(1), s.Text(2)});
  }
  return out;
}

absl::StatusOr<std::string> ReadTx::GetIpAllocation(absl::string_view kind,
                                                    absl::string_view owner) {
  NEST_ASSIGN_OR_RETURN(Stmt s,
                        db_->Prepare("SELECT prefix FROM ip_allocations "
                                     "WHERE kind = ? AND owner = ?"));
  s.Bind(kind).Bind(owner);
  NEST_ASSIGN_OR_RETURN(bool row, s.Step());
  return row ? s.Text(0) : std::string();
}

absl::Status WriteTx::PutIpAllocation(const IpAllocationRow& row) {
  NEST_RETURN_IF_ERROR(ValidateRow(row));
  // Both conflicts are looked up rather than read off a constraint error,
  // so the message can name who holds what.
  NEST_ASSIGN_OR_RETURN(
      Stmt s, db_->Prepare("SELECT kind, owner, prefix FROM ip_allocations "
                           "WHERE (kind = ? AND owner = ?) OR prefix = ?"));
  s.Bind(row.kind).Bind(row.owner).Bind(row.prefix);
  while (true) {
    NEST_ASSIGN_OR_RETURN(bool found, s.Step());
    if (!found) break;
    IpAllocationRow cur{s.Text(0), s.Text(1), s.Text(2)};
    if (cur == row) return absl::OkStatus();
    if (cur.kind == row.kind && cur.owner == row.owner) {
      return absl::AlreadyExistsError(
          absl::StrCat(Describe(row.kind, row.owner), " already holds ",
                       cur.prefix, ", not ", row.prefix));
    }
    return absl::AlreadyExistsError(absl::StrCat(
        row.prefix, " is already held by ", Describe(cur.kind, cur.owner),
        "; refusing to give it to ", QuoteForMessage(row.owner)));
  }
  NEST_ASSIGN_OR_RETURN(
      Stmt ins, db_->Prepare("INSERT INTO ip_allocations(kind, owner, prefix) "
                             "VALUES (?, ?, ?)"));
  ins.Bind(row.kind).Bind(row.owner).Bind(row.prefix);
  NEST_RETURN_IF_ERROR(Annotate(
      ins.Run(), absl::StrCat("saving ", Describe(row.kind, row.owner))));
  ++rows_;
  return absl::OkStatus();
}

absl::Status WriteTx::DeleteIpAllocation(absl::string_view kind,
                                         absl::string_view owner) {
  NEST_ASSIGN_OR_RETURN(
      Stmt s, db_->Prepare("DELETE FROM ip_allocations WHERE kind = ? AND "
                           "owner = ?"));
  s.Bind(kind).Bind(owner);
  NEST_RETURN_IF_ERROR(
      Annotate(s.Run(), absl::StrCat("deleting ", Describe(kind, owner))));
  ++rows_;
  return absl::OkStatus();
}

absl::Status WriteTx::ReplaceIpAllocations(
    const std::vector<IpAllocationRow>& rows) {
  std::map<std::pair<std::string, std::string>, const IpAllocationRow*> want;
  for (const IpAllocationRow& row : rows) {
    NEST_RETURN_IF_ERROR(ValidateRow(row));
    if (!want.emplace(std::pair(row.kind, row.owner), &row).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(Describe(row.kind, row.owner), " is listed twice"));
    }
  }
  NEST_ASSIGN_OR_RETURN(std::vector<IpAllocationRow> have, ListIpAllocations());
  // Deletes first: a prefix moving from one owner to another in the same
  // call must be free before it is put.
  for (const IpAllocationRow& cur : have) {
    auto it = want.find(std::pair(cur.kind, cur.owner));
    if (it == want.end() || *it->second != cur) {
      NEST_RETURN_IF_ERROR(DeleteIpAllocation(cur.kind, cur.owner));
    }
  }
  for (const IpAllocationRow& row : rows) {
    NEST_RETURN_IF_ERROR(PutIpAllocation(row));
  }
  return absl::OkStatus();
}

}  // namespace nest::store
