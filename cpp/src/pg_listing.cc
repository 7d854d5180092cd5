// Listings on PostgreSQL (PgStore::tokens_query): the SQL of each kind of listing.
#include <string>
#include <vector>

#include "listing_order.h"
#include "pg_rows.h"
#include "repository_rules.h"

namespace tokenkeep {
namespace pg_detail {

// tokens_query's SQL, one text per (owner given, state, sort, direction), each prepared once
// per connection: $1 owner (NULL and unused when all owners), $2 now, $3 folded search, $4
// scopes (text[]), $5 limit, $6 offset. The window count sees every match before LIMIT.
// Names sort bytewise (COLLATE "C"), as SQLite and the fake do.
const char* pg_query_sql(const TokenQuery& q, bool count) {
  static const std::vector<std::string> texts = [] {
    std::vector<std::string> out;
    for (int owner = 0; owner < 2; ++owner) {
      for (int state = 0; state < TokenQuery::kStates; ++state) {
        std::string where = owner ? "WHERE owner = $1" : "WHERE $1::text IS NULL";
        where += " AND " + listing_state_sql(static_cast<TokenQuery::State>(state), "$2::bigint");
        where +=
            " AND ($3 = '' OR strpos(translate(name, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', "
            "'abcdefghijklmnopqrstuvwxyz'), $3) > 0)"
            " AND (cardinality($4::text[]) = 0 OR string_to_array(scopes, ' ') && $4::text[])";
        out.push_back("SELECT count(*) FROM tokenkeep_tokens " + where +
                      " AND $5::bigint IS NOT NULL AND $6::bigint IS NOT NULL");
        for (int sort = 0; sort < 4; ++sort) {
          for (int desc = 0; desc < 2; ++desc) {
            const std::string order = listing_order_sql(sort, desc != 0, "name COLLATE \"C\"");
            out.push_back("SELECT " PG_TOKEN_COLUMNS ", count(*) OVER () FROM tokenkeep_tokens " + where +
                          " ORDER BY " + order + " LIMIT $5 OFFSET $6");
          }
        }
      }
    }
    return out;
  }();
  const std::size_t variant =
      (q.owner ? static_cast<std::size_t>(TokenQuery::kStates) : 0u) + static_cast<std::size_t>(q.state);
  const std::size_t page = 1 + static_cast<std::size_t>(q.sort) * 2 + (q.descending ? 1 : 0);
  const std::size_t index = variant * 9 + (count ? 0 : page);
  return texts[index].c_str();
}

}  // namespace pg_detail
}  // namespace tokenkeep
