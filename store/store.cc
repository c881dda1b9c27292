#include "store/store.h"

#include <sqlite3.h>
#include <unistd.h>

#include <cstdio>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/validate.h"
#include "store/rows.h"
#include "store/schema.h"
#include "store/sqlite_util.h"

namespace nest::store {

using internal::BindTime;
using internal::Conn;
using internal::Exec;
using internal::ReadTime;
using internal::Stmt;

namespace {

constexpr size_t kMaxRequestIdLength = 256;

}  // namespace

struct Store::Reader {
  internal::Db db;
};

// ---- events (ReadTx/WriteTx) ----

absl::StatusOr<int64_t> ReadTx::LastEventSeq() {
  NEST_ASSIGN_OR_RETURN(Stmt s,
                        db_->Prepare("SELECT seq FROM sqlite_sequence WHERE "
                                     "name = 'events'"));
  NEST_ASSIGN_OR_RETURN(bool row, s.Step());
  return row ? s.Int(0) : 0;
}

absl::StatusOr<int64_t> ReadTx::OldestEventSeq() {
  NEST_ASSIGN_OR_RETURN(Stmt s, db_->Prepare("SELECT MIN(seq) FROM events"));
  NEST_ASSIGN_OR_RETURN(bool row, s.Step());
  if (row && !s.IsNull(0)) return s.Int(0);
  NEST_ASSIGN_OR_RETURN(int64_t last, LastEventSeq());
  return last + 1;
}

absl::StatusOr<std::vector<Event>> ReadTx::EventsSince(const EventQuery& q) {
  if (q.limit <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("event limit must be > 0, got ", q.limit));
  }
  NEST_ASSIGN_OR_RETURN(int64_t oldest, OldestEventSeq());
  if (q.after_seq + 1 < oldest) {
    return absl::OutOfRangeError(
        absl::StrCat("events after sequence ", q.after_seq,
                     " were pruned; the oldest retained sequence is ", oldest,
                     "; list current state and watch from there"));
  }
  std::string sql =
      "SELECT seq, time_ns, kind, name, tenant, reason, message, actor, "
      "request_id FROM events WHERE seq > ?";
  if (!q.tenant.empty()) absl::StrAppend(&sql, " AND tenant = ?");
  if (!q.kind.empty()) absl::StrAppend(&sql, " AND kind = ?");
  if (!q.name.empty()) absl::StrAppend(&sql, " AND name = ?");
  absl::StrAppend(&sql, " ORDER BY seq LIMIT ?");
  NEST_ASSIGN_OR_RETURN(Stmt s, db_->Prepare(sql));
  s.BindInt(q.after_seq);
  if (!q.tenant.empty()) s.Bind(q.tenant.str());
  if (!q.kind.empty()) s.Bind(q.kind);
  if (!q.name.empty()) s.Bind(q.name);
  s.BindInt(q.limit);
  std::vector<Event> out;
  while (true) {
    NEST_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    Event e;
    e.seq = s.Int(0);
    e.time = ReadTime(s, 1);
    e.kind = s.Text(2);
    e.name = s.Text(3);
    e.tenant = TenantId(s.Text(4));
    e.reason = s.Text(5);
    e.message = s.Text(6);
    e.actor = s.Text(7);
    e.request_id = s.Text(8);
    out.push_back(std::move(e));
  }
  return out;
}

void WriteTx::SetActor(std::string actor, std::string request_id) {
  actor_ = std::move(actor);
  request_id_ = std::move(request_id);
}

absl::StatusOr<int64_t> WriteTx::AppendEvent(Event e) {
  if (e.kind.empty() || e.reason.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "event kind and reason must be set, got kind ", QuoteForMessage(e.kind),
        " reason ", QuoteForMessage(e.reason)));
  }
  if (e.actor.empty()) e.actor = actor_;
  if (e.request_id.empty()) e.request_id = request_id_;
  NEST_ASSIGN_OR_RETURN(
      Stmt s, db_->Prepare("INSERT INTO events (time_ns, kind, name, tenant, "
                           "reason, message, actor, request_id) VALUES "
                           "(?, ?, ?, ?, ?, ?, ?, ?)"));
  s.BindInt(absl::ToUnixNanos(clock_.Now()));
  s.Bind(e.kind).Bind(e.name).Bind(e.tenant.str()).Bind(e.reason);
  s.Bind(e.message).Bind(e.actor).Bind(e.request_id);
  NEST_RETURN_IF_ERROR(Annotate(s.Run(), "appending event"));
  last_seq_ = sqlite3_last_insert_rowid(db_->raw());
  ++rows_;
  return last_seq_;
}

absl::Status WriteTx::Nested(absl::FunctionRef<absl::Status(WriteTx&)> fn) {
  // Prepared (and cached) rather than Exec'd: a batch runs thousands.
  auto run = [this](const char* sql) -> absl::Status {
    NEST_ASSIGN_OR_RETURN(Stmt s, db_->Prepare(sql));
    return s.Run();
  };
  NEST_RETURN_IF_ERROR(run("SAVEPOINT nested"));
  const int64_t seq = last_seq_, rows = rows_;
  absl::Status st = fn(*this);
  if (st.ok()) return run("RELEASE nested");
  // Undo only this change; the outer transaction goes on.
  absl::Status undo = run("ROLLBACK TO nested");
  if (undo.ok()) undo = run("RELEASE nested");
  last_seq_ = seq;
  rows_ = rows;
  return undo.ok() ? st : Annotate(undo, st.ToString());
}

// ---- Store ----

Store::Store(const StoreOptions& options, Clock& clock)
    : options_(options), clock_(clock) {}

Store::~Store() {
  Shutdown();
  absl::MutexLock l(&write_mu_);
  writer_.reset();
}

absl::StatusOr<std::unique_ptr<Store>> Store::Open(const StoreOptions& options,
                                                   Clock& clock) {
  if (options.path.empty()) {
    return absl::InvalidArgumentError("store path must be set");
  }
  std::unique_ptr<Store> store(new Store(options, clock));
  NEST_ASSIGN_OR_RETURN(Conn writer,
                        internal::OpenConnection(options.path, /*create=*/true,
                                                 options.busy_timeout_ms));
  NEST_RETURN_IF_ERROR(Annotate(internal::Migrate(writer.get()),
                                absl::StrCat("opening store ", options.path)));
  auto db = std::make_unique<internal::Db>(std::move(writer));
  ReadTx probe(db.get());
  NEST_ASSIGN_OR_RETURN(int64_t last, probe.LastEventSeq());
  {
    absl::MutexLock l(&store->events_mu_);
    store->last_seq_ = last;
  }
  absl::MutexLock l(&store->write_mu_);
  store->writer_ = std::move(db);
  return store;
}

absl::StatusOr<std::unique_ptr<Store::Reader>> Store::AcquireReader() {
  {
    absl::MutexLock l(&pool_mu_);
    if (!idle_.empty()) {
      std::unique_ptr<Reader> r = std::move(idle_.back());
      idle_.pop_back();
      return r;
    }
  }
  NEST_ASSIGN_OR_RETURN(
      Conn conn,
      internal::OpenConnection(options_.path, false, options_.busy_timeout_ms));
  return std::unique_ptr<Reader>(new Reader{internal::Db(std::move(conn))});
}

void Store::ReleaseReader(std::unique_ptr<Reader> r) {
  absl::MutexLock l(&pool_mu_);
  if (static_cast<int>(idle_.size()) < options_.max_idle_readers) {
    idle_.push_back(std::move(r));
  }
}

absl::Status Store::Read(absl::FunctionRef<absl::Status(ReadTx&)> fn) {
  NEST_ASSIGN_OR_RETURN(std::unique_ptr<Reader> r, AcquireReader());
  sqlite3* db = r->db.raw();
  NEST_RETURN_IF_ERROR(Exec(db, "BEGIN"));
  ReadTx tx(&r->db);
  absl::Status st = fn(tx);
  absl::Status end = Exec(db, "COMMIT");
  // A connection whose transaction could not end is not reused.
  if (end.ok()) {
    ReleaseReader(std::move(r));
  } else if (st.ok()) {
    st = Annotate(end, "ending read transaction");
  }
  return st;
}

absl::Status Store::WriteLocked(absl::FunctionRef<absl::Status(WriteTx&)> fn) {
  if (writer_ == nullptr) {
    return absl::FailedPreconditionError("store is closed");
  }
  // IMMEDIATE takes the write lock now rather than at the first write, so a
  // second process cannot make this transaction fail half-way with BUSY.
  NEST_RETURN_IF_ERROR(Annotate(Exec(writer_->raw(), "BEGIN IMMEDIATE"),
                                "starting write transaction"));
  const absl::Time start = clock_.MonotonicNow();
  WriteTx tx(writer_.get(), clock_);
  absl::Status st = fn(tx);
  if (st.ok()) {
    st = Annotate(Exec(writer_->raw(), "COMMIT"), "committing");
    if (st.ok()) {
      Published(tx, clock_.MonotonicNow() - start);
      return st;
    }
  }
  // After some errors (disk full, I/O) SQLite has already rolled back.
  if (sqlite3_get_autocommit(writer_->raw()) == 0) {
    (void)Exec(writer_->raw(), "ROLLBACK");
  }
  return st;
}

void Store::Published(const WriteTx& tx, absl::Duration took) {
  absl::MutexLock l(&events_mu_);
  ++stats_.commits;
  stats_.rows += tx.rows_;
  // Every object change appends exactly one event; sequence numbers are
  // consecutive within a committed transaction.
  if (tx.last_seq_ > last_seq_) {
    stats_.changes += tx.last_seq_ - last_seq_;
    last_seq_ = tx.last_seq_;
  }
  stats_.busy += took;
}

absl::Status Store::Write(absl::FunctionRef<absl::Status(WriteTx&)> fn) {
  absl::MutexLock l(&write_mu_);
  return WriteLocked(fn);
}

absl::StatusOr<IdempotentResult> Store::WriteIdempotent(
    const IdempotencyKey& key,
    absl::FunctionRef<absl::StatusOr<std::string>(WriteTx&)> fn) {
  if (key.request_id.size() > kMaxRequestIdLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("request_id must be at most ", kMaxRequestIdLength,
                     " bytes, got ", key.request_id.size()));
  }
  IdempotentResult result;
  absl::MutexLock l(&write_mu_);
  absl::Status st = WriteLocked([&](WriteTx& tx) -> absl::Status {
    if (key.request_id.empty()) {
      NEST_ASSIGN_OR_RETURN(result.response, fn(tx));
      return absl::OkStatus();
    }
    NEST_ASSIGN_OR_RETURN(Stmt find,
                          tx.db_->Prepare("SELECT request_hash, response FROM "
                                          "idempotency WHERE tenant = ? AND "
                                          "request_id = ?"));
    find.Bind(key.tenant.str()).Bind(key.request_id);
    NEST_ASSIGN_OR_RETURN(bool seen, find.Step());
    if (seen) {
      if (find.Text(0) != key.request_hash) {
        return absl::InvalidArgumentError(
            absl::StrCat("request_id ", QuoteForMessage(key.request_id),
                         " was already used for a different request; use a new "
                         "request_id for a new request"));
      }
      result.response = find.Text(1);
      result.replayed = true;
      return absl::OkStatus();
    }
    if (tx.request_id_.empty()) tx.request_id_ = key.request_id;
    NEST_ASSIGN_OR_RETURN(result.response, fn(tx));
    NEST_ASSIGN_OR_RETURN(
        Stmt put,
        tx.db_->Prepare("INSERT INTO idempotency (tenant, request_id, "
                        "request_hash, response, created_ns) VALUES "
                        "(?, ?, ?, ?, ?)"));
    put.Bind(key.tenant.str()).Bind(key.request_id).Bind(key.request_hash);
    put.BindBlob(result.response).BindInt(absl::ToUnixNanos(clock_.Now()));
    return Annotate(put.Run(), "recording idempotency key");
  });
  if (!st.ok()) return st;
  return result;
}

absl::StatusOr<Snapshot> Store::ReadSnapshot() {
  Snapshot snap;
  NEST_RETURN_IF_ERROR(Read([&](ReadTx& tx) -> absl::Status {
    NEST_ASSIGN_OR_RETURN(snap.event_seq, tx.LastEventSeq());
    NEST_ASSIGN_OR_RETURN(auto tenants, tx.ListTenants());
    NEST_ASSIGN_OR_RETURN(auto hosts, tx.ListHosts());
    NEST_ASSIGN_OR_RETURN(auto groups, tx.ListGroups());
    NEST_ASSIGN_OR_RETURN(auto vms, tx.ListVms());
    NEST_ASSIGN_OR_RETURN(auto workloads, tx.ListWorkloads());
    NEST_ASSIGN_OR_RETURN(auto containers, tx.ListContainers());
    snap.tenants = std::move(tenants.items);
    snap.hosts = std::move(hosts.items);
    snap.groups = std::move(groups.items);
    snap.vms = std::move(vms.items);
    snap.workloads = std::move(workloads.items);
    snap.containers = std::move(containers.items);
    return absl::OkStatus();
  }));
  return snap;
}

absl::StatusOr<std::vector<Event>> Store::EventsSince(const EventQuery& q) {
  std::vector<Event> out;
  NEST_RETURN_IF_ERROR(Read([&](ReadTx& tx) -> absl::Status {
    NEST_ASSIGN_OR_RETURN(out, tx.EventsSince(q));
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<int64_t> Store::OldestEventSeq() {
  int64_t out = 0;
  NEST_RETURN_IF_ERROR(Read([&](ReadTx& tx) -> absl::Status {
    NEST_ASSIGN_OR_RETURN(out, tx.OldestEventSeq());
    return absl::OkStatus();
  }));
  return out;
}

int64_t Store::LastEventSeq() const {
  absl::MutexLock l(&events_mu_);
  return last_seq_;
}

int64_t Store::commits() const {
  absl::MutexLock l(&events_mu_);
  return stats_.commits;
}

Store::WriteStats Store::write_stats() const {
  absl::MutexLock l(&events_mu_);
  return stats_;
}

int64_t Store::WaitForEvents(int64_t after_seq, absl::Duration timeout) {
  auto ready = [this, after_seq]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(events_mu_) {
    return last_seq_ > after_seq || shutdown_;
  };
  absl::MutexLock l(&events_mu_);
  events_mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
  return last_seq_;
}

void Store::Shutdown() {
  absl::MutexLock l(&events_mu_);
  shutdown_ = true;
}

namespace {

// Deletes rows of `table` whose `column` < older_than; returns the count.
absl::StatusOr<int64_t> PruneOlder(WriteTx& tx, internal::Db* db,
                                   const char* sql, absl::Time older_than) {
  (void)tx;
  NEST_ASSIGN_OR_RETURN(Stmt s, db->Prepare(sql));
  s.BindInt(absl::ToUnixNanos(older_than));
  NEST_RETURN_IF_ERROR(s.Run());
  return static_cast<int64_t>(sqlite3_changes(db->raw()));
}

}  // namespace

absl::StatusOr<int64_t> Store::PruneEvents(absl::Time older_than) {
  int64_t n = 0;
  NEST_RETURN_IF_ERROR(Write([&](WriteTx& tx) -> absl::Status {
    NEST_ASSIGN_OR_RETURN(
        n, PruneOlder(tx, tx.db_, "DELETE FROM events WHERE time_ns < ?",
                      older_than));
    return absl::OkStatus();
  }));
  return n;
}

absl::StatusOr<int64_t> Store::PruneIdempotencyKeys(absl::Time older_than) {
  int64_t n = 0;
  NEST_RETURN_IF_ERROR(Write([&](WriteTx& tx) -> absl::Status {
    NEST_ASSIGN_OR_RETURN(
        n,
        PruneOlder(tx, tx.db_, "DELETE FROM idempotency WHERE created_ns < ?",
                   older_than));
    return absl::OkStatus();
  }));
  return n;
}

absl::Status Store::Backup(const std::string& path) {
  if (path.empty())
    return absl::InvalidArgumentError("backup path must be set");
  std::string tmp = absl::StrCat(path, ".tmp-", getpid());
  std::remove(tmp.c_str());
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(tmp.c_str(), &raw,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  Conn dest(raw);
  if (rc != SQLITE_OK) {
    return internal::SqliteError(raw, rc,
                                 absl::StrCat("creating backup ", tmp));
  }
  NEST_ASSIGN_OR_RETURN(std::unique_ptr<Reader> src, AcquireReader());
  // One step copies every page under a single read snapshot of the source:
  // the copy is consistent, and in WAL mode the writer is not blocked.
  sqlite3_backup* b =
      sqlite3_backup_init(dest.get(), "main", src->db.raw(), "main");
  if (b == nullptr) {
    std::remove(tmp.c_str());
    return internal::SqliteError(dest.get(), sqlite3_errcode(dest.get()),
                                 "starting backup");
  }
  rc = sqlite3_backup_step(b, -1);
  int finish = sqlite3_backup_finish(b);
  ReleaseReader(std::move(src));
  if (rc != SQLITE_DONE || finish != SQLITE_OK) {
    absl::Status st =
        internal::SqliteError(dest.get(), rc != SQLITE_DONE ? rc : finish,
                              absl::StrCat("backing up store to ", path));
    dest.reset();
    std::remove(tmp.c_str());
    return st;
  }
  dest.reset();
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    return absl::InternalError(
        absl::StrCat("renaming backup ", tmp, " to ", path, " failed"));
  }
  return absl::OkStatus();
}

}  // namespace nest::store
