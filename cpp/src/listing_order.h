// The ORDER BY of a listing (token_query.h), one rule for every backend: "never expires" sorts
// after every date, "never used" before every use, ties broken by id in the same direction.
// `name_column` is the backend's spelling of a bytewise name comparison.
#pragma once

#include <string>

namespace tokenkeep {

inline std::string listing_order_sql(int sort, bool descending, const char* name_column) {
  const char* dir = descending ? " DESC" : " ASC";
  const char* never_expires = descending ? " NULLS FIRST" : " NULLS LAST";
  const char* never_used = descending ? " NULLS LAST" : " NULLS FIRST";
  std::string order = sort == 0   ? std::string("created_at") + dir
                      : sort == 1 ? std::string(name_column) + dir
                      : sort == 2 ? std::string("expires_at") + dir + never_expires
                                  : std::string("last_used_at") + dir + never_used;
  return order + ", id" + dir;
}

}  // namespace tokenkeep
