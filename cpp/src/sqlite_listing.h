// Listings on SQLite (SqliteStore::tokens_query): the SQL of each kind of listing, and the
// counts of recent listings kept while they cannot have changed. Private to sqlite_store.cc.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tokenkeep/token_query.h"

namespace tokenkeep {

// What a listing statement selects: the count of the matches, the page's ids (rows are read
// by id afterwards: a sort never carries wide rows), or the page's rows themselves (every
// row of a listing: one statement instead of one lookup per id).
enum class SqliteListing { kCount, kIds, kRows };

// The SQL for `q`. One text per (owner given, state, search, scope filter, sort, direction,
// what), each a stable string for the statement cache. Parameters: ?1 owner, ?2 now, ?3
// folded search, ?4 scopes (sqlite_json_strings), ?5 limit, ?6 offset. kRows selects
// TOKEN_SELECT's columns.
const char* sqlite_listing_sql(const TokenQuery& q, SqliteListing what);

// The SQL of the earliest expires_at >= ?2 among the live tokens of owner ?1: until then no
// token of the owner enters or leaves the active state.
extern const char* const kSqliteNextExpirySql;

// A JSON array of strings, for json_each.
std::string sqlite_json_strings(const std::vector<std::string>& items);

// Counts of one owner's recent listings. A count is reused for the same listing while the
// database is unchanged (`version`: PRAGMA data_version for other connections' commits and
// this connection's total changes) and `now` lies between the time it was counted and the
// next expiry of any live token of the owner. Not thread-safe: used under the store's mutex.
class ListingCounts {
 public:
  struct Version {
    std::int64_t data_version = 0;
    std::int64_t changes = 0;
    bool operator==(const Version& o) const { return data_version == o.data_version && changes == o.changes; }
  };
  std::optional<std::int64_t> find(const std::string& key, const Version& version, std::int64_t now) const;
  // `valid_until`: the next expiry (nullopt: none, valid until a change).
  void keep(const std::string& key, const Version& version, std::int64_t now,
            std::optional<std::int64_t> valid_until, std::int64_t total);
  // The key of a listing (its SQL and its parameters but time and paging).
  static std::string key(const char* sql, const std::string& owner, const std::string& search,
                         const std::string& scopes);

 private:
  struct Entry {
    std::string key;
    Version version;
    std::int64_t counted_at = 0;
    std::optional<std::int64_t> valid_until;
    std::int64_t total = 0;
  };
  static constexpr std::size_t kMax = 64;
  std::vector<Entry> entries_;
  std::size_t next_ = 0;  // the slot to replace once full
};

}  // namespace tokenkeep
