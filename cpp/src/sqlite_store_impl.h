// SqliteStore, TokenRepository on SQLite (sqlite_store.h): the class, its members and what
// each does. Its SQL lives by concern: sqlite_store.cc (opening, file identity, fork, coherence
// and the connection lifecycle), sqlite_store_read.cc (verification's lookup, finds, listings,
// the warm start's recent tokens, use records and the audit), sqlite_store_write.cc (settings
// written, creates, edits, revokes, rotation, announcements, purges and use records). Listing
// SQL is sqlite_listing.h's; connections and statements are sqlite_connection.h's.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "change_feed.h"
#include "sqlite_connection.h"
#include "sqlite_listing.h"
#include "tokenkeep/fork_guard.h"
#include "tokenkeep/sqlite_store.h"
#include "tokenkeep/token_repository.h"

namespace tokenkeep {
namespace sqlite_detail {

class SqliteStore final : public TokenRepository {
 public:
  SqliteStore(const StoreLocation& location, const SqliteOptions& options);

  ~SqliteStore() override;

  // fork_guard.h. Both locks are held across the fork, so that no thread of this store is
  // inside SQLite at that instant (SQLite's own mutexes would stay locked in the child); the
  // fork waits for a call in flight. In the child they are made anew, and each connection is
  // reopened by the first call that takes its lock there (file_check() under mu_,
  // token_find() under reader_mu_). The change feed's shared mapping stays: it is the same
  // feed, shared with the parent by design. A :memory: database is the child's own copy.
  // warm_mu_ likewise keeps tokens_recent's connection out of SQLite across the fork; that
  // connection is the parent's loader thread's, never touched in the child.
  void fork_prepare() noexcept override;
  void fork_parent() noexcept override;
  void fork_child() noexcept override;

  std::optional<std::string> setting_get(const std::string& key) override;

  std::string setting_put(const std::string& key, const std::string& value,
                          const std::optional<std::string>& expected) override;

  void tokens_insert(const std::vector<TokenRecord>& records, const std::string& actor,
                     std::int64_t at) override;

  // Verification's lookup. On a file database it runs on a second connection, so it never
  // waits behind this store's writes, and inside a read transaction that stays open while the
  // change feed shows no write since it began (at most 100 ms, so checkpoints can proceed):
  // a point lookup then skips opening a read transaction, about half its cost. A write
  // anywhere moves the feed, and the next lookup starts a fresh transaction that sees it.
  // The file's identity is re-checked (a stat) only when the feed moved since the last check:
  // a change made through a file that replaced ours is announced on the feed before it
  // returns, so a verify started after it sees the feed moved and stats before it reads.
  std::optional<TokenRecord> token_find(std::int64_t id) override;

  // Called every 100 ms: a read snapshot must not outlive its window while the cache answers
  // everything (it would keep checkpoints from resetting the WAL).
  void idle() override;

  // Warm start: its own read-only connection (so verification's reader is never held behind
  // it) reading through mmap the covering partial index of live tokens by last use (RECENT,
  // schema 9), newest first, at most `limit` rows: only the rows it loads, from the index
  // alone, never the table. Rows are handed over kWarmChunk at a time with warm_mu_ released, so
  // verifications find the first ones cached while the read goes on. The engine decides,
  // row by row under its cache's rules, what enters the cache.
  bool warm_supported() const noexcept override { return file_; }
  void tokens_recent(std::int64_t since, std::int64_t now, std::size_t limit, const std::atomic<bool>* stop,
                     const RecordSink& sink) override;

  std::vector<TokenRecord> tokens_find(const std::vector<std::int64_t>& ids) override;

  std::optional<TokenRecord> token_find_owned(const std::string& owner, std::int64_t id) override;

  // Listings (sqlite_listing.h): the count and the page from one snapshot; the count of an
  // owner's listing is reused while nothing changed (a page's count of 100,000 tokens scans
  // ~100,000 index entries; paging through them should not).
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

  bool tokens_revoke(const std::string& owner, const std::vector<std::int64_t>& ids, const std::string& actor,
                     std::int64_t at) override;

  std::size_t tokens_announce(const std::string& owner) override;

  bool token_rotate(const std::string& owner, std::int64_t id, const TokenRecord& replacement,
                    const std::string& actor, std::int64_t at) override;

  std::int64_t tokens_purge(std::int64_t cutoff, const std::string& actor, std::int64_t at) override;

  std::int64_t tokens_purgeable(std::int64_t cutoff) override;

  void tokens_touch(const std::vector<std::pair<std::int64_t, std::int64_t>>& uses) override;

  // SQLite's coherence is the shared-memory change feed beside the database (change_feed.h):
  // generation = what writers published, stable = nothing announced and unpublished. Never
  // stable once the database file was replaced (stale_): the cache is bypassed and every
  // verify reaches token_find, which raises (a cache hit must not keep answering from a file
  // nobody else sees).
  Coherence coherence() const noexcept override;

  bool changes_since(std::uint64_t from, std::uint64_t to, std::vector<std::int64_t>* ids) override;

  void coherence_repair() override;

  // --- Leak response and scope usage (token_repository.h) ---------------------------------

  std::vector<std::int64_t> tokens_revoke_leaked(const std::vector<LeakedToken>& leaks,
                                                 const std::string& actor, std::int64_t at) override;

  void scopes_touch(const std::vector<ScopeUse>& uses) override;

  void clients_touch(const std::vector<ClientUse>& uses) override;

  std::vector<ClientUse> clients_recent(std::int64_t id, std::int64_t limit) override;

  std::vector<ScopeUse> scopes_used(const std::vector<std::int64_t>& ids, std::int64_t since) override;

  std::vector<AuditEvent> audit_actions(const std::string& owner, const std::string& action,
                                        std::int64_t since, std::int64_t limit) override;

  std::vector<AuditEvent> audit_list(const std::optional<std::string>& owner, std::int64_t limit) override;

 private:
  void migrate(bool read_only);

  // One edit of a live token: under the lock, in a write transaction, announced on the feed,
  // `edit` (the UPDATE and its audit row) given the row as it was. False, nothing changed, when
  // the owner has no such live token.
  template <typename Edit>
  bool update_owned(const std::string& owner, std::int64_t id, Edit edit);

  std::optional<TokenRecord> find_owned_locked(const std::string& owner, std::int64_t id);

  // Multi-row INSERTs of kRows rows each: one statement execution per kRows tokens (and as
  // many audit rows) instead of two per token. OR ROLLBACK: a duplicate name ends the whole
  // transaction (create_many is all or nothing anyway), which spares SQLite the statement
  // journal it would otherwise keep to undo one statement. Returns false after such a rollback.
  static constexpr int kRows = 32;

  static std::string multi_row_sql(const char* head, const char* row, int rows);

  bool insert_many(const std::vector<const TokenRecord*>& records, const std::string& actor, std::int64_t at);

  void insert_one(const TokenRecord& r, const std::string& actor, std::int64_t at, const char* action);

  void revoke_locked(const TokenRecord& old, const std::string& actor, std::int64_t at, const char* action,
                     const std::string& detail);

  void audit_add(std::int64_t at, const std::string& actor, const char* action,
                 std::optional<std::int64_t> token_id, const std::string& owner, const std::string& name,
                 const std::string& old_scopes, const std::string& new_scopes, const std::string& detail);

  static constexpr std::chrono::milliseconds kReaderWindow{100};

  // False (and from then on) once the path no longer names the file this store opened: a
  // backup restore moved another file over it, or it was deleted. One stat; the background
  // thread calls it every 100 ms, every call on the writer connection calls file_check, and
  // verification's lookup when the feed moved (token_find).
  bool file_current() noexcept;
  // Under mu_: every call that uses the writer connection starts here.
  void file_check();

  // Under mu_: in a child after fork(), the writer connection is reopened first.
  void writer_fork_check();

  // Per connection: a larger page cache (16 MiB) keeps bulk inserts from spilling pages
  // mid-transaction; statement journals (a multi-row INSERT may need to undo itself) stay in
  // memory.
  void writer_configure();

  void file_stat_check();

  void reader_end();

  std::optional<TokenRecord> find_on(Connection& c, std::int64_t id);

  std::mutex mu_;
  Connection c_;
  const SqliteOptions options_;
  std::mutex warm_mu_;    // tokens_recent's connection is inside SQLite
  ListingCounts counts_;  // under mu_
  std::unique_ptr<ChangeFeed> feed_;
  std::atomic<bool> stale_{false};
  bool file_ = false;
  dev_t file_dev_ = 0;
  ino_t file_ino_ = 0;
  // Verification's reader (file databases only) and its long-lived read transaction.
  std::mutex reader_mu_;
  std::unique_ptr<Connection> reader_;
  const bool read_only_;
  // fork_generation() of the process each connection was opened in.
  std::uint64_t writer_fork_ = fork_generation();
  std::uint64_t reader_fork_ = fork_generation();
  bool reader_in_tx_ = false;
  ChangeFeed::State reader_state_;
  ChangeFeed::State stat_feed_;  // the feed when token_find last found the file current
  std::chrono::steady_clock::time_point reader_since_;
};
}  // namespace sqlite_detail
}  // namespace tokenkeep
