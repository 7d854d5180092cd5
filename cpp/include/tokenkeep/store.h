// The composition root: resolves where the store lives (store_location.h), chooses the
// repository (SQLite for a file or :memory:, PostgreSQL for a URL), loads the peppers
// (SPEC §2) and the clock, and hands them to an Engine. A URL store takes its pepper only
// from pepper_hex or TOKENKEEP_PEPPER (never a key file), and the database records the
// pepper's fingerprint on first open: a node given another pepper is refused (StoreError)
// before it answers anything.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tokenkeep/engine.h"
#include "tokenkeep/pg_store.h"
#include "tokenkeep/sqlite_store.h"
#include "tokenkeep/store_location.h"

namespace tokenkeep {

struct StoreOptions {
  EngineOptions engine;
  SqliteOptions sqlite;
  PgOptions pg;  // a PostgreSQL URL only
  // Explicit pepper (64 hex chars); empty: TOKENKEEP_PEPPER, else the key file beside the db.
  std::optional<std::string> pepper_hex;
  // Older peppers still accepted for verification (also TOKENKEEP_PEPPER_PREVIOUS, comma-separated).
  std::vector<std::string> previous_peppers_hex;
  std::shared_ptr<const Clock> clock;  // empty: the system clock
  // Create the database's missing folders (mode 0700). Otherwise a missing folder is a
  // StoreError naming the path.
  bool create_dirs = false;
};

// Opens the store that `spec` names (any spelling store_location_resolve accepts).
// InvalidArgument for a spelling it refuses, StoreError if the store cannot be opened.
std::unique_ptr<Engine> store_open(const std::string& spec, const StoreOptions& options);
std::unique_ptr<Engine> store_open(const StoreLocation& location, const StoreOptions& options);

}  // namespace tokenkeep
