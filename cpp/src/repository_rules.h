// The row rules every TokenRepository applies (SQLite, PostgreSQL, the tests' fake), one home
// each, as listing_order.h is for ORDER BY: which rows a listing's state selects, which rows
// purge deletes, and how a taken name is reported. A rule is written here in SQL (for the two
// databases, with the backend's spelling of its parameter) and, right below it, over a record
// (for the fake); repository_contract_test.cc holds all three backends to the same answers.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "tokenkeep/errors.h"
#include "tokenkeep/record.h"
#include "tokenkeep/scopes.h"
#include "tokenkeep/token_query.h"

namespace tokenkeep {

// The WHERE term of a listing state at time `now` (the backend's parameter: "?2", or
// "$2::bigint" where the server must learn its type). Every state mentions `now`, so one
// parameter list fits every state. An expiry equal to now is still active, as verify decides.
inline std::string listing_state_sql(TokenQuery::State state, const std::string& now) {
  switch (state) {
    case TokenQuery::State::kActive:
      return "revoked_at IS NULL AND (expires_at IS NULL OR expires_at >= " + now + ")";
    case TokenQuery::State::kInactive:
      return "(revoked_at IS NOT NULL OR expires_at < " + now + ")";
    case TokenQuery::State::kLive:
      return "revoked_at IS NULL AND " + now + " IS NOT NULL";
    case TokenQuery::State::kAll:
      break;
  }
  return now + " IS NOT NULL";
}

// The same rule over one record.
inline bool listing_state_matches(TokenQuery::State state, const TokenRecord& r, std::int64_t now) {
  const bool active = !r.revoked_at && (!r.expires_at || *r.expires_at >= now);
  switch (state) {
    case TokenQuery::State::kActive:
      return active;
    case TokenQuery::State::kInactive:
      return !active;
    case TokenQuery::State::kLive:
      return !r.revoked_at;
    case TokenQuery::State::kAll:
      break;
  }
  return true;
}

// The WHERE term of purge (TokenRepository::tokens_purge and tokens_purgeable): revoked
// before `cutoff` or expired before it. `cutoff` is the backend's parameter ("?1", "$1").
inline std::string purge_sql(const std::string& cutoff) {
  return "revoked_at < " + cutoff + " OR expires_at < " + cutoff;
}

// The same rule over one record.
inline bool purge_matches(const TokenRecord& r, std::int64_t cutoff) {
  return (r.revoked_at && *r.revoked_at < cutoff) || (r.expires_at && *r.expires_at < cutoff);
}

// The WHERE term of tokens_expiring: live tokens whose expiry lies in [from, until] (both
// ends included), for the backend's parameters; its rows are sorted by kExpiringOrderSql.
inline std::string expiring_sql(const std::string& from, const std::string& until) {
  return "revoked_at IS NULL AND expires_at BETWEEN " + from + " AND " + until;
}
inline constexpr const char* kExpiringOrderSql = "expires_at, id";

// The same rule over one record.
inline bool expiring_matches(const TokenRecord& r, std::int64_t from, std::int64_t until) {
  return !r.revoked_at && r.expires_at && *r.expires_at >= from && *r.expires_at <= until;
}

// NameTaken for `name`, the same error (code, message, field "name") from every backend, so a
// surface's answer (the CLI's --json error, the page's form error) does not depend on it.
[[noreturn]] inline void name_taken_fail(const std::string& name) {
  fail(ErrorCode::kNameTaken, "a token named '" + name + "' already exists", "name");
}

// The first name that two of `records` of one owner share, or nullptr. An insert fails with
// NameTaken for it when no stored live token holds one of the names first.
inline const std::string* records_repeated_name(const std::vector<TokenRecord>& records) {
  std::set<std::pair<std::string, std::string>> seen;
  for (const auto& r : records) {
    if (!seen.emplace(r.owner, r.name).second) return &r.name;
  }
  return nullptr;
}

// Networks are stored as their canonical CIDRs joined by spaces ("" for an unbound token).
inline std::string networks_join(const std::vector<std::string>& networks) { return scopes_join(networks); }
inline std::vector<std::string> networks_split(const std::string& text) { return scopes_split(text); }

// The audit detail of a create ("networks: 10.0.0.0/8", "" when unbound) and of an
// update_networks ("10.0.0.0/8 -> any"): the same text on every backend.
inline std::string networks_create_detail(const std::vector<std::string>& networks) {
  return networks.empty() ? std::string() : "networks: " + networks_join(networks);
}
inline std::string networks_update_detail(const std::vector<std::string>& before,
                                          const std::vector<std::string>& after) {
  auto shown = [](const std::vector<std::string>& n) {
    return n.empty() ? std::string("any") : networks_join(n);
  };
  return shown(before) + " -> " + shown(after);
}

}  // namespace tokenkeep
