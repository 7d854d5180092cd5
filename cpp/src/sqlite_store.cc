#include "tokenkeep/sqlite_store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstring>
#include <mutex>
#include <new>
#include <unordered_map>

#include "change_feed.h"
#include "repository_rules.h"
#include "sqlite_connection.h"
#include "sqlite_listing.h"
#include "tokenkeep/errors.h"
#include "tokenkeep/fork_guard.h"
#include "tokenkeep/scopes.h"

static_assert(tokenkeep::ChangeFeed::kAll == tokenkeep::TokenRepository::kAllIds, "one spelling of all ids");

namespace tokenkeep {
namespace {

using namespace sqlite_detail;  // NOLINT: this file is their one user besides the schema

// What sqlite3_open_v2 is given: the canonical file (absolute, so never read as a URI) or
// ":memory:".
std::string sqlite_name(const StoreLocation& location) {
  return location.kind == StoreLocation::Kind::kFile ? location.database : std::string(":memory:");
}

class SqliteStore final : public TokenRepository {
 public:
  SqliteStore(const StoreLocation& location, const SqliteOptions& options)
      : c_(sqlite_name(location), options), options_(options), read_only_(options.read_only) {
    // journal_mode needs a lock and reports SQLITE_BUSY without waiting on the handler in
    // some states; retry within the busy timeout.
    if (!options.read_only) {
      writer_configure();
      for (int waited = 0;; waited += 10) {
        const int rc = sqlite3_exec(c_.handle(), "PRAGMA journal_mode=WAL", nullptr, nullptr, nullptr);
        if (rc == SQLITE_OK) break;
        if ((rc & 0xff) != SQLITE_BUSY || waited > options.busy_timeout_ms) c_.raise(rc, "cannot open");
        ::usleep(10000);
      }
    }
    migrate(options.read_only);
    feed_ = change_feed_open(location, options.read_only);  // only beside a database that opened
    if (location.kind == StoreLocation::Kind::kFile) {
      stat_feed_ = feed_->state();  // read before the stat below: see token_find
      struct stat st {};
      if (::stat(location.database.c_str(), &st) != 0) c_.raise(SQLITE_CANTOPEN, "cannot open");
      file_dev_ = st.st_dev;
      file_ino_ = st.st_ino;
      file_ = true;
    }
    if (location.kind == StoreLocation::Kind::kFile) {
      reader_ = std::make_unique<Connection>(location.database, options);
    }
  }

  ~SqliteStore() override {
    if (reader_ && reader_in_tx_ && reader_fork_ == fork_generation()) {
      sqlite3_exec(reader_->handle(), "ROLLBACK", nullptr, nullptr, nullptr);
    }
  }

  // fork_guard.h. Both locks are held across the fork, so that no thread of this store is
  // inside SQLite at that instant (SQLite's own mutexes would stay locked in the child); the
  // fork waits for a call in flight. In the child they are made anew, and each connection is
  // reopened by the first call that takes its lock there (file_check() under mu_,
  // token_find() under reader_mu_). The change feed's shared mapping stays: it is the same
  // feed, shared with the parent by design. A :memory: database is the child's own copy.
  // warm_mu_ likewise keeps tokens_recent's connection out of SQLite across the fork; that
  // connection is the parent's loader thread's, never touched in the child.
  void fork_prepare() noexcept override {
    mu_.lock();
    reader_mu_.lock();
    warm_mu_.lock();
  }
  void fork_parent() noexcept override {
    warm_mu_.unlock();
    reader_mu_.unlock();
    mu_.unlock();
  }
  void fork_child() noexcept override {
    new (&mu_) std::mutex();
    new (&reader_mu_) std::mutex();
    new (&warm_mu_) std::mutex();
  }

  std::optional<std::string> setting_get(const std::string& key) override {
    std::lock_guard<std::mutex> lock(mu_);
    file_check();
    Statement s(c_, "SELECT value FROM settings WHERE key = ?1");
    s.bind(1, key);
    if (s.step("cannot read settings from")) return s.text(0);
    return std::nullopt;
  }

  std::string setting_put(const std::string& key, const std::string& value,
                          const std::optional<std::string>& expected) override {
    std::lock_guard<std::mutex> lock(mu_);
    file_check();
    Transaction tx(c_, true);
    std::optional<std::string> current;
    {
      Statement s(c_, "SELECT value FROM settings WHERE key = ?1");
      s.bind(1, key);
      if (s.step("cannot read settings from")) current = s.text(0);
    }
    if (current && current != expected && current != value) return *current;
    if (current != value) {
      Statement s(c_, "INSERT OR REPLACE INTO settings(key, value) VALUES (?1, ?2)");
      s.bind(1, key).bind(2, value).run("cannot write settings to");
    }
    tx.commit();
    return value;
  }

  void tokens_insert(const std::vector<TokenRecord>& records, const std::string& actor,
                     std::int64_t at) override {
    std::lock_guard<std::mutex> lock(mu_);
    file_check();
    {
      // Not announced on the change feed: a new id cannot be stale in any cache (misses are
      // not cached), and token_find looks again outside its snapshot for an id it lacks.
      Transaction tx(c_, true);
      // Inserting in key order touches each b-tree page once instead of at random.
      std::vector<const TokenRecord*> ordered;
      ordered.reserve(records.size());
      for (const auto& r : records) ordered.push_back(&r);
      std::sort(ordered.begin(), ordered.end(),
                [](const TokenRecord* a, const TokenRecord* b) { return a->id < b->id; });
      if (insert_many(ordered, actor, at)) {
        tx.commit();
        return;
      }
      tx.abandon();
    }
    // A constraint failed and rolled everything back: name the duplicate.
    for (const auto& r : records) {
      Statement chk(c_, "SELECT 1 FROM tokens WHERE owner = ?1 AND name = ?2 AND revoked_at IS NULL");
      chk.bind(1, r.owner).bind(2, r.name);
      if (chk.step("cannot read tokens from")) name_taken_fail(r.name);
    }
    if (const std::string* repeated = records_repeated_name(records)) name_taken_fail(*repeated);
    fail(ErrorCode::kStoreError,
         "cannot insert tokens into " + c_.path() + ": a constraint failed; nothing was created");
  }

  // Verification's lookup. On a file database it runs on a second connection, so it never
  // waits behind this store's writes, and inside a read transaction that stays open while the
  // change feed shows no write since it began (at most 100 ms, so checkpoints can proceed):
  // a point lookup then skips opening a read transaction, about half its cost. A write
  // anywhere moves the feed, and the next lookup starts a fresh transaction that sees it.
  // The file's identity is re-checked (a stat) only when the feed moved since the last check:
  // a change made through a file that replaced ours is announced on the feed before it
  // returns, so a verify started after it sees the feed moved and stats before it reads.
  std::optional<TokenRecord> token_find(std::int64_t id) override {
    if (!reader_) {
      std::lock_guard<std::mutex> lock(mu_);
      file_check();
      return find_on(c_, id);
    }
    std::lock_guard<std::mutex> lock(reader_mu_);
    if (reader_fork_ != fork_generation()) {  // a child after fork(): its own connection
      reader_fork_ = fork_generation();
      reader_in_tx_ = false;  // the inherited snapshot goes with the inherited connection
      reader_->reopen();
    }
    const ChangeFeed::State st = feed_->state();
    if (st == stat_feed_) {
      if (stale_.load(std::memory_order_relaxed)) file_stat_check();  // the background stat found it
    } else {
      file_stat_check();
      stat_feed_ = st;
    }
    const auto now = std::chrono::steady_clock::now();
    bool reused = false;
    if (reader_in_tx_) {
      reused = st.stable() && st == reader_state_ && now - reader_since_ < kReaderWindow;
      if (!reused) reader_end();
    }
    if (!reader_in_tx_ && st.stable() && feed_->usable() &&
        sqlite3_exec(reader_->handle(), "BEGIN", nullptr, nullptr, nullptr) == SQLITE_OK) {
      reader_in_tx_ = true;
      reader_state_ = st;
      reader_since_ = now;
    }
    try {
      auto found = find_on(*reader_, id);
      if (!found && reused) {
        // Creates are not announced, so a token made after this snapshot began is looked
        // for again outside it.
        reader_end();
        found = find_on(*reader_, id);
      }
      return found;
    } catch (const Error&) {
      reader_end();
      throw;
    }
  }

  // Called every 100 ms: a read snapshot must not outlive its window while the cache answers
  // everything (it would keep checkpoints from resetting the WAL).
  void idle() override {
    (void)file_current();  // re-stat: a replaced file makes coherence() unstable
    std::unique_lock<std::mutex> lock(reader_mu_, std::try_to_lock);
    if (lock && reader_fork_ != fork_generation()) return;  // the parent's snapshot: not ours to end
    if (lock && reader_in_tx_ && std::chrono::steady_clock::now() - reader_since_ >= kReaderWindow)
      reader_end();
  }

  // Warm start: its own read-only connection (so verification's reader is never held behind
  // it) reading through mmap, one table scan in rowid order (NOT INDEXED: through the partial
  // index on live names SQLite would look every row up at random), rows handed over
  // kWarmChunk at a time with warm_mu_ released, so verifications find the first ones cached
  // while the scan goes on. Only when the table holds more rows than `limit` are they sorted
  // first, so that the most recently used are the ones kept. The engine decides, row by row
  // under its cache's rules, what enters the cache.
  bool warm_supported() const noexcept override { return file_; }
  void tokens_recent(std::int64_t since, std::int64_t now, std::size_t limit, const std::atomic<bool>* stop,
                     const RecordSink& sink) override {
    if (!file_ || limit == 0 || !file_current()) return;
    static constexpr std::size_t kWarmChunk = 512;
    std::unique_lock<std::mutex> lock(warm_mu_);
    SqliteOptions o = options_;
    o.read_only = true;
    Connection warm(c_.path(), o);
    warm.exec("PRAGMA mmap_size=1073741824", "cannot configure");
    // SQLite calls this every 1,000 instructions of the scan: a close() need not wait for it.
    sqlite3_progress_handler(
        warm.handle(), 1000, [](void* flag) { return static_cast<std::atomic<bool>*>(flag)->load() ? 1 : 0; },
        const_cast<std::atomic<bool>*>(stop));
    bool sorted = true;
    {
      Statement count(warm, "SELECT count(*) FROM tokens");
      if (count.step("cannot read tokens from")) sorted = count.i64(0) > static_cast<std::int64_t>(limit);
    }
    std::vector<TokenRecord> chunk;
    {
      Statement s(warm, sorted ? TOKEN_SELECT_FROM "tokens NOT INDEXED " RECENT_WHERE
                                                   "ORDER BY last_used_at DESC LIMIT ?3"
                               : TOKEN_SELECT_FROM "tokens NOT INDEXED " RECENT_WHERE "LIMIT ?3");
      s.bind(1, since).bind(2, now).bind(3, static_cast<std::int64_t>(limit));
      for (;;) {
        const int rc = sqlite3_step(s.handle());
        if (rc == SQLITE_ROW) chunk.push_back(read_token(s));
        if (rc != SQLITE_ROW || chunk.size() == kWarmChunk) {
          lock.unlock();
          const bool more = chunk.empty() || sink(chunk);
          chunk.clear();
          lock.lock();
          if (rc != SQLITE_ROW || !more || stop->load()) break;
        }
      }
    }
    sqlite3_progress_handler(warm.handle(), 0, nullptr, nullptr);
  }

  std::vector<TokenRecord> tokens_find(const std::vector<std::int64_t>& ids) override {
    std::string json = "[";
    for (std::size_t i = 0; i < ids.size(); ++i) {
      if (i) json += ',';
      json += std::to_string(ids[i]);
    }
    json += ']';
    std::lock_guard<std::mutex> lock(mu_);
    file_check();
    Statement s(c_, TOKEN_SELECT "WHERE id IN (SELECT value FROM json_each(?1))");
    s.bind(1, json);
    std::vector<TokenRecord> out;
    while (s.step("cannot read tokens from")) out.push_back(read_token(s));
    return out;
  }

  std::optional<TokenRecord> token_find_owned(const std::string& owner, std::int64_t id) override {
    std::lock_guard<std::mutex> lock(mu_);
    file_check();
    return find_owned_locked(owner, id);
  }

  // Listings (sqlite_listing.h): the count and the page from one snapshot; the count of an
  // owner's listing is reused while nothing changed (a page's count of 100,000 tokens scans
  // ~100,000 index entries; paging through them should not).
  TokenPage tokens_query(const TokenQuery& q, std::int64_t now) override {
    std::lock_guard<std::mutex> lock(mu_);
    file_check();
    const std::string search = token_query_fold(q.search);
    const std::string scopes = sqlite_json_strings(q.scopes_any);
    const std::string owner = q.owner.value_or(std::string());
    const char* count_sql = sqlite_listing_sql(q, SqliteListing::kCount);
    TokenPage page;
    Transaction tx(c_, false);
    if (q.limit == TokenQuery::kNoLimit && q.offset == 0) {  // every row: its count is their number
      Statement s(c_, sqlite_listing_sql(q, SqliteListing::kRows));
      s.bind(1, owner).bind(2, now).bind(3, search).bind(4, scopes).bind(5, q.limit).bind(6, q.offset);
      while (s.step("cannot read tokens from")) page.records.push_back(read_token(s));
      page.total = static_cast<std::int64_t>(page.records.size());
      tx.commit();
      return page;
    }
    ListingCounts::Version version;
    {
      Statement s(c_, "PRAGMA data_version");
      version.data_version = s.step("cannot read") ? s.i64(0) : 0;
    }
    version.changes = sqlite3_total_changes64(c_.handle());
    const std::string key = ListingCounts::key(count_sql, owner, search, scopes);
    const auto known = q.owner ? counts_.find(key, version, now) : std::nullopt;
    if (known) {
      page.total = *known;
    } else {
      Statement s(c_, count_sql);
      s.bind(1, owner).bind(2, now).bind(3, search).bind(4, scopes);
      if (s.step("cannot read tokens from")) page.total = s.i64(0);
      if (q.owner) {
        Statement next(c_, kSqliteNextExpirySql);
        next.bind(1, owner).bind(2, now);
        const auto until = next.step("cannot read tokens from") ? next.opt_i64(0) : std::nullopt;
        counts_.keep(key, version, now, until, page.total);
      }
    }
    std::vector<std::int64_t> ids;
    if (page.total > q.offset) {
      Statement s(c_, sqlite_listing_sql(q, SqliteListing::kIds));
      s.bind(1, owner).bind(2, now).bind(3, search).bind(4, scopes).bind(5, q.limit).bind(6, q.offset);
      while (s.step("cannot read tokens from")) ids.push_back(s.i64(0));
    }
    page.records.reserve(ids.size());
    for (const std::int64_t id : ids) {
      if (auto r = find_on(c_, id)) page.records.push_back(std::move(*r));
    }
    tx.commit();
    return page;
  }

  std::vector<TokenRecord> tokens_expiring(std::int64_t from, std::int64_t until,
                                           const std::optional<std::string>& owner) override {
    std::lock_guard<std::mutex> lock(mu_);
    file_check();
    static const std::string sql = TOKEN_SELECT "WHERE " + expiring_sql("?1", "?2") +
                                   " AND (?3 IS NULL OR owner = ?3) ORDER BY " + kExpiringOrderSql;
    Statement s(c_, sql.c_str());
    s.bind(1, from).bind(2, until);
    if (owner) s.bind(3, *owner);
    std::vector<TokenRecord> out;
    while (s.step("cannot read tokens from")) out.push_back(read_token(s));
    return out;
  }

  bool token_update_scopes(const std::string& owner, std::int64_t id, const std::vector<std::string>& scopes,
                           const std::string& actor, std::int64_t at) override {
    return update_owned(owner, id, [&](const TokenRecord& old) {
      const std::string joined = scopes_join(scopes);
      Statement s(c_, "UPDATE tokens SET scopes = ?1 WHERE id = ?2 AND owner = ?3 AND revoked_at IS NULL");
      s.bind(1, joined).bind(2, id).bind(3, owner).run("cannot update a token in");
      audit_add(at, actor, "update_scopes", id, owner, old.name, scopes_join(old.scopes), joined, "");
    });
  }

  bool token_update_description(const std::string& owner, std::int64_t id, const std::string& description,
                                const std::string& actor, std::int64_t at) override {
    return update_owned(owner, id, [&](const TokenRecord& old) {
      Statement s(c_,
                  "UPDATE tokens SET description = ?1 WHERE id = ?2 AND owner = ?3 AND revoked_at IS NULL");
      s.bind(1, description).bind(2, id).bind(3, owner).run("cannot update a token in");
      const std::string scopes = scopes_join(old.scopes);
      audit_add(at, actor, "update_description", id, owner, old.name, scopes, scopes, description);
    });
  }

  bool token_update_networks(const std::string& owner, std::int64_t id,
                             const std::vector<std::string>& networks, const std::string& actor,
                             std::int64_t at) override {
    return update_owned(owner, id, [&](const TokenRecord& old) {
      const std::string joined = networks_join(networks);
      Statement s(c_, "UPDATE tokens SET networks = ?1 WHERE id = ?2 AND owner = ?3 AND revoked_at IS NULL");
      s.bind(1, joined).bind(2, id).bind(3, owner).run("cannot update a token in");
      const std::string scopes = scopes_join(old.scopes);
      audit_add(at, actor, "update_networks", id, owner, old.name, scopes, scopes,
                networks_update_detail(old.networks, networks));
    });
  }

  bool tokens_revoke(const std::string& owner, const std::vector<std::int64_t>& ids, const std::string& actor,
                     std::int64_t at) override {
    std::lock_guard<std::mutex> lock(mu_);
    file_check();
    Transaction tx(c_, true);
    FeedWrite announce(*feed_, ids);
    for (std::int64_t id : ids) {
      auto old = find_owned_locked(owner, id);
      if (!old) return false;  // rolls back the ones already revoked
      revoke_locked(*old, actor, at, "revoke", "");
    }
    tx.commit();
    return true;
  }

  std::size_t tokens_announce(const std::string& owner) override {
    std::lock_guard<std::mutex> lock(mu_);
    file_check();
    Transaction tx(c_, true);  // the write lock: at most one write in flight on the feed
    std::vector<std::int64_t> ids;
    {
      Statement s(c_, "SELECT id FROM tokens WHERE owner = ?1 AND revoked_at IS NULL");
      s.bind(1, owner);
      while (s.step("cannot read tokens from")) ids.push_back(s.i64(0));
    }
    if (ids.empty()) return 0;
    FeedWrite announce(*feed_, ids);
    tx.commit();  // changes nothing; the feed is published when `announce` ends
    return ids.size();
  }

  bool token_rotate(const std::string& owner, std::int64_t id, const TokenRecord& replacement,
                    const std::string& actor, std::int64_t at) override {
    std::lock_guard<std::mutex> lock(mu_);
    file_check();
    Transaction tx(c_, true);
    FeedWrite announce(*feed_, {id});  // the replacement is new: see tokens_insert
    auto old = find_owned_locked(owner, id);
    if (!old) return false;
    TokenRecord fresh = replacement;
    fresh.name = old->name;
    fresh.scopes = old->scopes;
    fresh.description = old->description;
    fresh.networks = old->networks;
    revoke_locked(*old, actor, at, "rotate", "replaced by " + std::to_string(fresh.id));
    insert_one(fresh, actor, at, "rotate");
    tx.commit();
    return true;
  }

  std::int64_t tokens_purge(std::int64_t cutoff, const std::string& actor, std::int64_t at) override {
    std::lock_guard<std::mutex> lock(mu_);
    file_check();
    Transaction tx(c_, true);
    FeedWrite announce(*feed_, {kAllIds});
    static const std::string purge = "DELETE FROM tokens WHERE " + purge_sql("?1");
    Statement s(c_, purge.c_str());
    s.bind(1, cutoff).run("cannot purge tokens from");
    const std::int64_t n = sqlite3_changes64(c_.handle());
    if (n > 0) {
      Statement u(c_, "DELETE FROM token_scope_use WHERE token_id NOT IN (SELECT id FROM tokens)");
      u.run("cannot purge tokens from");
      Statement k(c_, "DELETE FROM token_client WHERE token_id NOT IN (SELECT id FROM tokens)");
      k.run("cannot purge tokens from");
    }
    audit_add(at, actor, "purge", std::nullopt, "", "", "", "", std::to_string(n) + " tokens");
    tx.commit();
    return n;
  }

  std::int64_t tokens_purgeable(std::int64_t cutoff) override {
    std::lock_guard<std::mutex> lock(mu_);
    file_check();
    static const std::string purgeable = "SELECT count(*) FROM tokens WHERE " + purge_sql("?1");
    Statement s(c_, purgeable.c_str());
    s.bind(1, cutoff);
    return s.step("cannot read tokens from") ? s.i64(0) : 0;
  }

  void tokens_touch(const std::vector<std::pair<std::int64_t, std::int64_t>>& uses) override {
    if (uses.empty() || !file_current()) return;  // nobody would see them
    std::lock_guard<std::mutex> lock(mu_);
    writer_fork_check();
    // last_used_at is advisory: its commits skip the fsync (WAL with synchronous=NORMAL stays
    // consistent after a crash, and may lose only these most recent touches).
    c_.exec("PRAGMA synchronous=NORMAL", "cannot configure");
    struct Restore {
      Connection& c;
      ~Restore() { sqlite3_exec(c.handle(), "PRAGMA synchronous=FULL", nullptr, nullptr, nullptr); }
    } restore{c_};
    Transaction tx(c_, true);
    for (const auto& [id, at] : uses) {
      Statement s(c_,
                  "UPDATE tokens SET last_used_at = ?2 WHERE id = ?1 AND (last_used_at IS NULL OR "
                  "last_used_at < ?2)");
      s.bind(1, id).bind(2, at).run("cannot record token use in");
    }
    tx.commit();
  }

  // SQLite's coherence is the shared-memory change feed beside the database (change_feed.h):
  // generation = what writers published, stable = nothing announced and unpublished. Never
  // stable once the database file was replaced (stale_): the cache is bypassed and every
  // verify reaches token_find, which raises (a cache hit must not keep answering from a file
  // nobody else sees).
  Coherence coherence() const noexcept override {
    const ChangeFeed::State st = feed_->state();
    return Coherence{st.finished, st.stable() && !stale_.load(std::memory_order_relaxed)};
  }

  bool changes_since(std::uint64_t from, std::uint64_t to, std::vector<std::int64_t>* ids) override {
    return feed_->changes(from, to, ids);
  }

  void coherence_repair() override {
    if (stale_.load(std::memory_order_relaxed)) return;
    // Try-locks all the way: a thread of this process writing (or waiting to) is alive and
    // will publish; the verification that asked must not queue behind it.
    std::unique_lock<std::mutex> lock(mu_, std::try_to_lock);
    if (!lock) return;
    writer_fork_check();
    // A try-lock: if a writer holds the lock it is alive and will publish itself, and the
    // verification that asked must not wait behind it.
    c_.busy_no_wait_ = true;
    struct Restore {
      Connection& c;
      ~Restore() { c.busy_no_wait_ = false; }
    } restore{c_};
    Transaction tx(c_, true);  // holding the write lock: every earlier write is settled
    feed_->repair();
  }

  // --- Leak response and scope usage (token_repository.h) ---------------------------------

  std::vector<std::int64_t> tokens_revoke_leaked(const std::vector<LeakedToken>& leaks,
                                                 const std::string& actor, std::int64_t at) override {
    std::vector<std::int64_t> ids, revoked;
    for (const auto& l : leaks) ids.push_back(l.id);
    if (ids.empty()) return revoked;
    std::lock_guard<std::mutex> lock(mu_);
    file_check();
    Transaction tx(c_, true);
    FeedWrite announce(*feed_, ids);
    for (const auto& l : leaks) {
      Statement s(c_, TOKEN_SELECT "WHERE id = ?1 AND revoked_at IS NULL");
      s.bind(1, l.id);
      if (!s.step("cannot read tokens from")) continue;
      const TokenRecord old = read_token(s);
      revoke_locked(old, actor, at, "leaked", l.source);
      revoked.push_back(old.id);
    }
    tx.commit();
    return revoked;
  }

  void scopes_touch(const std::vector<ScopeUse>& uses) override {
    if (uses.empty() || !file_current()) return;
    std::lock_guard<std::mutex> lock(mu_);
    c_.exec("PRAGMA synchronous=NORMAL", "cannot configure");  // advisory, as tokens_touch
    struct Restore {
      Connection& c;
      ~Restore() { sqlite3_exec(c.handle(), "PRAGMA synchronous=FULL", nullptr, nullptr, nullptr); }
    } restore{c_};
    Transaction tx(c_, true);
    for (const auto& u : uses) {
      Statement s(c_,
                  "INSERT INTO token_scope_use(token_id, scope, last_used_at) "
                  "SELECT ?1, ?2, ?3 WHERE EXISTS (SELECT 1 FROM tokens WHERE id = ?1) "
                  "ON CONFLICT (token_id, scope) DO UPDATE SET last_used_at = excluded.last_used_at "
                  "WHERE excluded.last_used_at > last_used_at");
      s.bind(1, u.id).bind(2, u.scope).bind(3, u.at).run("cannot record token use in");
    }
    tx.commit();
  }

  void clients_touch(const std::vector<ClientUse>& uses) override {
    if (uses.empty() || !file_current()) return;
    std::lock_guard<std::mutex> lock(mu_);
    c_.exec("PRAGMA synchronous=NORMAL", "cannot configure");  // advisory, as tokens_touch
    struct Restore {
      Connection& c;
      ~Restore() { sqlite3_exec(c.handle(), "PRAGMA synchronous=FULL", nullptr, nullptr, nullptr); }
    } restore{c_};
    Transaction tx(c_, true);
    std::vector<std::int64_t> ids;
    for (const auto& u : uses) {
      Statement s(c_,
                  "INSERT INTO token_client(token_id, address, last_seen) "
                  "SELECT ?1, ?2, ?3 WHERE EXISTS (SELECT 1 FROM tokens WHERE id = ?1) "
                  "ON CONFLICT (token_id, address) DO UPDATE SET last_seen = excluded.last_seen "
                  "WHERE excluded.last_seen > last_seen");
      s.bind(1, u.id).bind(2, u.address).bind(3, u.at).run("cannot record token use in");
      ids.push_back(u.id);
    }
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    for (const std::int64_t id : ids) {
      Statement s(c_,
                  "DELETE FROM token_client WHERE token_id = ?1 AND address NOT IN (SELECT address FROM "
                  "token_client WHERE token_id = ?1 ORDER BY last_seen DESC, address LIMIT ?2)");
      s.bind(1, id).bind(2, kClientsKept).run("cannot record token use in");
    }
    tx.commit();
  }

  std::vector<ClientUse> clients_recent(std::int64_t id, std::int64_t limit) override {
    std::lock_guard<std::mutex> lock(mu_);
    file_check();
    Statement s(c_,
                "SELECT address, last_seen FROM token_client WHERE token_id = ?1 "
                "ORDER BY last_seen DESC, address LIMIT ?2");
    s.bind(1, id).bind(2, limit);
    std::vector<ClientUse> out;
    while (s.step("cannot read token use from")) out.push_back(ClientUse{id, s.text(0), s.i64(1)});
    return out;
  }

  std::vector<ScopeUse> scopes_used(const std::vector<std::int64_t>& ids, std::int64_t since) override {
    std::lock_guard<std::mutex> lock(mu_);
    file_check();
    std::vector<ScopeUse> out;
    for (std::int64_t id : ids) {
      Statement s(
          c_, "SELECT scope, last_used_at FROM token_scope_use WHERE token_id = ?1 AND last_used_at >= ?2");
      s.bind(1, id).bind(2, since);
      while (s.step("cannot read token use from")) out.push_back(ScopeUse{id, s.text(0), s.i64(1)});
    }
    return out;
  }

  std::vector<AuditEvent> audit_actions(const std::string& owner, const std::string& action,
                                        std::int64_t since, std::int64_t limit) override {
    std::lock_guard<std::mutex> lock(mu_);
    file_check();
    Statement s(c_,
                "SELECT seq, at, actor, action, token_id, owner, name, old_scopes, new_scopes, detail "
                "FROM audit WHERE owner = ?1 AND action = ?2 AND at >= ?3 ORDER BY seq DESC LIMIT ?4");
    s.bind(1, owner).bind(2, action).bind(3, since).bind(4, limit);
    std::vector<AuditEvent> out;
    while (s.step("cannot read the audit log of")) out.push_back(read_audit(s));
    return out;
  }

  std::vector<AuditEvent> audit_list(const std::optional<std::string>& owner, std::int64_t limit) override {
    std::lock_guard<std::mutex> lock(mu_);
    file_check();
    Statement s(
        c_, owner ? "SELECT seq, at, actor, action, token_id, owner, name, old_scopes, new_scopes, detail "
                    "FROM audit WHERE owner = ?1 ORDER BY seq DESC LIMIT ?2"
                  : "SELECT seq, at, actor, action, token_id, owner, name, old_scopes, new_scopes, detail "
                    "FROM audit ORDER BY seq DESC LIMIT ?2");
    if (owner) s.bind(1, *owner);
    s.bind(2, limit);
    std::vector<AuditEvent> out;
    while (s.step("cannot read the audit log of")) out.push_back(read_audit(s));
    return out;
  }

 private:
  void migrate(bool read_only) {
    std::lock_guard<std::mutex> lock(mu_);
    file_check();
    sqlite_schema_migrate(c_, read_only);
  }

  // One edit of a live token: under the lock, in a write transaction, announced on the feed,
  // `edit` (the UPDATE and its audit row) given the row as it was. False, nothing changed, when
  // the owner has no such live token.
  template <typename Edit>
  bool update_owned(const std::string& owner, std::int64_t id, Edit edit) {
    std::lock_guard<std::mutex> lock(mu_);
    file_check();
    Transaction tx(c_, true);
    FeedWrite announce(*feed_, {id});
    auto old = find_owned_locked(owner, id);
    if (!old) return false;
    edit(*old);
    tx.commit();
    return true;
  }

  std::optional<TokenRecord> find_owned_locked(const std::string& owner, std::int64_t id) {
    Statement s(c_, TOKEN_SELECT "WHERE id = ?1 AND owner = ?2 AND revoked_at IS NULL");
    s.bind(1, id).bind(2, owner);
    if (s.step("cannot read tokens from")) return read_token(s);
    return std::nullopt;
  }

  // Multi-row INSERTs of kRows rows each: one statement execution per kRows tokens (and as
  // many audit rows) instead of two per token. OR ROLLBACK: a duplicate name ends the whole
  // transaction (create_many is all or nothing anyway), which spares SQLite the statement
  // journal it would otherwise keep to undo one statement. Returns false after such a rollback.
  static constexpr int kRows = 32;

  static std::string multi_row_sql(const char* head, const char* row, int rows) {
    std::string sql = head;
    int n = 1;
    for (int r = 0; r < rows; ++r) {
      sql += r ? ",(" : "(";
      for (const char* p = row; *p; ++p) {
        if (*p == '?') {
          sql += "?" + std::to_string(n++);
        } else {
          sql += *p;
        }
      }
      sql += ")";
    }
    return sql;
  }

  bool insert_many(const std::vector<const TokenRecord*>& records, const std::string& actor,
                   std::int64_t at) {
    static const char* const kTokenHead =
        "INSERT OR ROLLBACK INTO tokens(id, owner, name, scopes, digest, pepper_id, created_at, expires_at, "
        "last_used_at, revoked_at, description, networks) VALUES ";
    static const char* const kTokenRow = "?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, ?, ?";
    static const char* const kAuditHead =
        "INSERT OR ROLLBACK INTO audit(at, actor, action, token_id, owner, name, old_scopes, new_scopes, "
        "detail) "
        "VALUES ";
    static const char* const kAuditRow = "?, ?, 'create', ?, ?, ?, '', ?, ?";
    // Function-local statics: their c_str() stays put, as the statement cache's keys need.
    static const std::string tokens_many_sql = multi_row_sql(kTokenHead, kTokenRow, kRows);
    static const std::string tokens_one_sql = multi_row_sql(kTokenHead, kTokenRow, 1);
    static const std::string audit_many_sql = multi_row_sql(kAuditHead, kAuditRow, kRows);
    static const std::string audit_one_sql = multi_row_sql(kAuditHead, kAuditRow, 1);
    const char* tokens_many = tokens_many_sql.c_str();
    const char* tokens_one = tokens_one_sql.c_str();
    const char* audit_many = audit_many_sql.c_str();
    const char* audit_one = audit_one_sql.c_str();

    std::vector<std::string> scopes(kRows), networks(kRows);
    for (std::size_t i = 0; i < records.size();) {
      const int rows = records.size() - i >= static_cast<std::size_t>(kRows) ? kRows : 1;
      {
        Statement s(c_, rows == kRows ? tokens_many : tokens_one);
        for (int r = 0; r < rows; ++r) {
          const TokenRecord& t = *records[i + static_cast<std::size_t>(r)];
          auto& joined = scopes[static_cast<std::size_t>(r)];
          joined = scopes_join(t.scopes);
          auto& nets = networks[static_cast<std::size_t>(r)];
          nets = networks_join(t.networks);
          const int b = r * 10;
          s.bind(b + 1, t.id).bind(b + 2, t.owner).bind(b + 3, t.name).bind(b + 4, joined);
          s.bind(b + 5, t.digest)
              .bind(b + 6, t.pepper_id)
              .bind(b + 7, t.created_at)
              .bind(b + 8, t.expires_at)
              .bind(b + 9, t.description)
              .bind(b + 10, nets);
        }
        if (s.step_or_code() != SQLITE_DONE) return false;
      }
      Statement a(c_, rows == kRows ? audit_many : audit_one);
      for (int r = 0; r < rows; ++r) {
        const TokenRecord& t = *records[i + static_cast<std::size_t>(r)];
        const int b = r * 7;
        auto& detail = networks[static_cast<std::size_t>(r)];
        detail = networks_create_detail(t.networks);
        a.bind(b + 1, at).bind(b + 2, actor).bind(b + 3, t.id).bind(b + 4, t.owner).bind(b + 5, t.name);
        a.bind(b + 6, scopes[static_cast<std::size_t>(r)]).bind(b + 7, detail);
      }
      if (a.step_or_code() != SQLITE_DONE) return false;
      i += static_cast<std::size_t>(rows);
    }
    return true;
  }

  void insert_one(const TokenRecord& r, const std::string& actor, std::int64_t at, const char* action) {
    const std::string scopes = scopes_join(r.scopes);
    Statement s(c_,
                "INSERT INTO tokens(id, owner, name, scopes, digest, pepper_id, created_at, expires_at, "
                "last_used_at, revoked_at, description, networks) "
                "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, NULL, NULL, ?9, ?10)");
    const std::string networks = networks_join(r.networks);
    s.bind(1, r.id).bind(2, r.owner).bind(3, r.name).bind(4, scopes).bind(5, r.digest).bind(6, r.pepper_id);
    s.bind(7, r.created_at).bind(8, r.expires_at).bind(9, r.description).bind(10, networks);
    // The partial unique index tokens_live_name enforces "unique among live tokens".
    if (s.step_or_code() == SQLITE_CONSTRAINT_UNIQUE) name_taken_fail(r.name);
    audit_add(at, actor, action, r.id, r.owner, r.name, "", scopes, "");
  }

  void revoke_locked(const TokenRecord& old, const std::string& actor, std::int64_t at, const char* action,
                     const std::string& detail) {
    Statement s(c_, "UPDATE tokens SET revoked_at = ?1 WHERE id = ?2 AND revoked_at IS NULL");
    s.bind(1, at).bind(2, old.id).run("cannot revoke a token in");
    const std::string scopes = scopes_join(old.scopes);
    audit_add(at, actor, action == std::string("rotate") ? "revoke" : action, old.id, old.owner, old.name,
              scopes, "", detail);
  }

  void audit_add(std::int64_t at, const std::string& actor, const char* action,
                 std::optional<std::int64_t> token_id, const std::string& owner, const std::string& name,
                 const std::string& old_scopes, const std::string& new_scopes, const std::string& detail) {
    Statement s(c_,
                "INSERT INTO audit(at, actor, action, token_id, owner, name, old_scopes, new_scopes, detail) "
                "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
    const std::string act = action;
    s.bind(1, at).bind(2, actor).bind(3, act).bind(4, token_id).bind(5, owner).bind(6, name);
    s.bind(7, old_scopes).bind(8, new_scopes).bind(9, detail);
    s.run("cannot write the audit log of");
  }

  static constexpr std::chrono::milliseconds kReaderWindow{100};

  // False (and from then on) once the path no longer names the file this store opened: a
  // backup restore moved another file over it, or it was deleted. One stat; the background
  // thread calls it every 100 ms, every call on the writer connection calls file_check, and
  // verification's lookup when the feed moved (token_find).
  bool file_current() noexcept {
    if (!file_) return true;
    if (stale_.load(std::memory_order_relaxed)) return false;
    struct stat st {};
    if (::stat(c_.path().c_str(), &st) == 0 && st.st_dev == file_dev_ && st.st_ino == file_ino_) return true;
    stale_.store(true, std::memory_order_relaxed);
    return false;
  }
  // Under mu_: every call that uses the writer connection starts here.
  void file_check() {
    writer_fork_check();
    file_stat_check();
  }

  // Under mu_: in a child after fork(), the writer connection is reopened first.
  void writer_fork_check() {
    if (writer_fork_ == fork_generation()) return;
    writer_fork_ = fork_generation();
    if (!file_) return;
    c_.reopen();
    if (!read_only_) writer_configure();
  }

  // Per connection: a larger page cache (16 MiB) keeps bulk inserts from spilling pages
  // mid-transaction; statement journals (a multi-row INSERT may need to undo itself) stay in
  // memory.
  void writer_configure() {
    c_.exec(
        "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA cache_size=-16384; PRAGMA temp_store=MEMORY",
        "cannot configure");
  }

  void file_stat_check() {
    if (!file_current()) {
      fail(ErrorCode::kStoreError,
           "the database file " + c_.path() +
               " was replaced or removed after this store opened it; reopen the store");
    }
  }

  void reader_end() {
    if (reader_in_tx_) sqlite3_exec(reader_->handle(), "COMMIT", nullptr, nullptr, nullptr);
    reader_in_tx_ = false;
  }

  std::optional<TokenRecord> find_on(Connection& c, std::int64_t id) {
    Statement s(c, TOKEN_SELECT "WHERE id = ?1");
    s.bind(1, id);
    if (s.step("cannot read tokens from")) return read_token(s);
    return std::nullopt;
  }

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

// Creates the database file with mode 0600 if it does not exist yet, so that SQLite (and
// its -wal/-shm files, which copy the database's mode) never makes a world-readable file.
void file_create_private(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd >= 0) {
    ::close(fd);
  } else if (errno != EEXIST) {
    fail(ErrorCode::kStoreError, "cannot create database " + path + ": " + std::strerror(errno));
  }
}

}  // namespace

std::unique_ptr<TokenRepository> sqlite_store_open(const StoreLocation& location,
                                                   const SqliteOptions& options) {
  if (location.kind == StoreLocation::Kind::kUrl) {
    fail(ErrorCode::kInvalidArgument, "an SQLite store needs a file path or :memory:, not a URL", "path");
  }
  if (location.kind == StoreLocation::Kind::kFile) {
    // A device or FIFO (say /dev/null) is no database, and SQLite would leave a -journal
    // beside it with the umask's mode.
    struct stat st {};
    if (::stat(location.database.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
      fail(ErrorCode::kStoreError, "cannot open database " + location.database + ": not a regular file");
    }
    store_file_vet(location, location.database + "-wal", "write-ahead log");
    store_file_vet(location, location.database + "-shm", "shared-memory index");
    if (!options.read_only) file_create_private(location.database);
  }
  return std::make_unique<SqliteStore>(location, options);
}

}  // namespace tokenkeep
