// The C++ floor of a PostgreSQL cache miss (issue 23), run side by side with tokenkeep's miss
// and the psycopg store's by benchmarks/pg_bench.py: per token, one prepared SELECT of the row
// by id (PQexecPrepared, autocommit, id and row in binary, the columns tokenkeep's miss reads),
// one keyed BLAKE2b-256 and one constant-time compare over the same TCP connection - no cache,
// no pool, no coherence, no Python. Parsing is done before the clock starts; the first token is
// verified once untimed (the statement prepared, the connection warm), as the other stores are.
//
//   tokenkeep_pg_miss_floor CONNINFO PEPPER_HEX TOKENS_FILE
//
// Reads one token per line, prints the wall time of each lookup after the first, in ns, one a
// line, then `cpu <ns>`: this thread's CPU time over all of them. Exit status 1 if a token did not match, 2
// on a usage or connection error.
#include <libpq-fe.h>
#include <time.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "tokenkeep/pepper.h"
#include "tokenkeep/token_format.h"

namespace tk = tokenkeep;

namespace {

std::int64_t now_ns(clockid_t clock = CLOCK_MONOTONIC) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return std::int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

struct Parsed {
  std::int64_t id;
  std::string secret;
};

// One miss: true when the row exists and its digest matches.
bool lookup(PGconn* c, const tk::Pepper& pepper, const Parsed& p) {
  char id_be[8];
  const auto u = static_cast<std::uint64_t>(p.id);
  for (int i = 0; i < 8; ++i) id_be[i] = static_cast<char>(u >> (56 - 8 * i));
  const char* values[1] = {id_be};
  const int lengths[1] = {8};
  const int formats[1] = {1};
  PGresult* r = PQexecPrepared(c, "floor", 1, values, lengths, formats, 1);
  bool ok = false;
  if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 && PQgetlength(r, 0, 4) == 32) {
    tk::Digest stored;
    std::memcpy(stored.data(), PQgetvalue(r, 0, 4), stored.size());
    ok = tk::digest_equal(stored, pepper.digest(p.id, p.secret));
  }
  PQclear(r);
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s CONNINFO PEPPER_HEX TOKENS_FILE\n", argv[0]);
    return 2;
  }
  const auto pepper = tk::Pepper::from_hex(argv[2]);
  std::vector<Parsed> tokens;
  std::ifstream in(argv[3]);
  for (std::string line; std::getline(in, line);) {
    auto p = tk::token_parse("tk", line);
    if (p) tokens.push_back({p->id, std::string(p->secret.view())});
  }
  if (tokens.size() < 2) return 2;
  PGconn* c = PQconnectdb(argv[1]);
  if (PQstatus(c) != CONNECTION_OK) {
    std::fprintf(stderr, "pg_miss_floor: cannot connect\n");  // no conninfo: it may hold a password
    PQfinish(c);
    return 2;
  }
  PGresult* prep = PQprepare(c, "floor",
                             "SELECT id, owner, name, scopes, digest, pepper_id, created_at, expires_at, "
                             "last_used_at, revoked_at, description FROM tokenkeep_tokens WHERE id = $1",
                             1, nullptr);
  const bool prepared = PQresultStatus(prep) == PGRES_COMMAND_OK;
  PQclear(prep);
  if (!prepared || !lookup(c, pepper, tokens[0])) {
    PQfinish(c);
    return 2;
  }
  std::vector<std::int64_t> ns;
  ns.reserve(tokens.size());
  std::size_t matched = 0;
  const std::int64_t cpu0 = now_ns(CLOCK_THREAD_CPUTIME_ID);
  for (std::size_t i = 1; i < tokens.size(); ++i) {
    const std::int64_t t0 = now_ns();
    matched += lookup(c, pepper, tokens[i]) ? 1 : 0;
    ns.push_back(now_ns() - t0);
  }
  const std::int64_t cpu = now_ns(CLOCK_THREAD_CPUTIME_ID) - cpu0;
  PQfinish(c);
  for (std::int64_t v : ns) std::printf("%lld\n", static_cast<long long>(v));
  std::printf("cpu %lld\n", static_cast<long long>(cpu));
  return matched == tokens.size() - 1 ? 0 : 1;
}
