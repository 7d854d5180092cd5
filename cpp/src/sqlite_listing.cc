#include "sqlite_listing.h"

#include <string>
#include <vector>

#include "listing_order.h"
#include "repository_rules.h"
#include "sqlite_connection.h"

namespace tokenkeep {

// Each text is planned for its own index use: a filter left out is not in the text, so an
// index that lacks its column still covers the query. Pages select ids only (the rows are
// read by id afterwards): wide rows kept out of a sort by expiry cost ~10x less.
const char* sqlite_listing_sql(const TokenQuery& q, SqliteListing what) {
  constexpr int kStates = TokenQuery::kStates;
  static const std::vector<std::string> texts = [] {
    std::vector<std::string> out;
    for (int variant = 0; variant < 2 * kStates * 4; ++variant) {
      const int owner = variant / (kStates * 4), state = variant / 4 % kStates;
      const int searched = variant / 2 % 2, scoped = variant % 2;
      {
        std::string where = owner ? "WHERE owner = ?1" : "WHERE 1";
        where += " AND " + listing_state_sql(static_cast<TokenQuery::State>(state), "?2");
        where += searched ? " AND instr(lower(name), ?3) > 0" : " AND ?3 = ''";
        where += scoped ? " AND EXISTS (SELECT 1 FROM json_each(?4) AS w"
                          " WHERE instr(' ' || scopes || ' ', ' ' || w.value || ' ') > 0)"
                        : " AND ?4 = '[]'";
        out.push_back("SELECT count(*) FROM tokens " + where);
        for (const char* columns : {"SELECT id FROM tokens ", TOKEN_SELECT}) {
          for (int sort = 0; sort < 4; ++sort) {
            for (int desc = 0; desc < 2; ++desc) {
              const std::string order = listing_order_sql(sort, desc != 0, "name");
              out.push_back(columns + where + " ORDER BY " + order + " LIMIT ?5 OFFSET ?6");
            }
          }
        }
      }
    }
    return out;
  }();
  const std::size_t variant = (q.owner ? kStates * 4u : 0u) + static_cast<std::size_t>(q.state) * 4 +
                              (q.search.empty() ? 0u : 2u) + (q.scopes_any.empty() ? 0u : 1u);
  const std::size_t page = 1 + (what == SqliteListing::kRows ? 8u : 0u) +
                           static_cast<std::size_t>(q.sort) * 2 + (q.descending ? 1 : 0);
  const std::size_t index = variant * 17 + (what == SqliteListing::kCount ? 0 : page);
  return texts[index].c_str();
}

// A JSON array of strings for json_each.
std::string sqlite_json_strings(const std::vector<std::string>& items) {
  static const char kHex[] = "0123456789abcdef";
  std::string out = "[";
  for (const auto& item : items) {
    if (out.size() > 1) out += ",";
    out += '"';
    for (const unsigned char c : item) {
      if (c == '"' || c == '\\') {
        out += '\\';
        out += static_cast<char>(c);
      } else if (c < 0x20) {
        out += "\\u00";
        out += kHex[c >> 4];
        out += kHex[c & 15];
      } else {
        out += static_cast<char>(c);
      }
    }
    out += '"';
  }
  return out + "]";
}

const char* const kSqliteNextExpirySql =
    "SELECT min(expires_at) FROM tokens WHERE owner = ?1 AND revoked_at IS NULL AND expires_at >= ?2";

std::optional<std::int64_t> ListingCounts::find(const std::string& key, const Version& version,
                                                std::int64_t now) const {
  for (const auto& e : entries_) {
    const bool in_time = now >= e.counted_at && (!e.valid_until || now <= *e.valid_until);
    if (e.key == key && e.version == version && in_time) {
      return e.total;
    }
  }
  return std::nullopt;
}

void ListingCounts::keep(const std::string& key, const Version& version, std::int64_t now,
                         std::optional<std::int64_t> valid_until, std::int64_t total) {
  Entry fresh{key, version, now, valid_until, total};
  for (auto& e : entries_) {
    if (e.key == key) {
      e = std::move(fresh);
      return;
    }
  }
  if (entries_.size() < kMax) {
    entries_.push_back(std::move(fresh));
  } else {
    entries_[next_] = std::move(fresh);
    next_ = (next_ + 1) % kMax;
  }
}

std::string ListingCounts::key(const char* sql, const std::string& owner, const std::string& search,
                               const std::string& scopes) {
  // Lengths first: no two different listings share a key.
  return std::to_string(reinterpret_cast<std::uintptr_t>(sql)) + ":" + std::to_string(owner.size()) + ":" +
         owner + std::to_string(search.size()) + ":" + search + scopes;
}

}  // namespace tokenkeep
