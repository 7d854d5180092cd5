// SqliteStore's reads (sqlite_store_impl.h): verification's lookup (a second connection in a
// long-lived read snapshot), other finds, listings, expiring tokens, the warm start's recent
// tokens, purge counts, use records and the audit.
#include <sqlite3.h>

#include <optional>
#include <string>
#include <vector>

#include "repository_rules.h"
#include "sqlite_store_impl.h"
#include "tokenkeep/errors.h"
#include "tokenkeep/scopes.h"

namespace tokenkeep {
namespace sqlite_detail {

std::optional<TokenRecord> SqliteStore::token_find(std::int64_t id) {
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

void SqliteStore::tokens_recent(std::int64_t since, std::int64_t now, std::size_t limit,
                                const std::atomic<bool>* stop, const RecordSink& sink) {
  if (!file_ || limit == 0 || !file_current()) return;
  std::unique_lock<std::mutex> lock(warm_mu_);
  SqliteOptions o = options_;
  o.read_only = true;
  Connection warm(c_.path(), o);
  warm.exec("PRAGMA mmap_size=1073741824", "cannot configure");
  // SQLite calls this every 1,000 instructions of the scan: a close() need not wait for it.
  sqlite3_progress_handler(
      warm.handle(), 1000, [](void* flag) { return static_cast<std::atomic<bool>*>(flag)->load() ? 1 : 0; },
      const_cast<std::atomic<bool>*>(stop));
  // One snapshot, one statement: the rows come from the covering index alone, newest use
  // first, so a load reads a few consecutive pages of the index, not one page of the table
  // per token (benchmarks/bench_first.py).
  warm.exec("BEGIN", "cannot read tokens from");
  std::vector<TokenRecord> chunk;
  chunk.reserve(kWarmChunk);
  Statement s(warm, RECENT);
  s.bind(1, since).bind(2, now).bind(3, static_cast<std::int64_t>(limit));
  for (;;) {
    const int rc = sqlite3_step(s.handle());  // anything but a row ends it (close interrupts)
    if (rc == SQLITE_ROW) chunk.push_back(read_token(s));
    if (chunk.size() < kWarmChunk && rc == SQLITE_ROW) continue;
    // A full chunk (or, at the end, what is left) goes to the engine with warm_mu_ released.
    lock.unlock();
    const bool more = chunk.empty() || sink(chunk);
    chunk.clear();
    lock.lock();
    if (!more || stop->load() || rc != SQLITE_ROW) break;
  }
  sqlite3_reset(s.handle());  // before the COMMIT: a statement still stepping would keep the read open
  sqlite3_exec(warm.handle(), "COMMIT", nullptr, nullptr, nullptr);
  sqlite3_progress_handler(warm.handle(), 0, nullptr, nullptr);
}

std::vector<TokenRecord> SqliteStore::tokens_find(const std::vector<std::int64_t>& ids) {
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

std::optional<TokenRecord> SqliteStore::token_find_owned(const std::string& owner, std::int64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  file_check();
  return find_owned_locked(owner, id);
}

TokenPage SqliteStore::tokens_query(const TokenQuery& q, std::int64_t now) {
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

std::vector<TokenRecord> SqliteStore::tokens_expiring(std::int64_t from, std::int64_t until,
                                                      const std::optional<std::string>& owner) {
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

std::int64_t SqliteStore::tokens_purgeable(std::int64_t cutoff) {
  std::lock_guard<std::mutex> lock(mu_);
  file_check();
  static const std::string purgeable = "SELECT count(*) FROM tokens WHERE " + purge_sql("?1");
  Statement s(c_, purgeable.c_str());
  s.bind(1, cutoff);
  return s.step("cannot read tokens from") ? s.i64(0) : 0;
}

std::vector<ClientUse> SqliteStore::clients_recent(std::int64_t id, std::int64_t limit) {
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

std::vector<ScopeUse> SqliteStore::scopes_used(const std::vector<std::int64_t>& ids, std::int64_t since) {
  std::lock_guard<std::mutex> lock(mu_);
  file_check();
  std::vector<ScopeUse> out;
  for (std::int64_t id : ids) {
    Statement s(c_,
                "SELECT scope, last_used_at FROM token_scope_use WHERE token_id = ?1 AND last_used_at >= ?2");
    s.bind(1, id).bind(2, since);
    while (s.step("cannot read token use from")) out.push_back(ScopeUse{id, s.text(0), s.i64(1)});
  }
  return out;
}

std::vector<AuditEvent> SqliteStore::audit_actions(const std::string& owner, const std::string& action,
                                                   std::int64_t since, std::int64_t limit) {
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

std::vector<AuditEvent> SqliteStore::audit_list(const std::optional<std::string>& owner, std::int64_t limit) {
  std::lock_guard<std::mutex> lock(mu_);
  file_check();
  Statement s(c_,
              owner ? "SELECT seq, at, actor, action, token_id, owner, name, old_scopes, new_scopes, detail "
                      "FROM audit WHERE owner = ?1 ORDER BY seq DESC LIMIT ?2"
                    : "SELECT seq, at, actor, action, token_id, owner, name, old_scopes, new_scopes, detail "
                      "FROM audit ORDER BY seq DESC LIMIT ?2");
  if (owner) s.bind(1, *owner);
  s.bind(2, limit);
  std::vector<AuditEvent> out;
  while (s.step("cannot read the audit log of")) out.push_back(read_audit(s));
  return out;
}

std::optional<TokenRecord> SqliteStore::find_owned_locked(const std::string& owner, std::int64_t id) {
  Statement s(c_, TOKEN_SELECT "WHERE id = ?1 AND owner = ?2 AND revoked_at IS NULL");
  s.bind(1, id).bind(2, owner);
  if (s.step("cannot read tokens from")) return read_token(s);
  return std::nullopt;
}

void SqliteStore::reader_end() {
  if (reader_in_tx_) sqlite3_exec(reader_->handle(), "COMMIT", nullptr, nullptr, nullptr);
  reader_in_tx_ = false;
}

std::optional<TokenRecord> SqliteStore::find_on(Connection& c, std::int64_t id) {
  Statement s(c, TOKEN_SELECT "WHERE id = ?1");
  s.bind(1, id);
  if (s.step("cannot read tokens from")) return read_token(s);
  return std::nullopt;
}

}  // namespace sqlite_detail
}  // namespace tokenkeep
