// Workload revisions: the templates updates replaced, kept for `rollout
// undo`. A revision is the workload row as it was, in a table with the
// same columns (Row<Workload>), so it reads back with the same code.

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "store/rows.h"
#include "store/sqlite_util.h"
#include "store/store.h"

namespace nest::store {

using internal::Row;
using internal::Stmt;

namespace {

// Row<Workload>'s columns: the revision's own follow them.
const int kWorkloadCols = [] {
  int n = 1;
  for (char c : Row<Workload>::kCols) n += c == ',';
  return n;
}();

}  // namespace

absl::Status WriteTx::KeepRevision(const Workload& replaced) {
  // ?1 and ?2 are the first two columns Row<Workload>::Bind binds: tenant
  // and name.
  static const std::string insert = absl::StrCat(
      "INSERT INTO workload_revisions(", Row<Workload>::kCols,
      ", replaced_ns, revision) VALUES(",
      absl::StrJoin(std::vector<std::string>(kWorkloadCols + 1, "?"), ", "),
      ", (SELECT COALESCE(MAX(revision), 0) + 1 FROM workload_revisions "
      "WHERE tenant = ?1 AND name = ?2))");
  NEST_ASSIGN_OR_RETURN(Stmt s, db_->Prepare(insert));
  Row<Workload>::Bind(s, replaced);
  internal::BindTime(s, clock_.Now());
  NEST_RETURN_IF_ERROR(s.Run());
  ++rows_;
  NEST_ASSIGN_OR_RETURN(
      Stmt prune,
      db_->Prepare(absl::StrCat(
          "DELETE FROM workload_revisions WHERE tenant = ?1 AND name = ?2 "
          "AND revision <= (SELECT MAX(revision) FROM workload_revisions "
          "WHERE tenant = ?1 AND name = ?2) - ",
          kMaxRevisions)));
  prune.Bind(replaced.tenant.str()).Bind(replaced.name.str());
  return prune.Run();
}

absl::StatusOr<std::vector<WorkloadRevision>> ReadTx::ListWorkloadRevisions(
    const TenantId& tenant, const WorkloadId& name) {
  static const std::string select = absl::StrCat(
      "SELECT ", Row<Workload>::kCols,
      ", revision, replaced_ns FROM workload_revisions WHERE tenant = ? AND "
      "name = ? ORDER BY revision");
  NEST_ASSIGN_OR_RETURN(Stmt s, db_->Prepare(select));
  s.Bind(tenant.str()).Bind(name.str());
  std::vector<WorkloadRevision> out;
  const int kRevisionCol = kWorkloadCols;
  while (true) {
    NEST_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    WorkloadRevision r;
    NEST_ASSIGN_OR_RETURN(r.workload, Row<Workload>::Read(s));
    r.revision = s.Int(kRevisionCol);
    r.replaced_at = internal::ReadTime(s, kRevisionCol + 1);
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace nest::store
