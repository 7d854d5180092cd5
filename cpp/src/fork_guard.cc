// The pthread_atfork handlers of fork_guard.h: one registry, locked across the fork.
#include "tokenkeep/fork_guard.h"

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <new>
#include <vector>

namespace tokenkeep {
namespace {

std::atomic<std::uint64_t> g_generation{0};

struct Registry {
  std::mutex mu;
  std::vector<ForkAware*> parts;
};

Registry& registry() {
  static Registry* r = new Registry;  // never destroyed: parts may unregister at exit
  return *r;
}

void on_prepare() {
  Registry& r = registry();
  r.mu.lock();
  for (ForkAware* p : r.parts) p->fork_prepare();
}

void on_parent() {
  Registry& r = registry();
  for (auto it = r.parts.rbegin(); it != r.parts.rend(); ++it) (*it)->fork_parent();
  r.mu.unlock();
}

void on_child() {
  g_generation.fetch_add(1, std::memory_order_relaxed);
  Registry& r = registry();
  for (auto it = r.parts.rbegin(); it != r.parts.rend(); ++it) (*it)->fork_child();
  new (&r.mu) std::mutex();  // locked in on_prepare by the thread that forked (another id here)
}

std::once_flag g_once;

}  // namespace

void fork_watch(ForkAware* part) {
  std::call_once(g_once, [] { pthread_atfork(on_prepare, on_parent, on_child); });
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  r.parts.push_back(part);
}

void fork_unwatch(ForkAware* part) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  r.parts.erase(std::remove(r.parts.begin(), r.parts.end(), part), r.parts.end());
}

std::uint64_t fork_generation() noexcept { return g_generation.load(std::memory_order_relaxed); }

}  // namespace tokenkeep
