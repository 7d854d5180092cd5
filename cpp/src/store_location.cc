#include "tokenkeep/store_location.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string_view>
#include <vector>

#include "tokenkeep/errors.h"

namespace tokenkeep {
namespace {

[[noreturn]] void refuse(const std::string& spec, const std::string& why) {
  fail(ErrorCode::kInvalidArgument, "store path " + spec + ": " + why, "path");
}

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

// libpq's key=value form: optional blanks, a keyword (letters and underscores), blanks, '='.
bool looks_like_conninfo(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
  const std::size_t word = i;
  while (i < s.size() && (s[i] == '_' || (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z'))) ++i;
  if (i == word) return false;
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
  return i < s.size() && s[i] == '=';
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The file path a "file:" URI names, as SQLite would read it (sqlite3ParseUri): an optional
// "//" authority that must be empty or "localhost", then the path, %XX-decoded. Queries and
// fragments are refused: their options (mode=, immutable=, vfs=, ...) would change how the
// file is opened behind the store's back, and read_only= is the store's own switch.
std::string uri_file_path(const std::string& spec) {
  std::string_view rest = std::string_view(spec).substr(5);
  if (rest.find_first_of("?#") != std::string_view::npos) {
    refuse(spec,
           "file: URI options (?mode=..., #...) are not supported; pass the plain file path "
           "(and read_only=True to open it read-only)");
  }
  if (starts_with(rest, "//")) {
    rest.remove_prefix(2);
    const std::size_t slash = rest.find('/');
    const std::string_view authority = rest.substr(0, slash);
    if (!(authority.empty() || authority == "localhost") || slash == std::string_view::npos) {
      refuse(spec, "a file: URI must name a local file (file:///path or file://localhost/path)");
    }
    rest.remove_prefix(slash);
  }
  std::string out;
  for (std::size_t i = 0; i < rest.size(); ++i) {
    if (rest[i] != '%') {
      out.push_back(rest[i]);
      continue;
    }
    const int hi = i + 2 < rest.size() ? hex_value(rest[i + 1]) : -1;
    const int lo = i + 2 < rest.size() ? hex_value(rest[i + 2]) : -1;
    if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) refuse(spec, "malformed %-escape in the file: URI");
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  if (out.empty()) refuse(spec, "a file: URI must name a file");
  return out;
}

std::string real_path_or_empty(const std::string& path) {
  char* real = ::realpath(path.c_str(), nullptr);
  if (real == nullptr) return std::string();
  std::string out(real);
  std::free(real);
  return out;
}

// `path` made absolute, with every symlink of its existing part resolved. The part that does
// not exist yet is appended as written (without "." components; ".." there is refused, since
// it would be resolved differently once the folders exist).
std::string canonical_file(const std::string& spec, std::string path) {
  if (path.back() == '/') refuse(spec, "names a folder, not a database file");
  if (path[0] != '/') {
    char* cwd = ::getcwd(nullptr, 0);
    if (cwd == nullptr) fail(ErrorCode::kStoreError, "cannot resolve " + spec + ": " + std::strerror(errno));
    path = std::string(cwd) + "/" + path;
    std::free(cwd);
  }
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    std::string real = real_path_or_empty(path);
    if (real.empty()) {
      if (S_ISLNK(st.st_mode)) {
        refuse(spec, "is a symlink to a missing file; create the target (mode 0600) or name it directly");
      }
      fail(ErrorCode::kStoreError, "cannot resolve " + spec + ": " + std::strerror(errno));
    }
    struct stat target {};
    if (::stat(real.c_str(), &target) == 0 && S_ISDIR(target.st_mode)) {
      // The spelling is fine; what is there is not a database (as for any non-database file).
      fail(ErrorCode::kStoreError, "cannot open database " + spec + ": it is a folder, not a database file",
           "path");
    }
    return real;
  }
  // Missing: resolve the deepest existing folder, append the rest.
  std::vector<std::string> missing;
  std::string head = path;
  for (;;) {
    const std::size_t slash = head.find_last_of('/');
    std::string part = head.substr(slash + 1);
    head.erase(slash == 0 ? 1 : slash);
    if (!part.empty() && part != ".") missing.push_back(part);
    if (head == "/" || ::lstat(head.c_str(), &st) == 0) break;
  }
  std::string real = real_path_or_empty(head);
  if (real.empty()) {
    if (S_ISLNK(st.st_mode)) refuse(spec, "a folder of it is a symlink to a missing folder");
    real = head;  // unreadable: opening will fail and say why
  }
  if (missing.empty()) refuse(spec, "names a folder, not a database file");
  for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
    if (*it == "..") refuse(spec, "'..' after a folder that does not exist");
    if (real.back() != '/') real.push_back('/');
    real += *it;
  }
  return real;
}

}  // namespace

StoreLocation store_location_resolve(const std::string& spec) {
  StoreLocation loc;
  if (spec.find('\0') != std::string::npos) refuse("(with a NUL byte)", "contains a NUL byte");
  if (spec.empty() || spec == ":memory:") return loc;
  if (starts_with(spec, "postgresql://") || starts_with(spec, "postgres://") || looks_like_conninfo(spec)) {
    loc.kind = StoreLocation::Kind::kUrl;
    loc.url = spec;
    return loc;
  }
  std::string path = spec;
  if (starts_with(spec, "file:")) {
    path = uri_file_path(spec);
    if (path == ":memory:") return loc;
  }
  loc.kind = StoreLocation::Kind::kFile;
  loc.database = canonical_file(spec, path);
  loc.key_file = loc.database + ".key";
  loc.feed_file = loc.database + "-tkfeed";
  return loc;
}

namespace {

// The database's folder, opened without following a symlink at its last step; -1 and errno.
int folder_open(const StoreLocation& location) {
  const std::size_t slash = location.database.find_last_of('/');
  const std::string folder = slash == 0 ? std::string("/") : location.database.substr(0, slash);
  return ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

std::string base_name(const std::string& path) { return path.substr(path.find_last_of('/') + 1); }

[[noreturn]] void refuse_file(int fd, int dir, const std::string& path, const char* what,
                              const std::string& why) {
  if (fd >= 0) ::close(fd);
  ::close(dir);
  fail(ErrorCode::kStoreError, std::string(what) + " " + path + " " + why);
}

// Why a store's file (as lstat/fstat saw it) must not be used, or "" if it may: a symlink,
// anything but a regular file, or a file with several hard links could each be another file
// (root's, say) that the store would then write or chown.
std::string file_problem(const struct stat& st) {
  if (S_ISLNK(st.st_mode)) {
    return "is a symbolic link; a store's files are never opened through one (another user could point "
           "it at any file): remove it";
  }
  if (!S_ISREG(st.st_mode)) return "is not a regular file: remove it";
  if (st.st_nlink != 1) {
    return "has " + std::to_string(st.st_nlink) +
           " hard links; a store's file has one (another could be any file): remove it";
  }
  return "";
}

}  // namespace

int store_file_open(const StoreLocation& location, const std::string& path, const char* what, int access,
                    FileOpen how, bool* created) {
  if (created != nullptr) *created = false;
  const int dir = folder_open(location);
  if (dir < 0) return -1;
  const std::string name = base_name(path);
  // O_NONBLOCK: a FIFO planted there must not hang the open (refused below as no regular file).
  const int base = access | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
  int fd = -1;
  bool made = false;
  for (int attempt = 0; attempt < 100 && fd < 0; ++attempt) {
    if (how != FileOpen::kCreateNew) fd = ::openat(dir, name.c_str(), base);
    if (fd >= 0 || how == FileOpen::kExisting || (how == FileOpen::kCreate && errno != ENOENT)) break;
    fd = ::openat(dir, name.c_str(), base | O_CREAT | O_EXCL, 0600);
    made = fd >= 0;
    if (fd < 0 && (errno != EEXIST || how == FileOpen::kCreateNew)) break;  // EEXIST: another process won
  }
  if (fd < 0) {
    const int err = errno;
    struct stat st {};
    if ((err == ELOOP || err == EEXIST) && ::fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
        S_ISLNK(st.st_mode)) {
      refuse_file(-1, dir, path, what, file_problem(st));
    }
    ::close(dir);
    errno = err;
    return -1;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0)
    refuse_file(fd, dir, path, what, std::string("cannot be checked: ") + std::strerror(errno));
  if (const std::string why = file_problem(st); !why.empty()) refuse_file(fd, dir, path, what, why);
  (void)::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  struct stat db {};
  if (made && ::geteuid() == 0 &&
      ::fstatat(dir, base_name(location.database).c_str(), &db, AT_SYMLINK_NOFOLLOW) == 0 &&
      (db.st_uid != st.st_uid || db.st_gid != st.st_gid)) {
    // Made by root (say `sudo tokenkeep revoke`) beside a service's database: given to the
    // database's owner, as SQLite does with the -wal and -shm files it creates.
    (void)::fchown(fd, db.st_uid, db.st_gid);
  }
  ::close(dir);
  if (created != nullptr) *created = made;
  return fd;
}

void store_file_vet(const StoreLocation& location, const std::string& path, const char* what) {
  const int dir = folder_open(location);
  if (dir < 0) return;  // opening the database says why
  struct stat st {};
  if (::fstatat(dir, base_name(path).c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    ::close(dir);
    return;
  }
  if (const std::string why = file_problem(st); !why.empty()) refuse_file(-1, dir, path, what, why);
  ::close(dir);
}

void store_file_check(int fd, const std::string& path, const char* what, const StoreLocation& location,
                      unsigned forbidden) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    fail(ErrorCode::kStoreError,
         std::string("cannot check ") + what + " " + path + ": " + std::strerror(errno));
  }
  const unsigned mode = static_cast<unsigned>(st.st_mode) & 07777u;
  if ((mode & forbidden) != 0) {
    char octal[8];
    std::snprintf(octal, sizeof octal, "%04o", mode);
    const bool any_access = forbidden == 077u;
    fail(ErrorCode::kStoreError, std::string(what) + " " + path + " has mode " + octal + "; it must not be " +
                                     (any_access ? "accessible" : "writable") +
                                     " by group or others (chmod 600 " + path + ")");
  }
  const uid_t me = ::geteuid();
  if (st.st_uid == me || st.st_uid == 0) return;
  struct stat db {};
  if (me == 0 && ::stat(location.database.c_str(), &db) == 0 && db.st_uid == st.st_uid) return;
  fail(ErrorCode::kStoreError, std::string(what) + " " + path + " is owned by uid " +
                                   std::to_string(st.st_uid) + ", not by this user (uid " +
                                   std::to_string(me) +
                                   ") or root; a file planted by another user is never trusted");
}

}  // namespace tokenkeep
