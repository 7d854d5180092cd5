// Concurrent cache misses of one token on one PostgreSQL store share one read (issue 20): at a
// revoke every verifying thread of every worker misses the same token at once, and each read
// took a pool connection of its own (60 workers x 3 threads filled a 100-connection server).
// A caller joins a read in flight only if that read began while this node was stable at the
// very generation the caller observes now: every change that returned before the caller
// started was applied to the node's feed before it returned, so before that read began, after
// the change's commit - the read sees it, as the caller's own would (docs/ARCHITECTURE.md).
#pragma once

#include <cstddef>
#include <cstdint>
#include <exception>
#include <future>
#include <mutex>
#include <new>
#include <optional>
#include <unordered_map>

#include "tokenkeep/token_repository.h"

namespace tokenkeep {

class PgMissFlights {
 public:
  using Result = std::optional<TokenRecord>;

  // read(): the lookup itself. `now`: the node's coherence observed by this caller, before
  // anything else. Returns read()'s result, or a joined flight's (its exception rethrown).
  template <typename Read>
  Result run(std::int64_t id, Coherence now, Read read) {
    std::optional<std::promise<Result>> mine;  // a promise's shared state is a heap block: the leader's only
    {
      std::unique_lock<std::mutex> lock(mu_);
      auto it = flights_.find(id);
      if (it != flights_.end()) {
        if (now.stable && it->second.generation == now.generation) {
          ++it->second.joiners;
          std::shared_future<Result> joined = it->second.result;
          lock.unlock();
          return joined.get();
        }
      } else if (now.stable) {
        mine.emplace();
        flights_.emplace(id, Flight{now.generation, mine->get_future().share()});
      }
    }
    if (!mine) return read();
    try {
      Result r = read();
      // Nobody can join once landed: with no joiner, no copy of the record for the promise.
      if (land(id)) mine->set_value(r);
      return r;
    } catch (...) {
      land(id);
      mine->set_exception(std::current_exception());
      throw;
    }
  }

  // fork_guard.h: mu_ is short-held; in the child the flights are the parent's threads'.
  void fork_prepare() noexcept { mu_.lock(); }
  void fork_parent() noexcept { mu_.unlock(); }
  void fork_child() noexcept {
    new (&mu_) std::mutex();
    flights_.clear();
  }

 private:
  struct Flight {
    std::uint64_t generation;
    std::shared_future<Result> result;
    std::size_t joiners = 0;
  };
  // True if another caller joined the flight (and waits for its result).
  bool land(std::int64_t id) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = flights_.find(id);             // the leader's own: nobody inserts while one is in flight
    if (it == flights_.end()) return false;  // fork_child() cleared it (defensive)
    const bool joined = it->second.joiners > 0;
    flights_.erase(it);
    return joined;
  }
  std::mutex mu_;
  std::unordered_map<std::int64_t, Flight> flights_;
};

}  // namespace tokenkeep
