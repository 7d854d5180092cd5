// The storage seam. Token logic (engine.h) talks only to this interface; an implementation
// (sqlite_store.h, pg_store.h, the tests' fake) owns the query language, transactions and
// durability. Every mutating call is atomic, durable once it returns, and records its
// AuditEvent in the same transaction. Calls that take an owner never touch another owner's
// rows. All methods are safe to call from several threads at once.
//
// Coherence contract (what lets the engine answer verifications from memory):
//  - coherence() is cheap (a few atomic loads, no I/O, no lock) and returns a generation that
//    only grows and a `stable` flag.
//  - A call that changes what a verification would decide about an existing token (scope
//    edit, revoke, rotate, purge) makes the generation move past every value observed before
//    it returned, and, until then, may make `stable` false; its ids are then reported by
//    changes_since. When it returns, every process whose coherence() reports stable with a
//    generation it has applied reflects it (SQLite: a shared-memory feed; PostgreSQL: a
//    generation counter with acknowledgements - see docs/ARCHITECTURE.md).
//  - stable == false: the cache must not answer (a write in flight, a dead writer not yet
//    repaired, or this node cannot prove its view fresh); verification reads the store.
//  - Inserts are not announced: token_find must find a row committed before it was called.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <iterator>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tokenkeep/record.h"
#include "tokenkeep/token_query.h"

namespace tokenkeep {

// What a cache may rely on at one instant (see the coherence contract above).
struct Coherence {
  std::uint64_t generation = 0;
  bool stable = true;
  bool operator==(const Coherence& o) const noexcept {
    return generation == o.generation && stable == o.stable;
  }
};

class TokenRepository {
 public:
  // Id in changes_since meaning "everything changed".
  static constexpr std::int64_t kAllIds = 0;

  virtual ~TokenRepository() = default;

  // Small persisted settings (scope vocabulary, prefix). Empty if never saved.
  virtual std::optional<std::string> setting_get(const std::string& key) = 0;
  // Saves `value` if the key is unset or equal to `expected`; returns the value in force.
  virtual std::string setting_put(const std::string& key, const std::string& value,
                                  const std::optional<std::string>& expected) = 0;

  // Inserts all or none. NameTaken (field "name", name_taken_fail's message) if a live token
  // of the owner has one of the names, or two of the records share one.
  virtual void tokens_insert(const std::vector<TokenRecord>& records, const std::string& actor,
                             std::int64_t at) = 0;
  // Completes records [begin, end): Engine::create_many issues their secrets (digest,
  // pepper_id) through it.
  using RecordsComplete = std::function<void(std::size_t begin, std::size_t end)>;
  // tokens_insert of records that `complete` must finish first, each once, in order, before
  // the store reads it. A store that streams its rows (PostgreSQL's COPY) completes them part
  // by part, so the server inserts the first while the client makes the next; this default
  // completes all, then inserts.
  virtual void tokens_insert_completing(const std::vector<TokenRecord>& records, const std::string& actor,
                                        std::int64_t at, const RecordsComplete& complete) {
    complete(0, records.size());
    tokens_insert(records, actor, at);
  }
  // Any row with this id, revoked or not (verification).
  virtual std::optional<TokenRecord> token_find(std::int64_t id) = 0;
  // Every row among `ids` (revoked or not), in no particular order; an id without a row is
  // left out. One round trip: callers batch (Engine::revoke_leaked). This default asks
  // token_find once per id.
  virtual std::vector<TokenRecord> tokens_find(const std::vector<std::int64_t>& ids) {
    std::vector<TokenRecord> out;
    for (const std::int64_t id : ids) {
      if (auto r = token_find(id)) out.push_back(std::move(*r));
    }
    return out;
  }
  // The owner's live (not revoked) token with this id.
  virtual std::optional<TokenRecord> token_find_owned(const std::string& owner, std::int64_t id) = 0;
  // One page of the tokens matching `q` (token_query.h) at time `now`, and how many match.
  // Validated by the caller (Engine::query); `q.scopes_any` holds stored canonical strings.
  // Every listing is this call (an owner's live tokens: State::kLive, kNoLimit); the state
  // and purge rules and the ORDER BY have one home each (src/repository_rules.h,
  // src/listing_order.h).
  virtual TokenPage tokens_query(const TokenQuery& q, std::int64_t now) = 0;
  // Live tokens with expires_at in [from, until], soonest first; all owners if none given.
  virtual std::vector<TokenRecord> tokens_expiring(std::int64_t from, std::int64_t until,
                                                   const std::optional<std::string>& owner) = 0;

  // Each returns false (and changes nothing) if the owner has no live token with that id.
  virtual bool token_update_scopes(const std::string& owner, std::int64_t id,
                                   const std::vector<std::string>& scopes, const std::string& actor,
                                   std::int64_t at) = 0;
  // Sets a live token's description (audited "update_description", detail = the new text);
  // announced like a scope edit, since verification's TokenInfo carries it.
  virtual bool token_update_description(const std::string& owner, std::int64_t id,
                                        const std::string& description, const std::string& actor,
                                        std::int64_t at) = 0;
  // Sets a live token's networks (canonical CIDRs; empty: unbound), audited
  // "update_networks" with detail "<old> -> <new>" ("any" for none); announced like a
  // scope edit: verification decides on them.
  virtual bool token_update_networks(const std::string& owner, std::int64_t id,
                                     const std::vector<std::string>& networks, const std::string& actor,
                                     std::int64_t at) = 0;
  // Revokes every id, or (if one is not a live token of the owner) none.
  virtual bool tokens_revoke(const std::string& owner, const std::vector<std::int64_t>& ids,
                             const std::string& actor, std::int64_t at) = 0;
  // Announces the owner's live tokens as changed without changing a row (not audited), under
  // the coherence contract like a scope edit: once it returns, every process's next
  // verification of one of them reloads it (a new snapshot). Returns how many it announced.
  // For what a surface derives from the owner beside a token's snapshot (Django's user cache).
  virtual std::size_t tokens_announce(const std::string& owner) = 0;
  // Revokes `id` and inserts `replacement` in one transaction; the replacement takes the old
  // token's name and scopes, and keeps its own id, secret digest, times and expiry.
  virtual bool token_rotate(const std::string& owner, std::int64_t id, const TokenRecord& replacement,
                            const std::string& actor, std::int64_t at) = 0;

  // Deletes rows revoked before `cutoff` or expired before it; returns how many.
  virtual std::int64_t tokens_purge(std::int64_t cutoff, const std::string& actor, std::int64_t at) = 0;
  // How many rows tokens_purge(cutoff) would delete now (`purge --dry-run`); changes nothing.
  virtual std::int64_t tokens_purgeable(std::int64_t cutoff) = 0;
  // Best-effort, not audited: last_used_at = max(current, at) for each (id, at).
  virtual void tokens_touch(const std::vector<std::pair<std::int64_t, std::int64_t>>& uses) = 0;

  // Cheap: never blocks, never throws.
  virtual Coherence coherence() const noexcept = 0;
  // Appends the ids changed in generations (from, to]. False if they are no longer known (or
  // everything changed): the caller must drop everything it cached.
  virtual bool changes_since(std::uint64_t from, std::uint64_t to, std::vector<std::int64_t>* ids) = 0;
  // Called when coherence() has stayed unstable for a while: settle what a dead writer left
  // (SQLite: take the write lock without waiting and mark every begun write finished). Must
  // not wait behind a live writer; may throw StoreError.
  virtual void coherence_repair() = 0;

  // Called every 100 ms from the engine's background thread: release anything held between
  // calls (a read snapshot, say).
  virtual void idle() {}

  // Warm start (Engine): the live tokens used at or after `since` and not expired at `now`,
  // most recently used first, at most `limit`, handed to `sink` in chunks from one read
  // snapshot that begins after the call starts; stops when `sink` returns false or `*stop`
  // becomes true (also mid-query). Never holds a lock that verification's token_find needs
  // while `sink` runs. Best effort: a backend without it hands nothing (the cache starts cold)
  // and says so in warm_supported(), so the engine starts no thread for it.
  using RecordSink = std::function<bool(std::vector<TokenRecord>& chunk)>;
  static constexpr std::size_t kWarmChunk = 512;  // rows per call of the sink
  virtual bool warm_supported() const noexcept { return false; }
  virtual void tokens_recent(std::int64_t since, std::int64_t now, std::size_t limit,
                             const std::atomic<bool>* stop, const RecordSink& sink) {
    (void)since, (void)now, (void)limit, (void)stop, (void)sink;
  }

  // fork() (fork_guard.h; the engine calls these from its own handlers, after taking its
  // locks): take the short-held locks; release them; in the child, release them and stop
  // using anything of the parent's (connections, threads) - the next call opens its own.
  virtual void fork_prepare() noexcept {}
  virtual void fork_parent() noexcept {}
  virtual void fork_child() noexcept {}

  // Newest first, at most `limit`.
  virtual std::vector<AuditEvent> audit_list(const std::optional<std::string>& owner, std::int64_t limit) = 0;

  // --- Leak response and scope usage ---------------------------------------------------------

  // Revokes each id that is a live (not revoked) token, whatever its owner, with one audit
  // row per token (action "leaked", detail = its source), all in one transaction; ids that
  // are not live are skipped. Returns the ids it revoked. A change under the coherence
  // contract, as tokens_revoke: every cache stops accepting them once it returns.
  virtual std::vector<std::int64_t> tokens_revoke_leaked(const std::vector<LeakedToken>& leaks,
                                                         const std::string& actor, std::int64_t at) = 0;
  // Best-effort, not audited, not announced (as tokens_touch): each (id, scope)'s last use
  // becomes max(current, at). Uses of ids that no longer exist are dropped.
  virtual void scopes_touch(const std::vector<ScopeUse>& uses) = 0;
  // The scopes each of `ids` exercised at or after `since`, with their last use; any order.
  virtual std::vector<ScopeUse> scopes_used(const std::vector<std::int64_t>& ids, std::int64_t since) = 0;
  // Best-effort, not audited, not announced (as tokens_touch): each (id, address)'s last use
  // becomes max(current, at); then only each touched token's kClientsKept newest addresses
  // are kept. Uses of ids that no longer exist are dropped; rows go with their token on purge.
  virtual void clients_touch(const std::vector<ClientUse>& uses) = 0;
  // One token's recorded addresses, newest first, at most `limit`.
  virtual std::vector<ClientUse> clients_recent(std::int64_t id, std::int64_t limit) = 0;
  // clients_recent of each of `ids`, together (the Access Token page asks for its rows at
  // once): one round trip where the store has round trips. This default asks once per id.
  virtual std::vector<ClientUse> clients_recent_many(const std::vector<std::int64_t>& ids,
                                                     std::int64_t limit) {
    std::vector<ClientUse> out;
    for (const std::int64_t id : ids) {
      auto rows = clients_recent(id, limit);
      out.insert(out.end(), std::make_move_iterator(rows.begin()), std::make_move_iterator(rows.end()));
    }
    return out;
  }
  static constexpr std::int64_t kClientsKept = 10;
  // The owner's audit rows with `action` at or after `since`, newest first, at most `limit`.
  virtual std::vector<AuditEvent> audit_actions(const std::string& owner, const std::string& action,
                                                std::int64_t since, std::int64_t limit) = 0;
};

}  // namespace tokenkeep
