// TokenRepository on SQLite (sqlite_store_impl.h): opening (file checks, the private file,
// WAL, migrations, the change feed), the database file's identity, fork hooks, coherence,
// settings read and the writer connection's lifecycle.
#include "tokenkeep/sqlite_store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstring>
#include <mutex>
#include <new>
#include <unordered_map>

#include "change_feed.h"
#include "repository_rules.h"
#include "sqlite_connection.h"
#include "sqlite_listing.h"
#include "sqlite_store_impl.h"
#include "tokenkeep/errors.h"
#include "tokenkeep/fork_guard.h"
#include "tokenkeep/scopes.h"

static_assert(tokenkeep::ChangeFeed::kAll == tokenkeep::TokenRepository::kAllIds, "one spelling of all ids");

namespace tokenkeep {
namespace sqlite_detail {
namespace {

// What sqlite3_open_v2 is given: the canonical file (absolute, so never read as a URI) or
// ":memory:".
std::string sqlite_name(const StoreLocation& location) {
  return location.kind == StoreLocation::Kind::kFile ? location.database : std::string(":memory:");
}

// Creates the database file with mode 0600 if it does not exist yet, so that SQLite (and
// its -wal/-shm files, which copy the database's mode) never makes a world-readable file.
void file_create_private(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd >= 0) {
    ::close(fd);
  } else if (errno != EEXIST) {
    fail(ErrorCode::kStoreError, "cannot create database " + path + ": " + std::strerror(errno));
  }
}

}  // namespace

SqliteStore::SqliteStore(const StoreLocation& location, const SqliteOptions& options)
    : c_(sqlite_name(location), options), options_(options), read_only_(options.read_only) {
  // journal_mode needs a lock and reports SQLITE_BUSY without waiting on the handler in
  // some states; retry within the busy timeout.
  if (!options.read_only) {
    writer_configure();
    for (int waited = 0;; waited += 10) {
      const int rc = sqlite3_exec(c_.handle(), "PRAGMA journal_mode=WAL", nullptr, nullptr, nullptr);
      if (rc == SQLITE_OK) break;
      if ((rc & 0xff) != SQLITE_BUSY || waited > options.busy_timeout_ms) c_.raise(rc, "cannot open");
      ::usleep(10000);
    }
  }
  migrate(options.read_only);
  feed_ = change_feed_open(location, options.read_only);  // only beside a database that opened
  if (location.kind == StoreLocation::Kind::kFile) {
    stat_feed_ = feed_->state();  // read before the stat below: see token_find
    struct stat st {};
    if (::stat(location.database.c_str(), &st) != 0) c_.raise(SQLITE_CANTOPEN, "cannot open");
    file_dev_ = st.st_dev;
    file_ino_ = st.st_ino;
    file_ = true;
  }
  if (location.kind == StoreLocation::Kind::kFile) {
    reader_ = std::make_unique<Connection>(location.database, options);
  }
}

SqliteStore::~SqliteStore() {
  if (reader_ && reader_in_tx_ && reader_fork_ == fork_generation()) {
    sqlite3_exec(reader_->handle(), "ROLLBACK", nullptr, nullptr, nullptr);
  }
}

void SqliteStore::fork_prepare() noexcept {
  mu_.lock();
  reader_mu_.lock();
  warm_mu_.lock();
}

void SqliteStore::fork_parent() noexcept {
  warm_mu_.unlock();
  reader_mu_.unlock();
  mu_.unlock();
}

void SqliteStore::fork_child() noexcept {
  new (&mu_) std::mutex();
  new (&reader_mu_) std::mutex();
  new (&warm_mu_) std::mutex();
}

std::optional<std::string> SqliteStore::setting_get(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  file_check();
  Statement s(c_, "SELECT value FROM settings WHERE key = ?1");
  s.bind(1, key);
  if (s.step("cannot read settings from")) return s.text(0);
  return std::nullopt;
}

void SqliteStore::idle() {
  (void)file_current();  // re-stat: a replaced file makes coherence() unstable
  std::unique_lock<std::mutex> lock(reader_mu_, std::try_to_lock);
  if (lock && reader_fork_ != fork_generation()) return;  // the parent's snapshot: not ours to end
  if (lock && reader_in_tx_ && std::chrono::steady_clock::now() - reader_since_ >= kReaderWindow)
    reader_end();
}

Coherence SqliteStore::coherence() const noexcept {
  const ChangeFeed::State st = feed_->state();
  return Coherence{st.finished, st.stable() && !stale_.load(std::memory_order_relaxed)};
}

bool SqliteStore::changes_since(std::uint64_t from, std::uint64_t to, std::vector<std::int64_t>* ids) {
  return feed_->changes(from, to, ids);
}

void SqliteStore::coherence_repair() {
  if (stale_.load(std::memory_order_relaxed)) return;
  // Try-locks all the way: a thread of this process writing (or waiting to) is alive and
  // will publish; the verification that asked must not queue behind it.
  std::unique_lock<std::mutex> lock(mu_, std::try_to_lock);
  if (!lock) return;
  writer_fork_check();
  // A try-lock: if a writer holds the lock it is alive and will publish itself, and the
  // verification that asked must not wait behind it.
  c_.busy_no_wait_ = true;
  struct Restore {
    Connection& c;
    ~Restore() { c.busy_no_wait_ = false; }
  } restore{c_};
  Transaction tx(c_, true);  // holding the write lock: every earlier write is settled
  feed_->repair();
}

void SqliteStore::migrate(bool read_only) {
  std::lock_guard<std::mutex> lock(mu_);
  file_check();
  sqlite_schema_migrate(c_, read_only);
}

bool SqliteStore::file_current() noexcept {
  if (!file_) return true;
  if (stale_.load(std::memory_order_relaxed)) return false;
  struct stat st {};
  if (::stat(c_.path().c_str(), &st) == 0 && st.st_dev == file_dev_ && st.st_ino == file_ino_) return true;
  stale_.store(true, std::memory_order_relaxed);
  return false;
}

void SqliteStore::file_check() {
  writer_fork_check();
  file_stat_check();
}

void SqliteStore::writer_fork_check() {
  if (writer_fork_ == fork_generation()) return;
  writer_fork_ = fork_generation();
  if (!file_) return;
  c_.reopen();
  if (!read_only_) writer_configure();
}

void SqliteStore::writer_configure() {
  c_.exec(
      "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA cache_size=-16384; PRAGMA temp_store=MEMORY",
      "cannot configure");
}

void SqliteStore::file_stat_check() {
  if (!file_current()) {
    fail(ErrorCode::kStoreError, "the database file " + c_.path() +
                                     " was replaced or removed after this store opened it; reopen the store");
  }
}

}  // namespace sqlite_detail

std::unique_ptr<TokenRepository> sqlite_store_open(const StoreLocation& location,
                                                   const SqliteOptions& options) {
  if (location.kind == StoreLocation::Kind::kUrl) {
    fail(ErrorCode::kInvalidArgument, "an SQLite store needs a file path or :memory:, not a URL", "path");
  }
  if (location.kind == StoreLocation::Kind::kFile) {
    // A device or FIFO (say /dev/null) is no database, and SQLite would leave a -journal
    // beside it with the umask's mode.
    struct stat st {};
    if (::stat(location.database.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
      fail(ErrorCode::kStoreError, "cannot open database " + location.database + ": not a regular file");
    }
    store_file_vet(location, location.database + "-wal", "write-ahead log");
    store_file_vet(location, location.database + "-shm", "shared-memory index");
    if (!options.read_only) sqlite_detail::file_create_private(location.database);
  }
  return std::make_unique<sqlite_detail::SqliteStore>(location, options);
}

}  // namespace tokenkeep
