// The composition root: opens a store at a path by choosing the repository (SQLite today),
// loading the peppers (SPEC §2) and the clock, and handing them to an Engine.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tokenkeep/engine.h"
#include "tokenkeep/sqlite_store.h"

namespace tokenkeep {

struct StoreOptions {
  EngineOptions engine;
  SqliteOptions sqlite;
  // Explicit pepper (64 hex chars); empty: TOKENKEEP_PEPPER, else the key file beside the db.
  std::optional<std::string> pepper_hex;
  // Older peppers still accepted for verification (also TOKENKEEP_PEPPER_PREVIOUS, comma-separated).
  std::vector<std::string> previous_peppers_hex;
  std::shared_ptr<const Clock> clock;  // empty: the system clock
};

std::unique_ptr<Engine> store_open(const std::string& path, const StoreOptions& options);

}  // namespace tokenkeep
