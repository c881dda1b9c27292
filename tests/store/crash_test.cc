// Kills a writer process mid-transaction, over and over, and checks that
// every reopen finds an intact file holding only whole transactions.

#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <map>
#include <string>

#include "doctest/doctest.h"
#include "store/store.h"
#include "tests/store/store_test_util.h"

namespace nest::store {
namespace {

using testing::MakeContainer;
using testing::MakeHost;
using testing::MakeWorkload;
using testing::MustOpen;
using testing::TempDir;

// Each transaction touches three tables and many rows: workload w-<i>
// with i%5+1 replicas, one container per replica, and host h1's label
// "last" set to i. Half of it would break one of the invariants checked
// below.
absl::Status WriteStep(Store& store, int i) {
  return store.Write([i](WriteTx& tx) -> absl::Status {
    Workload w = MakeWorkload("acme", "w-" + std::to_string(i));
    w.replicas = i % 5 + 1;
    NEST_RETURN_IF_ERROR(tx.CreateWorkload(w).status());
    for (int r = 0; r < w.replicas; ++r) {
      NEST_RETURN_IF_ERROR(
          tx.CreateContainer(MakeContainer("c-" + std::to_string(i) + "-" +
                                               std::to_string(r),
                                           "acme", w.name.str(), ""))
              .status());
    }
    NEST_ASSIGN_OR_RETURN(Host h, tx.GetHost(HostId("h1")));
    h.labels["last"] = std::to_string(i);
    return tx.UpdateHost(h, 0).status();
  });
}

// The child: writes forever, one byte to `fd` after each commit.
[[noreturn]] void Writer(const std::string& path, int fd, int first) {
  FakeClock clock;
  auto store = Store::Open(testing::Options(path), clock);
  if (!store.ok()) _exit(2);
  for (int i = first;; ++i) {
    if (!WriteStep(**store, i).ok()) _exit(3);
    char b = 1;
    if (write(fd, &b, 1) != 1) _exit(4);
  }
}

std::string IntegrityCheck(const std::string& path) {
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) return "cannot open";
  sqlite3_stmt* stmt = nullptr;
  std::string out = "no result";
  if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &stmt, nullptr) ==
          SQLITE_OK &&
      sqlite3_step(stmt) == SQLITE_ROW) {
    out = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return out;
}

TEST_CASE("SIGKILL mid-transaction 50 times leaves only whole transactions") {
  TempDir dir;
  std::string path = dir.File("nest.db");
  {
    FakeClock clock;
    auto store = MustOpen(path, clock);
    REQUIRE(store
                ->Write([](WriteTx& tx) -> absl::Status {
                  NEST_RETURN_IF_ERROR(
                      tx.CreateTenant(Tenant{TenantId("acme"), {}, {}}).status());
                  return tx.CreateHost(MakeHost("h1")).status();
                })
                .ok());
  }  // closed: the child must not inherit live SQLite connections.

  int next = 0;              // index of the next workload to write
  int64_t acknowledged = 0;  // commits the children reported
  for (int round = 0; round < 50; ++round) {
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      close(fds[0]);
      Writer(path, fds[1], next);
    }
    close(fds[1]);
    // Wait for 1-4 commits, then kill at once: the child is by then inside
    // its next transaction (it does nothing else).
    int want = 1 + round % 4;
    int got = 0;
    char b;
    while (got < want && read(fds[0], &b, 1) == 1) ++got;
    kill(pid, SIGKILL);
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    // The child may have committed (and reported) more before the kill
    // landed, for a loaded machine can run it on meanwhile: count those
    // too, so only a commit made but not yet reported is unaccounted for.
    while (read(fds[0], &b, 1) == 1) ++got;
    close(fds[0]);
    REQUIRE_MESSAGE(got >= want, "child died before committing, status ",
                    status);
    CHECK(WIFSIGNALED(status));
    acknowledged += got;

    REQUIRE(IntegrityCheck(path) == "ok");
    FakeClock clock;
    auto store = MustOpen(path, clock);
    auto snap = store->ReadSnapshot();
    REQUIRE(snap.ok());
    std::map<std::string, int64_t> per_workload;
    for (const Container& c : snap->containers)
      per_workload[c.workload.str()]++;
    int max_index = -1;
    for (const Workload& w : snap->workloads) {
      CHECK_MESSAGE(per_workload[w.name.str()] == w.replicas, w.name.str());
      max_index = std::max(max_index, std::stoi(w.name.str().substr(2)));
    }
    // Every acknowledged commit is durable; at most one more per child
    // (committed but not yet reported) may exist.
    int64_t n = static_cast<int64_t>(snap->workloads.size());
    CHECK(n >= acknowledged);
    CHECK(n <= acknowledged + round + 1);
    CHECK(max_index == n - 1);
    REQUIRE(snap->hosts.size() == 1);
    CHECK(snap->hosts[0].labels.at("last") == std::to_string(max_index));
    // The event log holds exactly the whole transactions' events: two for
    // the seed, then per transaction 1 workload + replicas + 1 host event.
    int64_t want_events = 2;
    for (const Workload& w : snap->workloads) want_events += w.replicas + 2;
    CHECK(snap->event_seq == want_events);
    next = static_cast<int>(n);
  }
  CHECK(acknowledged >= 50);
}

}  // namespace
}  // namespace nest::store
