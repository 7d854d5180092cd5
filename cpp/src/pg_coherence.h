// One node's side of PostgreSQL cross-node coherence (pg_store.h, docs/ARCHITECTURE.md):
// a process-private change feed the engine's cache follows, the background listener that
// applies other nodes' changes and renews this node's lease, and the strict-mode wait for
// acknowledgements after a change commits. Also the schema migration (pg_schema.cc).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "change_feed.h"
#include "pg_connection.h"
#include "tokenkeep/pg_store.h"

namespace tokenkeep {

// Creates or upgrades the tokenkeep tables in the connection's current schema.
void pg_schema_migrate(PgConnection& c, bool read_only);

// The NOTIFY channel of a schema's store: "tokenkeep_" and the schema's name cut to at most
// 50 bytes at a UTF-8 character boundary (a channel is an identifier: 63 bytes at most).
// Schemas whose names share those bytes share a channel: their nodes wake more, nothing else.
std::string pg_channel_of(const std::string& schema);

// One node's coherence at one instant, a consistent snapshot of what the listener publishes
// in this order: the feed (changes applied), then the deadline (a renewal that acknowledged
// them). Reads them in the opposite order - the deadline (acquire), the clock, then the feed -
// so a fresh deadline is never paired with a feed read before the changes it covers were
// applied. `now_ns` is called once, between the two reads.
template <typename NowNs>
Coherence pg_coherence_snapshot(const ChangeFeed& feed, const std::atomic<std::int64_t>& deadline_ns,
                                NowNs now_ns, bool same_process) noexcept {
  const std::int64_t deadline = deadline_ns.load(std::memory_order_acquire);
  const bool fresh = now_ns() < deadline && same_process;
  const ChangeFeed::State st = feed.state();
  return Coherence{st.finished, st.stable() && fresh};
}

class PgCoherence {
 public:
  // Opens the listener connection, applies what is there, takes a lease, then starts the
  // listener thread. StoreError if the first lease cannot be taken.
  PgCoherence(std::string conninfo, std::string channel, const PgOptions& options);
  ~PgCoherence();
  PgCoherence(const PgCoherence&) = delete;
  PgCoherence& operator=(const PgCoherence&) = delete;

  // Stable only while the feed is settled, this node's lease is fresh, and this is the
  // process that took it (a forked child has no listener until restart_if_forked()).
  Coherence state() const noexcept;
  bool changes_since(std::uint64_t from, std::uint64_t to, std::vector<std::int64_t>* ids) const;
  // After a changing transaction committed `generation` (on `c`): applies it to this node
  // before returning; in strict mode also waits until every other node with a live lease
  // acknowledged it (or its lease ran out).
  void after_commit(PgConnection& c, std::uint64_t generation);
  // In a child after fork(): a new node id, a new listener. Cheap when not forked.
  void restart_if_forked();
  // fork_guard.h, in the child: apply_mu_ and restart_mu_ may be held by the parent's
  // listener or writers (across I/O): made anew; the listener thread is the parent's.
  void fork_child() noexcept;

 private:
  void apply_through(PgConnection& c);
  // Renews the lease acknowledging what is applied; returns that generation.
  std::uint64_t renew(PgConnection& c);
  void acknowledge(PgConnection& c);
  void cycle(PgConnection& c);
  void listen_run(std::unique_ptr<PgConnection> c);
  std::unique_ptr<PgConnection> listener_connect();
  void start();

  std::string conninfo_;
  std::string channel_;
  PgOptions options_;
  std::int64_t lease_ns_;
  std::unique_ptr<ChangeFeed> feed_;
  mutable std::mutex apply_mu_;
  std::uint64_t db_applied_ = 0;
  std::atomic<std::int64_t> deadline_ns_{0};
  std::string node_;
  std::atomic<std::uint64_t> forks_seen_{0};
  int wake_fd_ = -1;  // eventfd: wakes the listener to stop
  std::mutex restart_mu_;
  std::atomic<bool> stop_{false};
  std::thread* listener_ = nullptr;  // abandoned, never joined, in a forked child
};

}  // namespace tokenkeep
