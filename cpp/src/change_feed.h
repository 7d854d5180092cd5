// Cross-process change notification for cached token records (the cache-coherence design).
//
// Two counters and a ring of recently changed ids live in shared memory: a file beside the
// database, mapped by every process that opens it. A writer, while it holds the database's
// write lock, announces the ids it is about to change (write_begin: ring slots, then
// `started` += n) and, after its commit, publishes `finished` = `started`. A reader compares
// the counters on every verify (two loads):
//   started == finished == what it applied   -> its cache is current
//   started == finished, moved on             -> drop the announced ids (or all), then current
//   started != finished                       -> a write is in flight, or its writer died
//                                                 between begin and finish: bypass the cache
// A writer killed mid-way is repaired by the next writer (it holds the write lock, so the
// dead writer's transaction is settled) or by a reader that takes the write lock briefly.
// A read-only reader cannot take it: instead a writer holds an OFD lock on the feed file from
// write_begin to write_finish, which the kernel drops when the writer dies, so a read-only
// reader that finds the feed unstable and the lock free treats those generations as settled
// for itself (one fcntl per death, not per verify). Every writer must be of this version.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tokenkeep/store_location.h"

namespace tokenkeep {

class ChangeFeed {
 public:
  // Id meaning "everything changed" (purge, or more ids than the ring holds).
  static constexpr std::int64_t kAll = 0;

  struct State {
    std::uint64_t started = 0;
    std::uint64_t finished = 0;
    bool stable() const noexcept { return started == finished; }
    bool operator==(const State& o) const noexcept { return started == o.started && finished == o.finished; }
  };

  virtual ~ChangeFeed() = default;
  virtual State state() const noexcept = 0;
  // Writer side; the caller holds the database write lock from write_begin to commit.
  virtual void write_begin(const std::vector<std::int64_t>& ids) noexcept = 0;
  virtual void write_finish() noexcept = 0;
  // Marks every begun write finished; the caller holds the database write lock.
  virtual void repair() noexcept = 0;
  // Appends the ids announced in generations (from, to]. False if some are no longer in the
  // ring (or kAll was announced): the reader must drop everything.
  virtual bool changes(std::uint64_t from, std::uint64_t to,
                       std::vector<std::int64_t>* ids) const noexcept = 0;
  // False if this feed cannot publish or observe other processes (a reader must not cache).
  virtual bool usable() const noexcept = 0;
};

// The feed of the store at `location`: shared memory in location.feed_file (created 0600,
// owned like the database), or process-private memory for an in-memory store. A writable
// store that cannot open it for writing fails with StoreError; a read-only store that cannot
// map it just does not cache.
std::unique_ptr<ChangeFeed> change_feed_open(const StoreLocation& location, bool read_only);

}  // namespace tokenkeep
