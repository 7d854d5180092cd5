#include "tokenkeep/engine.h"

#include <sodium.h>

#include <algorithm>
#include <chrono>
#include <new>

#include "tokenkeep/errors.h"

namespace tokenkeep {
namespace {

std::string settings_text(const std::optional<std::string>& v) { return v ? *v : std::string(); }

}  // namespace

Engine::Engine(std::unique_ptr<TokenRepository> repository, PepperSet peppers,
               std::shared_ptr<const Clock> clock, EngineOptions options)
    : repo_(std::move(repository)),
      peppers_(std::move(peppers)),
      clock_(std::move(clock)),
      options_(std::move(options)),
      vocabulary_(ScopeVocabulary::default_vocabulary()),
      cache_(options_.cache_capacity) {
  if (sodium_init() < 0) fail(ErrorCode::kStoreError, "libsodium failed to initialize");
  if (options_.default_lifetime_us <= 0)
    fail(ErrorCode::kInvalidArgument, "default_lifetime must be positive");
  if (options_.max_lifetime_us < 0) fail(ErrorCode::kInvalidArgument, "max_lifetime must be positive");
  if (options_.max_lifetime_us > 0 && options_.default_lifetime_us > options_.max_lifetime_us) {
    fail(ErrorCode::kInvalidArgument, "default_lifetime must not exceed max_lifetime");
  }

  // Prefix: fixed by the first open of a store; a later open may repeat it but not change it.
  if (options_.prefix && !prefix_is_valid(*options_.prefix)) {
    fail(ErrorCode::kInvalidArgument, "a token prefix must be 1-16 characters of a-z and 0-9", "prefix");
  }
  const auto stored_prefix = repo_->setting_get("prefix");
  const std::string want_prefix = options_.prefix.value_or(stored_prefix.value_or("tk"));
  if (stored_prefix && *stored_prefix != want_prefix) {
    fail(ErrorCode::kInvalidArgument,
         "this store issues tokens with prefix '" + *stored_prefix +
             "'; it cannot be reopened with prefix '" + want_prefix + "'",
         "prefix");
  }
  prefix_ = stored_prefix ? *stored_prefix : repo_->setting_put("prefix", want_prefix, std::nullopt);

  // Vocabulary: persisted; a later open may widen it but never drop a scope in use.
  const auto stored_vocab = repo_->setting_get("scopes");
  if (stored_vocab) vocabulary_ = ScopeVocabulary::parse(*stored_vocab);
  if (options_.vocabulary) {
    if (stored_vocab && !vocabulary_.is_subset_of(*options_.vocabulary)) {
      fail(ErrorCode::kInvalidArgument,
           "this store's scope vocabulary is '" + *stored_vocab +
               "'; a reopen may add scopes but not remove them",
           "vocabulary");
    }
    // A token stored as `device` holds every action device had; adding one would grant it.
    for (const auto& old_entry : stored_vocab ? vocabulary_.entries() : std::vector<ScopeEntry>{}) {
      for (const auto& e : options_.vocabulary->entries()) {
        if (e.name == old_entry.name && e.actions.size() != old_entry.actions.size()) {
          fail(ErrorCode::kInvalidArgument,
               "scope '" + e.name + "' cannot gain actions: tokens that hold '" + e.name +
                   "' would gain them too; add a new scope name instead",
               "vocabulary");
        }
      }
    }
    vocabulary_ = *options_.vocabulary;
  }
  const std::string serialized = vocabulary_.serialize();
  if (serialized != settings_text(stored_vocab)) {
    const std::string in_force = repo_->setting_put("scopes", serialized, stored_vocab);
    if (in_force != serialized) vocabulary_ = ScopeVocabulary::parse(in_force);
  }
  applied_.store(repo_->coherence().generation);
  flusher_fork_ = fork_generation();
  flusher_ = std::thread([this] { flusher_run(); });
  if (options_.warm_start && cache_.capacity() > 0 && repo_->warm_supported()) {
    warm_thread_ = std::thread([this] { warm_run(); });
  } else {
    warm_state_.done = true;
  }
  fork_watch(this);
}

Engine::~Engine() {
  fork_unwatch(this);
  warm_stop();
  flusher_stop();
  try {
    uses_flush();
  } catch (const Error&) {
    // Best effort: last_used_at is advisory and the database may be gone or read-only.
  }
}

// A name, owner or actor holding a live secret would store it in the database, the audit log
// and every list; refused with a message that does not repeat it.
void Engine::secret_shaped_refuse(std::string_view text, const char* field) const {
  if (token_scan_any(prefix_, text)) {
    fail(ErrorCode::kInvalidArgument,
         std::string("the ") + field +
             " contains a token secret; refused so it is not stored or shown (revoke that token if it was "
             "exposed)",
         field);
  }
}

void Engine::owner_check(std::string_view owner) const {
  owner_validate(owner);
  secret_shaped_refuse(owner, "owner");
}

void Engine::actor_check(std::string_view actor) const {
  if (actor.empty()) return;
  actor_validate(actor);
  secret_shaped_refuse(actor, "actor");
}

std::vector<std::string> Engine::scopes_canonical(const std::vector<std::string>& scopes) const {
  return vocabulary_.names_of(vocabulary_.mask_of(scopes));
}

ScopeMask Engine::required_mask(const std::vector<std::string>& scopes) const {
  return vocabulary_.mask_of(scopes);
}

std::int64_t Engine::expiry_resolve(const Expiry& e, std::int64_t now) const {
  std::int64_t at = 0;
  switch (e.kind) {
    case Expiry::Kind::kNever:
      if (!options_.allow_never_expire) {
        fail(ErrorCode::kInvalidArgument, "this store does not allow tokens that never expire",
             "never_expires");
      }
      return -1;
    case Expiry::Kind::kDefault:
      at = now + options_.default_lifetime_us;
      break;
    case Expiry::Kind::kIn:
      if (e.value_us <= 0) fail(ErrorCode::kInvalidArgument, "expires_in must be positive", "expires_in");
      if (e.value_us > 1000LL * 365 * kMicrosPerDay)
        fail(ErrorCode::kInvalidArgument, "expires_in is too large", "expires_in");
      at = now + e.value_us;
      break;
    case Expiry::Kind::kAt:
      if (e.value_us <= now)
        fail(ErrorCode::kInvalidArgument, "expires_at must be in the future", "expires_at");
      at = e.value_us;
      break;
  }
  if (options_.max_lifetime_us > 0 && at - now > options_.max_lifetime_us) {
    fail(ErrorCode::kInvalidArgument,
         "the expiry exceeds this store's max_lifetime of " +
             std::to_string(options_.max_lifetime_us / kMicrosPerDay) + " days",
         e.kind == Expiry::Kind::kAt ? "expires_at" : "expires_in");
  }
  return at;
}

std::int64_t Engine::id_resolve(std::string_view token_id) const {
  const auto id = token_id_parse(token_id);
  if (!id) fail(ErrorCode::kNotFound, "no such token", "token_id");
  return *id;
}

TokenRecord Engine::get(const std::string& owner, std::string_view token_id) {
  owner_check(owner);
  auto r = repo_->token_find_owned(owner, id_resolve(token_id));
  if (!r) fail(ErrorCode::kNotFound, "no such token", "token_id");
  uses_overlay(&*r);
  return std::move(*r);
}

std::vector<TokenRecord> Engine::list(const std::string& owner) {
  TokenQuery q;
  q.owner = owner;
  q.state = TokenQuery::State::kLive;
  q.limit = TokenQuery::kNoLimit;
  return query(q).records;
}

TokenPage Engine::query(const TokenQuery& q) {
  if (q.owner) owner_check(*q.owner);
  token_query_validate(q);
  TokenQuery stored = q;
  stored.scopes_any.clear();
  // A scope is granted by a stored (canonical) scope string whose mask covers its mask: for
  // "device:read" that is "device:read" or "device".
  for (const auto& scope : q.scopes_any) {
    ScopeMask wanted = 0;
    try {
      wanted = vocabulary_.mask_of(scope);
    } catch (Error& e) {
      e.field = "scope";
      throw;
    }
    for (const auto& entry : vocabulary_.entries()) {
      std::vector<std::string> forms{entry.name};
      for (const auto& action : entry.actions) forms.push_back(entry.name + ":" + action);
      for (const auto& form : forms) {
        const ScopeMask m = vocabulary_.mask_of(form);
        const auto canonical = vocabulary_.names_of(m);
        if ((m & wanted) == wanted && canonical.size() == 1 && canonical[0] == form &&
            std::find(stored.scopes_any.begin(), stored.scopes_any.end(), form) == stored.scopes_any.end()) {
          stored.scopes_any.push_back(form);
        }
      }
    }
  }
  TokenPage page = repo_->tokens_query(stored, clock_->now_us());
  for (auto& r : page.records) uses_overlay(&r);
  return page;
}

// True if the cache reflects every change published so far (applying newly published ones
// first); false while a write is in flight, when verification must read the database.
bool Engine::cache_current(Coherence* state, bool may_repair) {
  const Coherence st = repo_->coherence();
  *state = st;
  if (!st.stable) {
    if (!may_repair) return false;
    // A writer is between announcing and publishing. If that lasts, it probably died: take the
    // write lock once in a while and let the repository repair its coherence record.
    using namespace std::chrono;
    const std::int64_t now_ms = duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
    std::int64_t since = unstable_since_ms_.load(std::memory_order_relaxed);
    if (since == 0) {
      unstable_since_ms_.compare_exchange_strong(since, now_ms);
    } else if (now_ms - since > 250 && unstable_since_ms_.compare_exchange_strong(since, now_ms)) {
      try {
        repo_->coherence_repair();
      } catch (const Error&) {
        // Busy: another writer holds the lock and will settle it itself.
      }
    }
    return false;
  }
  if (unstable_since_ms_.load(std::memory_order_relaxed) != 0)
    unstable_since_ms_.store(0, std::memory_order_relaxed);
  if (st.generation <= applied_.load(std::memory_order_acquire)) return true;

  std::vector<CachedTokenPtr> displaced;
  {
    std::lock_guard<std::mutex> lock(apply_mu_);
    const std::uint64_t applied = applied_.load(std::memory_order_acquire);
    // Counters only grow; an older state means another thread already applied a newer one.
    if (st.generation <= applied) return true;
    std::vector<std::int64_t> ids;
    if (repo_->changes_since(applied, st.generation, &ids)) {
      for (std::int64_t id : ids) cache_.erase(id, &displaced);
    } else {
      cache_.clear(&displaced);  // the ring wrapped, or a purge announced everything
    }
    applied_.store(st.generation, std::memory_order_release);
  }
  uses_park(&displaced);
  return true;
}

// Reads a token from the repository; caches it only if no change was published meanwhile,
// so a stale row can never enter the cache after its invalidation.
CachedTokenPtr Engine::token_load(std::int64_t id, bool cacheable, const Coherence& state, bool* cached) {
  *cached = false;
  auto rec = repo_->token_find(id);
  if (!rec) return nullptr;
  ScopeMask granted = 0;
  try {
    granted = vocabulary_.mask_of(rec->scopes);
  } catch (const Error&) {
    granted = 0;  // a scope no longer in the vocabulary grants nothing
  }
  auto t = std::make_shared<const CachedToken>(*rec, granted, peppers_.find(rec->pepper_id));
  if (cacheable) {
    std::vector<CachedTokenPtr> displaced;
    *cached = cache_.insert(
        t,
        [&] {
          return repo_->coherence() == state && applied_.load(std::memory_order_acquire) == state.generation;
        },
        &displaced);
    uses_park(&displaced);
  }
  return t;
}

VerifyStatus Engine::verify(std::string_view token, ScopeMask required, CachedTokenPtr* out,
                            const IpAddress* client) {
  return *verify_step(token, required, out, true, client);
}

std::optional<VerifyStatus> Engine::verify_cached(std::string_view token, ScopeMask required,
                                                  CachedTokenPtr* out, const IpAddress* client) {
  return verify_step(token, required, out, false, client);
}

std::optional<VerifyStatus> Engine::verify_step(std::string_view token, ScopeMask required,
                                                CachedTokenPtr* out, bool may_use_store,
                                                const IpAddress* client) {
  auto parsed = token_parse(prefix_, token);
  if (!parsed) return VerifyStatus::kInvalid;
  Coherence state;
  const bool current = cache_current(&state, may_use_store);
  CachedTokenPtr t = current ? cache_.find(parsed->id) : nullptr;
  bool cached = true;
  if (!t) {
    if (!may_use_store) return std::nullopt;
    t = token_load(parsed->id, current, state, &cached);
  }
  if (!t || t->pepper == nullptr) {
    // Hash anyway: an unknown id costs at least what a wrong secret costs. (It also costs a
    // database lookup, which a cached id does not; ids are public, so that reveals nothing.)
    (void)peppers_.current().digest(parsed->id, parsed->secret.view());
    return VerifyStatus::kInvalid;
  }
  if (!digest_equal(t->pepper->digest(parsed->id, parsed->secret.view()), t->digest)) {
    return VerifyStatus::kInvalid;
  }
  if (out) *out = t;
  // Unbound tokens pay one predictable branch; a bound one a mask-and-compare per network.
  if (!t->networks.empty() && (client == nullptr || !networks_contain(t->networks, *client))) {
    return VerifyStatus::kNetworkNotAllowed;
  }
  if (t->revoked_at != 0) return VerifyStatus::kRevoked;
  const std::int64_t now = clock_->now_us();
  if (now > t->expires_at) return VerifyStatus::kExpired;
  if ((t->granted & required) != required) return VerifyStatus::kInsufficientScope;
  if (cached) {
    use_record(t, now, required, client);
  } else {
    use_record_loose(*t, now, required, client);
  }
  return VerifyStatus::kOk;
}

CachedTokenPtr Engine::verify_or_throw(std::string_view token, ScopeMask required, const IpAddress* client) {
  CachedTokenPtr t;
  const VerifyStatus status = verify(token, required, &t, client);
  if (status != VerifyStatus::kOk) throw verify_error(status, required, t.get());
  return t;
}

Error Engine::verify_error(VerifyStatus status, ScopeMask required, const CachedToken* t) const {
  switch (status) {
    case VerifyStatus::kExpired:
      return Error(ErrorCode::kExpiredToken, "token has expired");
    case VerifyStatus::kRevoked:
      return Error(ErrorCode::kRevokedToken, "token has been revoked");
    case VerifyStatus::kNetworkNotAllowed: {
      Error e(ErrorCode::kNetworkNotAllowed,
              "token is bound to networks, and the client address is outside them or was not given");
      e.field = "client";
      return e;
    }
    case VerifyStatus::kInsufficientScope: {
      auto required_names = vocabulary_.names_of(required);
      auto granted_names = vocabulary_.names_of(t ? t->granted : 0);
      Error e(ErrorCode::kInsufficientScope,
              "token lacks scope: requires " + scopes_join(required_names) + ", has " +
                  (granted_names.empty() ? std::string("none") : scopes_join(granted_names)));
      e.required = std::move(required_names);
      e.granted = std::move(granted_names);
      return e;
    }
    case VerifyStatus::kOk:
    case VerifyStatus::kInvalid:
      break;
  }
  return Error(ErrorCode::kInvalidToken, kInvalidTokenMessage);
}

// Records a successful use in memory (at most once a second per token, to keep the hot path
// free of shared writes) and queues the token for persistence when it is due. The scopes the
// check required join the token's window with one relaxed load and compare; only a bit not
// in the window writes, and only a bit this process never saw for the token queues it early.
void Engine::use_record(const CachedTokenPtr& t, std::int64_t now, ScopeMask required,
                        const IpAddress* client) {
  if (!options_.record_uses) return;
  if (client) client_record(*t, *client, now);
  bool new_scope = false, window_grew = false;
  if ((t->scopes_window.load(std::memory_order_relaxed) & required) != required) {
    window_grew = true;
    t->scopes_window.fetch_or(required, std::memory_order_relaxed);
    new_scope = (t->scopes_seen.fetch_or(required, std::memory_order_relaxed) & required) != required;
  }
  const std::int64_t prev = t->used_us.load(std::memory_order_relaxed);
  if (!window_grew && (now <= prev || (prev != 0 && now - prev < kMicrosPerSecond))) return;
  if (now > prev) t->used_us.store(now, std::memory_order_relaxed);
  const std::int64_t persisted = t->persisted_us.load(std::memory_order_relaxed);
  const bool due = persisted == 0 || now - persisted >= options_.last_used_interval_us;
  if (!new_scope && !due && !window_grew) return;
  if (t->flush_queued.exchange(true)) return;
  std::lock_guard<std::mutex> lock(uses_mu_);
  if (flusher_fork_ != fork_generation()) flusher_ensure();
  if (!new_scope && !due) {
    // A scope joined the window between persists: it is written when the token is due, used
    // again or not, so a scope's last use is never pinned to a much later use.
    uses_later_.push_back(t);
    return;
  }
  uses_dirty_.push_back(t);
  // No wake-up: the flusher's next tick (within a second) persists everything due in one
  // transaction, instead of one write per newly used token.
}

// The use of a snapshot this verification alone holds (it did not enter the cache): merged
// into one entry per token, written by the flusher's next round. A snapshot per
// verification would queue a snapshot and a row per verification (cache_size=0 wrote every
// miss twice, on the flusher's core).
void Engine::use_record_loose(const CachedToken& t, std::int64_t now, ScopeMask required,
                              const IpAddress* client) {
  if (!options_.record_uses) return;
  if (client) client_record(t, *client, now);  // a new address of this snapshot is queued once
  std::lock_guard<std::mutex> lock(uses_mu_);
  if (flusher_fork_ != fork_generation()) flusher_ensure();
  auto [it, fresh] = uses_loose_.try_emplace(t.id);
  LooseUse& u = it->second;
  if (fresh) u.persisted_us = t.persisted_us.load(std::memory_order_relaxed);
  if (now > u.used_us) u.used_us = now;
  u.window |= required;
}

std::vector<TokenRecord> Engine::expiring_within(std::int64_t within_us,
                                                 const std::optional<std::string>& owner) {
  if (within_us < 0) fail(ErrorCode::kInvalidArgument, "expiring_within needs a non-negative duration");
  if (owner) owner_check(*owner);
  const std::int64_t now = clock_->now_us();
  return repo_->tokens_expiring(now, now + within_us, owner);
}

std::int64_t Engine::purge(std::int64_t older_than_us, const std::string& actor) {
  actor_check(actor);
  if (older_than_us < 0) fail(ErrorCode::kInvalidArgument, "purge needs a non-negative older_than");
  const std::int64_t now = clock_->now_us();
  return repo_->tokens_purge(now - older_than_us, actor.empty() ? std::string("system") : actor, now);
}

std::int64_t Engine::purge_count(std::int64_t older_than_us) {
  if (older_than_us < 0)
    fail(ErrorCode::kInvalidArgument, "purge needs a non-negative older_than", "older_than");
  return repo_->tokens_purgeable(clock_->now_us() - older_than_us);
}

std::vector<AuditEvent> Engine::audit(const std::optional<std::string>& owner, std::int64_t limit) {
  if (limit <= 0) fail(ErrorCode::kInvalidArgument, "audit limit must be positive");
  if (owner) owner_check(*owner);
  return repo_->audit_list(owner, limit);
}

}  // namespace tokenkeep
