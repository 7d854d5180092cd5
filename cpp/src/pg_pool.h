// The PostgreSQL repository's connections (pg_store.h): at most `size` per store, opened when a
// call needs one and none is idle, closed once idle longer than `idle_seconds`, so an idle
// worker holds none (docs/ARCHITECTURE.md, "Many hosts"). A call that finds all `size` busy
// waits for one to come back, at most kPgPoolWaitMs, then fails with StoreError: the pool
// never opens more. A server refusing a connection because it is full ("too many clients",
// common for a moment when a whole fleet misses the token that just changed) is waited out
// within the same budget: a connection of the store's own coming back, or a retry (5 ms
// doubling to 200 ms). Broken connections and ones inherited across fork() are dropped (an
// inherited one without a word to the server: pg_connection.h).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <string>
#include <vector>

#include "pg_connection.h"

namespace tokenkeep {

// The longest acquire() waits for a busy pool (a strict writer holds its connection while
// other nodes acknowledge, up to their lease; purge and listings up to 60 s).
inline constexpr int kPgPoolWaitMs = 5000;

class PgPool {
 public:
  // `size` >= 1; `idle_seconds` >= 0 (0: a connection is closed as soon as it is given back);
  // `prepare`: PgConnection's (false behind a transaction-mode pooler).
  PgPool(std::string conninfo, int size, double idle_seconds, bool prepare = true);
  ~PgPool();
  PgPool(const PgPool&) = delete;
  PgPool& operator=(const PgPool&) = delete;
  const std::string& conninfo() const { return conninfo_; }

  class Lease {
   public:
    Lease(PgPool& pool, std::unique_ptr<PgConnection> c) : pool_(pool), c_(std::move(c)) {}
    Lease(Lease&& o) noexcept : pool_(o.pool_), c_(std::move(o.c_)) {}
    ~Lease() {
      if (!c_) return;  // moved from
      c_->timeout_ms(kPgQueryTimeoutMs);
      pool_.give_back(std::move(c_));
    }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    PgConnection& operator*() { return *c_; }
    PgConnection* operator->() { return c_.get(); }

   private:
    PgPool& pool_;
    std::unique_ptr<PgConnection> c_;
  };
  // The most recently used idle connection; else a new one if fewer than `size` exist; else
  // waits (see above), as it does while the server is full. StoreError naming the server if
  // it cannot connect or the wait ends.
  Lease acquire();
  // For advisory background work (last-used times): an idle connection, or a new one if the
  // store has none; empty when every connection it has is busy (the work waits for the next
  // round), so background writes never add a connection beside the store's own calls.
  std::optional<Lease> acquire_spare();
  // A connection with the pool's settings that is not the pool's: its caller opens and closes
  // it (a warm start's one read), so verifications never find the store's connections taken
  // by it nor pay a connect for it. StoreError if it cannot connect (never waited out).
  std::unique_ptr<PgConnection> connect_apart() const;

  // Closes the connections idle longer than idle_seconds (the engine's background thread
  // calls this every 100 ms through TokenRepository::idle; give_back does it too).
  void idle_close();
  // Connections that exist now: idle, lent out, or being opened (tests).
  int open_count();

  // fork_guard.h: mu_ is short-held. In the child the idle connections are the parent's:
  // acquire() drops them (without a word to the server) as it finds them; the lent ones
  // belong to threads that do not exist there.
  void fork_prepare() noexcept { mu_.lock(); }
  void fork_parent() noexcept { mu_.unlock(); }
  void fork_child() noexcept;

 private:
  Lease open_counted();
  struct Idle {
    std::unique_ptr<PgConnection> c;
    std::int64_t since_ns;  // given back at (CLOCK_BOOTTIME)
  };
  void give_back(std::unique_ptr<PgConnection> c);
  // Under mu_: moves the connections idle since before `now_ns - idle_ns_` to `out` (closed
  // by the caller outside the lock).
  void stale_take(std::int64_t now_ns, std::vector<std::unique_ptr<PgConnection>>* out);

  const std::string conninfo_;
  const std::string where_;
  const int size_;
  const std::int64_t idle_ns_;
  const bool prepare_;
  std::mutex mu_;
  std::condition_variable cv_;  // a connection came back or stopped existing
  std::vector<Idle> idle_;      // oldest first
  int open_ = 0;
};

}  // namespace tokenkeep
