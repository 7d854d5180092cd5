// PgStore's changes (pg_store_impl.h): settings written, creates, edits, revokes (one, many,
// leaked, rotation), announcements, purges, and the last-used, scope and client records.
// Each change is one transaction that ends with publish() (the coherence counter and NOTIFY).
#include <optional>
#include <string>
#include <vector>

#include "pg_binary.h"
#include "pg_store_impl.h"
#include "repository_rules.h"
#include "tokenkeep/errors.h"
#include "tokenkeep/scopes.h"

namespace tokenkeep {
namespace pg_detail {
namespace {

// Statements are prepared under their text's address (PgConnection::run): one string each.
const std::string kPurgeSql = "DELETE FROM tokenkeep_tokens WHERE " + purge_sql("$1");

}  // namespace

std::string PgStore::setting_put(const std::string& key, const std::string& value,
                                 const std::optional<std::string>& expected) {
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

void PgStore::tokens_insert_completing(const std::vector<TokenRecord>& records, const std::string& actor,
                                       std::int64_t at, const RecordsComplete& complete) {
  writable("cannot insert tokens into");
  if (records.empty()) return;
  missing_.erase(records);
  auto c = pool_.acquire();
  bool done;
  if (records.size() < kPgCopyFromRows) {
    complete(0, records.size());
    done = pg_insert_statement(*c, records, actor, at);
  } else {
    done = pg_insert_copy(*c, records, actor, at, complete);
  }
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

bool PgStore::token_update_scopes(const std::string& owner, std::int64_t id,
                                  const std::vector<std::string>& scopes, const std::string& actor,
                                  std::int64_t at) {
  const std::string joined = scopes_join(scopes);
  return update_owned(owner, id, [&](PgConnection& c, const TokenRecord& old) {
    PgParams p;
    p.add(id).add(joined);
    c.query("UPDATE tokenkeep_tokens SET scopes = $2 WHERE id = $1", p, "cannot update a token in");
    audit_add(c, at, actor, "update_scopes", id, owner, old.name, scopes_join(old.scopes), joined, "");
  });
}

bool PgStore::token_update_description(const std::string& owner, std::int64_t id,
                                       const std::string& description, const std::string& actor,
                                       std::int64_t at) {
  return update_owned(owner, id, [&](PgConnection& c, const TokenRecord& old) {
    PgParams p;
    p.add(id).add(description);
    c.query("UPDATE tokenkeep_tokens SET description = $2 WHERE id = $1", p, "cannot update a token in");
    const std::string scopes = scopes_join(old.scopes);
    audit_add(c, at, actor, "update_description", id, owner, old.name, scopes, scopes, description);
  });
}

bool PgStore::token_update_networks(const std::string& owner, std::int64_t id,
                                    const std::vector<std::string>& networks, const std::string& actor,
                                    std::int64_t at) {
  return update_owned(owner, id, [&](PgConnection& c, const TokenRecord& old) {
    PgParams p;
    p.add(id).add(networks_join(networks));
    c.query("UPDATE tokenkeep_tokens SET networks = $2 WHERE id = $1", p, "cannot update a token in");
    const std::string scopes = scopes_join(old.scopes);
    audit_add(c, at, actor, "update_networks", id, owner, old.name, scopes, scopes,
              networks_update_detail(old.networks, networks));
  });
}

template <typename Edit>
bool PgStore::update_owned(const std::string& owner, std::int64_t id, Edit edit) {
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

bool PgStore::tokens_revoke(const std::string& owner, const std::vector<std::int64_t>& ids,
                            const std::string& actor, std::int64_t at) {
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

std::size_t PgStore::tokens_announce(const std::string& owner) {
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

bool PgStore::token_rotate(const std::string& owner, std::int64_t id, const TokenRecord& replacement,
                           const std::string& actor, std::int64_t at) {
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

std::int64_t PgStore::tokens_purge(std::int64_t cutoff, const std::string& actor, std::int64_t at) {
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

void PgStore::tokens_touch(const std::vector<std::pair<std::int64_t, std::int64_t>>& uses) {
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

std::vector<std::int64_t> PgStore::tokens_revoke_leaked(const std::vector<LeakedToken>& leaks,
                                                        const std::string& actor, std::int64_t at) {
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

void PgStore::scopes_touch(const std::vector<ScopeUse>& uses) {
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

void PgStore::clients_touch(const std::vector<ClientUse>& uses) {
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

std::optional<TokenRecord> PgStore::find_owned_for_update(PgConnection& c, const std::string& owner,
                                                          std::int64_t id) {
  PgParams p;
  p.add(id).add(owner);
  PgResult r = c.query(PG_TOKEN_SELECT "WHERE id = $1 AND owner = $2 AND revoked_at IS NULL FOR UPDATE", p,
                       "cannot read tokens from");
  if (r.rows() == 0) return std::nullopt;
  return read_token(r, 0);
}

void PgStore::revoke_one(PgConnection& c, const TokenRecord& old, const std::string& actor, std::int64_t at,
                         const char* action, const std::string& detail) {
  PgParams p;
  p.add(old.id).add(at);
  c.query("UPDATE tokenkeep_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL", p,
          "cannot revoke a token in");
  audit_add(c, at, actor, action, old.id, old.owner, old.name, scopes_join(old.scopes), "", detail);
}

}  // namespace pg_detail
}  // namespace tokenkeep
