// SqliteStore's changes (sqlite_store_impl.h): settings written, creates, edits, revokes (one,
// many, leaked, rotation), announcements, purges, and the last-used, scope and client records.
// Each change that can make a cache stale is announced on the change feed (FeedWrite).
#include <sqlite3.h>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "repository_rules.h"
#include "sqlite_store_impl.h"
#include "tokenkeep/errors.h"
#include "tokenkeep/scopes.h"

namespace tokenkeep {
namespace sqlite_detail {

std::string SqliteStore::setting_put(const std::string& key, const std::string& value,
                                     const std::optional<std::string>& expected) {
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

void SqliteStore::tokens_insert(const std::vector<TokenRecord>& records, const std::string& actor,
                                std::int64_t at) {
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

bool SqliteStore::token_update_scopes(const std::string& owner, std::int64_t id,
                                      const std::vector<std::string>& scopes, const std::string& actor,
                                      std::int64_t at) {
  return update_owned(owner, id, [&](const TokenRecord& old) {
    const std::string joined = scopes_join(scopes);
    Statement s(c_, "UPDATE tokens SET scopes = ?1 WHERE id = ?2 AND owner = ?3 AND revoked_at IS NULL");
    s.bind(1, joined).bind(2, id).bind(3, owner).run("cannot update a token in");
    audit_add(at, actor, "update_scopes", id, owner, old.name, scopes_join(old.scopes), joined, "");
  });
}

bool SqliteStore::token_update_description(const std::string& owner, std::int64_t id,
                                           const std::string& description, const std::string& actor,
                                           std::int64_t at) {
  return update_owned(owner, id, [&](const TokenRecord& old) {
    Statement s(c_, "UPDATE tokens SET description = ?1 WHERE id = ?2 AND owner = ?3 AND revoked_at IS NULL");
    s.bind(1, description).bind(2, id).bind(3, owner).run("cannot update a token in");
    const std::string scopes = scopes_join(old.scopes);
    audit_add(at, actor, "update_description", id, owner, old.name, scopes, scopes, description);
  });
}

bool SqliteStore::token_update_networks(const std::string& owner, std::int64_t id,
                                        const std::vector<std::string>& networks, const std::string& actor,
                                        std::int64_t at) {
  return update_owned(owner, id, [&](const TokenRecord& old) {
    const std::string joined = networks_join(networks);
    Statement s(c_, "UPDATE tokens SET networks = ?1 WHERE id = ?2 AND owner = ?3 AND revoked_at IS NULL");
    s.bind(1, joined).bind(2, id).bind(3, owner).run("cannot update a token in");
    const std::string scopes = scopes_join(old.scopes);
    audit_add(at, actor, "update_networks", id, owner, old.name, scopes, scopes,
              networks_update_detail(old.networks, networks));
  });
}

bool SqliteStore::tokens_revoke(const std::string& owner, const std::vector<std::int64_t>& ids,
                                const std::string& actor, std::int64_t at) {
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

std::size_t SqliteStore::tokens_announce(const std::string& owner) {
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

bool SqliteStore::token_rotate(const std::string& owner, std::int64_t id, const TokenRecord& replacement,
                               const std::string& actor, std::int64_t at) {
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

std::int64_t SqliteStore::tokens_purge(std::int64_t cutoff, const std::string& actor, std::int64_t at) {
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

namespace {
// Advisory writes (last-used times, scope and client uses) commit with synchronous=NORMAL and
// put FULL back whatever happens: one rule for the three touches.
struct AdvisorySync {
  explicit AdvisorySync(Connection& conn) : c(conn) {
    c.exec("PRAGMA synchronous=NORMAL", "cannot configure");
  }
  ~AdvisorySync() { sqlite3_exec(c.handle(), "PRAGMA synchronous=FULL", nullptr, nullptr, nullptr); }
  AdvisorySync(const AdvisorySync&) = delete;
  AdvisorySync& operator=(const AdvisorySync&) = delete;
  Connection& c;
};
}  // namespace

void SqliteStore::tokens_touch(const std::vector<std::pair<std::int64_t, std::int64_t>>& uses) {
  if (uses.empty() || !file_current()) return;  // nobody would see them
  std::lock_guard<std::mutex> lock(mu_);
  writer_fork_check();
  // last_used_at is advisory: its commits skip the fsync (WAL with synchronous=NORMAL stays
  // consistent after a crash, and may lose only these most recent touches).
  AdvisorySync advisory(c_);
  Transaction tx(c_, true);
  for (const auto& [id, at] : uses) {
    Statement s(c_,
                "UPDATE tokens SET last_used_at = ?2 WHERE id = ?1 AND (last_used_at IS NULL OR "
                "last_used_at < ?2)");
    s.bind(1, id).bind(2, at).run("cannot record token use in");
  }
  tx.commit();
}

std::vector<std::int64_t> SqliteStore::tokens_revoke_leaked(const std::vector<LeakedToken>& leaks,
                                                            const std::string& actor, std::int64_t at) {
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

void SqliteStore::scopes_touch(const std::vector<ScopeUse>& uses) {
  if (uses.empty() || !file_current()) return;
  std::lock_guard<std::mutex> lock(mu_);
  AdvisorySync advisory(c_);  // as tokens_touch
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

void SqliteStore::clients_touch(const std::vector<ClientUse>& uses) {
  if (uses.empty() || !file_current()) return;
  std::lock_guard<std::mutex> lock(mu_);
  AdvisorySync advisory(c_);  // as tokens_touch
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

template <typename Edit>
bool SqliteStore::update_owned(const std::string& owner, std::int64_t id, Edit edit) {
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

std::string SqliteStore::multi_row_sql(const char* head, const char* row, int rows) {
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

bool SqliteStore::insert_many(const std::vector<const TokenRecord*>& records, const std::string& actor,
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

void SqliteStore::insert_one(const TokenRecord& r, const std::string& actor, std::int64_t at,
                             const char* action) {
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

void SqliteStore::revoke_locked(const TokenRecord& old, const std::string& actor, std::int64_t at,
                                const char* action, const std::string& detail) {
  Statement s(c_, "UPDATE tokens SET revoked_at = ?1 WHERE id = ?2 AND revoked_at IS NULL");
  s.bind(1, at).bind(2, old.id).run("cannot revoke a token in");
  const std::string scopes = scopes_join(old.scopes);
  audit_add(at, actor, action == std::string("rotate") ? "revoke" : action, old.id, old.owner, old.name,
            scopes, "", detail);
}

void SqliteStore::audit_add(std::int64_t at, const std::string& actor, const char* action,
                            std::optional<std::int64_t> token_id, const std::string& owner,
                            const std::string& name, const std::string& old_scopes,
                            const std::string& new_scopes, const std::string& detail) {
  Statement s(c_,
              "INSERT INTO audit(at, actor, action, token_id, owner, name, old_scopes, new_scopes, detail) "
              "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
  const std::string act = action;
  s.bind(1, at).bind(2, actor).bind(3, act).bind(4, token_id).bind(5, owner).bind(6, name);
  s.bind(7, old_scopes).bind(8, new_scopes).bind(9, detail);
  s.run("cannot write the audit log of");
}

}  // namespace sqlite_detail
}  // namespace tokenkeep
