// Internal to store/: the one place SQLite's C handles are wrapped. Nothing
// outside store/ may include this header (it pulls in sqlite3.h).
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "core/status.h"

namespace nest::store::internal {

struct ConnCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using Conn = std::unique_ptr<sqlite3, ConnCloser>;

// Turns a SQLite result code into a Status: BUSY/LOCKED -> UNAVAILABLE,
// FULL -> RESOURCE_EXHAUSTED, CORRUPT/NOTADB -> DATA_LOSS,
// CONSTRAINT -> FAILED_PRECONDITION, anything else -> INTERNAL. The message
// carries `context` and sqlite3_errmsg(db) when db is given.
absl::Status SqliteError(sqlite3* db, int rc, absl::string_view context);

// Opens (creating if `create`) a connection with the store's settings: WAL,
// synchronous=FULL, foreign keys on, busy_timeout. Not thread-safe to share;
// one connection per thread at a time.
absl::StatusOr<Conn> OpenConnection(const std::string& path, bool create,
                                    int busy_timeout_ms);

// Runs one or more statements that return no rows.
absl::Status Exec(sqlite3* db, absl::string_view sql);

class Db;

// A prepared statement with sequential binding: each Bind*() fills the next
// parameter. A bind error is kept and returned by the next Step()/Run().
class Stmt {
 public:
  static absl::StatusOr<Stmt> Prepare(sqlite3* db, absl::string_view sql);

  Stmt(Stmt&& o) noexcept
      : db_(o.db_),
        stmt_(o.stmt_),
        home_(o.home_),
        next_(o.next_),
        bind_rc_(o.bind_rc_) {
    o.stmt_ = nullptr;
  }
  Stmt& operator=(Stmt&&) = delete;
  ~Stmt();

  Stmt& Bind(absl::string_view text);
  Stmt& Bind(const std::string& text) { return Bind(absl::string_view(text)); }
  Stmt& Bind(const char* text) { return Bind(absl::string_view(text)); }
  Stmt& BindInt(int64_t v);
  Stmt& BindBlob(absl::string_view bytes);
  Stmt& BindNull();
  Stmt& BindOptInt(const std::optional<int64_t>& v) {
    return v ? BindInt(*v) : BindNull();
  }

  // Advances; true when a row is available.
  [[nodiscard]] absl::StatusOr<bool> Step();
  // Steps to completion, ignoring rows.
  [[nodiscard]] absl::Status Run();
  // Makes the statement runnable again; bindings restart at parameter 1.
  void Reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
    next_ = 1;
    bind_rc_ = SQLITE_OK;
  }

  int64_t Int(int col) const { return sqlite3_column_int64(stmt_, col); }
  bool IsNull(int col) const {
    return sqlite3_column_type(stmt_, col) == SQLITE_NULL;
  }
  std::optional<int64_t> OptInt(int col) const {
    if (IsNull(col)) return std::nullopt;
    return Int(col);
  }
  std::string Text(int col) const;

  // The extended result code of the last failed Step, for callers that map
  // constraint violations to their own messages.
  int last_rc() const { return last_rc_; }

 private:
  friend class Db;
  Stmt(sqlite3* db, sqlite3_stmt* stmt, Db* home = nullptr)
      : db_(db), stmt_(stmt), home_(home) {}
  void Check(int rc) {
    if (rc != SQLITE_OK && bind_rc_ == SQLITE_OK) bind_rc_ = rc;
  }

  sqlite3* db_;
  sqlite3_stmt* stmt_;
  Db* home_;  // non-null: cached, goes back to home_ instead of finalize
  int next_ = 1;
  int bind_rc_ = SQLITE_OK;
  int last_rc_ = SQLITE_OK;
};

// A connection plus a cache of its prepared statements: the store runs the
// same few dozen statements millions of times, and parsing SQL each time
// cost more than executing it. Thread-compatible: one thread at a time.
class Db {
 public:
  explicit Db(Conn conn) : conn_(std::move(conn)) {}
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  sqlite3* raw() const { return conn_.get(); }

  // A statement for `sql`, prepared once and reused after each Stmt using
  // it is destroyed. Two live Stmts with the same SQL get separate
  // statements.
  [[nodiscard]] absl::StatusOr<Stmt> Prepare(absl::string_view sql);

 private:
  friend class Stmt;
  void Return(sqlite3_stmt* stmt);

  Conn conn_;
  absl::flat_hash_map<std::string, sqlite3_stmt*> idle_;
};

}  // namespace nest::store::internal
