#include "change_feed.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "tokenkeep/errors.h"

namespace tokenkeep {
namespace {

constexpr std::uint64_t kRingSlots = 4096;

struct Slot {
  std::uint64_t gen;  // 0 while being rewritten
  std::int64_t id;
};

// Layout of the shared file. Only lock-free 8-byte atomics (GCC builtins) touch it, so
// processes need no lock to read it.
struct Shared {
  std::uint64_t started;
  std::uint64_t finished;
  std::uint64_t reserved[6];
  Slot ring[kRingSlots];
};
static_assert(sizeof(Shared) == 64 + kRingSlots * 16, "feed layout");

std::uint64_t load(const std::uint64_t* p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
std::int64_t load(const std::int64_t* p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }

// The byte of the feed file a writer holds an OFD write lock on from write_begin to
// write_finish. The kernel drops the lock when the writer dies, so a reader that sees the
// feed unstable while the lock is free knows the writer is gone (and, since its SQLite write
// lock went with it, that its transaction is settled) and needs no writer to recover.
constexpr off_t kWriterLockByte = 0;

bool writer_lock(int fd, short type, int cmd) noexcept {
  struct flock fl {};
  fl.l_type = type;
  fl.l_whence = SEEK_SET;
  fl.l_start = kWriterLockByte;
  fl.l_len = 1;
  return ::fcntl(fd, cmd, &fl) == 0;
}

class MappedFeed final : public ChangeFeed {
 public:
  // `fd`: the open feed file (kept for the writer lock), or -1 for process-private memory.
  MappedFeed(Shared* shared, bool owned_by_mmap, bool writable, int fd = -1)
      : s_(shared), mapped_(owned_by_mmap), writable_(writable), fd_(fd) {}
  ~MappedFeed() override {
    if (mapped_) ::munmap(s_, sizeof(Shared));
    if (fd_ >= 0) ::close(fd_);
  }

  // Read-only feeds: unstable with no writer holding the lock means the writer died between announcing and
  // publishing. Those generations are settled for this process (remembered, so that only
  // the first verify after the death pays the fcntl); the next writer repairs the file.
  State state() const noexcept override {
    State st;
    st.started = load(&s_->started);
    st.finished = load(&s_->finished);
    // Only a read-only feed: a writable one cannot see its own lock (same open file), and its
    // store repairs the feed by taking the write lock instead.
    if (st.started == st.finished || fd_ < 0 || writable_) return st;
    if (settled_.load(std::memory_order_relaxed) == st.started) {
      st.finished = st.started;
    } else if (writer_gone() && load(&s_->started) == st.started) {
      settled_.store(st.started, std::memory_order_relaxed);
      st.finished = st.started;
    }
    return st;
  }

  void write_begin(const std::vector<std::int64_t>& ids) noexcept override {
    if (!writable_) return;
    // Locked before announcing, so a reader never sees our announcement with the lock free.
    if (fd_ >= 0) (void)writer_lock(fd_, F_WRLCK, F_OFD_SETLK);
    repair();
    std::uint64_t g = __atomic_load_n(&s_->started, __ATOMIC_RELAXED);
    const bool all = ids.empty() || ids.size() > kRingSlots / 4;
    const std::size_t n = all ? 1 : ids.size();
    for (std::size_t i = 0; i < n; ++i) {
      Slot& slot = s_->ring[(g + 1 + i) % kRingSlots];
      // Seqlock per slot: invalidate, write the id, then publish the generation.
      __atomic_store_n(&slot.gen, 0, __ATOMIC_RELAXED);
      __atomic_store_n(&slot.id, all ? kAll : ids[i], __ATOMIC_RELEASE);
      __atomic_store_n(&slot.gen, g + 1 + i, __ATOMIC_RELEASE);
    }
    __atomic_store_n(&s_->started, g + n, __ATOMIC_RELEASE);
    mine_ = g + n;
  }

  void write_finish() noexcept override {
    if (!writable_) return;
    advance_finished(mine_);
    if (fd_ >= 0) (void)writer_lock(fd_, F_UNLCK, F_OFD_SETLK);
  }

  void repair() noexcept override {
    if (!writable_) return;
    advance_finished(__atomic_load_n(&s_->started, __ATOMIC_ACQUIRE));
  }

  bool changes(std::uint64_t from, std::uint64_t to, std::vector<std::int64_t>* ids) const noexcept override {
    if (to < from || to - from > kRingSlots / 2) return false;
    for (std::uint64_t g = from + 1; g <= to; ++g) {
      const Slot& slot = s_->ring[g % kRingSlots];
      const std::uint64_t g1 = load(&slot.gen);
      const std::int64_t id = load(&slot.id);
      const std::uint64_t g2 = load(&slot.gen);
      if (g1 != g || g2 != g || id == kAll) return false;
      ids->push_back(id);
    }
    return true;
  }

  bool usable() const noexcept override { return true; }

 private:
  // finished = max(finished, target): monotone, so a slow writer never moves it back.
  void advance_finished(std::uint64_t target) noexcept {
    std::uint64_t cur = __atomic_load_n(&s_->finished, __ATOMIC_RELAXED);
    while (cur < target && !__atomic_compare_exchange_n(&s_->finished, &cur, target, true, __ATOMIC_RELEASE,
                                                        __ATOMIC_RELAXED)) {
    }
  }

  // True if no process holds the writer lock (F_OFD_GETLK works on a read-only fd).
  bool writer_gone() const noexcept {
    struct flock fl {};
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    fl.l_start = kWriterLockByte;
    fl.l_len = 1;
    return ::fcntl(fd_, F_OFD_GETLK, &fl) == 0 && fl.l_type == F_UNLCK;
  }

  Shared* s_;
  bool mapped_;
  bool writable_;
  int fd_;
  std::uint64_t mine_ = 0;
  mutable std::atomic<std::uint64_t> settled_{0};
};

// A feed that never reports a stable state: every verify reads the database.
class DisabledFeed final : public ChangeFeed {
 public:
  State state() const noexcept override { return {1, 0}; }
  void write_begin(const std::vector<std::int64_t>&) noexcept override {}
  void write_finish() noexcept override {}
  void repair() noexcept override {}
  bool changes(std::uint64_t, std::uint64_t, std::vector<std::int64_t>*) const noexcept override {
    return false;
  }
  bool usable() const noexcept override { return false; }
};

// A feed others can write, or another user planted, could hide a revocation from every
// cache: refused (StoreError), and `fd` closed.
void feed_file_check(int fd, const StoreLocation& location) {
  try {
    store_file_check(fd, location.feed_file, "change feed", location, 022u);
  } catch (...) {
    ::close(fd);
    throw;
  }
}

// Gives a feed file its size: the one this process created, and an empty one of this user's
// whose creator died before sizing it. Any other file that is too short is refused (with
// `fd` closed), never grown: it may be a file this store does not own. A short feed another
// process has just created is waited for.
void feed_file_size(int fd, bool created, const std::string& path) {
  struct stat st {};
  for (int waited_ms = 0; !created; waited_ms += 2) {
    if (::fstat(fd, &st) == 0 && static_cast<std::size_t>(st.st_size) >= sizeof(Shared)) return;
    if (waited_ms >= 200) break;
    ::usleep(2000);
  }
  if (!created && !(st.st_size == 0 && st.st_uid == ::geteuid())) {
    ::close(fd);
    fail(ErrorCode::kStoreError, "change feed " + path + " is " + std::to_string(st.st_size) +
                                     " bytes, not a change feed; remove it (the next writer recreates it)");
  }
  if (::ftruncate(fd, sizeof(Shared)) != 0) {
    const std::string why = std::strerror(errno);
    ::close(fd);
    fail(ErrorCode::kStoreError, "cannot size the change feed " + path + ": " + why);
  }
}

}  // namespace

std::unique_ptr<ChangeFeed> change_feed_open(const StoreLocation& location, bool read_only) {
  if (location.kind != StoreLocation::Kind::kFile) {
    void* p = ::mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return std::make_unique<DisabledFeed>();
    return std::make_unique<MappedFeed>(static_cast<Shared*>(p), true, true);
  }
  const std::string& path = location.feed_file;
  if (read_only) {
    // A reader may cache only if it can see the writers' announcements.
    const int fd = store_file_open(location, path, "change feed", O_RDONLY, FileOpen::kExisting);
    if (fd >= 0) feed_file_check(fd, location);
    struct stat st {};
    void* p = MAP_FAILED;
    if (fd >= 0 && ::fstat(fd, &st) == 0 && static_cast<std::size_t>(st.st_size) >= sizeof(Shared)) {
      p = ::mmap(nullptr, sizeof(Shared), PROT_READ, MAP_SHARED, fd, 0);
    }
    if (p == MAP_FAILED) {
      if (fd >= 0) ::close(fd);
      return std::make_unique<DisabledFeed>();
    }
    return std::make_unique<MappedFeed>(static_cast<Shared*>(p), true, false, fd);
  }
  // A writer that cannot announce its changes would let other processes' caches serve a
  // revoked token: fail loudly instead.
  bool created = false;
  const int fd = store_file_open(location, path, "change feed", O_RDWR, FileOpen::kCreate, &created);
  if (fd < 0) {
    fail(ErrorCode::kStoreError,
         "cannot open the change feed " + path + " for writing: " + std::strerror(errno));
  }
  feed_file_check(fd, location);
  feed_file_size(fd, created, path);
  void* p = ::mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) {
    ::close(fd);
    fail(ErrorCode::kStoreError, "cannot map the change feed " + path);
  }
  return std::make_unique<MappedFeed>(static_cast<Shared*>(p), true, true, fd);
}

}  // namespace tokenkeep
