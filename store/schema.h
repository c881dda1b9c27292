// The store's schema history. Version N of the schema is what the first N
// migrations produce; a file records its version in PRAGMA user_version.
#pragma once

#include <cstdint>

#include "core/status.h"

struct sqlite3;

namespace nest::store {

// The schema version this binary writes.
inline constexpr int64_t kSchemaVersion = 8;

// PRAGMA application_id of Nest store files ("NEST"), so opening some other
// SQLite file as a store fails instead of being "migrated".
inline constexpr int64_t kApplicationId = 0x4E455354;

namespace internal {

// Brings `db` forward to kSchemaVersion, each step in its own transaction
// (a crash between steps leaves a valid older version). Fails with
// FAILED_PRECONDITION when the file is newer than this binary or belongs to
// another application. Caller holds the only writer.
absl::Status Migrate(sqlite3* db);

}  // namespace internal
}  // namespace nest::store
