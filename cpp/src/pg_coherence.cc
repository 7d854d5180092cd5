#include "pg_coherence.h"

#include <poll.h>
#include <pthread.h>
#include <sodium.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <new>

#include "thread_name.h"
#include "tokenkeep/clock.h"
#include "tokenkeep/errors.h"
#include "tokenkeep/fork_guard.h"
#include "tokenkeep/store_location.h"

namespace tokenkeep {
namespace {

std::string node_id_new() {
  unsigned char b[12];
  randombytes_buf(b, sizeof b);
  static const char* const kDigits = "0123456789abcdef";
  std::string out = std::to_string(::getpid()) + "-";
  for (unsigned char c : b) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

// "{1,2,3}" -> ids
void parse_ids(const std::string& text, std::vector<std::int64_t>* ids) {
  std::size_t i = 0;
  while (i < text.size()) {
    if (text[i] == '-' || (text[i] >= '0' && text[i] <= '9')) {
      std::size_t used = 0;
      ids->push_back(std::stoll(text.substr(i), &used));
      i += used;
    } else {
      ++i;
    }
  }
}

}  // namespace

std::string pg_channel_of(const std::string& schema) {
  std::size_t n = std::min<std::size_t>(schema.size(), 50);
  while (n > 0 && n < schema.size() && (static_cast<unsigned char>(schema[n]) & 0xC0) == 0x80) --n;
  return "tokenkeep_" + schema.substr(0, n);
}

PgCoherence::PgCoherence(std::string conninfo, std::string channel, const PgOptions& options,
                         std::unique_ptr<PgHostState> host)
    : conninfo_(std::move(conninfo)),
      channel_(std::move(channel)),
      options_(options),
      lease_ns_(static_cast<std::int64_t>(options.lease_seconds * 1e9)),
      host_(std::move(host)),
      shared_(host_ != nullptr) {
  pg_options_check(options);
  if (shared_) {
    feed_ = &host_->feed();
    deadline_ns_ = &host_->shared().deadline_ns;
    applied_ = &host_->shared().applied;
  } else {
    own_feed_ = change_feed_open(StoreLocation{}, false);  // process-private memory
    feed_ = own_feed_.get();
    deadline_ns_ = &own_deadline_ns_;
    applied_ = &own_applied_;
  }
  forks_seen_ = fork_generation();
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) fail(ErrorCode::kStoreError, "cannot create an eventfd for the PostgreSQL listener");
  try {
    start();
  } catch (...) {
    ::close(wake_fd_);
    throw;
  }
}

PgCoherence::~PgCoherence() {
  stop_.store(true);
  const std::uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof one);
  if (listener_ && forks_seen_.load() == fork_generation()) {
    listener_->join();
    delete listener_;
  }
  ::close(wake_fd_);
  // The last store of a host whose relay is gone: nobody renews, so nobody may trust.
  if (shared_ && host_->last_user_claim()) deadline_ns_->store(0, std::memory_order_release);
}

void PgCoherence::start() {
  std::unique_ptr<PgConnection> c;
  if (!shared_) {
    node_ = node_id_new();
    c = listener_connect();
    cycle(*c);
    listener_ =
        new std::thread([this, conn = c.release()] { listen_run(std::unique_ptr<PgConnection>(conn)); });
    return;
  }
  // A host: the first store takes the relay's part at once (and fails to open if it cannot
  // take the lease, as a process node does); the others wait for it in the background.
  if (relay_take()) {
    try {
      c = listener_connect();
      cycle(*c);
    } catch (...) {
      host_->relay_release();
      throw;
    }
  }
  listener_ = new std::thread([this, conn = c.release()] { relay_run(std::unique_ptr<PgConnection>(conn)); });
}

// Becomes the host's relay if no live process is. The previous relay's deadline was set for
// its lease, not this one's: withdrawn until this relay's first renewal. A process that died
// announcing left the feed unstable: settled.
bool PgCoherence::relay_take() {
  if (!host_->relay_try()) return false;
  deadline_ns_->store(0, std::memory_order_release);
  try {
    repair();
  } catch (const Error&) {
    // A stopped process holds the apply lock: the feed stays unstable until it goes on.
  }
  return true;
}

void PgCoherence::relay_run(std::unique_ptr<PgConnection> c) {
  thread_name("tk-relay");
  bool relay = c != nullptr;
  while (!stop_.load()) {
    if (!relay) {
      relay = relay_take();
      if (!relay) {
        pollfd pfd = {wake_fd_, POLLIN, 0};
        ::poll(&pfd, 1, 100);  // a dead relay's lock is free at once: taken within 100 ms
        continue;
      }
    }
    listen_run(std::move(c));  // until the store closes
  }
}

std::unique_ptr<PgConnection> PgCoherence::listener_connect() {
  auto c = std::make_unique<PgConnection>(conninfo_);
  // Renewals commit durably (PgConnection: synchronous_commit is never off): the node trusts
  // its cache once its renewal's COMMIT returns, and writers stop waiting for it when
  // lease_until passes, so lease_until must never go back in a crash (an asynchronous commit
  // lost with the WAL writer's buffer would take it back by up to its delay).
  char* quoted = PQescapeIdentifier(c->handle(), channel_.data(), channel_.size());
  if (quoted == nullptr) fail(ErrorCode::kStoreError, "cannot quote the channel name for " + c->where());
  // Named, so that an operator (and a test) can count the listeners in pg_stat_activity.
  const std::string listen = std::string("SET application_name TO 'tokenkeep listener'; LISTEN ") + quoted;
  PQfreemem(quoted);
  c->exec(listen.c_str(), "cannot listen on");
  return c;
}

Coherence PgCoherence::state() const noexcept {
  return pg_coherence_snapshot(*feed_, *deadline_ns_, boot_ns,
                               shared_ || fork_generation() == forks_seen_.load(std::memory_order_relaxed));
}

bool PgCoherence::changes_since(std::uint64_t from, std::uint64_t to, std::vector<std::int64_t>* ids) const {
  return feed_->changes(from, to, ids);
}

class PgCoherence::ApplyLock {
 public:
  // Only memory is written under it: held for 100 ms means its holder is stopped.
  explicit ApplyLock(const PgCoherence& c, int timeout_ms = 100) : c_(c), lock_(c.apply_mu_) {
    if (c_.shared_ && !c_.host_->apply_lock(timeout_ms)) {
      fail(ErrorCode::kStoreError, "the host's change feed " + c_.host_->path() +
                                       " is held by a stopped process; caches are not trusted meanwhile");
    }
  }
  ~ApplyLock() {
    if (c_.shared_) c_.host_->apply_unlock();
  }
  ApplyLock(const ApplyLock&) = delete;
  ApplyLock& operator=(const ApplyLock&) = delete;

 private:
  const PgCoherence& c_;
  std::lock_guard<std::mutex> lock_;
};

// Reads the counter and every change after what this node applied, in one statement (one
// snapshot: the counter and the changes rows of one transaction are seen together), and
// announces their ids on the feed - those not announced meanwhile by another thread, or on a
// host by another process: the feed, then `applied`, are written under the apply lock.
void PgCoherence::apply_through(PgConnection& c) {
  const std::uint64_t from = applied_->load(std::memory_order_acquire);
  PgParams p;
  p.add(static_cast<std::int64_t>(from));
  PgResult r = c.query(
      "SELECT g.generation, ch.generation, ch.ids FROM tokenkeep_generation g "
      "LEFT JOIN tokenkeep_changes ch ON ch.generation > $1 AND ch.generation <= g.generation "
      "ORDER BY ch.generation",
      p, "cannot read the changes of");
  if (r.rows() == 0) return;
  const auto current = static_cast<std::uint64_t>(r.i64(0, 0));
  if (current <= from) return;
  ApplyLock lock(*this);
  const std::uint64_t done = applied_->load(std::memory_order_acquire);
  if (current <= done) return;
  std::vector<std::int64_t> ids;
  std::uint64_t expect = done + 1;
  bool all = false;
  for (int i = 0; i < r.rows(); ++i) {
    if (r.null(i, 1)) continue;
    const auto g = static_cast<std::uint64_t>(r.i64(i, 1));
    if (g <= done) continue;
    if (g != expect) all = true;  // pruned history
    ++expect;
    parse_ids(r.text(i, 2), &ids);
  }
  if (expect != current + 1) all = true;
  for (std::int64_t id : ids) all = all || id == TokenRepository::kAllIds;
  if (all) ids = {TokenRepository::kAllIds};
  feed_->write_begin(ids);
  feed_->write_finish();
  applied_->store(current, std::memory_order_release);
}

void PgCoherence::feed_flush() {
  ApplyLock lock(*this);
  feed_->write_begin({TokenRepository::kAllIds});
  feed_->write_finish();
}

void PgCoherence::repair() {
  if (!shared_) return;
  ApplyLock lock(*this, 0);  // on the verify path (Engine::cache_current): never waits
  feed_->repair();
}

std::uint64_t PgCoherence::renew(PgConnection& c) {
  const std::uint64_t acked = applied_->load(std::memory_order_acquire);
  PgParams p;
  p.add(node()).add(static_cast<std::int64_t>(acked)).add(lease_ns_ / 1000000);
  c.query(
      "INSERT INTO tokenkeep_nodes(node, acked, lease_until, lease_ms) "
      "VALUES ($1, $2, now() + $3::bigint * interval '1 millisecond', $3) "
      "ON CONFLICT (node) DO UPDATE SET acked = excluded.acked, lease_until = excluded.lease_until, "
      "lease_ms = excluded.lease_ms",
      p, "cannot renew this node's lease on");
  return acked;
}

// Between renewals, on a notification: applies what was published and acknowledges it, for
// the writer waiting. Not durable, and it moves no lease and no deadline: an acknowledgement
// lost in a crash was true when a writer read it (the node had applied the change), and
// nothing here extends this node's trust. So it skips the WAL flush a renewal waits for.
void PgCoherence::acknowledge(PgConnection& c) {
  apply_through(c);
  const std::uint64_t acked = applied_->load(std::memory_order_acquire);
  PgParams p;
  p.add(node()).add(static_cast<std::int64_t>(acked));
  c.query(
      "WITH quick AS (SELECT set_config('synchronous_commit', 'off', true)) "
      "UPDATE tokenkeep_nodes SET acked = greatest(acked, $2) FROM quick WHERE node = $1",
      p, "cannot acknowledge changes on");
}

// One round: everything published is applied, then the lease is renewed acknowledging it,
// then the changes are read once more. The cache is trusted again (a fresh local deadline)
// only if nothing committed before the renewal was left unapplied: a writer that committed
// while this node's previous lease had lapsed (the node was paused, or cut off) did not wait
// for it, so its change must be applied before the renewed lease restores trust. A change
// committed after the renewal sees the live lease and waits for the acknowledgement. The
// local deadline counts from before the renewal was sent, and stops short of the lease
// (0.9 L), so this node distrusts its cache before any writer stops waiting for it.
void PgCoherence::cycle(PgConnection& c) {
  apply_through(c);
  for (int round = 0; round < 3; ++round) {
    const std::int64_t sent = boot_ns();
    const std::uint64_t acked = renew(c);
    apply_through(c);
    if (applied_->load(std::memory_order_acquire) == acked) {
      deadline_ns_->store(sent + lease_ns_ * 9 / 10, std::memory_order_release);
      return;
    }
  }
  // Still moving after three rounds: trust is left to lapse; the next cycle renews it.
}

void PgCoherence::listen_run(std::unique_ptr<PgConnection> c) {
  thread_name("tk-listen");
  std::int64_t renew_at = 0;  // the lease is renewed every L/4; notifications are acked at once
  while (!stop_.load()) {
    try {
      if (!c) {
        c = listener_connect();
        cycle(*c);
        renew_at = boot_ns() + lease_ns_ / 4;
      }
      const std::int64_t wait_ns = std::max<std::int64_t>(0, renew_at - boot_ns());
      pollfd pfd[2] = {{PQsocket(c->handle()), POLLIN, 0}, {wake_fd_, POLLIN, 0}};
      ::poll(pfd, 2, static_cast<int>((wait_ns + 999999) / 1000000));
      if (stop_.load()) break;
      if (!PQconsumeInput(c->handle())) {
        c.reset();
        continue;
      }
      bool notified = false;
      while (PGnotify* n = PQnotifies(c->handle())) {
        notified = true;
        PQfreemem(n);
      }
      if (boot_ns() >= renew_at) {
        cycle(*c);
        renew_at = boot_ns() + lease_ns_ / 4;
      } else if (notified) {
        acknowledge(*c);
      }
    } catch (const Error&) {
      c.reset();  // the server is away: the lease lapses, verification reads (and fails)
      for (int i = 0; i < 10 && !stop_.load(); ++i) ::usleep(20000);
    }
  }
  if (c && !c->broken() && !c->inherited()) leave(*c);
}

// A process node deletes its row, so writers stop waiting for it. A host's relay only if it
// is the host's last store (nobody trusts the deadline, withdrawn first); otherwise the next
// relay takes the row over, and until then the row's lease covers the host's deadline.
void PgCoherence::leave(PgConnection& c) {
  if (shared_) {
    if (!host_->last_user_claim()) return;
    deadline_ns_->store(0, std::memory_order_release);
  }
  try {
    PgParams p;
    p.add(node());
    c.query("DELETE FROM tokenkeep_nodes WHERE node = $1", p, "cannot leave");
  } catch (const Error&) {
  }
}

void PgCoherence::after_commit(PgConnection& c, std::uint64_t generation) {
  const std::int64_t committed = boot_ns();  // the caller's COMMIT has returned
  restart_if_forked();  // a child writes as its own node: it waits for the parent's ack too
  // Whose acknowledgement this writer need not wait for: its own node's, once its feed shows
  // the change. A host whose apply lock a stopped process holds: nobody's (the writer then
  // waits for its own host's relay, or that row's lease, like any other host's).
  std::string self = node();
  try {
    apply_through(c);
  } catch (const Error&) {
    // Committed, but the server is gone before this node read the change back, or the feed
    // is held: forget everything cached here (reads go to the server, which has the change).
    try {
      feed_flush();
    } catch (const Error&) {
      self.clear();
    }
  }
  if (!options_.strict) return;
  // Every node that may still trust a cache without g renewed, acknowledging less than g,
  // before g committed (a renewal committed after g is read back with g applied before it
  // restores trust: cycle()), so it trusts at most until committed + 0.9 of its own L. The
  // first poll after the commit sees all of them with their recorded L: waiting until
  // `committed` + the longest such L on this clock is enough, whatever their lease_until
  // says; a node that acknowledges, or whose lease the server shows expired, ends it sooner.
  std::int64_t wait_ns = 0;
  PgParams p;
  p.add(self).add(static_cast<std::int64_t>(generation)).add(lease_ns_ / 1000000);
  for (int round = 0;; ++round) {
    try {
      PgResult r = c.query(
          "SELECT count(*), coalesce(max(coalesce(lease_ms, $3)), 0) FROM tokenkeep_nodes "
          "WHERE node <> $1 AND acked < $2 AND lease_until > now()",
          p, "cannot read the nodes' acknowledgements on");
      if (r.i64(0, 0) == 0) return;
      wait_ns = std::max(wait_ns, r.i64(0, 1) * 1000000);
    } catch (const Error& e) {
      // Cut off from the server. After one poll, every node that matters is known with its
      // L: the bound holds without another. Before any, nothing is known: say so.
      if (round == 0) {
        fail(ErrorCode::kStoreError,
             std::string("the change was committed, but not confirmed by every node: ") + e.what() +
                 "; a node that did not apply it stops trusting its cache within its lease");
      }
      const std::int64_t left = committed + wait_ns - boot_ns();
      if (left > 0) ::usleep(static_cast<useconds_t>(left / 1000));
      return;
    }
    if (boot_ns() > committed + wait_ns) return;
    ::usleep(round < 20 ? 200 : 2000);
  }
}

void PgCoherence::fork_child() noexcept {
  new (&apply_mu_) std::mutex();
  new (&restart_mu_) std::mutex();
  listener_ = nullptr;  // never joined here; restart_if_forked() starts this process's own
  if (shared_) host_->fork_child();
}

void PgCoherence::restart_if_forked() {
  if (fork_generation() == forks_seen_.load(std::memory_order_relaxed)) return;
  std::lock_guard<std::mutex> lock(restart_mu_);
  const std::uint64_t forks = fork_generation();
  if (forks == forks_seen_.load()) return;
  listener_ = nullptr;  // the parent's thread does not exist here; its connection is the parent's
  if (shared_) {
    // The host's feed and deadline are the host's: the child follows them as the parent did,
    // and becomes a candidate for the relay with a descriptor of its own.
    host_->reopen();
  } else {
    deadline_ns_->store(0);
    feed_flush();  // whatever the parent cached is suspect
  }
  start();
  forks_seen_.store(forks);
}

}  // namespace tokenkeep
