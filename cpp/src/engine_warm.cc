// Warm start (engine.h, EngineOptions::warm_start): a store opened on a database that already
// holds tokens loads its working set into the cache in the background, so a restarted worker
// answers its users' tokens from memory from the first requests instead of one miss each.
//
// Coherence: exactly a cache miss's rule (Engine::token_load), applied to each row. The load
// first brings the cache up to the published generation g (cache_current), then reads in one
// snapshot that begins after that; a row enters the cache only while the repository still
// reports {g, stable} and the cache has applied g, checked under the shard lock. A change
// announced after g is announced before it commits, so either the row was inserted before
// the announcement (and the next verify's cache_current erases it) or the check refuses it.
// A refusal ends that pass; the load starts again from the new generation (at most
// kWarmPasses times), skipping ids already cached. Warm inserts never replace or evict.
#include <chrono>
#include <unordered_map>

#include "thread_name.h"
#include "tokenkeep/engine.h"

namespace tokenkeep {
namespace {
constexpr int kWarmPasses = 4;
}  // namespace

void Engine::warm_run() {
  thread_name("tk-warm");
  const std::int64_t now = clock_->now_us();
  for (int pass = 0; pass < kWarmPasses && !warm_stop_.load(); ++pass) {
    bool complete = false;
    try {
      complete = warm_load_once(now);
    } catch (const Error&) {
      complete = true;  // best effort: what could not be read is left to misses
    }
    if (complete) break;
    std::lock_guard<std::mutex> lock(warm_mu_);
    ++warm_state_.restarts;
  }
  {
    std::lock_guard<std::mutex> lock(warm_mu_);
    warm_state_.done = true;
  }
  warm_cv_.notify_all();
}

// One pass; false if a change was published meanwhile (the rest of the pass is discarded).
bool Engine::warm_load_once(std::int64_t now) {
  Coherence state;
  for (int waited = 0; !cache_current(&state, true); ++waited) {
    // A write in flight: its writer publishes within milliseconds (or is repaired).
    if (waited >= 100 || warm_stop_.load()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  bool moved = false;
  std::unordered_map<std::string, ScopeMask> masks;  // bulk-created tokens share scope sets
  std::vector<CachedTokenPtr> displaced;             // stays empty: warm inserts never displace
  repo_->tokens_recent(now - options_.warm_window_us, now, cache_.capacity(), &warm_stop_,
                       [&](std::vector<TokenRecord>& chunk) {
                         std::size_t loaded = 0;
                         for (const auto& rec : chunk) {
                           const Pepper* pepper = peppers_.find(rec.pepper_id);
                           if (pepper == nullptr) continue;  // a verify would refuse it anyway
                           const std::string joined = scopes_join(rec.scopes);
                           auto m = masks.find(joined);
                           if (m == masks.end()) {
                             ScopeMask granted = 0;
                             try {
                               granted = vocabulary_.mask_of(rec.scopes);
                             } catch (const Error&) {
                               granted =
                                   0;  // as token_load: a scope no longer in the vocabulary grants nothing
                             }
                             m = masks.emplace(joined, granted).first;
                           }
                           auto t = std::make_shared<const CachedToken>(rec, m->second, pepper);
                           const bool in = cache_.insert(
                               t,
                               [&] {
                                 if (repo_->coherence() == state &&
                                     applied_.load(std::memory_order_acquire) == state.generation)
                                   return true;
                                 moved = true;
                                 return false;
                               },
                               &displaced, true);
                           if (moved) break;
                           if (in) ++loaded;
                         }
                         {
                           std::lock_guard<std::mutex> lock(warm_mu_);
                           warm_state_.loaded += loaded;
                         }
                         return !moved && !warm_stop_.load();
                       });
  return !moved;
}

void Engine::warm_stop() {
  warm_stop_.store(true);
  if (warm_thread_.joinable()) warm_thread_.join();
}

WarmStatus Engine::warm_status() const {
  std::lock_guard<std::mutex> lock(warm_mu_);
  return warm_state_;
}

WarmStatus Engine::warm_wait(std::int64_t timeout_us) const {
  std::unique_lock<std::mutex> lock(warm_mu_);
  warm_cv_.wait_for(lock, std::chrono::microseconds(timeout_us), [&] { return warm_state_.done; });
  return warm_state_;
}

}  // namespace tokenkeep
