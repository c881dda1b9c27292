#include "store/schema.h"

#include <array>

#include "absl/strings/str_cat.h"
#include "store/sqlite_util.h"

namespace nest::store::internal {
namespace {

// Append-only: a released migration is never edited, because files in the
// field were produced by it. tests/store/schema_test.cc keeps a frozen copy
// of version 1 to prove upgrades keep working.
constexpr std::array<const char*, kSchemaVersion> kMigrations = {
    // 1: objects and the event log.
    R"sql(
CREATE TABLE tenants(
  name TEXT PRIMARY KEY,
  generation INTEGER NOT NULL, created_ns INTEGER, updated_ns INTEGER
) WITHOUT ROWID;
CREATE TABLE hosts(
  name TEXT PRIMARY KEY,
  libvirt_uri TEXT NOT NULL, labels TEXT NOT NULL, state TEXT NOT NULL,
  cap_cpu_milli INTEGER NOT NULL, cap_memory_mib INTEGER NOT NULL,
  cap_disk_mib INTEGER NOT NULL, facts TEXT NOT NULL,
  last_heartbeat_ns INTEGER,
  generation INTEGER NOT NULL, created_ns INTEGER, updated_ns INTEGER
) WITHOUT ROWID;
CREATE TABLE vm_groups(
  tenant TEXT NOT NULL REFERENCES tenants(name), name TEXT NOT NULL,
  vcpus INTEGER NOT NULL, memory_mib INTEGER NOT NULL,
  disk_mib INTEGER NOT NULL, boot_image TEXT NOT NULL,
  placement TEXT NOT NULL, spread_label TEXT NOT NULL,
  min_size INTEGER NOT NULL, max_size INTEGER NOT NULL,
  desired_size INTEGER NOT NULL, scale_up_cooldown_ms INTEGER NOT NULL,
  scale_down_cooldown_ms INTEGER NOT NULL, last_scaled_ns INTEGER,
  target_cpu_percent INTEGER NOT NULL,
  generation INTEGER NOT NULL, created_ns INTEGER, updated_ns INTEGER,
  PRIMARY KEY(tenant, name)
) WITHOUT ROWID;
CREATE TABLE vms(
  id TEXT PRIMARY KEY, tenant TEXT NOT NULL, group_name TEXT NOT NULL,
  host TEXT REFERENCES hosts(name),
  desired TEXT NOT NULL, observed TEXT NOT NULL,
  boot_attempts INTEGER NOT NULL, domain_name TEXT NOT NULL,
  ip TEXT NOT NULL, cordoned INTEGER NOT NULL, message TEXT NOT NULL,
  generation INTEGER NOT NULL, created_ns INTEGER, updated_ns INTEGER,
  FOREIGN KEY(tenant, group_name) REFERENCES vm_groups(tenant, name)
) WITHOUT ROWID;
CREATE INDEX vms_by_group ON vms(tenant, group_name);
CREATE INDEX vms_by_host ON vms(host);
CREATE TABLE workloads(
  tenant TEXT NOT NULL REFERENCES tenants(name), name TEXT NOT NULL,
  image TEXT NOT NULL, command TEXT NOT NULL, args TEXT NOT NULL,
  env TEXT NOT NULL, cpu_milli INTEGER NOT NULL, memory_mib INTEGER NOT NULL,
  disk_mib INTEGER NOT NULL, replicas INTEGER NOT NULL,
  restart_policy TEXT NOT NULL, ports TEXT NOT NULL, isolation TEXT NOT NULL,
  priority INTEGER NOT NULL, target_group TEXT NOT NULL,
  stop_grace_s INTEGER NOT NULL, max_unavailable INTEGER NOT NULL,
  max_surge INTEGER NOT NULL,
  generation INTEGER NOT NULL, created_ns INTEGER, updated_ns INTEGER,
  PRIMARY KEY(tenant, name)
) WITHOUT ROWID;
CREATE TABLE containers(
  id TEXT PRIMARY KEY, tenant TEXT NOT NULL, workload TEXT NOT NULL,
  vm TEXT REFERENCES vms(id),
  desired TEXT NOT NULL, observed TEXT NOT NULL, exit_code INTEGER,
  restarts INTEGER NOT NULL, started_ns INTEGER, finished_ns INTEGER,
  spec_generation INTEGER NOT NULL, message TEXT NOT NULL,
  generation INTEGER NOT NULL, created_ns INTEGER, updated_ns INTEGER,
  FOREIGN KEY(tenant, workload) REFERENCES workloads(tenant, name)
) WITHOUT ROWID;
CREATE INDEX containers_by_workload ON containers(tenant, workload);
CREATE INDEX containers_by_vm ON containers(vm);
CREATE TABLE images(
  tenant TEXT NOT NULL REFERENCES tenants(name), name TEXT NOT NULL,
  digest TEXT NOT NULL, size_bytes INTEGER NOT NULL,
  refcount INTEGER NOT NULL,
  generation INTEGER NOT NULL, created_ns INTEGER, updated_ns INTEGER,
  PRIMARY KEY(tenant, name)
) WITHOUT ROWID;
CREATE TABLE events(
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  time_ns INTEGER NOT NULL, kind TEXT NOT NULL, name TEXT NOT NULL,
  tenant TEXT NOT NULL, reason TEXT NOT NULL, message TEXT NOT NULL
);
CREATE INDEX events_by_time ON events(time_ns);
)sql",
    // 2: audit columns on events and idempotency keys for the API.
    R"sql(
ALTER TABLE events ADD COLUMN actor TEXT NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN request_id TEXT NOT NULL DEFAULT '';
CREATE TABLE idempotency(
  tenant TEXT NOT NULL, request_id TEXT NOT NULL,
  request_hash TEXT NOT NULL, response BLOB NOT NULL,
  created_ns INTEGER NOT NULL,
  PRIMARY KEY(tenant, request_id)
) WITHOUT ROWID;
CREATE INDEX idempotency_by_time ON idempotency(created_ns);
)sql",
    // 3: the IPAM's allocations (net/ipam.h), so addresses survive restarts.
    R"sql(
CREATE TABLE ip_allocations(
  kind TEXT NOT NULL, owner TEXT NOT NULL, prefix TEXT NOT NULL UNIQUE,
  PRIMARY KEY(kind, owner)
) WITHOUT ROWID;
)sql",
    // 4: API bearer tokens, kept as SHA-256 digests of the secret.
    R"sql(
CREATE TABLE api_tokens(
  id TEXT PRIMARY KEY, tenant TEXT NOT NULL, role TEXT NOT NULL,
  digest TEXT NOT NULL UNIQUE, description TEXT NOT NULL,
  created_ns INTEGER NOT NULL, revoked_ns INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
)sql",
    // 5: per-tenant quotas, and files (plain or secret) given to a
    // workload's containers. Both JSON; '{}' and '[]' mean none.
    R"sql(
ALTER TABLE tenants ADD COLUMN quota TEXT NOT NULL DEFAULT '{}';
ALTER TABLE workloads ADD COLUMN files TEXT NOT NULL DEFAULT '[]';
)sql",
    // 6: workload health checks (JSON, '' for none), each replica's health
    // ('' without a check) and the image it was started from, and the
    // templates an update replaced,
    // for `rollout undo`: the workload row as it was, with its revision
    // number.
    R"sql(
ALTER TABLE workloads ADD COLUMN health_check TEXT NOT NULL DEFAULT '';
ALTER TABLE containers ADD COLUMN health TEXT NOT NULL DEFAULT '';
ALTER TABLE containers ADD COLUMN image TEXT NOT NULL DEFAULT '';
CREATE TABLE workload_revisions(
  tenant TEXT NOT NULL, name TEXT NOT NULL, revision INTEGER NOT NULL,
  image TEXT NOT NULL, command TEXT NOT NULL, args TEXT NOT NULL,
  env TEXT NOT NULL, cpu_milli INTEGER NOT NULL, memory_mib INTEGER NOT NULL,
  disk_mib INTEGER NOT NULL, replicas INTEGER NOT NULL,
  restart_policy TEXT NOT NULL, ports TEXT NOT NULL, isolation TEXT NOT NULL,
  priority INTEGER NOT NULL, target_group TEXT NOT NULL,
  stop_grace_s INTEGER NOT NULL, max_unavailable INTEGER NOT NULL,
  max_surge INTEGER NOT NULL, files TEXT NOT NULL, health_check TEXT NOT NULL,
  replaced_ns INTEGER,
  PRIMARY KEY(tenant, name, revision),
  FOREIGN KEY(tenant, name) REFERENCES workloads(tenant, name)
    ON DELETE CASCADE
) WITHOUT ROWID;
)sql",
    // 7: a VM group's memory utilization target (the CPU one was there
    // from version 1) and how far the load may stray from its targets, in
    // percent of the target.
    R"sql(
ALTER TABLE vm_groups ADD COLUMN target_memory_percent INTEGER NOT NULL
  DEFAULT 0;
ALTER TABLE vm_groups ADD COLUMN utilization_tolerance_percent INTEGER NOT NULL
  DEFAULT 10;
)sql",
    // 8: a host's own address pool (IPv4 CIDR), '' = nestd's net.pool.
    R"sql(
ALTER TABLE hosts ADD COLUMN pool TEXT NOT NULL DEFAULT '';
)sql",
};

absl::StatusOr<int64_t> PragmaInt(sqlite3* db, const char* sql) {
  NEST_ASSIGN_OR_RETURN(Stmt stmt, Stmt::Prepare(db, sql));
  NEST_ASSIGN_OR_RETURN(bool row, stmt.Step());
  return row ? stmt.Int(0) : 0;
}

}  // namespace

absl::Status Migrate(sqlite3* db) {
  // Read version and application id inside an IMMEDIATE transaction so two
  // processes opening a fresh file cannot both run migration 1.
  NEST_RETURN_IF_ERROR(Exec(db, "BEGIN IMMEDIATE"));
  auto rollback = [db](absl::Status st) {
    (void)Exec(db, "ROLLBACK");
    return st;
  };
  auto app = PragmaInt(db, "PRAGMA application_id");
  if (!app.ok()) return rollback(app.status());
  auto version = PragmaInt(db, "PRAGMA user_version");
  if (!version.ok()) return rollback(version.status());
  if (*app != 0 && *app != kApplicationId) {
    return rollback(absl::FailedPreconditionError(
        absl::StrCat("store file has application_id ", *app, ", expected ",
                     kApplicationId, " (Nest); is this a Nest state file?")));
  }
  if (*app == 0 && *version != 0) {
    return rollback(absl::FailedPreconditionError(absl::StrCat(
        "store file has user_version ", *version,
        " but no Nest application_id; refusing to treat it as a Nest store")));
  }
  if (*version > kSchemaVersion) {
    return rollback(absl::FailedPreconditionError(
        absl::StrCat("store schema version ", *version,
                     " is newer than this binary supports (", kSchemaVersion,
                     "); run a newer nestd or restore an older backup")));
  }
  for (int64_t v = *version; v < kSchemaVersion; ++v) {
    absl::Status st = Exec(db, kMigrations[v]);
    if (st.ok()) {
      st = Exec(db, absl::StrCat("PRAGMA user_version=", v + 1, ";",
                                 "PRAGMA application_id=", kApplicationId));
    }
    if (!st.ok()) {
      return rollback(Annotate(
          st, absl::StrCat("migrating store schema to version ", v + 1)));
    }
    // Commit each step so versions advance one at a time.
    NEST_RETURN_IF_ERROR(Exec(db, "COMMIT"));
    NEST_RETURN_IF_ERROR(Exec(db, "BEGIN IMMEDIATE"));
  }
  return Exec(db, "COMMIT");
}

}  // namespace nest::store::internal
