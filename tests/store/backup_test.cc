#include <atomic>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "doctest/doctest.h"
#include "store/raw_bench.h"
#include "store/store.h"
#include "tests/store/store_test_util.h"

namespace nest::store {
namespace {

using testing::MakeContainer;
using testing::MakeGroup;
using testing::MakeHost;
using testing::MakeVm;
using testing::MakeWorkload;
using testing::MustOpen;
using testing::TempDir;

// One transaction: workload w-<i> with i%4+1 replicas and that many
// containers. A snapshot or backup that saw half of it would show a
// workload whose container count differs from its replicas.
absl::Status AddWorkloadWithReplicas(Store& store, int i) {
  return store.Write([i](WriteTx& tx) -> absl::Status {
    Workload w = MakeWorkload("acme", "w-" + std::to_string(i));
    w.replicas = i % 4 + 1;
    NEST_RETURN_IF_ERROR(tx.CreateWorkload(w).status());
    for (int r = 0; r < w.replicas; ++r) {
      NEST_RETURN_IF_ERROR(
          tx.CreateContainer(MakeContainer("c-" + std::to_string(i) + "-" +
                                               std::to_string(r),
                                           "acme", w.name.str(), ""))
              .status());
    }
    return absl::OkStatus();
  });
}

void CheckWhole(const Snapshot& snap) {
  std::map<std::string, int64_t> count;
  for (const Container& c : snap.containers) count[c.workload.str()]++;
  for (const Workload& w : snap.workloads) {
    CHECK_MESSAGE(count[w.name.str()] == w.replicas, w.name.str());
  }
  CHECK(snap.containers.size() == [&] {
    size_t n = 0;
    for (const Workload& w : snap.workloads) n += w.replicas;
    return n;
  }());
}

void Seed(Store& store) {
  REQUIRE(
      store
          .Write([](WriteTx& tx) -> absl::Status {
            NEST_RETURN_IF_ERROR(
                tx.CreateTenant(Tenant{TenantId("acme"), {}, {}}).status());
            NEST_RETURN_IF_ERROR(tx.CreateHost(MakeHost("h1")).status());
            NEST_RETURN_IF_ERROR(
                tx.CreateGroup(MakeGroup("acme", "web")).status());
            return tx.CreateVm(MakeVm("vm-1", "acme", "web", "h1")).status();
          })
          .ok());
}

TEST_CASE("backup during writes restores to a consistent, equal store") {
  TempDir dir;
  FakeClock clock;
  auto store = MustOpen(dir.File("nest.db"), clock);
  Seed(*store);
  for (int i = 0; i < 5; ++i) REQUIRE(AddWorkloadWithReplicas(*store, i).ok());

  // Online: a writer keeps committing while backups are taken.
  std::atomic<bool> stop{false};
  std::atomic<int> written{5};
  std::thread writer([&] {
    for (int i = 5; !stop.load(); ++i) {
      if (!AddWorkloadWithReplicas(*store, i).ok()) break;
      written = i + 1;
    }
  });
  for (int b = 0; b < 3; ++b) {
    std::string path = dir.File("backup-" + std::to_string(b) + ".db");
    absl::Status st = store->Backup(path);
    REQUIRE_MESSAGE(st.ok(), st.ToString());
    auto restored = MustOpen(path, clock);
    auto snap = restored->ReadSnapshot();
    REQUIRE(snap.ok());
    CHECK(snap->workloads.size() >= 5);
    CheckWhole(*snap);
  }
  stop = true;
  writer.join();
  CHECK(written.load() > 5);

  // Quiet now: a backup equals the source, events included.
  std::string path = dir.File("final.db");
  REQUIRE(store->Backup(path).ok());
  auto restored = MustOpen(path, clock);
  auto a = store->ReadSnapshot();
  auto b = restored->ReadSnapshot();
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(a->event_seq == b->event_seq);
  CHECK(a->hosts == b->hosts);
  CHECK(a->groups == b->groups);
  CHECK(a->vms == b->vms);
  CHECK(a->workloads == b->workloads);
  CHECK(a->containers == b->containers);
  CHECK(restored->LastEventSeq() == store->LastEventSeq());
  // The restored store is writable and continues the event sequence.
  REQUIRE(restored
              ->Write([](WriteTx& tx) {
                return tx.CreateHost(MakeHost("h2")).status();
              })
              .ok());
  CHECK(restored->LastEventSeq() == store->LastEventSeq() + 1);
}

bool IsWhole(const Snapshot& snap) {
  std::map<std::string, int64_t> count;
  for (const Container& c : snap.containers) count[c.workload.str()]++;
  for (const Workload& w : snap.workloads) {
    if (count[w.name.str()] != w.replicas) return false;
  }
  return true;
}

TEST_CASE("concurrent snapshots never see half a transaction") {
  TempDir dir;
  FakeClock clock;
  auto store = MustOpen(dir.File("nest.db"), clock);
  Seed(*store);
  std::atomic<bool> done{false};
  std::atomic<int> snapshots{0}, torn{0}, errors{0}, went_back{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 3; ++r) {
    readers.emplace_back([&] {
      size_t last = 0;
      // Readers run for the writer's whole life, so their snapshots land
      // between and during its transactions.
      while (!done.load()) {
        auto snap = store->ReadSnapshot();
        if (!snap.ok()) {
          ++errors;
          continue;
        }
        ++snapshots;
        if (!IsWhole(*snap)) ++torn;
        if (snap->workloads.size() < last) ++went_back;
        last = snap->workloads.size();
      }
    });
  }
  for (int i = 0; i < 60; ++i) REQUIRE(AddWorkloadWithReplicas(*store, i).ok());
  done = true;
  for (auto& t : readers) t.join();
  CHECK(snapshots.load() > 0);
  CHECK(errors.load() == 0);
  CHECK(torn.load() == 0);
  CHECK(went_back.load() == 0);
  auto final_snap = store->ReadSnapshot();
  REQUIRE(final_snap.ok());
  CHECK(final_snap->workloads.size() == 60);
  CHECK(IsWhole(*final_snap));
}

TEST_CASE("backup to an unwritable path fails cleanly") {
  TempDir dir;
  FakeClock clock;
  auto store = MustOpen(dir.File("nest.db"), clock);
  absl::Status st = store->Backup(dir.File("missing-dir/backup.db"));
  CHECK_FALSE(st.ok());
}

TEST_CASE("MeasureRawCommitsPerSecond measures and cleans up") {
  TempDir dir;
  auto rate = MeasureRawCommitsPerSecond(dir.path(), 20);
  REQUIRE_MESSAGE(rate.ok(), rate.status().ToString());
  CHECK(*rate > 0);
  CHECK(std::filesystem::is_empty(dir.path()));
  CHECK(MeasureRawCommitsPerSecond(dir.path(), 0).status().code() ==
        absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace nest::store
