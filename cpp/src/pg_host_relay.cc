#include "pg_host_relay.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "tokenkeep/errors.h"
#include "tokenkeep/store_location.h"

namespace tokenkeep {
namespace {

constexpr std::size_t kHostFileSize = 4096;
static_assert(sizeof(PgHostShared) <= kHostFileSize, "host file layout");
constexpr off_t kUsersByte = 0;
constexpr off_t kApplyByte = 1;

std::string hex_of(const unsigned char* b, std::size_t n) {
  static const char* const kDigits = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < n; ++i) {
    out += kDigits[b[i] >> 4];
    out += kDigits[b[i] & 15];
  }
  return out;
}

bool ofd_lock(int fd, short type, off_t byte, int cmd) noexcept {
  struct flock fl {};
  fl.l_type = type;
  fl.l_whence = SEEK_SET;
  fl.l_start = byte;
  fl.l_len = 1;
  while (::fcntl(fd, cmd, &fl) != 0) {
    if (errno != EINTR) return false;
  }
  return true;
}

[[noreturn]] void dir_fail(const std::string& dir, const std::string& why) {
  fail(ErrorCode::kStoreError, "runtime folder " + dir + " " + why +
                                   " (the PostgreSQL store's host files live there: pass runtime_dir=, "
                                   "set TOKENKEEP_RUNTIME_DIR, or relay=False)");
}

// The location whose folder is `dir` and whose feed file is `base`-feed: store_file_open
// opens a store's files relative to the folder of `database`, never through a symlink.
StoreLocation host_location(const std::string& dir, const std::string& base) {
  StoreLocation loc;
  loc.kind = StoreLocation::Kind::kFile;
  loc.database = dir + "/" + base;
  loc.feed_file = loc.database + "-feed";
  return loc;
}

}  // namespace

std::string pg_runtime_dir(const std::string& configured) {
  std::string dir = configured;
  bool made_here = false;  // a default folder: created if missing
  if (dir.empty()) {
    const char* env = std::getenv("TOKENKEEP_RUNTIME_DIR");
    const char* xdg = std::getenv("XDG_RUNTIME_DIR");
    if (env != nullptr && *env != '\0') {
      dir = env;
    } else if (xdg != nullptr && *xdg != '\0') {
      dir = std::string(xdg) + "/tokenkeep";
      made_here = true;
    } else {
      dir = "/tmp/tokenkeep-" + std::to_string(::geteuid());
      made_here = true;
    }
  }
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  if (made_here && ::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    dir_fail(dir, std::string("cannot be created: ") + std::strerror(errno));
  }
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0) dir_fail(dir, std::string("cannot be used: ") + std::strerror(errno));
  if (!S_ISDIR(st.st_mode)) dir_fail(dir, "is not a directory (a symbolic link is never followed)");
  if (st.st_uid != ::geteuid() && st.st_uid != 0) {
    dir_fail(dir, "is owned by uid " + std::to_string(st.st_uid) + ", not by this user (uid " +
                      std::to_string(::geteuid()) + ")");
  }
  if ((st.st_mode & 022) != 0) {
    dir_fail(dir, "is writable by group or others (chmod 700 " + dir + ")");
  }
  return dir;
}

PgHostState::PgHostState(const std::string& dir, const std::string& identity) : dir_(dir) {
  unsigned char h[16];
  crypto_generichash(h, sizeof h, reinterpret_cast<const unsigned char*>(identity.data()), identity.size(),
                     nullptr, 0);
  const std::string base = "pg-" + hex_of(h, sizeof h);
  path_ = dir + "/" + base + "-host";
  const StoreLocation loc = host_location(dir, base);
  fd_ = open_locked();
  try {
    struct stat st {};
    if (::fstat(fd_, &st) != 0 || static_cast<std::size_t>(st.st_size) < kHostFileSize) {
      // Sized under the users lock by whoever comes first: zeros are a valid empty state.
      if (::ftruncate(fd_, kHostFileSize) != 0) {
        fail(ErrorCode::kStoreError, "cannot size the host file " + path_ + ": " + std::strerror(errno));
      }
    }
    // Mapped through a descriptor of its own: a mapping keeps its open file description
    // alive, and with it any lock taken on it, in every process that inherits the mapping (a
    // forked child would keep its parent's relay lock).
    const int map_fd = store_file_open(loc, path_, "host file", O_RDWR, FileOpen::kExisting);
    void* p = map_fd < 0 ? MAP_FAILED
                         : ::mmap(nullptr, kHostFileSize, PROT_READ | PROT_WRITE, MAP_SHARED, map_fd, 0);
    if (map_fd >= 0) ::close(map_fd);
    if (p == MAP_FAILED) fail(ErrorCode::kStoreError, "cannot map the host file " + path_);
    s_ = static_cast<PgHostShared*>(p);
    feed_ = change_feed_open(loc, false);
  } catch (...) {
    if (s_ != nullptr) ::munmap(s_, kHostFileSize);
    ::close(fd_);
    throw;
  }
}

PgHostState::~PgHostState() {
  feed_.reset();
  if (s_ != nullptr) ::munmap(s_, kHostFileSize);
  if (fd_ >= 0) ::close(fd_);
}

// Opens pg-<key>-host (refusing a symlink, a hard link, a file of another user or one others
// can read or write: store_file_open, store_file_check) and takes a user lock, waiting while
// the last store of the host is leaving.
int PgHostState::open_locked() {
  const std::string base = path_.substr(dir_.size() + 1, path_.size() - dir_.size() - 1 - 5);
  const StoreLocation loc = host_location(dir_, base);
  const int fd = store_file_open(loc, path_, "host file", O_RDWR, FileOpen::kCreate);
  if (fd < 0)
    fail(ErrorCode::kStoreError, "cannot open the host file " + path_ + ": " + std::strerror(errno));
  try {
    store_file_check(fd, path_, "host file", loc, 077u);
  } catch (...) {
    ::close(fd);
    throw;
  }
  if (!ofd_lock(fd, F_RDLCK, kUsersByte, F_OFD_SETLKW)) {
    const std::string why = std::strerror(errno);
    ::close(fd);
    fail(ErrorCode::kStoreError, "cannot lock the host file " + path_ + ": " + why);
  }
  return fd;
}

std::string PgHostState::node() const {
  if (s_->node_set.load(std::memory_order_acquire) == 0) return "";
  return std::string(s_->node, ::strnlen(s_->node, sizeof s_->node));
}

bool PgHostState::relay_try() {
  if (fd_ < 0 || ::flock(fd_, LOCK_EX | LOCK_NB) != 0) return false;
  if (s_->node_set.load(std::memory_order_acquire) == 0) {
    unsigned char b[12];
    randombytes_buf(b, sizeof b);
    const std::string name = "host-" + hex_of(b, sizeof b);
    std::memcpy(s_->node, name.c_str(), name.size() + 1);
    s_->node_set.store(1, std::memory_order_release);
  }
  s_->relay_pid.store(::getpid(), std::memory_order_relaxed);
  s_->relay_terms.fetch_add(1, std::memory_order_relaxed);
  return true;
}

bool PgHostState::apply_lock(int timeout_ms) noexcept {
  if (fd_ < 0) return false;
  for (int waited = 0;; ++waited) {
    if (ofd_lock(fd_, F_WRLCK, kApplyByte, F_OFD_SETLK)) return true;
    if (waited >= timeout_ms) return false;
    ::usleep(1000);
  }
}

void PgHostState::relay_release() noexcept {
  if (fd_ >= 0) (void)::flock(fd_, LOCK_UN);
}

void PgHostState::apply_unlock() noexcept {
  if (fd_ >= 0) (void)ofd_lock(fd_, F_UNLCK, kApplyByte, F_OFD_SETLK);
}

bool PgHostState::last_user_claim() noexcept {
  return fd_ >= 0 && ofd_lock(fd_, F_WRLCK, kUsersByte, F_OFD_SETLK);
}

void PgHostState::fork_child() noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void PgHostState::reopen() {
  if (fd_ < 0) fd_ = open_locked();
}

}  // namespace tokenkeep
