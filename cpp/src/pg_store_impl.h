// PgStore, TokenRepository on PostgreSQL (pg_store.h): the class, its members and what each
// does. Its SQL lives by concern: pg_store.cc (opening, settings read, coherence, fork and
// the helpers every change uses), pg_store_read.cc (the cache miss and every other read),
// pg_store_write.cc (creates, edits, revokes, purges and use records); listings in
// pg_listing.cc, bulk creates in pg_insert.cc. Connections come from a small pool
// (pg_pool.h); cross-node coherence is PgCoherence's (pg_coherence.h).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "pg_coherence.h"
#include "pg_connection.h"
#include "pg_miss_flights.h"
#include "pg_pool.h"
#include "pg_rows.h"
#include "tokenkeep/pg_store.h"
#include "tokenkeep/token_repository.h"

namespace tokenkeep {
namespace pg_detail {

class PgStore final : public TokenRepository {
 public:
  PgStore(const std::string& conninfo, const PgOptions& options);

  std::optional<std::string> setting_get(const std::string& key) override;

  std::string setting_put(const std::string& key, const std::string& value,
                          const std::optional<std::string>& expected) override;

  // All or nothing, not announced (see token_repository.h: a create cannot make any cache
  // stale). A few rows go in one statement (one round trip: the rows and their audit rows
  // from arrays); a bulk create streams both tables with COPY in binary in one transaction
  // (six round trips whatever the size, no SQL or text parsing per row), completing the
  // records part by part as it sends them. A taken live name is NameTaken naming it, as a
  // constraint found it.
  void tokens_insert_completing(const std::vector<TokenRecord>& records, const std::string& actor,
                                std::int64_t at, const RecordsComplete& complete) override;
  void tokens_insert(const std::vector<TokenRecord>& records, const std::string& actor,
                     std::int64_t at) override {
    tokens_insert_completing(records, actor, at, [](std::size_t, std::size_t) {});
  }

  // The cache miss: one round trip (the statement is prepared on a connection's first use),
  // no transaction block, no coherence work (the listener thread does that); the id and the
  // row travel in binary, so neither side parses numbers or hex. Unknown ids are remembered
  // (NegativeCache) and cost nothing the next time.
  std::optional<TokenRecord> token_find(std::int64_t id) override;

  std::vector<TokenRecord> tokens_find(const std::vector<std::int64_t>& ids) override;

  std::optional<TokenRecord> token_find_owned(const std::string& owner, std::int64_t id) override;

  // Warm start (token_repository.h): one statement over the partial index of live tokens by
  // last use (schema 9), newest first, on a connection of its own (PgPool::connect_apart), so
  // the first verifications find the store's connection free; closed before the rows are
  // handed over. It cannot connect (a full server, say): nothing loaded, the cache starts cold.
  bool warm_supported() const noexcept override { return true; }
  void tokens_recent(std::int64_t since, std::int64_t now, std::size_t limit, const std::atomic<bool>* stop,
                     const RecordSink& sink) override;

  TokenPage tokens_query(const TokenQuery& q, std::int64_t now) override;

  std::vector<TokenRecord> tokens_expiring(std::int64_t from, std::int64_t until,
                                           const std::optional<std::string>& owner) override;

  bool token_update_scopes(const std::string& owner, std::int64_t id, const std::vector<std::string>& scopes,
                           const std::string& actor, std::int64_t at) override;

  bool token_update_description(const std::string& owner, std::int64_t id, const std::string& description,
                                const std::string& actor, std::int64_t at) override;

  bool token_update_networks(const std::string& owner, std::int64_t id,
                             const std::vector<std::string>& networks, const std::string& actor,
                             std::int64_t at) override;

  // One owned live token edited in one transaction: locked, changed by `edit` (its UPDATE and
  // audit row), announced, committed, then the coherence wait. False, nothing changed, when
  // the owner holds no live token `id`.
  template <typename Edit>
  bool update_owned(const std::string& owner, std::int64_t id, Edit edit);

  bool tokens_revoke(const std::string& owner, const std::vector<std::int64_t>& ids, const std::string& actor,
                     std::int64_t at) override;

  std::size_t tokens_announce(const std::string& owner) override;

  bool token_rotate(const std::string& owner, std::int64_t id, const TokenRecord& replacement,
                    const std::string& actor, std::int64_t at) override;

  std::int64_t tokens_purgeable(std::int64_t cutoff) override;

  std::int64_t tokens_purge(std::int64_t cutoff, const std::string& actor, std::int64_t at) override;

  // Advisory, so committed without waiting for the WAL flush (synchronous_commit off, this
  // transaction only); never announced.
  void tokens_touch(const std::vector<std::pair<std::int64_t, std::int64_t>>& uses) override;

  Coherence coherence() const noexcept override { return coherence_->state(); }

  bool changes_since(std::uint64_t from, std::uint64_t to, std::vector<std::int64_t>* ids) override;

  void coherence_repair() override;

  // Every 100 ms (the engine's background thread): connections idle past pool_idle close.
  void idle() override;

  void fork_prepare() noexcept override;
  void fork_parent() noexcept override;
  void fork_child() noexcept override;

  // --- Leak response and scope usage (token_repository.h) ---------------------------------

  std::vector<std::int64_t> tokens_revoke_leaked(const std::vector<LeakedToken>& leaks,
                                                 const std::string& actor, std::int64_t at) override;

  // Advisory like tokens_touch: no WAL flush wait, never announced. Rows go in key order, so
  // concurrent flushes upsert overlapping rows in one order (no deadlock).
  void scopes_touch(const std::vector<ScopeUse>& uses) override;

  // Advisory like scopes_touch; then each touched token keeps its kClientsKept newest rows.
  void clients_touch(const std::vector<ClientUse>& uses) override;

  std::vector<ClientUse> clients_recent(std::int64_t id, std::int64_t limit) override;
  // One statement for all the ids (each token's newest `limit`, by a window over its rows).
  std::vector<ClientUse> clients_recent_many(const std::vector<std::int64_t>& ids,
                                             std::int64_t limit) override;

  std::vector<ScopeUse> scopes_used(const std::vector<std::int64_t>& ids, std::int64_t since) override;

  std::vector<AuditEvent> audit_actions(const std::string& owner, const std::string& action,
                                        std::int64_t since, std::int64_t limit) override;

  std::vector<AuditEvent> audit_list(const std::optional<std::string>& owner, std::int64_t limit) override;

 private:
  // What tells this server from every other: its system identifier where this role may read
  // it, else the address the connection string names (two spellings of one server then get
  // two host channels: more connections, never a shared one between two servers).
  std::string server_identity(PgConnection& c, bool readable);

  // A connection for a change: if none can be had, the error says nothing was changed.
  PgPool::Lease acquire_for_change();

  // A connection to persist last-used times: on the engine's background thread (the one
  // that calls idle()) only a spare one (PgPool::acquire_spare), so that advisory writes never
  // add a connection beside the store's own calls; StoreError when none is spare (the engine
  // keeps the uses for its next round). An explicit flush (uses_flush, close) waits as usual.
  PgPool::Lease acquire_for_uses();

  // The refusal of a read-only handle, before any round trip (same words as SQLite's).
  void writable(const char* doing);

  std::optional<TokenRecord> find_owned_for_update(PgConnection& c, const std::string& owner,
                                                   std::int64_t id);

  void revoke_one(PgConnection& c, const TokenRecord& old, const std::string& actor, std::int64_t at,
                  const char* action, const std::string& detail);

  // Inside a changing transaction, last: bumps the counter (its row lock is held to the
  // commit, so commit order = counter order and no generation is skipped), records the ids,
  // prunes old history, and queues the NOTIFY that PostgreSQL sends at commit.
  std::uint64_t publish(PgConnection& c, const std::vector<std::int64_t>& ids);

  PgPool pool_;
  std::atomic<std::thread::id> background_{};  // the engine's background thread (idle())
  const bool read_only_;
  std::string where_;  // the server and database, never the password (PgConnection::where)
  NegativeCache missing_;
  PgMissFlights flights_;  // concurrent misses of one id share one read
  std::string channel_;
  std::unique_ptr<PgCoherence> coherence_;
};

}  // namespace pg_detail
}  // namespace tokenkeep
