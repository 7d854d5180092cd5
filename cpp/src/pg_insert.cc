// Creating tokens on PostgreSQL (PgStore::tokens_insert): the rows and one audit row each,
// all or nothing. A few rows go in one statement; a bulk create streams both tables with
// binary COPY. Either returns false on a unique violation, having inserted nothing.
#include <algorithm>
#include <string_view>

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

// BEGIN; COPY the rows; COPY their audit rows (in the records' order, which is by id, as
// the statement writes them); COMMIT: six round trips whatever the size. In binary, the
// server parses no SQL and converts no text per row, and fills table pages in batches; the
// cost left is the indexes'. The token rows go out in parts of kPart, each completed (its
// secrets made) just before it is encoded: the server inserts the first part while the
// client makes the next, instead of waiting for the whole batch. The server is the slower
// side (11-15 us a token, both tables, against the client's 1.5-3), so most of the client's
// work hides behind it (README, "Streaming the rows as they are made").
bool pg_insert_copy(PgConnection& c, const std::vector<TokenRecord>& records, const std::string& actor,
                    std::int64_t at, const TokenRepository::RecordsComplete& complete) {
  constexpr std::size_t kPart = 256;
  pg_binary::CopyRows tokens, audit;
  std::size_t bytes = 0;
  for (const auto& r : records) bytes += r.owner.size() + r.name.size() + r.description.size() + 160;
  tokens.reserve(std::min(bytes, bytes / records.size() * kPart + 64));
  audit.reserve(bytes);
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
      tokens.row(10).i64(r.id).bytes(r.owner).bytes(r.name).bytes(scopes);
      tokens.bytes(std::string_view(reinterpret_cast<const char*>(r.digest.data()), r.digest.size()));
      tokens.bytes(r.pepper_id).i64(r.created_at).opt_i64(r.expires_at).bytes(r.description);
      tokens.bytes(networks_join(r.networks));
      audit.row(9).i64(at).bytes(actor).bytes("create").i64(r.id).bytes(r.owner).bytes(r.name);
      audit.bytes("").bytes(scopes).bytes(networks_create_detail(r.networks));
    }
    c.copy_put(tokens.made(), "cannot insert tokens into");
    tokens.clear();
  }
  c.copy_put(tokens.finish(), "cannot insert tokens into");
  if (!c.copy_end("cannot insert tokens into", true)) return false;  // rolled back by tx
  c.copy_in(
      "COPY tokenkeep_audit(at, actor, action, token_id, owner, name, old_scopes, new_scopes, detail) "
      "FROM STDIN (FORMAT binary)",
      audit.finish(), "cannot write the audit log of");
  tx.commit();
  return true;
}

}  // namespace tokenkeep::pg_detail
