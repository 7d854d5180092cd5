// The C++ floor of a verification that reads the database (issue 23), for side-by-side runs
// with the Python miss in benchmarks/bench_first.py: per token, one prepared primary-key
// SELECT of the row (autocommit), one keyed BLAKE2b-256 and one constant-time compare - no
// cache, no use recording, no coherence. Parsing is done before the clock starts.
//
//   tokenkeep_miss_floor DB PEPPER_HEX TOKENS_FILE PASSES
//
// Reads one token per line, runs PASSES passes over them in file order, prints
// `<wall ns per lookup> <thread CPU ns per lookup>`. Exit status 1 if a token did not match.
#include <sqlite3.h>
#include <time.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "tokenkeep/pepper.h"
#include "tokenkeep/token_format.h"

namespace tk = tokenkeep;

namespace {

double clock_ns(clockid_t id) {
  timespec ts{};
  clock_gettime(id, &ts);
  return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s DB PEPPER_HEX TOKENS_FILE PASSES\n", argv[0]);
    return 2;
  }
  const auto pepper = tk::Pepper::from_hex(argv[2]);
  struct Parsed {
    std::int64_t id;
    std::string secret;
  };
  std::vector<Parsed> tokens;
  std::ifstream in(argv[3]);
  for (std::string line; std::getline(in, line);) {
    auto p = tk::token_parse("tk", line);
    if (p) tokens.push_back({p->id, std::string(p->secret.view())});
  }
  const int passes = std::stoi(argv[4]);
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(argv[1], &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK)
    return 2;
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v3(db,
                         "SELECT id, owner, name, scopes, digest, pepper_id, created_at, expires_at, "
                         "last_used_at, revoked_at, description, networks FROM tokens WHERE id = ?1",
                         -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr) != SQLITE_OK) {
    return 2;
  }
  std::size_t matched = 0;
  const double wall0 = clock_ns(CLOCK_MONOTONIC), cpu0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
  for (int pass = 0; pass < passes; ++pass) {
    for (const Parsed& p : tokens) {
      sqlite3_bind_int64(stmt, 1, p.id);
      if (sqlite3_step(stmt) == SQLITE_ROW && sqlite3_column_bytes(stmt, 4) == 32) {
        tk::Digest stored;
        std::memcpy(stored.data(), sqlite3_column_blob(stmt, 4), stored.size());
        matched += tk::digest_equal(stored, pepper.digest(p.id, p.secret)) ? 1 : 0;
      }
      sqlite3_reset(stmt);
    }
  }
  const double n = static_cast<double>(tokens.size()) * passes;
  const double wall = clock_ns(CLOCK_MONOTONIC) - wall0, cpu = clock_ns(CLOCK_THREAD_CPUTIME_ID) - cpu0;
  sqlite3_finalize(stmt);
  sqlite3_close_v2(db);
  std::printf("%.1f %.1f\n", wall / n, cpu / n);
  return matched == tokens.size() * static_cast<std::size_t>(passes) && !tokens.empty() ? 0 : 1;
}
