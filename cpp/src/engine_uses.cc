// The engine's recorded uses and its background thread (engine.h): uses displaced from the
// cache, the flush that persists last-used times and scope uses in one transaction, the
// flusher thread, and what the engine does around fork() (fork_guard.h). The hot path's own
// part, use_record(), stays in engine.cc beside verify.
#include <chrono>
#include <new>

#include "thread_name.h"
#include "tokenkeep/engine.h"

namespace tokenkeep {

void Engine::uses_park(std::vector<CachedTokenPtr>* displaced) {
  std::vector<std::pair<std::int64_t, std::int64_t>> unsaved;
  std::vector<ScopeUse> scopes;
  std::vector<ClientUse> clients;
  for (const auto& t : *displaced) {
    const std::int64_t used = t->used_us.load(std::memory_order_relaxed);
    if (used > t->persisted_us.load(std::memory_order_relaxed)) {
      unsaved.emplace_back(t->id, used);
      clients_take(*t, &clients);
    }
    scope_uses_take(*t, &scopes);
  }
  displaced->clear();
  if (unsaved.empty() && scopes.empty()) return;
  std::lock_guard<std::mutex> lock(uses_mu_);
  uses_parked_.insert(uses_parked_.end(), unsaved.begin(), unsaved.end());
  scopes_parked_.insert(scopes_parked_.end(), scopes.begin(), scopes.end());
  if (clients_parked_.size() < kClientsParkedMax)
    clients_parked_.insert(clients_parked_.end(), clients.begin(), clients.end());
}

void Engine::uses_overlay(TokenRecord* r) const {
  std::int64_t used = 0;
  if (auto t = cache_.find(r->id)) used = t->used_us.load(std::memory_order_relaxed);
  {
    std::lock_guard<std::mutex> lock(uses_mu_);
    auto it = uses_loose_.find(r->id);
    if (it != uses_loose_.end() && it->second.used_us > used) used = it->second.used_us;
  }
  if (used != 0 && (!r->last_used_at || *r->last_used_at < used)) r->last_used_at = used;
}

void Engine::uses_flush() { uses_write(true); }

// `everything`: also the tokens waiting in uses_later_ (uses_flush, closing); the background
// thread passes false and promotes only those that are due (uses_promote_due).
void Engine::uses_write(bool everything) {
  // One flush at a time: a caller that finds the background thread mid-write waits for it,
  // so "persisted when uses_flush() returns" holds for every use recorded before the call.
  std::lock_guard<std::mutex> flushing(flush_mu_);
  std::vector<CachedTokenPtr> dirty;
  std::vector<std::pair<std::int64_t, std::int64_t>> uses;
  std::vector<ScopeUse> scopes;
  std::unordered_map<std::int64_t, LooseUse> loose;
  std::vector<ClientUse> clients;
  {
    std::lock_guard<std::mutex> lock(uses_mu_);
    dirty.swap(uses_dirty_);
    uses.swap(uses_parked_);
    scopes.swap(scopes_parked_);
    loose.swap(uses_loose_);
    clients.swap(clients_parked_);
    if (everything) {
      dirty.insert(dirty.end(), uses_later_.begin(), uses_later_.end());
      uses_later_.clear();
    }
  }
  // Loose uses (use_record_loose) go as parked ones: last_used_at when due, as for a cached
  // token (the first use, then at most once per interval), and every scope that was used.
  for (const auto& [id, u] : loose) {
    if (u.used_us > u.persisted_us &&
        (u.persisted_us == 0 || u.used_us - u.persisted_us >= options_.last_used_interval_us)) {
      uses.emplace_back(id, u.used_us);
    }
    for (auto& scope : vocabulary_.actions_of(u.window))
      scopes.push_back(ScopeUse{id, std::move(scope), u.used_us});
  }
  if (flusher_stopping_) {
    // Closing: everything recorded, due or not.
    cache_.for_each([&](const CachedTokenPtr& t) {
      if (t->used_us.load() > t->persisted_us.load() || t->scopes_window.load() != 0) dirty.push_back(t);
    });
  }
  const std::size_t parked = uses.size();
  const std::size_t clients_parked = clients.size();
  for (const auto& t : dirty) {
    uses.emplace_back(t->id, t->used_us.load(std::memory_order_relaxed));
    scope_uses_take(*t, &scopes);
    clients_take(*t, &clients);
  }
  if (uses.empty() && scopes.empty() && clients.empty()) return;
  try {
    repo_->tokens_touch(uses);
    repo_->scopes_touch(scopes);
    repo_->clients_touch(clients);
  } catch (const Error&) {
    std::lock_guard<std::mutex> lock(uses_mu_);  // keep them for the next round
    clients_parked_.insert(clients_parked_.end(), clients.begin(),
                           clients.begin() + static_cast<std::ptrdiff_t>(clients_parked));
    uses_parked_.insert(uses_parked_.end(), uses.begin(), uses.begin() + static_cast<std::ptrdiff_t>(parked));
    // A token's scope bits taken above go back as parked rows (its window may hold new ones).
    scopes_parked_.insert(scopes_parked_.end(), scopes.begin(), scopes.end());
    uses_dirty_.insert(uses_dirty_.end(), dirty.begin(), dirty.end());
    throw;
  }
  for (std::size_t i = 0; i < dirty.size(); ++i) {
    const auto& t = dirty[i];
    t->persisted_us.store(uses[parked + i].second, std::memory_order_relaxed);
    t->flush_queued.store(false);
    // A fresh snapshot, so that callers caching per snapshot (the Python TokenInfo of a
    // verify) see the new last_used_at; at most once per token per interval.
    cache_.replace(t, std::make_shared<const CachedToken>(*t));
  }
}

// The background thread: every 100 ms lets the repository release what it holds between
// calls (the reader's snapshot, so the WAL can be checkpointed), and about once a second
// persists the recorded uses that are due, in one transaction.
void Engine::flusher_run() {
  thread_name("tk-flush");
  std::unique_lock<std::mutex> lock(uses_mu_);
  auto last_flush = std::chrono::steady_clock::now();
  while (!flusher_stopping_) {
    uses_cv_.wait_for(lock, std::chrono::milliseconds(100));
    if (flusher_stopping_) break;
    lock.unlock();
    repo_->idle();
    lock.lock();
    const auto now = std::chrono::steady_clock::now();
    if (now - last_flush < std::chrono::seconds(1)) continue;
    uses_promote_due();
    if (uses_dirty_.empty() && uses_parked_.empty() && uses_loose_.empty() && clients_parked_.empty())
      continue;
    last_flush = now;
    lock.unlock();
    try {
      uses_write(false);
    } catch (const Error&) {
      // Busy or read-only: the uses stay in memory and are retried on the next round.
    }
    lock.lock();
  }
}

// Called with uses_mu_ held: tokens waiting in uses_later_ whose persist is due join uses_dirty_.
void Engine::uses_promote_due() {
  const std::int64_t now = clock_->now_us();
  auto due = std::stable_partition(uses_later_.begin(), uses_later_.end(), [&](const CachedTokenPtr& t) {
    return now - t->persisted_us.load(std::memory_order_relaxed) < options_.last_used_interval_us;
  });
  uses_dirty_.insert(uses_dirty_.end(), due, uses_later_.end());
  uses_later_.erase(due, uses_later_.end());
}

void Engine::flusher_stop() {
  {
    std::lock_guard<std::mutex> lock(uses_mu_);
    flusher_stopping_ = true;
  }
  uses_cv_.notify_all();
  if (flusher_.joinable()) flusher_.join();
}

// Under uses_mu_. The child's own flusher, started on its first recorded use.
void Engine::flusher_ensure() {
  if (flusher_stopping_ || flusher_.joinable()) return;
  flusher_fork_ = fork_generation();
  flusher_ = std::thread([this] { flusher_run(); });
}

void Engine::fork_prepare() noexcept {
  apply_mu_.lock();
  cache_.lock_all();
  uses_mu_.lock();
  repo_->fork_prepare();
}

void Engine::fork_parent() noexcept {
  repo_->fork_parent();
  uses_mu_.unlock();
  cache_.unlock_all();
  apply_mu_.unlock();
}

void Engine::fork_child() noexcept {
  repo_->fork_child();
  // The parent's flusher does not exist here: its handle is forgotten (joining or detaching
  // it would act on a thread of another process), and what it may have held or waited on is
  // made anew. Its work (uses_dirty_) is intact: uses_mu_ was held across the fork.
  if (flusher_.joinable()) new (&flusher_) std::thread();
  // Nor does the warm start's: the child keeps what it loaded and loads no more.
  if (warm_thread_.joinable()) new (&warm_thread_) std::thread();
  new (&warm_mu_) std::mutex();
  new (&warm_cv_) std::condition_variable();
  warm_state_.done = true;
  // Every lock is made anew rather than unlocked: the child's thread has another id.
  new (&flush_mu_) std::mutex();
  new (&uses_cv_) std::condition_variable();
  new (&uses_mu_) std::mutex();
  cache_.locks_renew();
  new (&apply_mu_) std::mutex();
}

}  // namespace tokenkeep
