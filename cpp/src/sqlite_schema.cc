// The SQLite schema and its migrations (sqlite_connection.h). A migration runs in one write
// transaction; a process that waited for another's re-reads the version first.
#include <string>

#include "sqlite_connection.h"

namespace tokenkeep {
namespace sqlite_detail {
namespace {

// Schema migrations: kMigrations[v] takes a database from user_version v to v + 1.
const char* const kMigrations[kSchemaVersion] = {
    // 0 -> 1: tokens, audit log, settings.
    R"sql(
    CREATE TABLE settings(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
    CREATE TABLE tokens(
      id           INTEGER PRIMARY KEY,  -- public id, 63-bit random
      owner        TEXT NOT NULL,
      name         TEXT NOT NULL,
      scopes       TEXT NOT NULL,        -- canonical, space-separated
      digest       BLOB NOT NULL,        -- keyed BLAKE2b-256 of the secret part
      pepper_id    TEXT NOT NULL,
      created_at   INTEGER NOT NULL,     -- microseconds since the epoch, UTC
      expires_at   INTEGER,              -- NULL: never
      last_used_at INTEGER,
      revoked_at   INTEGER);
    -- Unique names among live tokens; also serves list(owner), which sorts a few rows.
    CREATE UNIQUE INDEX tokens_live_name ON tokens(owner, name) WHERE revoked_at IS NULL;
    -- No index on expires_at: expiring_within() and purge() are occasional scans, and every
    -- index costs each bulk create about 7%.
    CREATE TABLE audit(
      seq        INTEGER PRIMARY KEY,  -- rows are never deleted, so rowids only grow
      at         INTEGER NOT NULL,
      actor      TEXT NOT NULL,
      action     TEXT NOT NULL,
      token_id   INTEGER,
      owner      TEXT NOT NULL,
      name       TEXT NOT NULL,
      old_scopes TEXT NOT NULL,
      new_scopes TEXT NOT NULL,
      detail     TEXT NOT NULL);
    )sql",
    // 1 -> 2: audit(owner=...) reads one owner's history without a scan.
    R"sql(
    CREATE INDEX audit_owner_seq ON audit(owner, seq);
    )sql",
    // 2 -> 3: listings (tokens_query). tokens_owner_list: newest-first pages of one owner walk
    // it in order (id breaks ties: a create_many shares one created_at), and it covers every
    // column a listing filters or sorts on but scopes, so a search or another sort scans the
    // index alone instead of fetching each row at random (100,000 tokens: ~600 ms).
    // tokens_owner_live: the narrow range a page's count of active tokens scans (100,000
    // tokens: ~9 ms instead of ~19 ms over the wide one).
    R"sql(
    CREATE INDEX tokens_owner_list
      ON tokens(owner, created_at, id, revoked_at, expires_at, last_used_at, name);
    CREATE INDEX tokens_owner_live ON tokens(owner, revoked_at, expires_at);
    )sql",
    // 3 -> 4: the last use of each scope of each token (Engine::scope_usage), upserted by the
    // use flusher; rows of purged tokens go with them (tokens_purge).
    R"sql(
    CREATE TABLE token_scope_use(
      token_id     INTEGER NOT NULL,
      scope        TEXT NOT NULL,      -- one name:action of the vocabulary
      last_used_at INTEGER NOT NULL,
      PRIMARY KEY (token_id, scope)) WITHOUT ROWID;
    )sql",
    // 4 -> 5: one owner's events of one action, newest first (leaked_notices: the page's leak
    // banner) without reading the owner's whole history (100,000 tokens: ~150 ms -> ~0.02 ms).
    R"sql(
    CREATE INDEX audit_owner_action_seq ON audit(owner, action, seq);
    )sql",
    // 5 -> 6: each token's optional description (note); '' for none. ADD COLUMN with a
    // constant default rewrites nothing.
    R"sql(
    ALTER TABLE tokens ADD COLUMN description TEXT NOT NULL DEFAULT '';
    )sql",
    // 6 -> 7: network binding (networks.h: canonical CIDRs, space-separated; '' = unbound)
    // and the addresses each token was used from (Engine::recent_clients), upserted by the
    // use flusher, at most TokenRepository::kClientsKept per token, gone with it on purge.
    R"sql(
    ALTER TABLE tokens ADD COLUMN networks TEXT NOT NULL DEFAULT '';
    CREATE TABLE token_client(
      token_id  INTEGER NOT NULL,
      address   TEXT NOT NULL,        -- ip_address_format: "10.0.0.1", "2001:db8::1"
      last_seen INTEGER NOT NULL,
      PRIMARY KEY (token_id, address)) WITHOUT ROWID;
    )sql",
    // 7 -> 8: a warm start's ids, newest use first, from the index alone (the
    // always-null revoked_at rides along so that the query's `revoked_at IS NULL` is answered
    // without the table): only live tokens ever used are in it. Each last-used flush moves the
    // entry of every token it touches.
    R"sql(
    CREATE INDEX tokens_recent_use ON tokens(last_used_at, revoked_at)
      WHERE revoked_at IS NULL AND last_used_at IS NOT NULL;
    )sql",
    // 8 -> 9: the warm start reads its rows from the index alone (RECENT), newest use first:
    // every column a cache entry needs rides along, so the load walks a few consecutive pages
    // instead of looking each row up in the table (5,000 in use of 50,000 tokens: loaded in
    // 7-8 ms instead of 19 ms, README "First verifications"). It holds a second copy of the
    // live tokens ever used, and each last-used flush moves the entry of every token it
    // touches, as schema 8's did.
    R"sql(
    DROP INDEX tokens_recent_use;
    CREATE INDEX tokens_warm ON tokens(last_used_at, revoked_at, id, owner, name, scopes, digest,
      pepper_id, created_at, expires_at, description, networks)
      WHERE revoked_at IS NULL AND last_used_at IS NOT NULL;
    )sql",
};

int user_version(Connection& c) {
  Statement s(c, "PRAGMA user_version");
  return s.step("cannot open") ? static_cast<int>(s.i64(0)) : 0;
}

}  // namespace

void sqlite_schema_migrate(Connection& c, bool read_only) {
  int version = user_version(c);
  if (version > kSchemaVersion) {
    fail(ErrorCode::kStoreError, "database " + c.path() + " has schema version " + std::to_string(version) +
                                     ", newer than this tokenkeep supports (" +
                                     std::to_string(kSchemaVersion) + "); upgrade tokenkeep");
  }
  if (version == kSchemaVersion) return;
  if (read_only)
    fail(ErrorCode::kStoreError, "database " + c.path() + " needs a schema upgrade but is opened read-only");
  Transaction tx(c, true);
  version = user_version(c);  // another process may have migrated while we waited
  for (int v = version; v < kSchemaVersion; ++v) c.exec(kMigrations[v], "cannot migrate");
  if (version != kSchemaVersion) {
    c.exec(("PRAGMA user_version = " + std::to_string(kSchemaVersion)).c_str(), "cannot migrate");
  }
  tx.commit();
}

}  // namespace sqlite_detail
}  // namespace tokenkeep
