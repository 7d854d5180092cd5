// A listing: which tokens (owner, state, name search, scopes), in which order, which page.
// TokenRepository::tokens_query answers it in the database (indexed SQL, one page of rows
// plus the count of all matches); Engine::query validates it first. Surfaces (the page, the
// CLI, store.list) spell state and sort as words and parse them here, so the words and their
// errors have one source.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tokenkeep/record.h"

namespace tokenkeep {

struct TokenQuery {
  std::optional<std::string> owner;  // none = all owners
  // active = not revoked and not expired (expires_at empty or >= now); inactive = revoked or
  // expired; live = not revoked (expired too, until purged: store.list(owner)'s default);
  // all = every row. The rules themselves: cpp/src/repository_rules.h.
  enum class State { kActive, kInactive, kLive, kAll } state = State::kActive;
  static constexpr int kStates = 4;
  // Case-insensitive (ASCII letters) substring of the name, matched literally: no wildcard
  // (`%`, `_`, `*`) means anything. Empty: any name.
  std::string search;
  // Engine::query: scope strings of the vocabulary; a token matches if it grants every action
  // of one of them ("device:read" matches tokens holding "device" or "device:read").
  // TokenRepository::tokens_query: stored canonical scope strings; a token matches if its
  // stored scopes contain one of them. Empty: any scopes.
  std::vector<std::string> scopes_any;
  // created: created_at; name: bytewise; expires: "never" after every time; last_used:
  // "never used" before every time. Ties by id. `descending` reverses the whole order.
  enum class Sort { kCreated, kName, kExpires, kLastUsed } sort = Sort::kCreated;
  bool descending = true;
  // At most `limit` rows (>= 1; kNoLimit for every row) after skipping `offset` (>= 0).
  static constexpr std::int64_t kNoLimit = std::numeric_limits<std::int64_t>::max();
  std::int64_t limit = 50, offset = 0;
};

struct TokenPage {
  std::vector<TokenRecord> records;
  std::int64_t total = 0;  // rows matching the query, ignoring limit and offset
};

// "active" | "inactive" | "live" | "all"; InvalidArgument with field "state" otherwise.
TokenQuery::State token_query_state_parse(std::string_view word);
// "created" | "name" | "expires" | "last_used"; InvalidArgument with field "sort" otherwise.
TokenQuery::Sort token_query_sort_parse(std::string_view word);
// InvalidArgument with field "limit", "offset" or "search" for a value out of range.
void token_query_validate(const TokenQuery& q);
// ASCII lower case: the folding `search` is matched with on every backend.
std::string token_query_fold(std::string_view text);

}  // namespace tokenkeep
