// The PostgreSQL schema and its migrations (pg_store.h). Migrations run in one transaction
// under pg_advisory_xact_lock keyed by the schema's name: nodes starting at once queue, and
// each re-reads the version once it holds the lock.
#include <string>

#include "pg_coherence.h"
#include "tokenkeep/errors.h"
#include "tokenkeep/pg_store.h"

namespace tokenkeep {
namespace {

// kMigrations[v] takes the schema from version v to v + 1.
const char* const kMigrations[kPgSchemaVersion] = {
    R"sql(
    CREATE TABLE tokenkeep_settings(key text PRIMARY KEY, value text NOT NULL);
    CREATE TABLE tokenkeep_tokens(
      id           bigint PRIMARY KEY,  -- public id, 63-bit random
      owner        text NOT NULL,
      name         text NOT NULL,
      scopes       text NOT NULL,       -- canonical, space-separated
      digest       bytea NOT NULL,      -- keyed BLAKE2b-256 of the secret part
      pepper_id    text NOT NULL,
      created_at   bigint NOT NULL,     -- microseconds since the epoch, UTC
      expires_at   bigint,
      last_used_at bigint,
      revoked_at   bigint);
    CREATE UNIQUE INDEX tokenkeep_tokens_live_name ON tokenkeep_tokens(owner, name) WHERE revoked_at IS NULL;
    CREATE TABLE tokenkeep_audit(
      seq        bigserial PRIMARY KEY,
      at         bigint NOT NULL,
      actor      text NOT NULL,
      action     text NOT NULL,
      token_id   bigint,
      owner      text NOT NULL,
      name       text NOT NULL,
      old_scopes text NOT NULL,
      new_scopes text NOT NULL,
      detail     text NOT NULL);
    CREATE INDEX tokenkeep_audit_owner_seq ON tokenkeep_audit(owner, seq);
    -- Coherence: the counter every changing transaction bumps (its row lock orders them),
    -- the ids each generation changed ({0}: everything), and the nodes' leases.
    CREATE TABLE tokenkeep_generation(one boolean PRIMARY KEY DEFAULT true CHECK (one), generation bigint NOT NULL);
    INSERT INTO tokenkeep_generation VALUES (true, 0);
    CREATE TABLE tokenkeep_changes(generation bigint PRIMARY KEY, ids bigint[] NOT NULL);
    CREATE TABLE tokenkeep_nodes(node text PRIMARY KEY, acked bigint NOT NULL, lease_until timestamptz NOT NULL);
    )sql",
    // 1 -> 2: listings (tokens_query): one owner's newest-first pages walk it in order.
    R"sql(
    CREATE INDEX tokenkeep_tokens_owner_list ON tokenkeep_tokens(owner, created_at, id)
      INCLUDE (revoked_at, expires_at, last_used_at);
    )sql",
    // 2 -> 3: the last use of each scope of each token (Engine::scope_usage), upserted by the
    // use flusher; a purge deletes a token's rows with it.
    R"sql(
    CREATE TABLE tokenkeep_scope_use(
      token_id     bigint NOT NULL REFERENCES tokenkeep_tokens(id) ON DELETE CASCADE,
      scope        text NOT NULL,     -- one name:action of the vocabulary
      last_used_at bigint NOT NULL,
      PRIMARY KEY (token_id, scope));
    )sql",
    // 3 -> 4: one owner's events of one action, newest first (leaked_notices: the page's leak
    // banner) without reading the owner's whole history.
    R"sql(
    CREATE INDEX tokenkeep_audit_owner_action_seq ON tokenkeep_audit(owner, action, seq);
    )sql",
    // 4 -> 5: each node records its own lease length, so a writer waits for the node's L,
    // not its own (nodes may be opened with different leases). NULL: a node of version 4.
    R"sql(
    ALTER TABLE tokenkeep_nodes ADD COLUMN lease_ms bigint;
    )sql",
    // 5 -> 6: each token's optional description (note); '' for none. A constant default:
    // no table rewrite.
    R"sql(
    ALTER TABLE tokenkeep_tokens ADD COLUMN description text NOT NULL DEFAULT '';
    )sql",
    // 6 -> 7: network binding (canonical CIDRs, space-separated; '' = unbound) and the
    // addresses each token was used from (Engine::recent_clients), at most
    // TokenRepository::kClientsKept per token, deleted with it.
    R"sql(
    ALTER TABLE tokenkeep_tokens ADD COLUMN networks text NOT NULL DEFAULT '';
    CREATE TABLE tokenkeep_token_client(
      token_id  bigint NOT NULL REFERENCES tokenkeep_tokens(id) ON DELETE CASCADE,
      address   text NOT NULL,      -- ip_address_format: "10.0.0.1", "2001:db8::1"
      last_seen bigint NOT NULL,
      PRIMARY KEY (token_id, address));
    )sql",
    // 7 -> 8: the index of 3 -> 4 had one reader, leaked_notices (audit_actions with
    // 'leaked'), yet every audit row paid for it: a bulk create of 10,000 tokens spent 71 ms
    // of its server time inserting audit rows with it, 52 without. A partial index holds only
    // the leak events, which the reader names literally (a parameter cannot prove the
    // predicate to the planner).
    R"sql(
    DROP INDEX tokenkeep_audit_owner_action_seq;
    CREATE INDEX tokenkeep_audit_owner_leaked ON tokenkeep_audit(owner, seq) WHERE action = 'leaked';
    )sql",
    // 8 -> 9: a warm start's rows (PgStore::tokens_recent), newest use first: only live tokens
    // ever used are in it, so a store of a million tokens with a few thousand in use reads a
    // few thousand. A last-used flush already moves each touched token's entry of the listing
    // index (it includes last_used_at); this is one more.
    R"sql(
    CREATE INDEX tokenkeep_tokens_recent ON tokenkeep_tokens(last_used_at)
      WHERE revoked_at IS NULL AND last_used_at IS NOT NULL;
    )sql",
    // 9 -> 10: a bulk create's events in rows of up to 256 instead of one row per token
    // (pg_insert_copy): its tokens' ids, names, scopes and details as parallel arrays, each
    // event with its own seq from tokenkeep_audit's sequence, so the readers (audit_list,
    // audit_actions) return them as rows, in the same order. seq is the last event's:
    // (owner, seq) finds the batches that can hold an owner's newest events. An audit row per
    // token, with its three indexes, cost the server as much as the token's own row. The
    // arrays are stored uncompressed (EXTERNAL): compressing 10,000 tokens' events (~450 KB)
    // made their insert ~20 ms slower (74 against 53 ms, medians of 20).
    R"sql(
    CREATE TABLE tokenkeep_audit_batch(
      seq       bigint PRIMARY KEY,
      first_seq bigint NOT NULL,
      n         int NOT NULL,
      at        bigint NOT NULL,
      actor     text NOT NULL,
      owner     text NOT NULL,
      seqs      bigint[] NOT NULL,
      token_ids bigint[] NOT NULL,
      names     text[] NOT NULL,
      scopes    text[] NOT NULL,
      details   text[] NOT NULL);
    CREATE INDEX tokenkeep_audit_batch_owner ON tokenkeep_audit_batch(owner, seq);
    ALTER TABLE tokenkeep_audit_batch ALTER seqs SET STORAGE EXTERNAL, ALTER token_ids SET STORAGE EXTERNAL,
      ALTER names SET STORAGE EXTERNAL, ALTER scopes SET STORAGE EXTERNAL, ALTER details SET STORAGE EXTERNAL;
    )sql",
};

}  // namespace

void pg_schema_migrate(PgConnection& c, bool read_only) {
  c.timeout_ms(0);  // DDL on a large table, or waiting for another node's migration
  PgTransaction tx(c);
  c.exec("SELECT pg_advisory_xact_lock(7311, hashtext(current_schema()))", "cannot lock the schema of");
  PgParams none;
  int version = 0;
  // Read-only: nothing created (the role may not be allowed to), only the version read.
  if (!read_only)
    c.exec("CREATE TABLE IF NOT EXISTS tokenkeep_schema(version int NOT NULL)", "cannot migrate");
  if (!read_only ||
      c.query("SELECT to_regclass('tokenkeep_schema') IS NOT NULL", none, "cannot migrate").text(0, 0) ==
          "t") {
    PgResult r = c.query("SELECT version FROM tokenkeep_schema", none, "cannot migrate");
    version = r.rows() ? static_cast<int>(r.i64(0, 0)) : 0;
  }
  if (version > kPgSchemaVersion) {
    fail(ErrorCode::kStoreError, c.where() + " has tokenkeep schema version " + std::to_string(version) +
                                     ", newer than this tokenkeep supports (" +
                                     std::to_string(kPgSchemaVersion) + "); upgrade tokenkeep");
  }
  if (version == kPgSchemaVersion) return;  // rolls back the (empty) transaction
  if (read_only) {
    fail(ErrorCode::kStoreError, c.where() +
                                     (version == 0 ? " has no tokenkeep schema" : " needs a schema upgrade") +
                                     " but is opened read-only");
  }
  for (int v = version; v < kPgSchemaVersion; ++v) c.exec(kMigrations[v], "cannot migrate");
  c.exec("DELETE FROM tokenkeep_schema", "cannot migrate");
  c.exec(("INSERT INTO tokenkeep_schema VALUES (" + std::to_string(kPgSchemaVersion) + ")").c_str(),
         "cannot migrate");
  tx.commit();
}

}  // namespace tokenkeep
