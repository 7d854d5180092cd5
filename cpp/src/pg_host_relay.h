// One host's shared coherence state for a PostgreSQL store (docs/ARCHITECTURE.md, "Many
// hosts"): the processes of one host that open one store share, in files of a runtime folder,
// a change feed, the host's trust deadline and the generation applied to that feed, and elect
// one of them the relay by a lock on a file. The relay alone LISTENs, holds the host's lease
// row and acknowledges for the host; the others read the feed and the deadline on every
// verify (shared memory, as the SQLite store's processes do) and hold no listener.
//
// The files, 0600 in a folder of this user that no one else may write (pg_runtime_dir):
//   pg-<key>-feed   the host's ChangeFeed (change_feed.h)
//   pg-<key>-host   HostShared (below). Locks on it, all dropped by the kernel when their
//                   holder dies: flock(LOCK_EX) = the relay; OFD byte 0, read-locked by every
//                   open store ("users"; write-locked by the last one leaving); OFD byte 1 =
//                   the apply lock, held while the feed and `applied` are written (no I/O).
// <key> hashes the server's system identifier, the database and the schema, so different
// databases never share the files. They are kept after the last store closes (as a SQLite
// store's -tkfeed): a new relay starts from what they say.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "change_feed.h"

namespace tokenkeep {

// The folder of the host files: `configured` if not empty, else $TOKENKEEP_RUNTIME_DIR, else
// $XDG_RUNTIME_DIR/tokenkeep, else /tmp/tokenkeep-<uid>; the last two are created 0700 if
// missing. StoreError (naming the folder and the fix) if it is not a directory of this user
// (or root) that group and others cannot write, or cannot be created.
std::string pg_runtime_dir(const std::string& configured);

// The layout of pg-<key>-host: lock-free 8-byte atomics only, zero in a new file.
struct PgHostShared {
  std::uint64_t version;                   // 0 in a new file (unused yet)
  std::atomic<std::int64_t> deadline_ns;   // the host's trust, on CLOCK_BOOTTIME (system-wide)
  std::atomic<std::uint64_t> applied;      // the database generation the feed has announced
  std::atomic<std::int64_t> relay_pid;     // the relay's process id (diagnostics and tests)
  std::atomic<std::uint64_t> relay_terms;  // how many times a relay took over
  std::atomic<std::uint64_t> node_set;     // 1 once `node` is written (release)
  char node[48];                           // the host's row in tokenkeep_nodes, made by a relay
};
static_assert(std::atomic<std::int64_t>::is_always_lock_free, "shared atomics");

class PgHostState {
 public:
  // Opens (creating them if missing) the host files of the store named by `identity` in
  // `dir`, and read-locks byte 0 as a user (waiting while a last user is leaving).
  PgHostState(const std::string& dir, const std::string& identity);
  ~PgHostState();  // drops this store's locks (closing its descriptor), never the files
  PgHostState(const PgHostState&) = delete;
  PgHostState& operator=(const PgHostState&) = delete;

  ChangeFeed& feed() noexcept { return *feed_; }
  PgHostShared& shared() noexcept { return *s_; }
  const std::string& path() const noexcept { return path_; }
  // The host's row name, "" until a relay made one.
  std::string node() const;

  // flock(LOCK_EX | LOCK_NB): true if this store is now the relay. A new relay records its
  // pid and, on the first term ever, a random row name.
  bool relay_try();
  void relay_release() noexcept;
  // While the apply lock is held, nobody is between announcing on the feed and publishing.
  // False if another process held it for `timeout_ms` (it is stopped, say by SIGSTOP, in
  // the middle of an announcement: the feed is unstable meanwhile, so nobody trusts it).
  bool apply_lock(int timeout_ms) noexcept;
  void apply_unlock() noexcept;
  // Converts this store's user lock to a write lock if no other store holds one: true if this
  // is the last store of the host (others then wait in the constructor until it is gone).
  bool last_user_claim() noexcept;

  // fork_guard.h, in the child: its copy of the descriptor shares the parent's locks (the
  // relay's flock among them): closed, so that the parent's death releases them.
  void fork_child() noexcept;
  // In a child after fork_child(): a descriptor and a user lock of its own.
  void reopen();

 private:
  int open_locked();

  std::string path_;
  std::string dir_;
  std::unique_ptr<ChangeFeed> feed_;
  PgHostShared* s_ = nullptr;
  int fd_ = -1;
};

}  // namespace tokenkeep
