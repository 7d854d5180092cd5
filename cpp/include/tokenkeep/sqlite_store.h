// TokenRepository on SQLite (the system libsqlite3, so Python's sqlite3 module shares the
// library and its POSIX locks). WAL, synchronous=FULL, BEGIN IMMEDIATE for every write with a
// busy timeout, schema versioned by PRAGMA user_version. The only file that knows SQL.
#pragma once

#include <memory>
#include <string>

#include "tokenkeep/store_location.h"
#include "tokenkeep/token_repository.h"

namespace tokenkeep {

inline constexpr int kSchemaVersion = 9;

struct SqliteOptions {
  int busy_timeout_ms = 5000;
  bool read_only = false;
};

// Opens (creating with mode 0600 if missing) and migrates the database at `location` (a
// kFile or kMemory location: store_location.h). StoreError with the reason on failure,
// including a file that is not a database and a schema newer than kSchemaVersion.
std::unique_ptr<TokenRepository> sqlite_store_open(const StoreLocation& location,
                                                   const SqliteOptions& options);

}  // namespace tokenkeep
