#include "tokenkeep/store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string_view>

namespace tokenkeep {
namespace {

std::string parent_of(const std::string& file) {
  const std::size_t slash = file.find_last_of('/');
  return slash == 0 ? "/" : file.substr(0, slash);
}

// Makes sure the folder of the database exists: creates the missing ones (0700, outermost
// first, appending each to `made`) if `create`, else StoreError naming the database.
void folder_ensure(const StoreLocation& loc, bool create, std::vector<std::string>* made) {
  const std::string parent = parent_of(loc.database);
  struct stat st {};
  if (::stat(parent.c_str(), &st) == 0) return;
  if (errno != ENOENT) {
    fail(ErrorCode::kStoreError,
         "cannot open database " + loc.database + ": folder " + parent + ": " + std::strerror(errno));
  }
  if (!create) {
    fail(ErrorCode::kStoreError, "cannot open database " + loc.database + ": folder " + parent +
                                     " does not exist (create it, or pass create_dirs=True)");
  }
  std::vector<std::string> missing;
  for (std::string d = parent; d != "/" && ::stat(d.c_str(), &st) != 0 && errno == ENOENT; d = parent_of(d)) {
    missing.push_back(d);
  }
  for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
    if (::mkdir(it->c_str(), 0700) != 0 && errno != EEXIST) {
      fail(ErrorCode::kStoreError,
           "cannot create folder " + *it + " for database " + loc.database + ": " + std::strerror(errno));
    }
    made->push_back(*it);
  }
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

// What a failed open removes, so that it leaves nothing behind: the folders it made and,
// only if it created the database file itself (O_EXCL), that file, SQLite's -journal, -wal
// and -shm beside it and the key and feed files that were not there before. Files that
// existed before the open are never touched (other processes may be using them).
class OpenUndo {
 public:
  explicit OpenUndo(const StoreLocation& loc)
      : loc_(loc), key_existed_(exists(loc.key_file)), feed_existed_(exists(loc.feed_file)) {}
  OpenUndo(const OpenUndo&) = delete;
  OpenUndo& operator=(const OpenUndo&) = delete;
  ~OpenUndo() {
    if (!armed_) return;
    if (created_inode_ != 0) {
      struct stat st {};
      if (::lstat(loc_.database.c_str(), &st) == 0 && st.st_ino == created_inode_) {
        for (const char* suffix : {"-journal", "-wal", "-shm"}) ::unlink((loc_.database + suffix).c_str());
        ::unlink(loc_.database.c_str());
        if (!key_existed_) ::unlink(loc_.key_file.c_str());
        if (!feed_existed_) ::unlink(loc_.feed_file.c_str());
      }
    }
    for (auto it = dirs_.rbegin(); it != dirs_.rend(); ++it) ::rmdir(it->c_str());  // only if empty
  }
  std::vector<std::string>* dirs() { return &dirs_; }
  // Creates the database file (0600, so SQLite's -wal and -shm copy a private mode) unless
  // it exists; remembers that this open made it.
  void database_create() {
    const int fd = ::open(loc_.database.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
      if (errno == EEXIST) return;
      fail(ErrorCode::kStoreError, "cannot create database " + loc_.database + ": " + std::strerror(errno));
    }
    struct stat st {};
    if (::fstat(fd, &st) == 0) created_inode_ = st.st_ino;
    ::close(fd);
  }
  void keep() { armed_ = false; }

 private:
  const StoreLocation& loc_;
  bool key_existed_;
  bool feed_existed_;
  ino_t created_inode_ = 0;
  std::vector<std::string> dirs_;
  bool armed_ = true;
};

PepperSet peppers_load(const StoreLocation& loc, const StoreOptions& options) {
  if (loc.kind == StoreLocation::Kind::kUrl && !options.pepper_hex) {
    const char* env = std::getenv("TOKENKEEP_PEPPER");
    if (env == nullptr || *env == '\0') {
      // A key file per host would give each node its own pepper: tokens made on one node
      // would be invalid on the next.
      fail(ErrorCode::kStoreError,
           "a PostgreSQL store needs its pepper from pepper= or TOKENKEEP_PEPPER (the same on every host); "
           "it never uses a key file");
    }
  }
  Pepper current = options.pepper_hex ? Pepper::from_hex(*options.pepper_hex) : pepper_load(loc);
  PepperSet peppers(std::move(current));
  for (const auto& hex : options.previous_peppers_hex) peppers.add_previous(Pepper::from_hex(hex));
  if (const char* env = std::getenv("TOKENKEEP_PEPPER_PREVIOUS"); env != nullptr) {
    std::string_view rest(env);
    while (!rest.empty()) {
      const auto comma = rest.find(',');
      const auto item = rest.substr(0, comma);
      if (!item.empty()) peppers.add_previous(Pepper::from_hex(item));
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  return peppers;
}

// Records the pepper's fingerprint in the shared database on first open, and refuses a node
// whose pepper is another one (a rotation - the recorded one among the previous peppers -
// moves the record on).
void pepper_fingerprint_check(TokenRepository& repo, const PepperSet& peppers) {
  const std::string& mine = peppers.current().fingerprint();
  const auto recorded = repo.setting_get("pepper_fingerprint");
  if (recorded && *recorded != mine && peppers.find(*recorded) == nullptr) {
    fail(ErrorCode::kStoreError, "this database's tokens were made with another pepper (fingerprint " +
                                     *recorded + "; this host's is " + mine +
                                     "): give every host the same TOKENKEEP_PEPPER, or pass the old one as a "
                                     "previous pepper to rotate");
  }
  if (recorded == mine) return;
  const std::string in_force = repo.setting_put("pepper_fingerprint", mine, recorded);
  if (in_force != mine && peppers.find(in_force) == nullptr) {
    fail(ErrorCode::kStoreError, "another host recorded a different pepper (fingerprint " + in_force +
                                     ") while this one opened: give every host the same TOKENKEEP_PEPPER");
  }
}

// The engine's options for this store: a read-only store records no uses.
EngineOptions engine_options(const StoreOptions& options) {
  EngineOptions engine = options.engine;
  if (options.sqlite.read_only) engine.record_uses = false;
  return engine;
}

std::unique_ptr<Engine> url_store_open(const StoreLocation& loc, const StoreOptions& options) {
  PepperSet peppers = peppers_load(loc, options);  // before connecting: no pepper, no store
  PgOptions pg = options.pg;
  pg.read_only = options.sqlite.read_only;  // one read_only flag for every kind of store
  auto repository = pg_store_open(loc.url, pg);
  pepper_fingerprint_check(*repository, peppers);
  std::shared_ptr<const Clock> clock = options.clock ? options.clock : std::make_shared<SystemClock>();
  return std::make_unique<Engine>(std::move(repository), std::move(peppers), std::move(clock),
                                  engine_options(options));
}

}  // namespace

std::unique_ptr<Engine> store_open(const std::string& spec, const StoreOptions& options) {
  return store_open(store_location_resolve(spec), options);
}

std::unique_ptr<Engine> store_open(const StoreLocation& loc, const StoreOptions& options) {
  pg_options_check(options.pg);  // every store's options, whatever its location
  if (loc.kind == StoreLocation::Kind::kUrl) return url_store_open(loc, options);
  OpenUndo undo(loc);  // declared first: runs after everything below is destroyed
  if (loc.kind == StoreLocation::Kind::kFile && !options.sqlite.read_only) {
    folder_ensure(loc, options.create_dirs, undo.dirs());
    undo.database_create();
  }
  // The database first: a file that is not a database, or a newer schema, must fail before
  // a key file is written beside it.
  auto repository = sqlite_store_open(loc, options.sqlite);
  PepperSet peppers = peppers_load(loc, options);
  std::shared_ptr<const Clock> clock = options.clock ? options.clock : std::make_shared<SystemClock>();
  auto engine = std::make_unique<Engine>(std::move(repository), std::move(peppers), std::move(clock),
                                         engine_options(options));
  undo.keep();
  return engine;
}

}  // namespace tokenkeep
