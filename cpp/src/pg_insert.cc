// Creating tokens on PostgreSQL (PgStore::tokens_insert): the rows and their audit events,
// all or nothing. A few rows go in one statement, an audit row each; a bulk create streams
// the rows with binary COPY and writes its events in audit batch rows of up to 256. Either
// returns false on a unique violation, having inserted nothing.
#include <algorithm>
#include <string_view>
#include <unordered_map>

#include "pg_binary.h"
#include "pg_rows.h"
#include "repository_rules.h"
#include "tokenkeep/scopes.h"

namespace tokenkeep::pg_detail {

// One INSERT ... SELECT FROM unnest(arrays), the audit rows in a data-modifying CTE: one
// round trip.
bool pg_insert_statement(PgConnection& c, const std::vector<TokenRecord>& records, const std::string& actor,
                         std::int64_t at) {
  std::vector<std::int64_t> ids, created;
  std::vector<std::optional<std::int64_t>> expires;
  std::vector<std::string> owners, names, scopes, digests, peppers, descriptions, networks, details;
  for (const auto& r : records) {
    ids.push_back(r.id);
    owners.push_back(r.owner);
    names.push_back(r.name);
    scopes.push_back(scopes_join(r.scopes));
    digests.push_back(digest_bytes(r.digest));
    peppers.push_back(r.pepper_id);
    created.push_back(r.created_at);
    expires.push_back(r.expires_at);
    descriptions.push_back(r.description);
    networks.push_back(networks_join(r.networks));
    details.push_back(networks_create_detail(r.networks));
  }
  PgParams p;
  p.add_text(pg_array_i64(ids)).add_text(pg_array_text(owners)).add_text(pg_array_text(names));
  p.add_text(pg_array_text(scopes)).add_text(pg_array_bytes(digests)).add_text(pg_array_text(peppers));
  p.add_text(pg_array_i64(created)).add_text(pg_array_opt_i64(expires)).add(at).add(actor);
  p.add_text(pg_array_text(descriptions)).add_text(pg_array_text(networks)).add_text(pg_array_text(details));
  return c
      .run(
          "WITH t AS (INSERT INTO tokenkeep_tokens(id, owner, name, scopes, digest, pepper_id, created_at, "
          "expires_at, description, networks) "
          "SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::bytea[], $6::text[], "
          "$7::bigint[], $8::bigint[], $11::text[], $12::text[]) RETURNING id, owner, name, scopes), "
          "d AS (SELECT * FROM unnest($1::bigint[], $13::text[]) AS d(id, detail)) " PG_AUDIT_INSERT
          "SELECT $9, $10, 'create', t.id, owner, name, '', scopes, d.detail FROM t JOIN d ON d.id = t.id "
          "ORDER BY t.id",
          p, "cannot insert tokens into", true)
      .has_value();
}

namespace {

// One owner's share of a bulk create's audit: tokenkeep_audit_batch rows, its events as
// parallel arrays in the records' order (schema 10; pg_store_read.cc reads them back as
// rows).
struct AuditBatch {
  AuditBatch(std::string_view owner, std::size_t n)
      : owner(owner),
        n(n),
        ids(pg_binary::ArrayOut::kInt8, n),
        names(pg_binary::ArrayOut::kText, n),
        scopes(pg_binary::ArrayOut::kText, n),
        details(pg_binary::ArrayOut::kText, n) {}
  std::string_view owner;
  std::size_t n;
  pg_binary::ArrayOut ids, names, scopes, details;
};

// The events' seqs come from tokenkeep_audit's own sequence, one each, in order: they
// interleave with single events exactly as rows of their own would. The server cuts the
// arrays into rows of at most 256 events (k = each row's first index): a read of the newest
// events then opens a row of ~12 KB, not the whole batch (~450 KB for 10,000 tokens).
void audit_batch_insert(PgConnection& c, AuditBatch& b, const std::string& actor, std::int64_t at) {
  PgParams p;
  p.add(at).add(actor).add(std::string(b.owner)).add(static_cast<std::int64_t>(b.n));
  p.add_binary(b.ids.take()).add_binary(b.names.take()).add_binary(b.scopes.take());
  p.add_binary(b.details.take());
  c.query(
      "INSERT INTO tokenkeep_audit_batch(seq, first_seq, n, at, actor, owner, seqs, token_ids, names, "
      "scopes, details) SELECT s[e], s[k], e - k + 1, $1, $2, $3, s[k:e], ($5::bigint[])[k:e], "
      "($6::text[])[k:e], ($7::text[])[k:e], ($8::text[])[k:e] "
      "FROM (SELECT ARRAY(SELECT nextval('tokenkeep_audit_seq_seq') FROM generate_series(1, $4::int)) AS s) "
      "AS q, generate_series(1, $4::int, 256) AS k, LATERAL (SELECT least(k + 255, $4::int) AS e) AS l",
      p, "cannot write the audit log of");
}

}  // namespace

// BEGIN; COPY the rows; audit rows holding up to 256 of one owner's events each (the records'
// order, which is by id, as the statement writes them); COMMIT. In binary, the server parses
// no SQL and converts no text per row, and fills table pages in batches; the cost left is the
// indexes'. The token rows go out in parts of kPart, each completed (its secrets made) just
// before it is encoded: the server inserts the first part while the client makes the next,
// instead of waiting for the whole batch. The server is the slower side, so most of the
// client's work hides behind it (README, "Streaming the rows as they are made"). An audit
// row per token, with its three indexes, cost the server about as much as the token's row
// (README, "A bulk create's events in batch rows"); a batch row of 256 is one row, its seqs
// one nextval each (~0.3 us).
bool pg_insert_copy(PgConnection& c, const std::vector<TokenRecord>& records, const std::string& actor,
                    std::int64_t at, const TokenRepository::RecordsComplete& complete) {
  constexpr std::size_t kPart = 256;
  std::vector<std::size_t> batch_of(records.size());
  std::vector<AuditBatch> batches;
  {
    std::unordered_map<std::string_view, std::size_t> count, index;  // a bulk create: one owner
    for (const auto& r : records) ++count[r.owner];
    batches.reserve(count.size());
    for (std::size_t i = 0; i < records.size(); ++i) {
      auto [it, added] = index.try_emplace(records[i].owner, batches.size());
      if (added) batches.emplace_back(records[i].owner, count[records[i].owner]);
      batch_of[i] = it->second;
    }
  }
  pg_binary::CopyRows tokens;
  std::size_t bytes = 0;
  for (const auto& r : records) bytes += r.owner.size() + r.name.size() + r.description.size() + 160;
  tokens.reserve(std::min(bytes, bytes / records.size() * kPart + 64));
  std::string scopes;
  const std::vector<std::string>* scopes_of = nullptr;  // a bulk create mostly repeats one scope set
  c.timeout_ms(kPgLongQueryTimeoutMs);                  // bulk work, never on the verify path
  PgTransaction tx(c);
  c.copy_begin(
      "COPY tokenkeep_tokens(id, owner, name, scopes, digest, pepper_id, created_at, expires_at, "
      "description, networks) FROM STDIN (FORMAT binary)",
      "cannot insert tokens into");
  for (std::size_t begin = 0; begin < records.size(); begin += kPart) {
    const std::size_t end = std::min(records.size(), begin + kPart);
    complete(begin, end);
    for (std::size_t i = begin; i < end; ++i) {
      const TokenRecord& r = records[i];
      if (scopes_of == nullptr || *scopes_of != r.scopes) {
        scopes = scopes_join(r.scopes);
        scopes_of = &r.scopes;
      }
      const std::string networks = networks_join(r.networks);
      tokens.row(10).i64(r.id).bytes(r.owner).bytes(r.name).bytes(scopes);
      tokens.bytes(std::string_view(reinterpret_cast<const char*>(r.digest.data()), r.digest.size()));
      tokens.bytes(r.pepper_id).i64(r.created_at).opt_i64(r.expires_at).bytes(r.description);
      tokens.bytes(networks);
      AuditBatch& b = batches[batch_of[i]];
      b.ids.i64(r.id);
      b.names.bytes(r.name);
      b.scopes.bytes(scopes);
      b.details.bytes(networks_create_detail(r.networks));
    }
    c.copy_put(tokens.made(), "cannot insert tokens into");
    tokens.clear();
  }
  c.copy_put(tokens.finish(), "cannot insert tokens into");
  if (!c.copy_end("cannot insert tokens into", true)) return false;  // rolled back by tx
  for (auto& b : batches) audit_batch_insert(c, b, actor, at);
  tx.commit();
  return true;
}

}  // namespace tokenkeep::pg_detail
