#include "store/sqlite_util.h"

#include "absl/strings/str_cat.h"

namespace nest::store::internal {

absl::Status SqliteError(sqlite3* db, int rc, absl::string_view context) {
  std::string detail = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  std::string msg = absl::StrCat(context, ": ", detail);
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return absl::UnavailableError(msg);
    case SQLITE_FULL:
      return absl::ResourceExhaustedError(msg);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return absl::DataLossError(msg);
    case SQLITE_CONSTRAINT:
      return absl::FailedPreconditionError(msg);
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_READONLY:
      return absl::PermissionDeniedError(msg);
    default:
      return absl::InternalError(msg);
  }
}

absl::StatusOr<Conn> OpenConnection(const std::string& path, bool create,
                                    int busy_timeout_ms) {
  sqlite3* raw = nullptr;
  // NOMUTEX: each connection is used by one thread at a time under the
  // store's own locks, so SQLite's per-connection mutex is pure overhead.
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
  if (create) flags |= SQLITE_OPEN_CREATE;
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  Conn conn(raw);
  if (rc != SQLITE_OK) {
    return SqliteError(raw, rc, absl::StrCat("opening store ", path));
  }
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, busy_timeout_ms);
  // journal_mode returns a row; Exec ignores it. WAL lets readers run next to
  // the single writer; FULL syncs the WAL on every commit so a committed
  // transaction survives power loss, not just a process crash.
  NEST_RETURN_IF_ERROR(Annotate(Exec(raw,
                                     "PRAGMA journal_mode=WAL;"
                                     "PRAGMA synchronous=FULL;"
                                     "PRAGMA foreign_keys=ON;"),
                                absl::StrCat("configuring store ", path)));
  return conn;
}

absl::Status Exec(sqlite3* db, absl::string_view sql) {
  char* err = nullptr;
  std::string s(sql);
  int rc = sqlite3_exec(db, s.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string detail = err != nullptr ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    absl::Status st = SqliteError(nullptr, rc, "sql");
    return absl::Status(st.code(), absl::StrCat("sql: ", detail));
  }
  return absl::OkStatus();
}

absl::StatusOr<Stmt> Stmt::Prepare(sqlite3* db, absl::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()),
                              &stmt, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return SqliteError(db, rc, absl::StrCat("preparing ", sql));
  }
  return Stmt(db, stmt);
}

Stmt::~Stmt() {
  if (stmt_ == nullptr) return;
  if (home_ != nullptr) {
    home_->Return(stmt_);
  } else {
    sqlite3_finalize(stmt_);
  }
}

Db::~Db() {
  for (auto& [sql, stmt] : idle_) sqlite3_finalize(stmt);
}

absl::StatusOr<Stmt> Db::Prepare(absl::string_view sql) {
  auto it = idle_.find(sql);
  if (it != idle_.end()) {
    sqlite3_stmt* stmt = it->second;
    idle_.erase(it);
    return Stmt(raw(), stmt, this);
  }
  NEST_ASSIGN_OR_RETURN(Stmt fresh, Stmt::Prepare(raw(), sql));
  sqlite3_stmt* stmt = fresh.stmt_;
  fresh.stmt_ = nullptr;
  return Stmt(raw(), stmt, this);
}

void Db::Return(sqlite3_stmt* stmt) {
  sqlite3_reset(stmt);
  sqlite3_clear_bindings(stmt);
  auto [it, inserted] = idle_.try_emplace(sqlite3_sql(stmt), stmt);
  if (!inserted) sqlite3_finalize(stmt);
}

Stmt& Stmt::Bind(absl::string_view text) {
  Check(sqlite3_bind_text64(stmt_, next_++, text.data(), text.size(),
                            SQLITE_TRANSIENT, SQLITE_UTF8));
  return *this;
}

Stmt& Stmt::BindInt(int64_t v) {
  Check(sqlite3_bind_int64(stmt_, next_++, v));
  return *this;
}

Stmt& Stmt::BindBlob(absl::string_view bytes) {
  Check(sqlite3_bind_blob64(stmt_, next_++, bytes.data(), bytes.size(),
                            SQLITE_TRANSIENT));
  return *this;
}

Stmt& Stmt::BindNull() {
  Check(sqlite3_bind_null(stmt_, next_++));
  return *this;
}

absl::StatusOr<bool> Stmt::Step() {
  if (bind_rc_ != SQLITE_OK) {
    last_rc_ = bind_rc_;
    return SqliteError(db_, bind_rc_,
                       absl::StrCat("binding ", sqlite3_sql(stmt_)));
  }
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  last_rc_ = sqlite3_extended_errcode(db_);
  return SqliteError(db_, rc, "executing statement");
}

absl::Status Stmt::Run() {
  while (true) {
    NEST_ASSIGN_OR_RETURN(bool row, Step());
    if (!row) return absl::OkStatus();
  }
}

std::string Stmt::Text(int col) const {
  const void* p = sqlite3_column_blob(stmt_, col);
  int n = sqlite3_column_bytes(stmt_, col);
  if (p == nullptr || n <= 0) return std::string();
  return std::string(static_cast<const char*>(p), static_cast<size_t>(n));
}

}  // namespace nest::store::internal
