// TokenRepository on PostgreSQL (libpq), for several hosts sharing one token store.
// Tables live in the connection's current schema (search_path), prefixed tokenkeep_; the
// schema is created and migrated under a transaction-scoped advisory lock, so nodes that
// start at once migrate once. Every change is one transaction with its audit rows, committed
// with synchronous_commit=on; last-used touches commit with it off.
//
// Coherence across nodes (docs/ARCHITECTURE.md): each changing transaction bumps a one-row
// generation counter (its row lock orders commits: commit order = counter order, no gaps),
// records its ids in tokenkeep_changes and NOTIFYs. A background connection per node LISTENs,
// applies changes to the node's local feed, and acknowledges the generation it applied while
// renewing its lease (tokenkeep_nodes: expiry by the server's clock, and the node's own L).
// A node whose lease it could not renew in time reports itself unstable (its cache is not used; verification
// reads the database, StoreError if it cannot). In strict mode a writer returns only after every node holding
// a live lease acknowledged its generation or that node's recorded lease ran out (at most about the longest
// lease among the nodes).
#pragma once

#include <memory>
#include <string>

#include "tokenkeep/token_repository.h"

namespace tokenkeep {

inline constexpr int kPgSchemaVersion = 10;

struct PgOptions {
  bool strict = true;  // consistency="strict" (false: "bounded", writers never wait)
  // L: the longest this node's cache lives unconfirmed, and so the longest a writer elsewhere
  // waits for this node (nodes may differ: each records its own).
  double lease_seconds = 2.0;
  // read_only=True: every change (and a needed migration) is a StoreError naming the store;
  // last-used times are not recorded. The node still holds a lease: it verifies, so writers
  // elsewhere must still reach it.
  bool read_only = false;
  // relay=True: the processes of one host share one coherence channel (pg_host_relay.h):
  // one of them, elected, holds the LISTEN connection and the host's lease; the others read
  // the host's feed in shared memory. False: each store is a node of its own (its listener).
  bool relay = true;
  // The folder of the host's shared files; empty: $TOKENKEEP_RUNTIME_DIR, else
  // $XDG_RUNTIME_DIR/tokenkeep, else /tmp/tokenkeep-<uid> (pg_runtime_dir).
  std::string runtime_dir;
  // pool_size: the most connections this store opens for its calls (the listener's is apart);
  // a call finding all busy waits for one. pool_idle: a connection unused this long is closed,
  // so an idle store holds none (docs/ARCHITECTURE.md, "Many hosts").
  int pool_size = 4;
  double pool_idle_seconds = 5.0;
  // Behind PgBouncer in transaction mode (README, "PostgreSQL"): the conninfo of the session
  // that LISTENs (the relay's, or relay=False each store's listener), straight to the server,
  // same database and schema; empty: the store's own. prepared_statements=false: the pool's
  // statements are unnamed (PgBouncer before 1.21 cannot carry named ones across transactions).
  std::string listen_conninfo;
  bool prepared_statements = true;
};

// InvalidArgument with field "lease" unless 0.05 <= lease_seconds <= 600, field "pool_size"
// unless 1 <= pool_size <= 1000, field "pool_idle" unless 0 <= pool_idle_seconds <= 86400 (the
// one check of the ranges: store_open applies it to every store's options, PgCoherence to its
// own).
void pg_options_check(const PgOptions& options);

// Connects to `conninfo` (a libpq URL or key=value string), migrates, starts the node's
// listener. StoreError naming the server (never the password) if it cannot.
std::unique_ptr<TokenRepository> pg_store_open(const std::string& conninfo, const PgOptions& options);

}  // namespace tokenkeep
