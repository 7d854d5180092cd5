// Scope usage: which scopes each token's successful verifications required (engine.h, "Scope
// usage"). The hot path only ORs bits into the cached token (Engine::use_record); the use
// flusher turns them into one row per name:action with its last use (scope_uses_take), and
// scope_usage reads those rows plus what is still in memory.
#include <map>

#include "tokenkeep/engine.h"
#include "tokenkeep/errors.h"

namespace tokenkeep {

void Engine::scope_uses_take(const CachedToken& t, std::vector<ScopeUse>* out) const {
  const ScopeMask m = t.scopes_window.exchange(0, std::memory_order_relaxed);
  if (m == 0) return;
  const std::int64_t at = t.used_us.load(std::memory_order_relaxed);
  for (auto& scope : vocabulary_.actions_of(m)) out->push_back(ScopeUse{t.id, std::move(scope), at});
}

std::vector<ScopeUsage> Engine::scope_usage(const std::string& owner,
                                            const std::vector<std::string>& token_ids,
                                            std::int64_t within_us) {
  owner_check(owner);
  if (within_us <= 0) fail(ErrorCode::kInvalidArgument, "within must be a positive duration", "within");
  std::vector<TokenRecord> records;
  if (token_ids.empty()) {
    TokenQuery live;
    live.owner = owner;
    live.state = TokenQuery::State::kLive;
    live.limit = TokenQuery::kNoLimit;
    records = repo_->tokens_query(live, clock_->now_us()).records;
  } else {
    for (const auto& t : token_ids) {
      auto r = repo_->token_find_owned(owner, id_resolve(t));
      if (!r) fail(ErrorCode::kNotFound, "no such token", "token_id");
      records.push_back(std::move(*r));
    }
  }
  std::vector<std::int64_t> ids;
  ids.reserve(records.size());
  for (const auto& r : records) ids.push_back(r.id);
  const std::int64_t since = clock_->now_us() - within_us;
  std::vector<ScopeUse> rows = repo_->scopes_used(ids, since);
  // Uses this process recorded and has not persisted yet.
  for (const auto& r : records) {
    if (auto t = cache_.find(r.id)) {
      const ScopeMask window = t->scopes_window.load(std::memory_order_relaxed);
      const std::int64_t at = t->used_us.load(std::memory_order_relaxed);
      if (at < since) continue;
      for (auto& scope : vocabulary_.actions_of(window)) rows.push_back(ScopeUse{r.id, std::move(scope), at});
    }
  }
  {
    std::lock_guard<std::mutex> lock(uses_mu_);  // and uses of snapshots outside the cache
    for (const auto& r : records) {
      auto it = uses_loose_.find(r.id);
      if (it == uses_loose_.end() || it->second.used_us < since) continue;
      for (auto& scope : vocabulary_.actions_of(it->second.window))
        rows.push_back(ScopeUse{r.id, std::move(scope), it->second.used_us});
    }
  }
  std::map<std::int64_t, std::map<std::string, std::int64_t>> last;  // id -> scope -> last use
  for (const auto& u : rows) {
    std::int64_t& at = last[u.id][u.scope];
    at = std::max(at, u.at);
  }
  std::vector<ScopeUsage> out;
  out.reserve(records.size());
  for (auto& r : records) {
    ScopeUsage u;
    ScopeMask used = 0, granted = 0;
    try {
      granted = vocabulary_.mask_of(r.scopes);
    } catch (const Error&) {
      granted = 0;  // as verification: a scope no longer in the vocabulary grants nothing
    }
    // Only scopes the token still holds: one used before a narrowing must not come back, so
    // narrowing a token to its `used` can never widen it.
    for (const auto& [scope, at] : last[r.id]) {
      ScopeMask m = 0;
      try {
        m = vocabulary_.mask_of(scope);
      } catch (const Error&) {
        continue;  // a scope no longer in the vocabulary
      }
      if ((m & granted) == 0) continue;
      used |= m;
      u.last_used.push_back(ScopeUse{r.id, scope, at});
    }
    u.used = vocabulary_.names_of(used);
    u.unused = vocabulary_.names_of(granted & ~used);
    uses_overlay(&r);
    u.record = std::move(r);
    out.push_back(std::move(u));
  }
  return out;
}

}  // namespace tokenkeep
