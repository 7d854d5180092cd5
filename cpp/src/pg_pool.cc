#include "pg_pool.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>

#include "tokenkeep/clock.h"
#include "tokenkeep/errors.h"

namespace tokenkeep {

PgPool::PgPool(std::string conninfo, int size, double idle_seconds, bool prepare)
    : conninfo_(std::move(conninfo)),
      where_(pg_describe(conninfo_)),
      size_(std::max(1, size)),
      idle_ns_(static_cast<std::int64_t>(std::llround(std::max(0.0, idle_seconds) * 1e9))),
      prepare_(prepare) {}

PgPool::~PgPool() = default;

namespace {

// The server refused a connection for want of a slot (SQLSTATE 53300: max_connections, or the
// slots reserved for superusers). libpq gives no SQLSTATE for a failed connection, so the
// server's English message is matched (a server whose lc_messages translates it fails at once,
// as before).
bool out_of_slots(const char* what) {
  return std::strstr(what, "too many clients") != nullptr ||
         std::strstr(what, "connection slots are reserved") != nullptr;
}

}  // namespace

PgPool::Lease PgPool::acquire() {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kPgPoolWaitMs);
  auto pause = std::chrono::milliseconds(5);
  for (;;) {
    std::vector<std::unique_ptr<PgConnection>> dropped;  // closed outside the lock
    {
      std::unique_lock<std::mutex> lock(mu_);
      for (;;) {
        while (!idle_.empty()) {
          std::unique_ptr<PgConnection> c = std::move(idle_.back().c);
          idle_.pop_back();
          if (!c->inherited() && !c->broken()) return Lease(*this, std::move(c));
          // Inherited (after fork) or broken: dropped (the destructor knows which is which).
          dropped.push_back(std::move(c));
          open_ = std::max(0, open_ - 1);
        }
        if (open_ < size_) {
          ++open_;
          break;
        }
        if (cv_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty() && open_ >= size_) {
          fail(ErrorCode::kStoreError, "cannot use " + where_ + ": all " + std::to_string(size_) +
                                           " connections of this store (pool_size) stayed busy for " +
                                           std::to_string(kPgPoolWaitMs / 1000) + " s");
        }
      }
    }
    dropped.clear();
    try {
      return open_counted();
    } catch (const Error& e) {
      // A full server is a moment of a burst (every worker of a fleet missing the token that
      // just changed): one of our own connections coming back, or a slot freed on the server
      // within the same budget, serves the call. Any other failure is reported at once.
      if (!out_of_slots(e.what()) || std::chrono::steady_clock::now() + pause >= deadline) throw;
    }
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, pause, [this] { return !idle_.empty(); });
    }
    pause = std::min(pause * 2, std::chrono::milliseconds(200));
  }
}

// Opens the connection the caller already counted in open_ (under the lock); if the connect
// fails, uncounts it and wakes a waiter.
PgPool::Lease PgPool::open_counted() {
  try {
    return Lease(*this, std::make_unique<PgConnection>(conninfo_, prepare_));
  } catch (...) {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = std::max(0, open_ - 1);
    cv_.notify_one();
    throw;
  }
}

std::optional<PgPool::Lease> PgPool::acquire_spare() {
  std::vector<std::unique_ptr<PgConnection>> dropped;  // closed outside the lock
  {
    std::lock_guard<std::mutex> lock(mu_);
    while (!idle_.empty()) {
      std::unique_ptr<PgConnection> c = std::move(idle_.back().c);
      idle_.pop_back();
      if (!c->inherited() && !c->broken()) return Lease(*this, std::move(c));
      dropped.push_back(std::move(c));
      open_ = std::max(0, open_ - 1);
    }
    if (open_ > 0) return std::nullopt;  // all busy: not one more for background work
    ++open_;
  }
  dropped.clear();
  return open_counted();
}

std::unique_ptr<PgConnection> PgPool::connect_apart() const {
  return std::make_unique<PgConnection>(conninfo_, prepare_);
}

void PgPool::give_back(std::unique_ptr<PgConnection> c) {
  std::vector<std::unique_ptr<PgConnection>> closing;  // closed outside the lock
  const bool keep = c && !c->broken() && !c->inherited() && PQtransactionStatus(c->handle()) == PQTRANS_IDLE;
  if (!keep) closing.push_back(std::move(c));
  std::lock_guard<std::mutex> lock(mu_);
  const std::int64_t now = boot_ns();
  if (keep) {
    idle_.push_back(Idle{std::move(c), now});
  } else {
    open_ = std::max(0, open_ - 1);
  }
  stale_take(now, &closing);
  cv_.notify_one();
  // `closing` is destroyed after the lock is released (declared before it).
}

void PgPool::stale_take(std::int64_t now_ns, std::vector<std::unique_ptr<PgConnection>>* out) {
  auto fresh =
      std::find_if(idle_.begin(), idle_.end(), [&](const Idle& i) { return now_ns - i.since_ns < idle_ns_; });
  for (auto it = idle_.begin(); it != fresh; ++it) out->push_back(std::move(it->c));
  open_ = std::max(0, open_ - static_cast<int>(fresh - idle_.begin()));
  idle_.erase(idle_.begin(), fresh);
}

void PgPool::idle_close() {
  std::vector<std::unique_ptr<PgConnection>> closing;  // closed outside the lock
  std::lock_guard<std::mutex> lock(mu_);
  stale_take(boot_ns(), &closing);
}

int PgPool::open_count() {
  std::lock_guard<std::mutex> lock(mu_);
  return open_;
}

void PgPool::fork_child() noexcept {
  new (&mu_) std::mutex();
  new (&cv_) std::condition_variable();
  open_ = static_cast<int>(idle_.size());
}

}  // namespace tokenkeep
