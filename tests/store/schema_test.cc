#include "store/schema.h"

#include <sqlite3.h>

#include <string>

#include "doctest/doctest.h"
#include "store/store.h"
#include "tests/store/store_test_util.h"

namespace nest::store {
namespace {

using testing::MustOpen;
using testing::TempDir;

// A frozen copy of schema version 1 as released, plus some data, written
// with raw SQL so the test does not depend on today's migration code.
constexpr const char* kSchemaV1 = R"sql(
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
INSERT INTO tenants VALUES ('acme', 1, 1700000000000000000, 1700000000000000000);
INSERT INTO hosts VALUES ('h1', 'qemu:///system', '{"zone":"a"}', 'cordoned',
  4000, 8192, 50000, '{}', NULL, 3, 1700000000000000000, 1700000000000000000);
INSERT INTO events(time_ns, kind, name, tenant, reason, message) VALUES
  (1700000000000000000, 'tenant', 'acme', 'acme', 'Created', 'v1 event'),
  (1700000000000000000, 'host', 'h1', '', 'Created', 'v1 event');
PRAGMA application_id = 1313166164;
PRAGMA user_version = 1;
)sql";

void RawExec(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  char* err = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
  std::string msg = err ? err : "";
  sqlite3_free(err);
  sqlite3_close(db);
  REQUIRE_MESSAGE(rc == SQLITE_OK, msg);
}

int64_t RawInt(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(stmt) == SQLITE_ROW);
  int64_t v = sqlite3_column_int64(stmt, 0);
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return v;
}

TEST_CASE("kApplicationId matches the frozen fixture") {
  CHECK(kApplicationId == 1313166164);
}

TEST_CASE("a version 1 file is migrated forward and keeps its data") {
  TempDir dir;
  std::string path = dir.File("v1.db");
  RawExec(path, kSchemaV1);
  FakeClock clock;
  auto store = MustOpen(path, clock);
  CHECK(RawInt(path, "PRAGMA user_version") == kSchemaVersion);

  REQUIRE(store
              ->Read([](ReadTx& tx) -> absl::Status {
                auto host = tx.GetHost(HostId("h1"));
                REQUIRE(host.ok());
                CHECK(host->state == HostState::kCordoned);
                CHECK(host->labels.at("zone") == "a");
                CHECK(host->meta.generation == 3);
                CHECK(tx.GetTenant(TenantId("acme")).ok());
                return absl::OkStatus();
              })
              .ok());
  // Old events got the new audit columns with defaults; seq continues.
  auto events = store->EventsSince(testing::Since(0));
  REQUIRE(events.ok());
  REQUIRE(events->size() == 2);
  CHECK((*events)[0].actor.empty());
  CHECK(store->LastEventSeq() == 2);

  // Version 2 features work on the migrated file.
  auto r = store->WriteIdempotent(
      IdempotencyKey{TenantId("acme"), "req-1", HashRequest("body")},
      [](WriteTx& tx) -> absl::StatusOr<std::string> {
        Host h = testing::MakeHost("h2");
        NEST_RETURN_IF_ERROR(tx.CreateHost(h).status());
        return std::string("ok");
      });
  REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  events = store->EventsSince(testing::Since(2));
  REQUIRE(events.ok());
  REQUIRE(events->size() == 1);
  CHECK((*events)[0].seq == 3);
  CHECK((*events)[0].request_id == "req-1");
}

TEST_CASE("an old group gets no memory target and a 10% tolerance (v7)") {
  TempDir dir;
  std::string path = dir.File("v1-group.db");
  RawExec(path, kSchemaV1);
  RawExec(path,
          "INSERT INTO vm_groups VALUES ('acme', 'web', 2, 512, 1024, '', "
          "'binpack', '', 1, 4, 0, 0, 300000, NULL, 70, 1, "
          "1700000000000000000, 1700000000000000000);");
  FakeClock clock;
  {
    auto store = MustOpen(path, clock);
    REQUIRE(store
                ->Write([](WriteTx& tx) -> absl::Status {
                  NEST_ASSIGN_OR_RETURN(
                      VmGroup g, tx.GetGroup(TenantId("acme"), GroupId("web")));
                  CHECK(g.target_cpu_percent == 70);
                  CHECK(g.target_memory_percent == 0);
                  CHECK(g.utilization_tolerance_percent == 10);
                  g.target_memory_percent = 80;
                  g.utilization_tolerance_percent = 25;
                  return tx.UpdateGroup(g, 0).status();
                })
                .ok());
  }
  auto store = MustOpen(path, clock);
  REQUIRE(store
              ->Read([](ReadTx& tx) -> absl::Status {
                NEST_ASSIGN_OR_RETURN(
                    VmGroup g, tx.GetGroup(TenantId("acme"), GroupId("web")));
                CHECK(g.target_cpu_percent == 70);
                CHECK(g.target_memory_percent == 80);
                CHECK(g.utilization_tolerance_percent == 25);
                return absl::OkStatus();
              })
              .ok());
}

TEST_CASE("an old host gets no pool of its own, and keeps one set (v8)") {
  TempDir dir;
  std::string path = dir.File("v1-host.db");
  RawExec(path, kSchemaV1);
  FakeClock clock;
  {
    auto store = MustOpen(path, clock);
    REQUIRE(store
                ->Write([](WriteTx& tx) -> absl::Status {
                  NEST_ASSIGN_OR_RETURN(Host h, tx.GetHost(HostId("h1")));
                  CHECK(h.pool.empty());  // net.pool, as before
                  h.pool = "10.89.0.0/16";
                  NEST_RETURN_IF_ERROR(tx.UpdateHost(h, 0).status());
                  Host b = testing::MakeHost("b");
                  b.pool = "10.90.0.0/16";
                  return tx.CreateHost(b).status();
                })
                .ok());
  }
  auto store = MustOpen(path, clock);
  REQUIRE(store
              ->Read([](ReadTx& tx) -> absl::Status {
                NEST_ASSIGN_OR_RETURN(Host h, tx.GetHost(HostId("h1")));
                CHECK(h.pool == "10.89.0.0/16");
                CHECK(h.labels.at("zone") == "a");
                NEST_ASSIGN_OR_RETURN(Host b, tx.GetHost(HostId("b")));
                CHECK(b.pool == "10.90.0.0/16");
                return absl::OkStatus();
              })
              .ok());
}

TEST_CASE("a schema newer than the binary is refused with a clear error") {
  TempDir dir;
  std::string path = dir.File("future.db");
  {
    FakeClock clock;
    MustOpen(path, clock);
  }
  RawExec(path, "PRAGMA user_version = " + std::to_string(kSchemaVersion + 1));
  FakeClock clock;
  auto s = Store::Open(testing::Options(path), clock);
  REQUIRE_FALSE(s.ok());
  CHECK(s.status().code() == absl::StatusCode::kFailedPrecondition);
  std::string msg(s.status().message());
  CHECK(msg.find("schema version " + std::to_string(kSchemaVersion + 1)) !=
        std::string::npos);
  CHECK(msg.find("newer than this binary") != std::string::npos);
  // Refusing must not have altered the file.
  CHECK(RawInt(path, "PRAGMA user_version") == kSchemaVersion + 1);
}

TEST_CASE("a SQLite file of another application is refused") {
  TempDir dir;
  std::string path = dir.File("other.db");
  RawExec(path, "CREATE TABLE t(x); PRAGMA user_version = 7;");
  FakeClock clock;
  auto s = Store::Open(testing::Options(path), clock);
  REQUIRE_FALSE(s.ok());
  CHECK(s.status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK(std::string(s.status().message()).find("Nest") != std::string::npos);
}

TEST_CASE("a file that is not SQLite is refused as DATA_LOSS") {
  TempDir dir;
  std::string path = dir.File("junk.db");
  {
    FILE* f = fopen(path.c_str(), "w");
    REQUIRE(f != nullptr);
    std::string junk(8192, 'x');
    fwrite(junk.data(), 1, junk.size(), f);
    fclose(f);
  }
  FakeClock clock;
  auto s = Store::Open(testing::Options(path), clock);
  REQUIRE_FALSE(s.ok());
  CHECK(s.status().code() == absl::StatusCode::kDataLoss);
}

TEST_CASE("opening sets WAL, foreign keys and keeps data across reopen") {
  TempDir dir;
  std::string path = dir.File("nest.db");
  FakeClock clock;
  {
    auto store = MustOpen(path, clock);
    REQUIRE(store
                ->Write([](WriteTx& tx) {
                  return tx.CreateTenant(Tenant{TenantId("acme"), {}, {}}).status();
                })
                .ok());
  }
  CHECK(RawInt(path,
               "SELECT count(*) FROM pragma_journal_mode WHERE "
               "journal_mode = 'wal'") == 1);
  auto store = MustOpen(path, clock);
  CHECK(store
            ->Read([](ReadTx& tx) {
              return tx.GetTenant(TenantId("acme")).status();
            })
            .ok());
  CHECK(store->LastEventSeq() == 1);
}

}  // namespace
}  // namespace nest::store

#include "store/sqlite_util.h"

namespace nest::store {
namespace {

TEST_CASE("cached statements are reset between uses and never shared live") {
  TempDir dir;
  auto conn = internal::OpenConnection(dir.File("cache.db"), true, 1000);
  REQUIRE(conn.ok());
  internal::Db db(std::move(*conn));
  {
    auto a = db.Prepare("SELECT ?");
    auto b = db.Prepare("SELECT ?");  // same SQL while `a` is live
    REQUIRE(a.ok());
    REQUIRE(b.ok());
    a->BindInt(1);
    b->BindInt(2);
    REQUIRE(*a->Step());
    REQUIRE(*b->Step());
    CHECK(a->Int(0) == 1);
    CHECK(b->Int(0) == 2);
  }
  // Reused: bindings from the last use are gone and stepping starts over.
  for (int i = 0; i < 3; ++i) {
    auto c = db.Prepare("SELECT ?");
    REQUIRE(c.ok());
    REQUIRE(*c->Step());
    CHECK(c->IsNull(0));
  }
  auto bad = db.Prepare("SELEC nonsense");
  CHECK_FALSE(bad.ok());
}

}  // namespace
}  // namespace nest::store
