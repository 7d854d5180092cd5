// One node's side of PostgreSQL cross-node coherence (pg_store.h, docs/ARCHITECTURE.md):
// the change feed the engine's cache follows, the background listener that applies other
// nodes' changes and renews the node's lease, and the strict-mode wait for acknowledgements
// after a change commits. Also the schema migration (pg_schema.cc).
// A node is a host (relay=True, the default): its feed, deadline and applied generation are
// the host's shared state (pg_host_relay.h), and the listener runs only in the process that
// holds the host's relay lock (every store runs a thread that waits for it). Or a process
// (relay=False): all three in this process's memory, its own listener.
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
#include "pg_host_relay.h"
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
  // listener thread. StoreError if the first lease cannot be taken. With `host`: the same if
  // this store wins the host's relay lock at once; otherwise only the thread that waits for
  // it (the host's relay keeps the shared state fresh).
  PgCoherence(std::string conninfo, std::string channel, const PgOptions& options,
              std::unique_ptr<PgHostState> host = nullptr);
  ~PgCoherence();
  PgCoherence(const PgCoherence&) = delete;
  PgCoherence& operator=(const PgCoherence&) = delete;

  // Stable only while the feed is settled, this node's lease is fresh, and this is the
  // process that took it (a forked child has no listener until restart_if_forked()); a
  // host's lease is the host's, whichever process renews it.
  Coherence state() const noexcept;
  bool changes_since(std::uint64_t from, std::uint64_t to, std::vector<std::int64_t>* ids) const;
  // After a changing transaction committed `generation` (on `c`): applies it to this node
  // before returning; in strict mode also waits until every other node with a live lease
  // acknowledged it (or its lease ran out).
  void after_commit(PgConnection& c, std::uint64_t generation);
  // In a child after fork(): a new node id, a new listener (a host's child: its own host
  // file descriptor and relay candidate). Cheap when not forked.
  void restart_if_forked();
  // A host's feed left unstable by a process that died announcing: settled, if no live
  // process holds the apply lock.
  void repair();
  // fork_guard.h, in the child: apply_mu_ and restart_mu_ may be held by the parent's
  // listener or writers (across I/O): made anew; the listener thread is the parent's.
  void fork_child() noexcept;

 private:
  // Holds apply_mu_ and, on a host, the host's apply lock (StoreError if a stopped process
  // holds that one).
  class ApplyLock;
  void apply_through(PgConnection& c);
  void feed_flush();  // announces "everything changed"
  std::string node() const { return host_ ? host_->node() : node_; }
  // Renews the lease acknowledging what is applied; returns that generation.
  std::uint64_t renew(PgConnection& c);
  void acknowledge(PgConnection& c);
  void cycle(PgConnection& c);
  void listen_run(std::unique_ptr<PgConnection> c);
  void leave(PgConnection& c);
  // A host's thread: waits for the relay lock, then is the listener until the store closes.
  void relay_run(std::unique_ptr<PgConnection> c);
  bool relay_take();
  std::unique_ptr<PgConnection> listener_connect();
  void start();

  std::string conninfo_;
  std::string channel_;
  PgOptions options_;
  std::int64_t lease_ns_;
  std::unique_ptr<PgHostState> host_;  // null: this process is its own node
  const bool shared_;                  // host_ != nullptr
  std::unique_ptr<ChangeFeed> own_feed_;
  std::atomic<std::int64_t> own_deadline_ns_{0};
  std::atomic<std::uint64_t> own_applied_{0};
  // This process's, or the host's shared ones.
  ChangeFeed* feed_;
  std::atomic<std::int64_t>* deadline_ns_;
  std::atomic<std::uint64_t>* applied_;
  mutable std::mutex apply_mu_;
  std::string node_;  // a process node's row
  std::atomic<std::uint64_t> forks_seen_{0};
  int wake_fd_ = -1;  // eventfd: wakes the listener to stop
  std::mutex restart_mu_;
  std::atomic<bool> stop_{false};
  std::thread* listener_ = nullptr;  // abandoned, never joined, in a forked child
};

}  // namespace tokenkeep
