#include "store/raw_bench.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "store/sqlite_util.h"

namespace nest::store {

absl::StatusOr<double> MeasureRawCommitsPerSecond(const std::string& dir,
                                                  int n) {
  if (n < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("commit count must be >= 1, got ", n));
  }
  std::string path = absl::StrCat(dir, "/raw-commit-bench-", getpid(), ".db");
  auto cleanup = [&path] {
    for (const char* suffix : {"", "-wal", "-shm"}) {
      std::remove(absl::StrCat(path, suffix).c_str());
    }
  };
  cleanup();
  auto measure = [&]() -> absl::StatusOr<double> {
    NEST_ASSIGN_OR_RETURN(internal::Conn conn,
                          internal::OpenConnection(path, true, 5000));
    NEST_RETURN_IF_ERROR(internal::Exec(
        conn.get(), "CREATE TABLE t(k INTEGER PRIMARY KEY, v TEXT NOT NULL)"));
    NEST_ASSIGN_OR_RETURN(
        internal::Stmt insert,
        internal::Stmt::Prepare(conn.get(), "INSERT INTO t(v) VALUES ('x')"));
    // Wall time on purpose: this measures the disk, not the control plane,
    // so an injected clock would be meaningless here.
    auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < n; ++i) {
      NEST_RETURN_IF_ERROR(internal::Exec(conn.get(), "BEGIN IMMEDIATE"));
      NEST_RETURN_IF_ERROR(insert.Run());
      insert.Reset();
      NEST_RETURN_IF_ERROR(internal::Exec(conn.get(), "COMMIT"));
    }
    std::chrono::duration<double> took =
        std::chrono::steady_clock::now() - start;
    return n / std::max(took.count(), 1e-9);
  };
  absl::StatusOr<double> result = measure();
  cleanup();
  return result;
}

}  // namespace nest::store
