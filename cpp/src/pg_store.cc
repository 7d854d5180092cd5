// TokenRepository on PostgreSQL: the SQL. Connections come from a small pool (pg_pool.h);
// cross-node coherence is PgCoherence's (pg_coherence.h).
#include "tokenkeep/pg_store.h"

#include <atomic>
#include <chrono>
#include <cstring>
#include <deque>
#include <mutex>
#include <new>
#include <thread>
#include <unordered_map>

#include "pg_binary.h"
#include "pg_coherence.h"
#include "pg_connection.h"
#include "pg_miss_flights.h"
#include "pg_pool.h"
#include "pg_rows.h"
#include "repository_rules.h"
#include "tokenkeep/errors.h"
#include "tokenkeep/scopes.h"

namespace tokenkeep {
namespace {

// Statements are prepared under their text's address (PgConnection::run): one string each.
const std::string kPurgeSql = "DELETE FROM tokenkeep_tokens WHERE " + purge_sql("$1");
const std::string kPurgeableSql = "SELECT count(*) FROM tokenkeep_tokens WHERE " + purge_sql("$1");
const std::string kExpiringSql = PG_TOKEN_SELECT "WHERE " + expiring_sql("$1", "$2") +
                                 " AND ($3::text IS NULL OR owner = $3) ORDER BY " + kExpiringOrderSql;

using namespace pg_detail;  // NOLINT: this file and pg_listing.cc are their users

class PgStore final : public TokenRepository {
 public:
  PgStore(const std::string& conninfo, const PgOptions& options)
      : pool_(conninfo, options.pool_size, options.pool_idle_seconds, options.prepared_statements),
        read_only_(options.read_only) {
    std::string schema, identity;
    {
      auto c = pool_.acquire();
      pg_schema_migrate(*c, read_only_);
      where_ = c->where();
      PgParams none;
      PgResult r = c->query(
          "SELECT current_schema(), current_database(), has_function_privilege('pg_control_system()', "
          "'EXECUTE')",
          none, "cannot read the schema of");
      schema = r.text(0, 0);
      if (options.relay)
        identity = server_identity(*c, r.text(0, 2) == "t") + "\n" + r.text(0, 1) + "\n" + schema;
    }
    channel_ = pg_channel_of(schema);
    auto host = options.relay ? std::make_unique<PgHostState>(pg_runtime_dir(options.runtime_dir), identity)
                              : nullptr;
    // The session that LISTENs goes straight to the server when the pool goes through a
    // transaction-mode pooler (listen_conninfo; README, "Behind PgBouncer").
    coherence_ =
        std::make_unique<PgCoherence>(options.listen_conninfo.empty() ? conninfo : options.listen_conninfo,
                                      channel_, options, std::move(host));
  }

  std::optional<std::string> setting_get(const std::string& key) override {
    auto c = pool_.acquire();
    PgParams p;
    p.add(key);
    PgResult r =
        c->query("SELECT value FROM tokenkeep_settings WHERE key = $1", p, "cannot read settings from");
    if (r.rows() == 0) return std::nullopt;
    return r.text(0, 0);
  }

  std::string setting_put(const std::string& key, const std::string& value,
                          const std::optional<std::string>& expected) override {
    writable("cannot write settings to");
    auto c = pool_.acquire();
    PgTransaction tx(*c);
    PgParams p;
    p.add(key).add(value);
    PgResult ins =
        c->query("INSERT INTO tokenkeep_settings(key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING", p,
                 "cannot write settings to");
    if (ins.affected() == 1) {
      tx.commit();
      return value;
    }
    PgParams k;
    k.add(key);
    std::string current = c->query("SELECT value FROM tokenkeep_settings WHERE key = $1 FOR UPDATE", k,
                                   "cannot read settings from")
                              .text(0, 0);
    if (current != expected && current != value) return current;
    if (current != value)
      c->query("UPDATE tokenkeep_settings SET value = $2 WHERE key = $1", p, "cannot write settings to");
    tx.commit();
    return value;
  }

  // All or nothing, not announced (see token_repository.h: a create cannot make any cache
  // stale). A few rows go in one statement (one round trip: the rows and their audit rows
  // from arrays); a bulk create streams both tables with COPY in binary in one transaction
  // (six round trips whatever the size, no SQL or text parsing per row). A taken live name
  // is NameTaken naming it, as a constraint found it.
  void tokens_insert(const std::vector<TokenRecord>& records, const std::string& actor,
                     std::int64_t at) override {
    writable("cannot insert tokens into");
    if (records.empty()) return;
    missing_.erase(records);
    auto c = pool_.acquire();
    const bool done = records.size() < kPgCopyFromRows ? pg_insert_statement(*c, records, actor, at)
                                                       : pg_insert_copy(*c, records, actor, at);
    if (done) return;
    std::vector<std::string> owners, names;
    for (const auto& r : records) {
      owners.push_back(r.owner);
      names.push_back(r.name);
    }
    PgParams q;
    q.add_text(pg_array_text(owners)).add_text(pg_array_text(names));
    PgResult taken = c->query(
        "SELECT t.name FROM tokenkeep_tokens t JOIN unnest($1::text[], $2::text[]) AS u(owner, name) "
        "ON t.owner = u.owner AND t.name = u.name WHERE t.revoked_at IS NULL LIMIT 1",
        q, "cannot read tokens from");
    if (taken.rows()) name_taken_fail(taken.text(0, 0));
    if (const std::string* repeated = records_repeated_name(records)) name_taken_fail(*repeated);
    fail(ErrorCode::kStoreError,
         "cannot insert tokens into " + c->where() + ": a constraint failed; nothing was created");
  }

  // The cache miss: one round trip (the statement is prepared on a connection's first use),
  // no transaction block, no coherence work (the listener thread does that); the id and the
  // row travel in binary, so neither side parses numbers or hex. Unknown ids are remembered
  // (NegativeCache) and cost nothing the next time.
  std::optional<TokenRecord> token_find(std::int64_t id) override {
    coherence_->restart_if_forked();
    if (missing_.contains(id)) return std::nullopt;
    return flights_.run(id, coherence_->state(), [&]() -> std::optional<TokenRecord> {
      auto c = pool_.acquire();
      PgParams p;
      p.add_binary(pg_binary::int8(id));
      PgResult r = c->query_binary(PG_TOKEN_SELECT "WHERE id = $1", p, "cannot read tokens from");
      if (r.rows() == 0) {
        missing_.add(id);
        return std::nullopt;
      }
      return read_token_binary(r, 0);
    });
  }

  std::vector<TokenRecord> tokens_find(const std::vector<std::int64_t>& ids) override {
    coherence_->restart_if_forked();
    auto c = pool_.acquire();
    PgParams p;
    p.add_text(pg_array_i64(ids));
    PgResult r = c->query(PG_TOKEN_SELECT "WHERE id = ANY($1::bigint[])", p, "cannot read tokens from");
    std::vector<TokenRecord> out;
    out.reserve(static_cast<std::size_t>(r.rows()));
    for (int i = 0; i < r.rows(); ++i) out.push_back(read_token(r, i));
    return out;
  }

  std::optional<TokenRecord> token_find_owned(const std::string& owner, std::int64_t id) override {
    auto c = pool_.acquire();
    PgParams p;
    p.add(id).add(owner);
    PgResult r = c->query(PG_TOKEN_SELECT "WHERE id = $1 AND owner = $2 AND revoked_at IS NULL", p,
                          "cannot read tokens from");
    if (r.rows() == 0) return std::nullopt;
    return read_token(r, 0);
  }

  TokenPage tokens_query(const TokenQuery& q, std::int64_t now) override {
    auto params = [&] {
      PgParams p;
      if (q.owner) {
        p.add(*q.owner);
      } else {
        p.add(std::optional<std::int64_t>());
      }
      p.add(now).add(token_query_fold(q.search)).add_text(pg_array_text(q.scopes_any));
      p.add(q.limit).add(q.offset);
      return p;
    };
    auto c = pool_.acquire();
    c->timeout_ms(kPgLongQueryTimeoutMs);  // bulk or admin work, never on the verify path
    PgParams p = params();
    PgResult r = c->query(pg_query_sql(q, false), p, "cannot read tokens from");
    TokenPage page;
    page.records = read_tokens(r);
    if (r.rows() > 0) {
      page.total = r.i64(0, 12);
    } else if (q.offset > 0) {  // past the last match: the window saw no row to count
      PgParams n = params();
      page.total = c->query(pg_query_sql(q, true), n, "cannot read tokens from").i64(0, 0);
    }
    return page;
  }

  std::vector<TokenRecord> tokens_expiring(std::int64_t from, std::int64_t until,
                                           const std::optional<std::string>& owner) override {
    auto c = pool_.acquire();
    c->timeout_ms(kPgLongQueryTimeoutMs);  // bulk or admin work, never on the verify path
    PgParams p;
    p.add(from).add(until);
    if (owner) {
      p.add(*owner);
    } else {
      p.add(std::optional<std::int64_t>());
    }
    return read_tokens(c->query(kExpiringSql.c_str(), p, "cannot read tokens from"));
  }

  bool token_update_scopes(const std::string& owner, std::int64_t id, const std::vector<std::string>& scopes,
                           const std::string& actor, std::int64_t at) override {
    const std::string joined = scopes_join(scopes);
    return update_owned(owner, id, [&](PgConnection& c, const TokenRecord& old) {
      PgParams p;
      p.add(id).add(joined);
      c.query("UPDATE tokenkeep_tokens SET scopes = $2 WHERE id = $1", p, "cannot update a token in");
      audit_add(c, at, actor, "update_scopes", id, owner, old.name, scopes_join(old.scopes), joined, "");
    });
  }

  bool token_update_description(const std::string& owner, std::int64_t id, const std::string& description,
                                const std::string& actor, std::int64_t at) override {
    return update_owned(owner, id, [&](PgConnection& c, const TokenRecord& old) {
      PgParams p;
      p.add(id).add(description);
      c.query("UPDATE tokenkeep_tokens SET description = $2 WHERE id = $1", p, "cannot update a token in");
      const std::string scopes = scopes_join(old.scopes);
      audit_add(c, at, actor, "update_description", id, owner, old.name, scopes, scopes, description);
    });
  }

  bool token_update_networks(const std::string& owner, std::int64_t id,
                             const std::vector<std::string>& networks, const std::string& actor,
                             std::int64_t at) override {
    return update_owned(owner, id, [&](PgConnection& c, const TokenRecord& old) {
      PgParams p;
      p.add(id).add(networks_join(networks));
      c.query("UPDATE tokenkeep_tokens SET networks = $2 WHERE id = $1", p, "cannot update a token in");
      const std::string scopes = scopes_join(old.scopes);
      audit_add(c, at, actor, "update_networks", id, owner, old.name, scopes, scopes,
                networks_update_detail(old.networks, networks));
    });
  }

  // One owned live token edited in one transaction: locked, changed by `edit` (its UPDATE and
  // audit row), announced, committed, then the coherence wait. False, nothing changed, when
  // the owner holds no live token `id`.
  template <typename Edit>
  bool update_owned(const std::string& owner, std::int64_t id, Edit edit) {
    writable("cannot update tokens in");
    auto c = acquire_for_change();
    std::uint64_t g = 0;
    {
      PgTransaction tx(*c);
      auto old = find_owned_for_update(*c, owner, id);
      if (!old) return false;
      edit(*c, *old);
      g = publish(*c, {id});
      tx.commit();
    }
    coherence_->after_commit(*c, g);
    return true;
  }

  bool tokens_revoke(const std::string& owner, const std::vector<std::int64_t>& ids, const std::string& actor,
                     std::int64_t at) override {
    writable("cannot revoke tokens in");
    auto c = acquire_for_change();
    std::uint64_t g = 0;
    {
      PgTransaction tx(*c);
      std::vector<TokenRecord> old;
      for (std::int64_t id : ids) {
        auto r = find_owned_for_update(*c, owner, id);
        if (!r) return false;  // rolls back
        old.push_back(std::move(*r));
      }
      for (const auto& r : old) revoke_one(*c, r, actor, at, "revoke", "");
      g = publish(*c, ids);
      tx.commit();
    }
    coherence_->after_commit(*c, g);
    return true;
  }

  std::size_t tokens_announce(const std::string& owner) override {
    writable("cannot announce tokens in");
    auto c = acquire_for_change();
    std::uint64_t g = 0;
    std::vector<std::int64_t> ids;
    {
      PgTransaction tx(*c);
      PgParams p;
      p.add(owner);
      PgResult r = c->query("SELECT id FROM tokenkeep_tokens WHERE owner = $1 AND revoked_at IS NULL", p,
                            "cannot read tokens from");
      for (int i = 0; i < r.rows(); ++i) ids.push_back(r.i64(i, 0));
      if (ids.empty()) return 0;  // rolls back the (read-only) transaction
      g = publish(*c, ids);
      tx.commit();
    }
    coherence_->after_commit(*c, g);
    return ids.size();
  }

  bool token_rotate(const std::string& owner, std::int64_t id, const TokenRecord& replacement,
                    const std::string& actor, std::int64_t at) override {
    writable("cannot rotate tokens in");
    auto c = acquire_for_change();
    std::uint64_t g = 0;
    {
      PgTransaction tx(*c);
      auto old = find_owned_for_update(*c, owner, id);
      if (!old) return false;
      missing_.erase({replacement});
      TokenRecord fresh = replacement;
      fresh.name = old->name;
      fresh.scopes = old->scopes;
      fresh.description = old->description;
      fresh.networks = old->networks;
      revoke_one(*c, *old, actor, at, "revoke", "replaced by " + std::to_string(fresh.id));
      const std::string scopes = scopes_join(fresh.scopes);
      PgParams p;
      p.add(fresh.id)
          .add(owner)
          .add(fresh.name)
          .add(scopes)
          .add_bytes(fresh.digest.data(), fresh.digest.size());
      p.add(fresh.pepper_id).add(fresh.created_at).add(fresh.expires_at).add(fresh.description);
      p.add(networks_join(fresh.networks));
      if (!c->run("INSERT INTO tokenkeep_tokens(id, owner, name, scopes, digest, pepper_id, created_at, "
                  "expires_at, description, networks) "
                  "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                  p, "cannot insert a token into", true)) {
        name_taken_fail(fresh.name);
      }
      audit_add(*c, at, actor, "rotate", fresh.id, owner, fresh.name, "", scopes, "");
      g = publish(*c, {id});
      tx.commit();
    }
    coherence_->after_commit(*c, g);
    return true;
  }

  std::int64_t tokens_purgeable(std::int64_t cutoff) override {
    auto c = pool_.acquire();
    c->timeout_ms(kPgLongQueryTimeoutMs);  // bulk or admin work, never on the verify path
    PgParams p;
    p.add(cutoff);
    return c->query(kPurgeableSql.c_str(), p, "cannot read tokens from").i64(0, 0);
  }

  std::int64_t tokens_purge(std::int64_t cutoff, const std::string& actor, std::int64_t at) override {
    writable("cannot purge tokens from");
    auto c = acquire_for_change();
    c->timeout_ms(kPgLongQueryTimeoutMs);  // bulk or admin work, never on the verify path
    std::uint64_t g = 0;
    std::int64_t n = 0;
    {
      PgTransaction tx(*c);
      PgParams p;
      p.add(cutoff);
      n = c->query(kPurgeSql.c_str(), p, "cannot purge tokens from").affected();
      audit_add(*c, at, actor, "purge", std::nullopt, "", "", "", "", std::to_string(n) + " tokens");
      g = publish(*c, {kAllIds});
      tx.commit();
    }
    coherence_->after_commit(*c, g);
    return n;
  }

  // Advisory, so committed without waiting for the WAL flush (synchronous_commit off, this
  // transaction only); never announced.
  void tokens_touch(const std::vector<std::pair<std::int64_t, std::int64_t>>& uses) override {
    if (read_only_) return;  // a read-only handle records no uses (as on SQLite)
    if (uses.empty()) return;
    std::vector<std::int64_t> ids, ats;
    for (const auto& [id, at] : uses) {
      ids.push_back(id);
      ats.push_back(at);
    }
    PgPool::Lease c = acquire_for_uses();
    PgTransaction tx(*c, "BEGIN; SET LOCAL synchronous_commit TO off");
    PgParams p;
    p.add_text(pg_array_i64(ids)).add_text(pg_array_i64(ats));
    // Rows are locked in id order first: two flushes (threads, processes, nodes) touching
    // overlapping tokens in the join's arbitrary order deadlocked (40P01) under load.
    c->query(
        "WITH u AS (SELECT id, max(at) AS at FROM unnest($1::bigint[], $2::bigint[]) AS x(id, at) "
        "GROUP BY id), "
        "l AS (SELECT t.id, u.at FROM tokenkeep_tokens t JOIN u ON t.id = u.id "
        "WHERE t.last_used_at IS NULL OR t.last_used_at < u.at ORDER BY t.id FOR UPDATE OF t) "
        "UPDATE tokenkeep_tokens t SET last_used_at = l.at FROM l "
        "WHERE t.id = l.id AND (t.last_used_at IS NULL OR t.last_used_at < l.at)",
        p, "cannot record token use in");
    tx.commit();
  }

  Coherence coherence() const noexcept override { return coherence_->state(); }

  bool changes_since(std::uint64_t from, std::uint64_t to, std::vector<std::int64_t>* ids) override {
    return coherence_->changes_since(from, to, ids);
  }

  void coherence_repair() override {
    coherence_->restart_if_forked();
    coherence_->repair();
  }

  // Every 100 ms (the engine's background thread): connections idle past pool_idle close.
  void idle() override {
    background_.store(std::this_thread::get_id(), std::memory_order_relaxed);
    pool_.idle_close();
  }

  void fork_prepare() noexcept override {
    flights_.fork_prepare();
    pool_.fork_prepare();
    missing_.fork_prepare();
  }
  void fork_parent() noexcept override {
    missing_.fork_parent();
    pool_.fork_parent();
    flights_.fork_parent();
  }
  void fork_child() noexcept override {
    coherence_->fork_child();
    missing_.fork_child();
    pool_.fork_child();
    flights_.fork_child();
  }

  // --- Leak response and scope usage (token_repository.h) ---------------------------------

  std::vector<std::int64_t> tokens_revoke_leaked(const std::vector<LeakedToken>& leaks,
                                                 const std::string& actor, std::int64_t at) override {
    writable("cannot revoke tokens in");
    std::vector<std::int64_t> ids, revoked;
    for (const auto& l : leaks) ids.push_back(l.id);
    if (ids.empty()) return revoked;
    auto c = acquire_for_change();
    std::uint64_t g = 0;
    {
      PgTransaction tx(*c);
      for (const auto& l : leaks) {
        PgParams p;
        p.add(l.id);
        PgResult r = c->query(PG_TOKEN_SELECT "WHERE id = $1 AND revoked_at IS NULL FOR UPDATE", p,
                              "cannot read tokens from");
        if (r.rows() == 0) continue;
        revoke_one(*c, read_token(r, 0), actor, at, "leaked", l.source);
        revoked.push_back(l.id);
      }
      if (revoked.empty()) return revoked;  // rolls back the (read-only) transaction
      g = publish(*c, revoked);
      tx.commit();
    }
    coherence_->after_commit(*c, g);
    return revoked;
  }

  // Advisory like tokens_touch: no WAL flush wait, never announced. Rows go in key order, so
  // concurrent flushes upsert overlapping rows in one order (no deadlock).
  void scopes_touch(const std::vector<ScopeUse>& uses) override {
    if (read_only_) return;  // as tokens_touch
    if (uses.empty()) return;
    std::vector<std::int64_t> ids, ats;
    std::vector<std::string> scopes;
    for (const auto& u : uses) {
      ids.push_back(u.id);
      scopes.push_back(u.scope);
      ats.push_back(u.at);
    }
    PgPool::Lease c = acquire_for_uses();
    PgTransaction tx(*c, "BEGIN; SET LOCAL synchronous_commit TO off");
    PgParams p;
    p.add_text(pg_array_i64(ids)).add_text(pg_array_text(scopes)).add_text(pg_array_i64(ats));
    c->query(
        "INSERT INTO tokenkeep_scope_use AS s(token_id, scope, last_used_at) "
        "SELECT u.id, u.scope, max(u.at) FROM unnest($1::bigint[], $2::text[], $3::bigint[]) AS u(id, scope, "
        "at) "
        "JOIN tokenkeep_tokens t ON t.id = u.id GROUP BY u.id, u.scope ORDER BY u.id, u.scope "
        "ON CONFLICT (token_id, scope) DO UPDATE SET last_used_at = excluded.last_used_at "
        "WHERE excluded.last_used_at > s.last_used_at",
        p, "cannot record token use in");
    tx.commit();
  }

  // Advisory like scopes_touch; then each touched token keeps its kClientsKept newest rows.
  void clients_touch(const std::vector<ClientUse>& uses) override {
    if (read_only_ || uses.empty()) return;
    std::vector<std::int64_t> ids, ats;
    std::vector<std::string> addresses;
    for (const auto& u : uses) {
      ids.push_back(u.id);
      addresses.push_back(u.address);
      ats.push_back(u.at);
    }
    auto c = pool_.acquire();
    PgTransaction tx(*c, "BEGIN; SET LOCAL synchronous_commit TO off");
    PgParams p;
    p.add_text(pg_array_i64(ids)).add_text(pg_array_text(addresses)).add_text(pg_array_i64(ats));
    PgParams keep;
    keep.add_text(pg_array_i64(ids)).add(kClientsKept);
    c->query(
        "WITH up AS (INSERT INTO tokenkeep_token_client AS k(token_id, address, last_seen) "
        "SELECT u.id, u.address, max(u.at) FROM unnest($1::bigint[], $2::text[], $3::bigint[]) "
        "AS u(id, address, at) JOIN tokenkeep_tokens t ON t.id = u.id GROUP BY u.id, u.address "
        "ORDER BY u.id, u.address "
        "ON CONFLICT (token_id, address) DO UPDATE SET last_seen = excluded.last_seen "
        "WHERE excluded.last_seen > k.last_seen RETURNING 1) SELECT count(*) FROM up",
        p, "cannot record token use in");
    c->query(
        "DELETE FROM tokenkeep_token_client k USING (SELECT token_id, address, row_number() OVER "
        "(PARTITION BY token_id ORDER BY last_seen DESC, address COLLATE \"C\") AS n "
        "FROM tokenkeep_token_client WHERE token_id = ANY($1::bigint[])) r "
        "WHERE k.token_id = r.token_id AND k.address = r.address AND r.n > $2",
        keep, "cannot record token use in");
    tx.commit();
  }

  std::vector<ClientUse> clients_recent(std::int64_t id, std::int64_t limit) override {
    auto c = pool_.acquire();
    PgParams p;
    p.add(id).add(limit);
    PgResult r = c->query(
        "SELECT address, last_seen FROM tokenkeep_token_client WHERE token_id = $1 "
        "ORDER BY last_seen DESC, address COLLATE \"C\" LIMIT $2",
        p, "cannot read token use from");
    std::vector<ClientUse> out;
    for (int i = 0; i < r.rows(); ++i) out.push_back(ClientUse{id, r.text(i, 0), r.i64(i, 1)});
    return out;
  }

  std::vector<ScopeUse> scopes_used(const std::vector<std::int64_t>& ids, std::int64_t since) override {
    std::vector<ScopeUse> out;
    if (ids.empty()) return out;
    auto c = pool_.acquire();
    PgParams p;
    p.add_text(pg_array_i64(ids)).add(since);
    PgResult r = c->query(
        "SELECT token_id, scope, last_used_at FROM tokenkeep_scope_use "
        "WHERE token_id = ANY($1::bigint[]) AND last_used_at >= $2",
        p, "cannot read token use from");
    for (int i = 0; i < r.rows(); ++i) out.push_back(ScopeUse{r.i64(i, 0), r.text(i, 1), r.i64(i, 2)});
    return out;
  }

  std::vector<AuditEvent> audit_actions(const std::string& owner, const std::string& action,
                                        std::int64_t since, std::int64_t limit) override {
    auto c = pool_.acquire();
    PgParams p;
    p.add(owner).add(action).add(since).add(limit);
#define PG_AUDIT_ACTIONS(LEAKED)                                                               \
  "SELECT seq, at, actor, action, token_id, owner, name, old_scopes, new_scopes, detail FROM " \
  "tokenkeep_audit WHERE owner = $1 AND action = $2 " LEAKED "AND at >= $3 ORDER BY seq DESC LIMIT $4"
    // 'leaked' spelled out: the planner then reads the partial index tokenkeep_audit_owner_leaked.
    return read_audit(
        c->query(action == "leaked" ? PG_AUDIT_ACTIONS("AND action = 'leaked' ") : PG_AUDIT_ACTIONS(""), p,
                 "cannot read the audit log of"));
#undef PG_AUDIT_ACTIONS
  }

  std::vector<AuditEvent> audit_list(const std::optional<std::string>& owner, std::int64_t limit) override {
    auto c = pool_.acquire();
    c->timeout_ms(kPgLongQueryTimeoutMs);  // bulk or admin work, never on the verify path
    PgParams p;
    if (owner) {
      p.add(*owner);
    } else {
      p.add(std::optional<std::int64_t>());
    }
    p.add(limit);
    PgResult r = c->query(
        "SELECT seq, at, actor, action, token_id, owner, name, old_scopes, new_scopes, detail FROM "
        "tokenkeep_audit "
        "WHERE ($1::text IS NULL OR owner = $1) ORDER BY seq DESC LIMIT $2",
        p, "cannot read the audit log of");
    return read_audit(r);
  }

 private:
  // What tells this server from every other: its system identifier where this role may read
  // it, else the address the connection string names (two spellings of one server then get
  // two host channels: more connections, never a shared one between two servers).
  std::string server_identity(PgConnection& c, bool readable) {
    if (!readable) return "address " + pg_describe(pool_.conninfo());
    PgParams none;
    return "system " + c.query("SELECT system_identifier::text FROM pg_control_system()", none,
                               "cannot read the system identifier of")
                           .text(0, 0);
  }

  // A connection for a change: if none can be had, the error says nothing was changed.
  PgPool::Lease acquire_for_change() {
    try {
      return pool_.acquire();
    } catch (const Error& e) {
      fail(ErrorCode::kStoreError, std::string(e.what()) + kPgNotChanged);
    }
  }

  // A connection to persist last-used times: on the engine's background thread (the one
  // that calls idle()) only a spare one (PgPool::acquire_spare), so that advisory writes never
  // add a connection beside the store's own calls; StoreError when none is spare (the engine
  // keeps the uses for its next round). An explicit flush (uses_flush, close) waits as usual.
  PgPool::Lease acquire_for_uses() {
    if (background_.load(std::memory_order_relaxed) != std::this_thread::get_id()) return pool_.acquire();
    if (auto c = pool_.acquire_spare()) return std::move(*c);
    fail(ErrorCode::kStoreError, "cannot record token use in " + where_ + ": every connection is busy");
  }

  // The refusal of a read-only handle, before any round trip (same words as SQLite's).
  void writable(const char* doing) {
    if (read_only_)
      fail(ErrorCode::kStoreError,
           std::string(doing) + " " + where_ + ": database is read-only (opened with read_only=True)");
  }

  std::optional<TokenRecord> find_owned_for_update(PgConnection& c, const std::string& owner,
                                                   std::int64_t id) {
    PgParams p;
    p.add(id).add(owner);
    PgResult r = c.query(PG_TOKEN_SELECT "WHERE id = $1 AND owner = $2 AND revoked_at IS NULL FOR UPDATE", p,
                         "cannot read tokens from");
    if (r.rows() == 0) return std::nullopt;
    return read_token(r, 0);
  }

  void revoke_one(PgConnection& c, const TokenRecord& old, const std::string& actor, std::int64_t at,
                  const char* action, const std::string& detail) {
    PgParams p;
    p.add(old.id).add(at);
    c.query("UPDATE tokenkeep_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL", p,
            "cannot revoke a token in");
    audit_add(c, at, actor, action, old.id, old.owner, old.name, scopes_join(old.scopes), "", detail);
  }

  // Inside a changing transaction, last: bumps the counter (its row lock is held to the
  // commit, so commit order = counter order and no generation is skipped), records the ids,
  // prunes old history, and queues the NOTIFY that PostgreSQL sends at commit.
  std::uint64_t publish(PgConnection& c, const std::vector<std::int64_t>& ids) {
    PgParams p;
    p.add_text(pg_array_i64(ids)).add(channel_);
    PgResult r = c.query(
        "WITH g AS (UPDATE tokenkeep_generation SET generation = generation + 1 RETURNING generation), "
        "ch AS (INSERT INTO tokenkeep_changes(generation, ids) SELECT generation, $1::bigint[] FROM g), "
        "old AS (DELETE FROM tokenkeep_changes WHERE generation <= (SELECT generation FROM g) - 4096) "
        "SELECT generation, pg_notify($2, generation::text) FROM g",
        p, "cannot publish a change on");
    return static_cast<std::uint64_t>(r.i64(0, 0));
  }

  PgPool pool_;
  std::atomic<std::thread::id> background_{};  // the engine's background thread (idle())
  const bool read_only_;
  std::string where_;  // the server and database, never the password (PgConnection::where)
  NegativeCache missing_;
  PgMissFlights flights_;  // concurrent misses of one id share one read
  std::string channel_;
  std::unique_ptr<PgCoherence> coherence_;
};

}  // namespace

void pg_options_check(const PgOptions& options) {
  if (!(options.lease_seconds >= 0.05 && options.lease_seconds <= 600)) {  // also refuses NaN
    fail(ErrorCode::kInvalidArgument, "lease must be between 0.05 and 600 seconds", "lease");
  }
  if (!(options.pool_size >= 1 && options.pool_size <= 1000)) {
    fail(ErrorCode::kInvalidArgument, "pool_size must be from 1 to 1000 connections", "pool_size");
  }
  if (!(options.pool_idle_seconds >= 0 && options.pool_idle_seconds <= 86400)) {  // also refuses NaN
    fail(ErrorCode::kInvalidArgument, "pool_idle must be from 0 to 86400 seconds", "pool_idle");
  }
}

std::unique_ptr<TokenRepository> pg_store_open(const std::string& conninfo, const PgOptions& options) {
  return std::make_unique<PgStore>(conninfo, options);
}

}  // namespace tokenkeep
