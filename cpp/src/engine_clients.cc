// Recent clients: the distinct addresses a token was verified from (engine.h, recent_clients;
// recent_clients_many for a page of tokens in two reads).
// The hot path compares the client with the token's few remembered addresses (ClientLog, no
// lock); an address not among them takes the oldest slot and is queued under uses_mu_ for the
// use flusher (engine_uses.cc), which writes them with last-used times in its batch.
#include <algorithm>
#include <map>

#include "tokenkeep/engine.h"
#include "tokenkeep/errors.h"
#include "tokenkeep/token_format.h"

namespace tokenkeep {

// A known address refreshes its time at most once a second (one relaxed store); the flusher
// writes it when the token is next persisted, like last_used_at.
void Engine::client_record(const CachedToken& t, const IpAddress& a, std::int64_t now) {
  if (ClientLog* log = t.clients.load(std::memory_order_acquire)) {
    for (auto& s : log->slots) {
      if (s.lo.load(std::memory_order_relaxed) == a.lo && s.hi.load(std::memory_order_relaxed) == a.hi) {
        const std::int64_t at = s.at.load(std::memory_order_relaxed);
        if (at == 0) break;  // an empty slot, or one being rewritten
        if (now - at >= kMicrosPerSecond) s.at.store(now, std::memory_order_relaxed);
        return;
      }
    }
  }
  client_new(t, a, now);
}

void Engine::client_new(const CachedToken& t, const IpAddress& a, std::int64_t now) {
  ClientLog* log = t.clients.load(std::memory_order_acquire);
  if (log == nullptr) {
    auto* fresh = new ClientLog();
    if (t.clients.compare_exchange_strong(log, fresh, std::memory_order_acq_rel)) {
      log = fresh;
    } else {
      delete fresh;  // another thread installed one: `log` now holds it
    }
  }
  ClientSlot* victim = &log->slots[0];
  for (auto& s : log->slots) {
    if (s.at.load(std::memory_order_relaxed) < victim->at.load(std::memory_order_relaxed)) victim = &s;
  }
  victim->at.store(0, std::memory_order_relaxed);
  victim->hi.store(a.hi, std::memory_order_relaxed);
  victim->lo.store(a.lo, std::memory_order_relaxed);
  victim->at.store(now, std::memory_order_release);
  ClientUse use{t.id, ip_address_format(a), now};
  std::lock_guard<std::mutex> lock(uses_mu_);
  if (clients_parked_.size() >= kClientsParkedMax) return;  // advisory: a flood is not kept
  if (flusher_fork_ != fork_generation()) flusher_ensure();
  clients_parked_.push_back(std::move(use));
}

void Engine::clients_take(const CachedToken& t, std::vector<ClientUse>* out) {
  const ClientLog* log = t.clients.load(std::memory_order_acquire);
  if (log == nullptr) return;
  for (const auto& s : log->slots) {
    const std::int64_t at = s.at.load(std::memory_order_acquire);
    if (at == 0) continue;
    const IpAddress a{s.hi.load(std::memory_order_relaxed), s.lo.load(std::memory_order_relaxed)};
    out->push_back(ClientUse{t.id, ip_address_format(a), at});
  }
}

std::vector<ClientUse> Engine::recent_clients(const std::string& owner, std::string_view token_id) {
  owner_check(owner);
  const std::int64_t id = id_resolve(token_id);
  if (!repo_->token_find_owned(owner, id)) fail(ErrorCode::kNotFound, "no such token", "token_id");
  return clients_newest(id, repo_->clients_recent(id, TokenRepository::kClientsKept));
}

std::map<std::int64_t, std::vector<ClientUse>> Engine::recent_clients_many(
    const std::string& owner, const std::vector<std::string>& token_ids) {
  owner_check(owner);
  std::vector<std::int64_t> ids;
  ids.reserve(token_ids.size());
  for (const auto& t : token_ids) {
    if (const auto id = token_id_parse(t)) ids.push_back(*id);  // not an id: left out, as a stranger's
  }
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  // The owner's live tokens among them, as token_find_owned would find each.
  std::vector<std::int64_t> live;
  for (const auto& r : repo_->tokens_find(ids)) {
    if (r.owner == owner && !r.revoked_at) live.push_back(r.id);
  }
  std::map<std::int64_t, std::vector<ClientUse>> rows;
  for (const std::int64_t id : live) rows[id];
  for (auto& c : repo_->clients_recent_many(live, TokenRepository::kClientsKept)) {
    if (auto it = rows.find(c.id); it != rows.end()) it->second.push_back(std::move(c));
  }
  for (auto& [id, v] : rows) v = clients_newest(id, std::move(v));
  return rows;
}

std::vector<ClientUse> Engine::clients_newest(std::int64_t id, std::vector<ClientUse> rows) {
  // What this process saw and has not persisted yet.
  if (auto t = cache_.find(id)) clients_take(*t, &rows);
  {
    std::lock_guard<std::mutex> lock(uses_mu_);
    for (const auto& c : clients_parked_) {
      if (c.id == id) rows.push_back(c);
    }
  }
  std::map<std::string, std::int64_t> last;
  for (const auto& r : rows) {
    std::int64_t& at = last[r.address];
    at = std::max(at, r.at);
  }
  std::vector<ClientUse> out;
  out.reserve(last.size());
  for (auto& [address, at] : last) out.push_back(ClientUse{id, address, at});
  std::sort(out.begin(), out.end(), [](const ClientUse& a, const ClientUse& b) {
    return a.at != b.at ? a.at > b.at : a.address < b.address;
  });
  if (out.size() > static_cast<std::size_t>(TokenRepository::kClientsKept))
    out.resize(static_cast<std::size_t>(TokenRepository::kClientsKept));
  return out;
}

}  // namespace tokenkeep
