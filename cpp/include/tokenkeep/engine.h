// Token logic: issue, list, edit, revoke, rotate, verify, expire, purge. Owns the policy
// (prefix, scope vocabulary, lifetimes), the peppers and the clock; stores through a
// TokenRepository and never sees SQL. Safe for concurrent use from several threads.
//
// Verification reads an in-process TokenCache kept coherent with every process through the
// repository's coherence contract (token_repository.h): a change that returned anywhere is seen by the next
// verify that starts. Successful uses are recorded in memory and persisted by a background
// thread: a token's first use within a second, then at most once per last_used_interval,
// and everything on destruction.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "tokenkeep/clock.h"
#include "tokenkeep/errors.h"
#include "tokenkeep/fork_guard.h"
#include "tokenkeep/input_rules.h"
#include "tokenkeep/networks.h"
#include "tokenkeep/pepper.h"
#include "tokenkeep/record.h"
#include "tokenkeep/scopes.h"
#include "tokenkeep/token_cache.h"
#include "tokenkeep/token_format.h"
#include "tokenkeep/token_repository.h"

namespace tokenkeep {

struct EngineOptions {
  std::optional<std::string> prefix;          // empty: persisted one, else "tk"
  std::optional<ScopeVocabulary> vocabulary;  // empty: persisted one, else default
  std::int64_t default_lifetime_us = 30 * kMicrosPerDay;
  std::int64_t max_lifetime_us = 365 * kMicrosPerDay;  // 0: no cap
  bool allow_never_expire = false;
  // Successful verifications persist last_used_at at most this often per token.
  std::int64_t last_used_interval_us = 60 * kMicrosPerSecond;
  // Token records kept in memory for verification (0 disables the cache).
  std::size_t cache_capacity = 100000;
  // false (a read-only store): a verification records no use, in memory or on disk, and
  // reports the last recorded one, so verify, get and list agree with what is stored.
  bool record_uses = true;
  // Warm start: after opening, a background thread loads the live tokens used within
  // warm_window_us, most recent first, up to the cache's capacity (Engine::warm_run).
  bool warm_start = true;
  std::int64_t warm_window_us = 7 * kMicrosPerDay;
};

// How far a warm start got (Engine::warm_status).
struct WarmStatus {
  bool done = false;       // finished, stopped, or never started
  std::size_t loaded = 0;  // snapshots it put in the cache
  int restarts = 0;        // loads begun again because a change was published meanwhile
};

// How a new token's expiry is chosen.
struct Expiry {
  enum class Kind { kDefault, kIn, kAt, kNever };
  Kind kind = Kind::kDefault;
  std::int64_t value_us = 0;  // a duration for kIn, a time for kAt
};

struct NewToken {
  std::string name;
  std::vector<std::string> scopes;
  Expiry expiry;
  std::string description{};            // optional note (description_normalize)
  std::vector<std::string> networks{};  // CIDRs it may be used from (networks_canonical); empty: any
};

struct IssuedToken {
  TokenText token;  // the whole token string; shown once
  TokenRecord record;
};

// kNetworkNotAllowed: the secret matched, the token is bound to networks, and the client is
// outside them or was not given. Decided right after the secret matched, so a client outside
// learns nothing more (not whether the token is revoked or expired, nor its scopes).
enum class VerifyStatus { kOk, kInvalid, kExpired, kRevoked, kInsufficientScope, kNetworkNotAllowed };

// --- Leak response and scope usage (engine_leak.cc, engine_usage.cc) --------------------------

// What revoke_leaked did with one token found in a text. kUnknown: no such id, or the secret
// does not match it (a forged token with a valid checksum): nothing about any token is told.
enum class LeakOutcome { kRevoked, kAlreadyRevoked, kExpired, kUnknown };

struct LeakFinding {
  std::int64_t id = 0;  // the public id part of the text found (also for kUnknown)
  LeakOutcome outcome = LeakOutcome::kUnknown;
  std::size_t offset = 0;  // where in the text (bytes) and on which line (1-based)
  std::size_t line = 0;
  std::optional<TokenRecord> record;  // the token, when the secret matched
};

// Bounds and position of one revoke_leaked call. Each distinct well-formed token costs a
// keyed hash and a share of a batched lookup, so a text is refused whole (InvalidArgument
// whose field names the limit: "max_bytes", "max_tokens"; the message gives its value)
// before any lookup if it is longer than max_bytes or holds more than max_tokens distinct
// tokens. `first_line`/`first_offset`: where `text` starts in a longer text scanned in parts
// (lines and offsets in findings and audit rows count from there).
struct LeakScanOptions {
  std::size_t max_bytes = std::size_t{64} << 20;
  std::size_t max_tokens = 100000;
  std::size_t first_line = 1;
  std::size_t first_offset = 0;
};

// The scopes one token exercised (successful verifications that required them).
struct ScopeUsage {
  TokenRecord record;
  std::vector<std::string> used;    // held and used since the cut-off, canonical (names_of)
  std::vector<std::string> unused;  // held but not used since the cut-off, canonical
  std::vector<ScopeUse> last_used;  // per name:action, its last use
};

class Engine final : private ForkAware {
 public:
  Engine(std::unique_ptr<TokenRepository> repository, PepperSet peppers, std::shared_ptr<const Clock> clock,
         EngineOptions options);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  const std::string& prefix() const noexcept { return prefix_; }
  const ScopeVocabulary& vocabulary() const noexcept { return vocabulary_; }
  std::int64_t now_us() const noexcept { return clock_->now_us(); }

  IssuedToken create(const std::string& owner, const NewToken& spec, const std::string& actor);
  // All or nothing, one transaction, results in the order given.
  std::vector<IssuedToken> create_many(const std::string& owner, const std::vector<NewToken>& specs,
                                       const std::string& actor);
  // Every reason create(owner, spec) would refuse its input, each with its field (owner,
  // name, scopes, expires_in/expires_at/never_expires), without creating anything: a form
  // shows them all at once. Name clashes are create's to report (NameTaken).
  std::vector<Error> create_problems(const std::string& owner, const NewToken& spec) const;
  TokenRecord get(const std::string& owner, std::string_view token_id);
  // The owner's live tokens (expired too), newest first: query() with State::kLive, every row.
  std::vector<TokenRecord> list(const std::string& owner);
  // One page of a listing (token_query.h) and the count of all matches. InvalidArgument with
  // the field ("owner", "limit", "offset", "search") or UnknownScope with field "scope".
  TokenPage query(const TokenQuery& q);
  TokenRecord update_scopes(const std::string& owner, std::string_view token_id,
                            const std::vector<std::string>& scopes, const std::string& actor);
  // Replaces a live token's description ("" clears it): InvalidArgument with field
  // "description" as for create, NotFound if not a live token of the owner. Audited.
  TokenRecord update_description(const std::string& owner, std::string_view token_id,
                                 const std::string& description, const std::string& actor);
  // Replaces a live token's networks (empty: unbound): InvalidArgument with field
  // "networks" for a bad CIDR or too many, NotFound if not a live token of the owner.
  // Audited; seen by the next verification everywhere (announced like a scope edit).
  TokenRecord update_networks(const std::string& owner, std::string_view token_id,
                              const std::vector<std::string>& networks, const std::string& actor);
  // The distinct addresses the owner's live token was verified from, newest first (at most
  // TokenRepository::kClientsKept), including what this process has not persisted yet.
  std::vector<ClientUse> recent_clients(const std::string& owner, std::string_view token_id);
  // recent_clients of many of the owner's tokens at once (the Access Token page's rows), by
  // id, in two database reads whatever their number. An id that is not a live token of the
  // owner (or not an id) is left out.
  std::map<std::int64_t, std::vector<ClientUse>> recent_clients_many(
      const std::string& owner, const std::vector<std::string>& token_ids);
  void revoke(const std::string& owner, std::string_view token_id, const std::string& actor);
  // All or nothing: NotFound (and nothing revoked) if one id is not a live token of the owner.
  void revoke_many(const std::string& owner, const std::vector<std::string>& token_ids,
                   const std::string& actor);
  // The owner changed outside the store (a Django user deactivated, renamed or deleted):
  // announces every live token of the owner, changing none, so that each process's next
  // verification of one reloads it - a new snapshot, and in Python a new TokenInfo object,
  // which is what a cache of something derived from the owner is keyed on. Strict on
  // PostgreSQL like any change. Returns how many tokens were announced.
  std::size_t owner_changed(const std::string& owner);
  // A new secret for the token: same name and scopes, the old one revoked at once. Its
  // expiry stays unless `expiry` is given (then as for create: InvalidArgument with its field).
  IssuedToken rotate(const std::string& owner, std::string_view token_id, const std::string& actor,
                     const std::optional<Expiry>& expiry = std::nullopt);

  // Mask for a check's required scopes (UnknownScope / InvalidArgument as in scopes.h).
  ScopeMask required_mask(const std::vector<std::string>& scopes) const;
  // Never throws for a bad token; fills `out` when the secret matched (any status but
  // kInvalid). StoreError only if the database cannot be read. `client`: the caller's
  // address, or null if unknown (a bound token then fails with kNetworkNotAllowed); a
  // successful verification records it (recent_clients).
  VerifyStatus verify(std::string_view token, ScopeMask required, CachedTokenPtr* out,
                      const IpAddress* client = nullptr);
  // verify() if it can answer from the cache alone (no database read, no lock wait beyond
  // the cache's own); empty when it would have to read the store. The binding calls this
  // with the GIL held and only releases the GIL for the rare full verify().
  std::optional<VerifyStatus> verify_cached(std::string_view token, ScopeMask required, CachedTokenPtr* out,
                                            const IpAddress* client = nullptr);
  // verify(), raising the matching Error for every status but kOk.
  CachedTokenPtr verify_or_throw(std::string_view token, ScopeMask required,
                                 const IpAddress* client = nullptr);
  // The Error for a failed verification (`t` is what verify() filled in, possibly null).
  Error verify_error(VerifyStatus status, ScopeMask required, const CachedToken* t) const;
  // Persists every use recorded in memory now (also done in the background and on destruction).
  void uses_flush();
  std::size_t cache_size() const { return cache_.size(); }
  // The warm start's progress; warm_wait blocks until it is done or `timeout_us` passed.
  WarmStatus warm_status() const;
  WarmStatus warm_wait(std::int64_t timeout_us) const;

  std::vector<TokenRecord> expiring_within(std::int64_t within_us, const std::optional<std::string>& owner);
  std::int64_t purge(std::int64_t older_than_us, const std::string& actor);
  // How many rows purge(older_than_us) would delete now; deletes nothing.
  std::int64_t purge_count(std::int64_t older_than_us);
  std::vector<AuditEvent> audit(const std::optional<std::string>& owner, std::int64_t limit);
  // --- Leak response (engine_leak.cc) ---
  // Finds every well-formed token of this store's prefix in `text` (token_scan), checks each
  // against the store (the secret must match) and revokes the live ones whatever their owner,
  // each audited as "leaked" with "<source>, line N" (never the secret), in one transaction.
  // One finding per distinct token text, in the order found. `dry_run`: decides the same
  // outcomes and changes nothing. InvalidArgument (field "source") for a bad label, or
  // a limit of `options` exceeded. Tokens are looked up kLeakBatch ids per query.
  std::vector<LeakFinding> revoke_leaked(std::string_view text, const std::string& actor,
                                         const std::string& source, bool dry_run,
                                         const LeakScanOptions& options = {});
  static constexpr std::size_t kLeakBatch = 2000;
  // The owner's tokens revoked as leaked at or after `since_us` (their "leaked" audit rows,
  // newest first, at most `limit`): what a page shows as a banner.
  std::vector<AuditEvent> leaked_notices(const std::string& owner, std::int64_t since_us, std::int64_t limit);

  // --- Scope usage (engine_usage.cc) ---
  // For each of the owner's live tokens named (all of them if `token_ids` is empty), the
  // scopes its successful verifications required within the last `within_us`, including
  // uses not yet persisted. NotFound if a named id is not a live token of the owner.
  std::vector<ScopeUsage> scope_usage(const std::string& owner, const std::vector<std::string>& token_ids,
                                      std::int64_t within_us);

  // A key derived from the current pepper for `context` (Pepper::subkey): stable across
  // processes and restarts of one deployment, secret like the pepper itself.
  SecretBuffer<32> subkey(std::string_view context) const { return peppers_.current().subkey(context); }

 private:
  TokenRecord make_record(const std::string& owner, const NewToken& spec,
                          const std::vector<std::string>& canonical_scopes, std::int64_t id,
                          std::int64_t now) const;  // all but the secret (secret_issue)
  // Generates the token text for r->id into `issued` and stores its digest in `r`.
  void secret_issue(TokenRecord* r, IssuedToken* issued, RandomBytes* rng) const;
  std::int64_t expiry_resolve(const Expiry& e, std::int64_t now) const;
  // Input rules that need the store's prefix (InvalidArgument with the field).
  void secret_shaped_refuse(std::string_view text, const char* field) const;
  void owner_check(std::string_view owner) const;
  void actor_check(std::string_view actor) const;
  std::vector<std::string> scopes_canonical(const std::vector<std::string>& scopes) const;
  std::int64_t id_resolve(std::string_view token_id) const;
  bool cache_current(Coherence* state, bool may_repair);
  std::optional<VerifyStatus> verify_step(std::string_view token, ScopeMask required, CachedTokenPtr* out,
                                          bool may_use_store, const IpAddress* client);
  // `*cached`: whether the snapshot entered the cache.
  CachedTokenPtr token_load(std::int64_t id, bool cacheable, const Coherence& state, bool* cached);
  void use_record(const CachedTokenPtr& t, std::int64_t now, ScopeMask required, const IpAddress* client);
  void use_record_loose(const CachedToken& t, std::int64_t now, ScopeMask required, const IpAddress* client);
  // Recent clients (engine_uses.cc): a known address refreshes its slot's time without a
  // lock; a new one takes a slot and is queued for the flusher (client_new).
  void client_record(const CachedToken& t, const IpAddress& a, std::int64_t now);
  void client_new(const CachedToken& t, const IpAddress& a, std::int64_t now);
  // Appends `t`'s recorded addresses (each slot with a time) as rows.
  static void clients_take(const CachedToken& t, std::vector<ClientUse>* out);
  // Adds what this process saw of token `id` and has not persisted yet (its cache entry, the
  // parked uses) to `rows`, and returns the distinct addresses, newest first, at most
  // TokenRepository::kClientsKept. Locks uses_mu_.
  std::vector<ClientUse> clients_newest(std::int64_t id, std::vector<ClientUse> rows);
  // Takes `t`'s scope window (leaving it empty) as one row per scope at its last use.
  void scope_uses_take(const CachedToken& t, std::vector<ScopeUse>* out) const;
  void uses_park(std::vector<CachedTokenPtr>* displaced);
  void uses_overlay(TokenRecord* r) const;
  void uses_promote_due();
  void uses_write(bool everything);
  void flusher_run();
  void flusher_stop();
  void warm_run();
  bool warm_load_once(std::int64_t now);
  void warm_stop();
  // Starts the background thread in a process that has none (a child after fork()).
  void flusher_ensure();
  // fork_guard.h. Lock order: apply_mu_, the cache's shards, uses_mu_, then the repository's.
  // flush_mu_ is held across I/O: re-created in the child.
  void fork_prepare() noexcept override;
  void fork_parent() noexcept override;
  void fork_child() noexcept override;

  std::unique_ptr<TokenRepository> repo_;
  PepperSet peppers_;
  std::shared_ptr<const Clock> clock_;
  EngineOptions options_;
  std::string prefix_;
  ScopeVocabulary vocabulary_;

  // Cache and its coherence: `applied_` is the repository generation the cache reflects.
  TokenCache cache_;
  std::atomic<std::uint64_t> applied_{0};
  std::mutex apply_mu_;
  std::atomic<std::int64_t> unstable_since_ms_{0};

  // Recorded uses waiting to be persisted, and the thread that persists them.
  mutable std::mutex uses_mu_;
  std::mutex flush_mu_;  // held for a whole uses_flush(), taken before uses_mu_
  std::condition_variable uses_cv_;
  std::vector<CachedTokenPtr> uses_dirty_;
  std::vector<std::pair<std::int64_t, std::int64_t>> uses_parked_;
  std::vector<ScopeUse> scopes_parked_;
  std::vector<CachedTokenPtr> uses_later_;  // scope window grew; persisted when due (uses_promote_due)
  // Uses of snapshots that did not enter the cache (cache_size=0, or loaded while the feed
  // moved): one entry per token until the next flush, never one per verification.
  struct LooseUse {
    std::int64_t used_us = 0;
    std::int64_t persisted_us = 0;  // the row's last_used_at when first seen
    ScopeMask window = 0;
  };
  std::unordered_map<std::int64_t, LooseUse> uses_loose_;
  std::vector<ClientUse> clients_parked_;                  // new addresses, and those of displaced tokens
  static constexpr std::size_t kClientsParkedMax = 10000;  // beyond: dropped (advisory)
  bool flusher_stopping_ = false;
  std::thread flusher_;
  std::uint64_t flusher_fork_ = 0;  // fork_generation() of the process that runs flusher_

  // Warm start (engine_warm.cc): its thread, asked to stop by the destructor.
  std::thread warm_thread_;
  std::atomic<bool> warm_stop_{false};
  mutable std::mutex warm_mu_;  // guards warm_state_; never held across I/O
  mutable std::condition_variable warm_cv_;
  WarmStatus warm_state_;
};

}  // namespace tokenkeep
