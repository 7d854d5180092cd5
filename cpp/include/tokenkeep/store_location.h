// Where a store lives. The ONE function that turns a spelling of a store (what a user passed
// as TokenStore(path), TOKENKEEP_DB or --db) into the names every part of the engine uses:
// the SQLite database file, the pepper key file and the change-feed file (or a PostgreSQL
// connection string). Nothing else derives these names, so two spellings of one database
// (a symlink, a relative path, a file: URI) always share one key file and one change feed.
//
// Accepted spellings:
//   ":memory:", ""                       a private in-memory store (kMemory)
//   "t.db", "../x/t.db", "/abs/t.db"     a file (kFile), made absolute from the working
//                                        directory; symlinks of an existing file and of its
//                                        folder are resolved (realpath)
//   "file:t.db", "file:/abs/t.db",       the same file as a URI (RFC 8089 as SQLite reads it:
//   "file:///abs/t.db",                  authority empty or "localhost", %XX decoded); any
//   "file://localhost/abs/t.db"          query (?mode=, ?immutable=, ...) or fragment is refused,
//                                        since the store chooses its own open flags
//   "postgresql://...", "postgres://...",  a PostgreSQL conninfo (kUrl), passed on verbatim
//   "host=/tmp dbname=x"                 (libpq key=value: starts with `keyword=`); a file
//                                        whose name looks like that is spelled "./host=..."
// Refused with InvalidArgument (field "path"): NUL bytes, a folder, a name ending in "/",
// ".." inside the part of the path that does not exist yet, a symlink whose target is
// missing (SQLite would create the target with the umask's mode), unsupported URI parts.
#pragma once

#include <string>

namespace tokenkeep {

struct StoreLocation {
  enum class Kind { kMemory, kFile, kUrl } kind = Kind::kMemory;
  std::string database;   // canonical absolute database file path (kFile)
  std::string key_file;   // database + ".key" (kFile)
  std::string feed_file;  // database + "-tkfeed" (kFile)
  std::string url;        // libpq conninfo (kUrl)
};

StoreLocation store_location_resolve(const std::string& spec);

// How store_file_open treats a missing or existing file.
enum class FileOpen {
  kExisting,   // open it if it exists (-1 with errno ENOENT if not)
  kCreate,     // open it, or create it (mode 0600) if missing
  kCreateNew,  // create it (mode 0600); -1 with errno EEXIST if it exists
};

// Opens `path`, a file of the store in the database's folder (location.key_file or
// feed_file), relative to that folder's descriptor and never through a symlink (openat with
// O_NOFOLLOW, the folder itself opened with O_NOFOLLOW). `access`: O_RDONLY, O_WRONLY or
// O_RDWR. Refuses (StoreError naming the file and the fix) a symlink, anything but a regular
// file, and a file with several hard links: each could be another file (root's, say) that
// the store would then write. A file this call created is *created (if given) and, when root
// made it beside a database another user owns, given to that user; no other file's owner is
// ever changed. Other failures: -1 with errno (ENOENT, EEXIST, EACCES...).
int store_file_open(const StoreLocation& location, const std::string& path, const char* what, int access,
                    FileOpen how, bool* created = nullptr);

// Refuses (StoreError, as store_file_open) a symlink, a non-regular file or a file with several
// hard links at `path` in the database's folder, if anything is there. For the files SQLite
// opens itself (-wal, -shm): it already refuses symlinks (O_NOFOLLOW) but would write through
// a hard link, and as root chown it. A check before SQLite opens them, not a guarantee.
void store_file_vet(const StoreLocation& location, const std::string& path, const char* what);

// Refuses (StoreError naming the file, its mode or owner, and the fix) a file of the store
// that is open on `fd` at `path` if any of the `forbidden` mode bits are set (like ssh with
// a loose private key), or if it is owned by someone other than this user, root or - when
// this user is root - the database's owner (root's files there are chowned to it). `what`
// names the file in the message: "key file", "change feed".
void store_file_check(int fd, const std::string& path, const char* what, const StoreLocation& location,
                      unsigned forbidden);

}  // namespace tokenkeep
