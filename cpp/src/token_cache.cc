#include "tokenkeep/token_cache.h"

#include <mutex>
#include <new>

namespace tokenkeep {

CachedToken::CachedToken(const TokenRecord& r, ScopeMask granted_mask, const Pepper* p)
    : id(r.id),
      digest(r.digest),
      pepper(p),
      granted(granted_mask),
      created_at(r.created_at),
      expires_at(r.expires_at.value_or(kNever)),
      revoked_at(r.revoked_at.value_or(0)),
      networks(networks_parse_stored(r.networks)),
      networks_text(scopes_join(r.networks)),
      used_us(r.last_used_at.value_or(0)),
      persisted_us(r.last_used_at.value_or(0)) {
  std::string scopes = scopes_join(r.scopes);
  text_.reserve(r.owner.size() + r.name.size() + scopes.size() + r.description.size());
  text_ += r.owner;
  text_ += r.name;
  text_ += scopes;
  text_ += r.description;
  owner_len_ = static_cast<std::uint32_t>(r.owner.size());
  name_len_ = static_cast<std::uint32_t>(r.name.size());
  description_len_ = static_cast<std::uint32_t>(r.description.size());
}

CachedToken::CachedToken(const CachedToken& o)
    : id(o.id),
      digest(o.digest),
      pepper(o.pepper),
      granted(o.granted),
      created_at(o.created_at),
      expires_at(o.expires_at),
      revoked_at(o.revoked_at),
      networks(o.networks),
      networks_text(o.networks_text),
      used_us(o.used_us.load()),
      persisted_us(o.persisted_us.load()),
      scopes_window(o.scopes_window.load()),
      scopes_seen(o.scopes_seen.load()),
      text_(o.text_),
      owner_len_(o.owner_len_),
      name_len_(o.name_len_),
      description_len_(o.description_len_) {
  if (const ClientLog* log = o.clients.load(std::memory_order_acquire)) {
    auto* copy = new ClientLog();
    for (std::size_t i = 0; i < ClientLog::kSlots; ++i) {
      copy->slots[i].hi.store(log->slots[i].hi.load(std::memory_order_relaxed), std::memory_order_relaxed);
      copy->slots[i].lo.store(log->slots[i].lo.load(std::memory_order_relaxed), std::memory_order_relaxed);
      copy->slots[i].at.store(log->slots[i].at.load(std::memory_order_relaxed), std::memory_order_relaxed);
    }
    clients.store(copy, std::memory_order_release);
  }
}

CachedToken::~CachedToken() { delete clients.load(std::memory_order_acquire); }

TokenCache::TokenCache(std::size_t capacity)
    : capacity_(capacity), per_shard_(capacity == 0 ? 0 : (capacity + kShards - 1) / kShards) {}

CachedTokenPtr TokenCache::find(std::int64_t id) const {
  Shard& s = shard(id);
  std::shared_lock<std::shared_mutex> lock(s.mu);
  auto it = s.map.find(id);
  return it == s.map.end() ? nullptr : it->second;
}

void TokenCache::insert(const CachedTokenPtr& token, const std::function<bool()>& still_valid,
                        std::vector<CachedTokenPtr>* displaced) {
  if (per_shard_ == 0) return;
  Shard& s = shard(token->id);
  std::unique_lock<std::shared_mutex> lock(s.mu);
  if (!still_valid()) return;
  auto it = s.map.find(token->id);
  if (it != s.map.end()) {
    displaced->push_back(std::move(it->second));
    it->second = token;
    return;
  }
  if (s.map.size() >= per_shard_) {
    auto victim = s.map.begin();
    displaced->push_back(std::move(victim->second));
    s.map.erase(victim);
  }
  s.map.emplace(token->id, token);
}

bool TokenCache::replace(const CachedTokenPtr& expected, const CachedTokenPtr& token) {
  Shard& s = shard(token->id);
  std::unique_lock<std::shared_mutex> lock(s.mu);
  auto it = s.map.find(token->id);
  if (it == s.map.end() || it->second != expected) return false;
  it->second = token;
  return true;
}

void TokenCache::erase(std::int64_t id, std::vector<CachedTokenPtr>* displaced) {
  Shard& s = shard(id);
  std::unique_lock<std::shared_mutex> lock(s.mu);
  auto it = s.map.find(id);
  if (it == s.map.end()) return;
  displaced->push_back(std::move(it->second));
  s.map.erase(it);
}

void TokenCache::clear(std::vector<CachedTokenPtr>* displaced) {
  for (auto& s : shards_) {
    std::unique_lock<std::shared_mutex> lock(s.mu);
    for (auto& [id, t] : s.map) displaced->push_back(std::move(t));
    s.map.clear();
  }
}

std::size_t TokenCache::size() const {
  std::size_t n = 0;
  for (auto& s : shards_) {
    std::shared_lock<std::shared_mutex> lock(s.mu);
    n += s.map.size();
  }
  return n;
}

void TokenCache::for_each(const std::function<void(const CachedTokenPtr&)>& f) const {
  for (auto& s : shards_) {
    std::shared_lock<std::shared_mutex> lock(s.mu);
    for (const auto& [id, t] : s.map) f(t);
  }
}

void TokenCache::lock_all() const {
  for (auto& s : shards_) s.mu.lock();
}

void TokenCache::unlock_all() const {
  for (auto it = shards_.rbegin(); it != shards_.rend(); ++it) it->mu.unlock();
}

void TokenCache::locks_renew() const {
  for (auto& s : shards_) new (&s.mu) std::shared_mutex();
}

}  // namespace tokenkeep
