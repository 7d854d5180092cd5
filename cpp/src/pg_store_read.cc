// PgStore's reads (pg_store_impl.h): the cache miss (one prepared binary statement in one
// round trip), other token reads, expiring tokens, purge counts, use records and the audit.
#include <memory>
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
const std::string kPurgeableSql = "SELECT count(*) FROM tokenkeep_tokens WHERE " + purge_sql("$1");
const std::string kExpiringSql = PG_TOKEN_SELECT "WHERE " + expiring_sql("$1", "$2") +
                                 " AND ($3::text IS NULL OR owner = $3) ORDER BY " + kExpiringOrderSql;

}  // namespace

std::optional<TokenRecord> PgStore::token_find(std::int64_t id) {
  coherence_->restart_if_forked();
  if (missing_.contains(id)) return std::nullopt;
  return flights_.run(id, coherence_->state(), [&]() -> std::optional<TokenRecord> {
    auto c = pool_.acquire();
    PgParams p;
    p.add_binary(pg_binary::int8(id));
    PgResult r = c->query_binary(PG_TOKEN_SELECT "WHERE id = $1", p, "cannot read tokens from", true);
    if (r.rows() == 0) {
      missing_.add(id);
      return std::nullopt;
    }
    return read_token_binary(r, 0);
  });
}

std::vector<TokenRecord> PgStore::tokens_find(const std::vector<std::int64_t>& ids) {
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

void PgStore::tokens_recent(std::int64_t since, std::int64_t now, std::size_t limit,
                            const std::atomic<bool>* stop, const RecordSink& sink) {
  coherence_->restart_if_forked();
  if (limit == 0) return;
  PgParams p;
  p.add_binary(pg_binary::int8(since)).add_binary(pg_binary::int8(now));
  p.add_binary(pg_binary::int8(static_cast<std::int64_t>(limit)));
  // The connection is closed (when connect_apart's pointer goes) before the rows are handed
  // over. The default statement timeout (3 s; 100,000 rows take ~0.2 s here): a close waits
  // for this read, and must not wait a minute behind a link that died under it.
  const PgResult rows = pool_.connect_apart()->query_binary(
      PG_TOKEN_SELECT
      "WHERE revoked_at IS NULL AND last_used_at >= $1 AND "
      "(expires_at IS NULL OR expires_at > $2) ORDER BY last_used_at DESC LIMIT $3",
      p, "cannot read tokens from");
  std::vector<TokenRecord> chunk;
  chunk.reserve(kWarmChunk);
  const int n = rows.rows();
  for (int i = 0; i < n && !stop->load(); ++i) {
    chunk.push_back(read_token_binary(rows, i));
    if (chunk.size() == kWarmChunk || i + 1 == n) {
      if (!sink(chunk)) return;
      chunk.clear();
    }
  }
}

std::optional<TokenRecord> PgStore::token_find_owned(const std::string& owner, std::int64_t id) {
  auto c = pool_.acquire();
  PgParams p;
  p.add(id).add(owner);
  PgResult r = c->query(PG_TOKEN_SELECT "WHERE id = $1 AND owner = $2 AND revoked_at IS NULL", p,
                        "cannot read tokens from");
  if (r.rows() == 0) return std::nullopt;
  return read_token(r, 0);
}

TokenPage PgStore::tokens_query(const TokenQuery& q, std::int64_t now) {
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

std::vector<TokenRecord> PgStore::tokens_expiring(std::int64_t from, std::int64_t until,
                                                  const std::optional<std::string>& owner) {
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

std::int64_t PgStore::tokens_purgeable(std::int64_t cutoff) {
  auto c = pool_.acquire();
  c->timeout_ms(kPgLongQueryTimeoutMs);  // bulk or admin work, never on the verify path
  PgParams p;
  p.add(cutoff);
  return c->query(kPurgeableSql.c_str(), p, "cannot read tokens from").i64(0, 0);
}

std::vector<ClientUse> PgStore::clients_recent(std::int64_t id, std::int64_t limit) {
  auto c = pool_.acquire();
  PgParams p;
  p.add(id).add(limit);
  PgResult r = c->query(
      "SELECT address, last_seen FROM tokenkeep_token_client WHERE token_id = $1 "
      "ORDER BY last_seen DESC, address COLLATE \"C\" LIMIT $2",
      p, "cannot read token use from");
  std::vector<ClientUse> out;
  out.reserve(static_cast<std::size_t>(r.rows()));
  for (int i = 0; i < r.rows(); ++i) out.push_back(ClientUse{id, r.text(i, 0), r.i64(i, 1)});
  return out;
}

std::vector<ClientUse> PgStore::clients_recent_many(const std::vector<std::int64_t>& ids,
                                                    std::int64_t limit) {
  std::vector<ClientUse> out;
  if (ids.empty()) return out;
  auto c = pool_.acquire();
  PgParams p;
  p.add_text(pg_array_i64(ids)).add(limit);
  PgResult r = c->query(
      "SELECT token_id, address, last_seen FROM (SELECT token_id, address, last_seen, row_number() OVER "
      "(PARTITION BY token_id ORDER BY last_seen DESC, address COLLATE \"C\") AS n "
      "FROM tokenkeep_token_client WHERE token_id = ANY($1::bigint[])) t WHERE n <= $2",
      p, "cannot read token use from");
  out.reserve(static_cast<std::size_t>(r.rows()));
  for (int i = 0; i < r.rows(); ++i) out.push_back(ClientUse{r.i64(i, 0), r.text(i, 1), r.i64(i, 2)});
  return out;
}

std::vector<ScopeUse> PgStore::scopes_used(const std::vector<std::int64_t>& ids, std::int64_t since) {
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

namespace {

// tokenkeep_audit's rows matching `rows` and the events of tokenkeep_audit_batch's rows
// (alias b) matching `batches`, as one list of rows, newest first, at most `limit` (a
// parameter, e.g. "$2"). A batch's seqs grow with its events, so only its last `limit` can
// be among the newest `limit`. And the batches newest by their last seq, taken until their
// events number `limit`, bound the seq of the limit-th newest event from below (their least
// first_seq): only batches ending at or above it are opened. Each batch row holds at least
// one event, so those batches are among the newest `limit` rows.
std::string audit_events_sql(const std::string& rows, const std::string& batches, const std::string& limit) {
  const std::string from = "greatest(1, b.n - least(" + limit + ", b.n)::int + 1)";
  return "WITH heads AS (SELECT first_seq, sum(n) OVER (ORDER BY seq DESC) - n AS newer FROM ("
         "SELECT seq, first_seq, n FROM tokenkeep_audit_batch b WHERE " +
         batches + " ORDER BY seq DESC LIMIT " + limit +
         ") AS newest), bound AS (SELECT min(first_seq) AS seq FROM heads WHERE newer < " + limit +
         ") SELECT seq, at, actor, action, token_id, owner, name, old_scopes, new_scopes, detail FROM ("
         "(SELECT seq, at, actor, action, token_id, owner, name, old_scopes, new_scopes, detail "
         "FROM tokenkeep_audit WHERE " +
         rows + " ORDER BY seq DESC LIMIT " + limit +
         ") UNION ALL (SELECT u.seq, b.at, b.actor, 'create', u.token_id, b.owner, u.name, '', u.scopes, "
         "u.detail FROM tokenkeep_audit_batch b JOIN bound ON b.seq >= bound.seq, unnest(b.seqs[" +
         from + ":], b.token_ids[" + from + ":], b.names[" + from + ":], b.scopes[" + from +
         ":], b.details[" + from + ":]) AS u(seq, token_id, name, scopes, detail) WHERE " + batches +
         ")) AS e ORDER BY seq DESC LIMIT " + limit;
}

}  // namespace

std::vector<AuditEvent> PgStore::audit_actions(const std::string& owner, const std::string& action,
                                               std::int64_t since, std::int64_t limit) {
  auto c = pool_.acquire();
  PgParams p;
  p.add(owner).add(action).add(since).add(limit);
  if (action == "create") {  // a bulk create's events are in batch rows
    static const std::string sql =
        audit_events_sql("owner = $1 AND action = $2 AND at >= $3", "b.owner = $1 AND b.at >= $3", "$4");
    return read_audit(c->query(sql.c_str(), p, "cannot read the audit log of"));
  }
#define PG_AUDIT_ACTIONS(LEAKED)                                                               \
  "SELECT seq, at, actor, action, token_id, owner, name, old_scopes, new_scopes, detail FROM " \
  "tokenkeep_audit WHERE owner = $1 AND action = $2 " LEAKED "AND at >= $3 ORDER BY seq DESC LIMIT $4"
  // 'leaked' spelled out: the planner then reads the partial index tokenkeep_audit_owner_leaked.
  return read_audit(
      c->query(action == "leaked" ? PG_AUDIT_ACTIONS("AND action = 'leaked' ") : PG_AUDIT_ACTIONS(""), p,
               "cannot read the audit log of"));
#undef PG_AUDIT_ACTIONS
}

std::vector<AuditEvent> PgStore::audit_list(const std::optional<std::string>& owner, std::int64_t limit) {
  auto c = pool_.acquire();
  c->timeout_ms(kPgLongQueryTimeoutMs);  // bulk or admin work, never on the verify path
  // Two statements, not one with "$1 IS NULL OR owner = $1": that one's generic plan (which
  // PostgreSQL may use from the sixth call of a prepared statement) walks the whole log
  // newest first with a filter instead of the owner's index (EXPLAIN). Split, audit(owner,
  // limit=10) took 0.55-0.7 ms from the sixth call on, against ~1.0 ms.
  static const std::string of_owner = audit_events_sql("owner = $1", "b.owner = $1", "$2");
  static const std::string of_all = audit_events_sql("true", "true", "$1");
  PgParams p;
  if (owner) p.add(*owner);
  p.add(limit);
  return read_audit(c->query((owner ? of_owner : of_all).c_str(), p, "cannot read the audit log of"));
}

}  // namespace pg_detail
}  // namespace tokenkeep
