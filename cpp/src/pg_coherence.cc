#include "pg_coherence.h"

#include <poll.h>
#include <pthread.h>
#include <sodium.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <new>

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

PgCoherence::PgCoherence(std::string conninfo, std::string channel, const PgOptions& options)
    : conninfo_(std::move(conninfo)),
      channel_(std::move(channel)),
      options_(options),
      lease_ns_(static_cast<std::int64_t>(options.lease_seconds * 1e9)) {
  pg_options_check(options);
  feed_ = change_feed_open(StoreLocation{}, false);  // process-private memory
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
}

void PgCoherence::start() {
  node_ = node_id_new();
  auto c = listener_connect();
  cycle(*c);
  listener_ =
      new std::thread([this, conn = c.release()] { listen_run(std::unique_ptr<PgConnection>(conn)); });
}

std::unique_ptr<PgConnection> PgCoherence::listener_connect() {
  auto c = std::make_unique<PgConnection>(conninfo_);
  // Renewals commit durably (PgConnection: synchronous_commit is never off): the node trusts
  // its cache once its renewal's COMMIT returns, and writers stop waiting for it when
  // lease_until passes, so lease_until must never go back in a crash (an asynchronous commit
  // lost with the WAL writer's buffer would take it back by up to its delay).
  char* quoted = PQescapeIdentifier(c->handle(), channel_.data(), channel_.size());
  if (quoted == nullptr) fail(ErrorCode::kStoreError, "cannot quote the channel name for " + c->where());
  const std::string listen = std::string("LISTEN ") + quoted;
  PQfreemem(quoted);
  c->exec(listen.c_str(), "cannot listen on");
  return c;
}

Coherence PgCoherence::state() const noexcept {
  return pg_coherence_snapshot(*feed_, deadline_ns_, boot_ns,
                               fork_generation() == forks_seen_.load(std::memory_order_relaxed));
}

bool PgCoherence::changes_since(std::uint64_t from, std::uint64_t to, std::vector<std::int64_t>* ids) const {
  return feed_->changes(from, to, ids);
}

// Reads the counter and every change after what this node applied, in one statement (one
// snapshot: the counter and the changes rows of one transaction are seen together), and
// announces their ids on the local feed.
void PgCoherence::apply_through(PgConnection& c) {
  std::lock_guard<std::mutex> lock(apply_mu_);
  PgParams p;
  p.add(static_cast<std::int64_t>(db_applied_));
  PgResult r = c.query(
      "SELECT g.generation, ch.generation, ch.ids FROM tokenkeep_generation g "
      "LEFT JOIN tokenkeep_changes ch ON ch.generation > $1 AND ch.generation <= g.generation "
      "ORDER BY ch.generation",
      p, "cannot read the changes of");
  if (r.rows() == 0) return;
  const auto current = static_cast<std::uint64_t>(r.i64(0, 0));
  if (current <= db_applied_) return;
  std::vector<std::int64_t> ids;
  std::uint64_t expect = db_applied_ + 1;
  bool all = false;
  for (int i = 0; i < r.rows(); ++i) {
    if (r.null(i, 1)) continue;
    if (static_cast<std::uint64_t>(r.i64(i, 1)) != expect) all = true;  // pruned history
    ++expect;
    parse_ids(r.text(i, 2), &ids);
  }
  if (expect != current + 1) all = true;
  for (std::int64_t id : ids) all = all || id == TokenRepository::kAllIds;
  if (all) ids = {TokenRepository::kAllIds};
  feed_->write_begin(ids);
  feed_->write_finish();
  db_applied_ = current;
}

std::uint64_t PgCoherence::renew(PgConnection& c) {
  std::uint64_t acked = 0;
  {
    std::lock_guard<std::mutex> lock(apply_mu_);
    acked = db_applied_;
  }
  PgParams p;
  p.add(node_).add(static_cast<std::int64_t>(acked)).add(lease_ns_ / 1000000);
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
  std::uint64_t acked = 0;
  {
    std::lock_guard<std::mutex> lock(apply_mu_);
    acked = db_applied_;
  }
  PgParams p;
  p.add(node_).add(static_cast<std::int64_t>(acked));
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
    std::uint64_t applied = 0;
    {
      std::lock_guard<std::mutex> lock(apply_mu_);
      applied = db_applied_;
    }
    if (applied == acked) {
      deadline_ns_.store(sent + lease_ns_ * 9 / 10, std::memory_order_release);
      return;
    }
  }
  // Still moving after three rounds: trust is left to lapse; the next cycle renews it.
}

void PgCoherence::listen_run(std::unique_ptr<PgConnection> c) {
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
  if (c && !c->broken() && !c->inherited()) {
    try {
      PgParams p;
      p.add(node_);
      c->query("DELETE FROM tokenkeep_nodes WHERE node = $1", p,
               "cannot leave");  // writers stop waiting for us
    } catch (const Error&) {
    }
  }
}

void PgCoherence::after_commit(PgConnection& c, std::uint64_t generation) {
  const std::int64_t committed = boot_ns();  // the caller's COMMIT has returned
  restart_if_forked();  // a child writes as its own node: it waits for the parent's ack too
  try {
    apply_through(c);
  } catch (const Error&) {
    // Committed, but the server is gone before this node read the change back: forget
    // everything cached here (reads go to the server, which has the change, or fail).
    std::lock_guard<std::mutex> lock(apply_mu_);
    feed_->write_begin({TokenRepository::kAllIds});
    feed_->write_finish();
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
  p.add(node_).add(static_cast<std::int64_t>(generation)).add(lease_ns_ / 1000000);
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
}

void PgCoherence::restart_if_forked() {
  if (fork_generation() == forks_seen_.load(std::memory_order_relaxed)) return;
  std::lock_guard<std::mutex> lock(restart_mu_);
  const std::uint64_t forks = fork_generation();
  if (forks == forks_seen_.load()) return;
  listener_ = nullptr;  // the parent's thread does not exist here; its connection is the parent's
  deadline_ns_.store(0);
  {
    std::lock_guard<std::mutex> apply(apply_mu_);
    feed_->write_begin({TokenRepository::kAllIds});  // whatever the parent cached is suspect
    feed_->write_finish();
  }
  start();
  forks_seen_.store(forks);
}

}  // namespace tokenkeep
