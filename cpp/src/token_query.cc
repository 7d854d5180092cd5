#include "tokenkeep/token_query.h"

#include "tokenkeep/errors.h"

namespace tokenkeep {

TokenQuery::State token_query_state_parse(std::string_view word) {
  if (word == "active") return TokenQuery::State::kActive;
  if (word == "inactive") return TokenQuery::State::kInactive;
  if (word == "live") return TokenQuery::State::kLive;
  if (word == "all") return TokenQuery::State::kAll;
  fail(ErrorCode::kInvalidArgument, "state must be one of active, inactive, live, all", "state");
}

TokenQuery::Sort token_query_sort_parse(std::string_view word) {
  if (word == "created") return TokenQuery::Sort::kCreated;
  if (word == "name") return TokenQuery::Sort::kName;
  if (word == "expires") return TokenQuery::Sort::kExpires;
  if (word == "last_used") return TokenQuery::Sort::kLastUsed;
  fail(ErrorCode::kInvalidArgument, "sort must be one of created, name, expires, last_used", "sort");
}

void token_query_validate(const TokenQuery& q) {
  if (q.limit < 1) fail(ErrorCode::kInvalidArgument, "limit must be at least 1", "limit");
  if (q.offset < 0) fail(ErrorCode::kInvalidArgument, "offset must not be negative", "offset");
  // PostgreSQL parameters are C strings; a NUL could never match a name anyway.
  if (q.search.find('\0') != std::string::npos) {
    fail(ErrorCode::kInvalidArgument, "search must not contain a NUL character", "search");
  }
  if (q.search.size() > 1000) fail(ErrorCode::kInvalidArgument, "search is longer than 1000 bytes", "search");
}

std::string token_query_fold(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

}  // namespace tokenkeep
