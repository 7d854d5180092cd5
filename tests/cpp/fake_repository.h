// An in-memory TokenRepository for tests: the whole contract of token_repository.h (the
// same answers, errors and audit rows as SQLite, the coherence contract) in plain maps under
// one mutex. Engines built on it run without a database; repository_contract_test.cc holds
// it to the same suite as the real backends. Its coherence is a generation counter and a
// bounded history of changed ids, as a PostgreSQL node keeps.
#pragma once

#include <algorithm>
#include <atomic>
#include <deque>
#include <map>
#include <memory>
#include <mutex>

#include "repository_rules.h"
#include "tokenkeep/errors.h"
#include "tokenkeep/scopes.h"
#include "tokenkeep/token_repository.h"

namespace tokenkeep::testing {

class FakeRepository : public TokenRepository {
 public:
  // Where the fake's errors say it is, as the databases name their file or server.
  static inline const std::string kWhere = "the in-memory fake";

  std::optional<std::string> setting_get(const std::string& key) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = settings_.find(key);
    if (it == settings_.end()) return std::nullopt;
    return it->second;
  }

  std::string setting_put(const std::string& key, const std::string& value,
                          const std::optional<std::string>& expected) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = settings_.find(key);
    if (it != settings_.end() && it->second != expected && it->second != value) return it->second;
    settings_[key] = value;
    return value;
  }

  void tokens_insert(const std::vector<TokenRecord>& records, const std::string& actor,
                     std::int64_t at) override {
    std::lock_guard<std::mutex> lock(mu_);
    // As the databases report a failed insert: a stored live name, a repeated name, else
    // the constraint (a duplicate id).
    for (const auto& r : records) {
      if (live_name_taken(r.owner, r.name)) name_taken_fail(r.name);
    }
    if (const std::string* repeated = records_repeated_name(records)) name_taken_fail(*repeated);
    for (const auto& r : records) {
      if (tokens_.count(r.id)) {
        fail(ErrorCode::kStoreError,
             "cannot insert tokens into " + kWhere + ": a constraint failed; nothing was created");
      }
    }
    for (const auto& r : records) {
      tokens_[r.id] = r;
      audit_add(at, actor, "create", r.id, r.owner, r.name, "", scopes_join(r.scopes),
                networks_create_detail(r.networks));
    }
  }

  std::optional<TokenRecord> token_find(std::int64_t id) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = tokens_.find(id);
    if (it == tokens_.end()) return std::nullopt;
    return it->second;
  }

  std::optional<TokenRecord> token_find_owned(const std::string& owner, std::int64_t id) override {
    std::lock_guard<std::mutex> lock(mu_);
    const TokenRecord* r = live_owned(owner, id);
    if (!r) return std::nullopt;
    return *r;
  }

  TokenPage tokens_query(const TokenQuery& q, std::int64_t now) override {
    std::lock_guard<std::mutex> lock(mu_);
    const std::string search = token_query_fold(q.search);
    std::vector<TokenRecord> match;
    for (const auto& [id, r] : tokens_) {
      if (q.owner && r.owner != *q.owner) continue;
      if (!listing_state_matches(q.state, r, now)) continue;
      if (!search.empty() && token_query_fold(r.name).find(search) == std::string::npos) continue;
      if (!q.scopes_any.empty() && std::none_of(r.scopes.begin(), r.scopes.end(), [&](const std::string& s) {
            return std::find(q.scopes_any.begin(), q.scopes_any.end(), s) != q.scopes_any.end();
          })) {
        continue;
      }
      match.push_back(r);
    }
    // Ascending order; "never" expires after every time, "never used" before every use.
    auto less = [&](const TokenRecord& a, const TokenRecord& b) {
      auto key = [&](const TokenRecord& t) -> std::pair<std::int64_t, std::int64_t> {
        switch (q.sort) {
          case TokenQuery::Sort::kCreated:
            return {t.created_at, 0};
          case TokenQuery::Sort::kExpires:
            return {t.expires_at ? 0 : 1, t.expires_at.value_or(0)};
          case TokenQuery::Sort::kLastUsed:
            return {t.last_used_at ? 1 : 0, t.last_used_at.value_or(0)};
          case TokenQuery::Sort::kName:
            break;
        }
        return {0, 0};
      };
      if (q.sort == TokenQuery::Sort::kName && a.name != b.name) return a.name < b.name;
      if (key(a) != key(b)) return key(a) < key(b);
      return a.id < b.id;
    };
    std::sort(match.begin(), match.end(), [&](const TokenRecord& a, const TokenRecord& b) {
      return q.descending ? less(b, a) : less(a, b);
    });
    TokenPage page;
    page.total = static_cast<std::int64_t>(match.size());
    for (std::int64_t i = q.offset; i < page.total && i - q.offset < q.limit; ++i) {
      page.records.push_back(match[static_cast<std::size_t>(i)]);
    }
    return page;
  }

  std::vector<TokenRecord> tokens_expiring(std::int64_t from, std::int64_t until,
                                           const std::optional<std::string>& owner) override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<TokenRecord> out;
    for (const auto& [id, r] : tokens_) {
      if (expiring_matches(r, from, until) && (!owner || r.owner == *owner)) {
        out.push_back(r);
      }
    }
    std::sort(out.begin(), out.end(), [](const TokenRecord& a, const TokenRecord& b) {
      return *a.expires_at != *b.expires_at ? *a.expires_at < *b.expires_at : a.id < b.id;
    });
    return out;
  }

  bool token_update_scopes(const std::string& owner, std::int64_t id, const std::vector<std::string>& scopes,
                           const std::string& actor, std::int64_t at) override {
    std::lock_guard<std::mutex> lock(mu_);
    TokenRecord* r = live_owned(owner, id);
    if (!r) return false;
    audit_add(at, actor, "update_scopes", id, owner, r->name, scopes_join(r->scopes), scopes_join(scopes),
              "");
    r->scopes = scopes;
    publish({id});
    return true;
  }

  bool token_update_description(const std::string& owner, std::int64_t id, const std::string& description,
                                const std::string& actor, std::int64_t at) override {
    std::lock_guard<std::mutex> lock(mu_);
    TokenRecord* r = live_owned(owner, id);
    if (!r) return false;
    const std::string scopes = scopes_join(r->scopes);
    audit_add(at, actor, "update_description", id, owner, r->name, scopes, scopes, description);
    r->description = description;
    publish({id});
    return true;
  }

  bool token_update_networks(const std::string& owner, std::int64_t id,
                             const std::vector<std::string>& networks, const std::string& actor,
                             std::int64_t at) override {
    std::lock_guard<std::mutex> lock(mu_);
    TokenRecord* r = live_owned(owner, id);
    if (!r) return false;
    const std::string scopes = scopes_join(r->scopes);
    audit_add(at, actor, "update_networks", id, owner, r->name, scopes, scopes,
              networks_update_detail(r->networks, networks));
    r->networks = networks;
    publish({id});
    return true;
  }

  void clients_touch(const std::vector<ClientUse>& uses) override {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& u : uses) {
      if (!tokens_.count(u.id)) continue;
      std::int64_t& at = clients_[u.id][u.address];
      at = std::max(at, u.at);
    }
    for (const auto& u : uses) {
      auto it = clients_.find(u.id);
      if (it == clients_.end()) continue;
      const auto kept = newest(it->second, kClientsKept);
      it->second.clear();
      for (const auto& c : kept) it->second[c.address] = c.at;
    }
  }

  std::vector<ClientUse> clients_recent(std::int64_t id, std::int64_t limit) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = clients_.find(id);
    if (it == clients_.end()) return {};
    auto out = newest(it->second, limit);
    for (auto& c : out) c.id = id;
    return out;
  }

  bool tokens_revoke(const std::string& owner, const std::vector<std::int64_t>& ids, const std::string& actor,
                     std::int64_t at) override {
    std::lock_guard<std::mutex> lock(mu_);
    for (std::int64_t id : ids) {
      if (!live_owned(owner, id)) return false;
    }
    for (std::int64_t id : ids) {
      TokenRecord& r = tokens_[id];
      r.revoked_at = at;
      audit_add(at, actor, "revoke", id, owner, r.name, scopes_join(r.scopes), "", "");
    }
    publish(ids);
    return true;
  }

  std::size_t tokens_announce(const std::string& owner) override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::int64_t> ids;
    for (const auto& [id, r] : tokens_) {
      if (r.owner == owner && !r.revoked_at) ids.push_back(id);
    }
    if (!ids.empty()) publish(ids);
    return ids.size();
  }

  bool token_rotate(const std::string& owner, std::int64_t id, const TokenRecord& replacement,
                    const std::string& actor, std::int64_t at) override {
    std::lock_guard<std::mutex> lock(mu_);
    TokenRecord* old = live_owned(owner, id);
    if (!old) return false;
    TokenRecord fresh = replacement;
    fresh.name = old->name;
    fresh.scopes = old->scopes;
    fresh.description = old->description;
    fresh.networks = old->networks;
    old->revoked_at = at;
    audit_add(at, actor, "revoke", id, owner, old->name, scopes_join(old->scopes), "",
              "replaced by " + std::to_string(fresh.id));
    audit_add(at, actor, "rotate", fresh.id, owner, fresh.name, "", scopes_join(fresh.scopes), "");
    tokens_[fresh.id] = fresh;
    publish({id});
    return true;
  }

  std::int64_t tokens_purgeable(std::int64_t cutoff) override {
    std::lock_guard<std::mutex> lock(mu_);
    std::int64_t n = 0;
    for (const auto& [id, r] : tokens_) {
      if (purge_matches(r, cutoff)) ++n;
    }
    return n;
  }

  std::int64_t tokens_purge(std::int64_t cutoff, const std::string& actor, std::int64_t at) override {
    std::lock_guard<std::mutex> lock(mu_);
    std::int64_t n = 0;
    for (auto it = tokens_.begin(); it != tokens_.end();) {
      const TokenRecord& r = it->second;
      if (purge_matches(r, cutoff)) {
        const std::int64_t gone = it->first;
        for (auto u = scope_use_.lower_bound({gone, std::string()});
             u != scope_use_.end() && u->first.first == gone;) {
          u = scope_use_.erase(u);
        }
        clients_.erase(gone);
        it = tokens_.erase(it);
        ++n;
      } else {
        ++it;
      }
    }
    audit_add(at, actor, "purge", std::nullopt, "", "", "", "", std::to_string(n) + " tokens");
    publish({kAllIds});
    return n;
  }

  void tokens_touch(const std::vector<std::pair<std::int64_t, std::int64_t>>& uses) override {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [id, at] : uses) {
      auto it = tokens_.find(id);
      if (it != tokens_.end() && (!it->second.last_used_at || *it->second.last_used_at < at)) {
        it->second.last_used_at = at;
      }
    }
  }

  Coherence coherence() const noexcept override {
    return Coherence{generation_.load(std::memory_order_acquire), stable_.load(std::memory_order_acquire)};
  }

  bool changes_since(std::uint64_t from, std::uint64_t to, std::vector<std::int64_t>* ids) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (from < first_kept_) return false;
    for (const auto& [g, changed] : history_) {
      if (g <= from || g > to) continue;
      for (std::int64_t id : changed) {
        if (id == kAllIds) return false;
        ids->push_back(id);
      }
    }
    return true;
  }

  void coherence_repair() override { stable_.store(true); }

  std::vector<AuditEvent> audit_list(const std::optional<std::string>& owner, std::int64_t limit) override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<AuditEvent> out;
    for (auto it = audit_.rbegin(); it != audit_.rend() && static_cast<std::int64_t>(out.size()) < limit;
         ++it) {
      if (!owner || it->owner == *owner) out.push_back(*it);
    }
    return out;
  }

  // --- Leak response and scope usage (token_repository.h) ---------------------------------

  std::vector<std::int64_t> tokens_revoke_leaked(const std::vector<LeakedToken>& leaks,
                                                 const std::string& actor, std::int64_t at) override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::int64_t> revoked;
    for (const auto& l : leaks) {
      auto it = tokens_.find(l.id);
      if (it == tokens_.end() || it->second.revoked_at) continue;
      TokenRecord& r = it->second;
      r.revoked_at = at;
      audit_add(at, actor, "leaked", r.id, r.owner, r.name, scopes_join(r.scopes), "", l.source);
      revoked.push_back(r.id);
    }
    if (!revoked.empty()) publish(revoked);
    return revoked;
  }

  void scopes_touch(const std::vector<ScopeUse>& uses) override {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& u : uses) {
      if (!tokens_.count(u.id)) continue;
      std::int64_t& at = scope_use_[{u.id, u.scope}];
      at = std::max(at, u.at);
    }
  }

  std::vector<ScopeUse> scopes_used(const std::vector<std::int64_t>& ids, std::int64_t since) override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<ScopeUse> out;
    for (std::int64_t id : ids) {
      for (auto it = scope_use_.lower_bound({id, std::string()});
           it != scope_use_.end() && it->first.first == id; ++it) {
        if (it->second >= since) out.push_back(ScopeUse{id, it->first.second, it->second});
      }
    }
    return out;
  }

  std::vector<AuditEvent> audit_actions(const std::string& owner, const std::string& action,
                                        std::int64_t since, std::int64_t limit) override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<AuditEvent> out;
    for (auto it = audit_.rbegin(); it != audit_.rend() && static_cast<std::int64_t>(out.size()) < limit;
         ++it) {
      if (it->owner == owner && it->action == action && it->at >= since) out.push_back(*it);
    }
    return out;
  }

  // For tests of the engine: a write in flight (or a node that lost its lease).
  void set_unstable() { stable_.store(false); }

 private:
  // The `limit` newest of one token's addresses (ties: the smaller address first), as the
  // databases order them.
  static std::vector<ClientUse> newest(const std::map<std::string, std::int64_t>& seen, std::int64_t limit) {
    std::vector<ClientUse> out;
    for (const auto& [address, at] : seen) out.push_back(ClientUse{0, address, at});
    std::sort(out.begin(), out.end(), [](const ClientUse& a, const ClientUse& b) {
      return a.at != b.at ? a.at > b.at : a.address < b.address;
    });
    if (out.size() > static_cast<std::size_t>(limit)) out.resize(static_cast<std::size_t>(limit));
    return out;
  }

  bool live_name_taken(const std::string& owner, const std::string& name) const {
    for (const auto& [id, r] : tokens_) {
      if (r.owner == owner && r.name == name && !r.revoked_at) return true;
    }
    return false;
  }

  TokenRecord* live_owned(const std::string& owner, std::int64_t id) {
    auto it = tokens_.find(id);
    if (it == tokens_.end() || it->second.owner != owner || it->second.revoked_at) return nullptr;
    return &it->second;
  }

  void audit_add(std::int64_t at, const std::string& actor, const char* action,
                 std::optional<std::int64_t> token_id, const std::string& owner, const std::string& name,
                 const std::string& old_scopes, const std::string& new_scopes, const std::string& detail) {
    AuditEvent e;
    e.seq = static_cast<std::int64_t>(audit_.size()) + 1;
    e.at = at;
    e.actor = actor;
    e.action = action;
    e.token_id = token_id;
    e.owner = owner;
    e.name = name;
    e.old_scopes = old_scopes;
    e.new_scopes = new_scopes;
    e.detail = detail;
    audit_.push_back(std::move(e));
  }

  // Called with mu_ held, after the change: the next generation names `ids`.
  void publish(const std::vector<std::int64_t>& ids) {
    const std::uint64_t g = generation_.load() + 1;
    history_.emplace_back(g, ids);
    if (history_.size() > kHistory) {
      first_kept_ = history_.front().first;
      history_.pop_front();
    }
    generation_.store(g, std::memory_order_release);
  }

  static constexpr std::size_t kHistory = 1024;
  std::mutex mu_;
  std::map<std::string, std::string> settings_;
  std::map<std::int64_t, TokenRecord> tokens_;
  std::vector<AuditEvent> audit_;
  std::map<std::pair<std::int64_t, std::string>, std::int64_t> scope_use_;  // (id, scope) -> last use
  std::map<std::int64_t, std::map<std::string, std::int64_t>> clients_;     // id -> address -> last seen
  std::deque<std::pair<std::uint64_t, std::vector<std::int64_t>>> history_;
  std::uint64_t first_kept_ = 0;
  std::atomic<std::uint64_t> generation_{0};
  std::atomic<bool> stable_{true};
};

}  // namespace tokenkeep::testing
