// Google Benchmark for the engine: parse, digest, verify (cache hit and miss), create, and
// the floors they are compared against: a hit against one keyed BLAKE2b-256 + one hash-map
// lookup, a miss against a prepared SQLite lookup by id + keyed BLAKE2b-256 + compare.
#include <benchmark/benchmark.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "tokenkeep/checksum.h"
#include "tokenkeep/store.h"
#include "tokenkeep/token_format.h"

namespace tk = tokenkeep;

namespace {

struct Fixture {
  std::string dir;
  std::unique_ptr<tk::Engine> engine;
  std::vector<std::string> tokens;
  tk::ScopeMask mask = 0;

  explicit Fixture(int n) {
    char tmpl[] = "/tmp/tokenkeep-bench-XXXXXX";
    dir = ::mkdtemp(tmpl);
    tk::StoreOptions o;
    o.pepper_hex = std::string(64, 'a');
    engine = tk::store_open(dir + "/bench.db", o);
    std::vector<tk::NewToken> specs;
    for (int i = 0; i < n; ++i) specs.push_back({"t" + std::to_string(i), {"device"}, {}});
    for (auto& t : engine->create_many("bench", specs, "")) tokens.emplace_back(t.token.view());
    mask = engine->required_mask({"device:read"});
  }
  ~Fixture() {
    engine.reset();
    std::system(("rm -rf '" + dir + "'").c_str());
  }
};

Fixture& fixture() {
  static Fixture f(20000);
  return f;
}

void BM_TokenParse(benchmark::State& state) {
  const std::string t = fixture().tokens[0];
  for (auto _ : state) benchmark::DoNotOptimize(tk::token_parse("tk", t));
}
BENCHMARK(BM_TokenParse);

void BM_Crc32(benchmark::State& state) {
  const std::string t = fixture().tokens[0];
  for (auto _ : state) benchmark::DoNotOptimize(tk::crc32_compute(std::string_view(t).substr(0, 57)));
}
BENCHMARK(BM_Crc32);

void BM_Digest(benchmark::State& state) {
  const auto pepper = tk::Pepper::from_hex(std::string(64, 'a'));
  const std::string secret(43, 'x');
  for (auto _ : state) benchmark::DoNotOptimize(pepper.digest(42, secret));
}
BENCHMARK(BM_Digest);

// The floor: one keyed BLAKE2b-256 and one hash-map lookup, nothing else.
void BM_FloorHashPlusMapLookup(benchmark::State& state) {
  const auto pepper = tk::Pepper::from_hex(std::string(64, 'a'));
  std::unordered_map<std::int64_t, tk::Digest> map;
  for (std::int64_t i = 0; i < 1000; ++i) map[i * 7919] = pepper.digest(i, std::string(43, 'x'));
  const std::string secret(43, 'x');
  std::int64_t i = 0;
  for (auto _ : state) {
    const std::int64_t id = (i++ % 1000) * 7919;
    auto it = map.find(id);
    benchmark::DoNotOptimize(tk::digest_equal(it->second, pepper.digest(id, secret)));
  }
}
BENCHMARK(BM_FloorHashPlusMapLookup);

void BM_VerifyHit(benchmark::State& state) {
  auto& f = fixture();
  for (int i = 0; i < 1000; ++i) f.engine->verify(f.tokens[i], f.mask, nullptr);
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(f.engine->verify(f.tokens[i++ % 1000], f.mask, nullptr));
  }
}
BENCHMARK(BM_VerifyHit)->Threads(1)->Threads(2);

void BM_VerifyMiss(benchmark::State& state) {
  tk::StoreOptions o;
  o.pepper_hex = std::string(64, 'a');
  o.engine.cache_capacity = 0;  // every verify reads the database
  auto& f = fixture();
  auto engine = tk::store_open(f.dir + "/bench.db", o);
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(engine->verify(f.tokens[(i++ * 7) % f.tokens.size()], f.mask, nullptr));
  }
}
BENCHMARK(BM_VerifyMiss);

// The miss floor: what any C++ store must do to verify a token it has not cached - one
// prepared primary-key SELECT of the row (autocommit, its own read transaction), one keyed
// BLAKE2b-256, one constant-time compare - and nothing else (no cache, no use recording, no
// coherence). Same database, tokens and order as BM_VerifyMiss; parsing is done beforehand.
void BM_FloorSqliteLookup(benchmark::State& state) {
  auto& f = fixture();
  const auto pepper = tk::Pepper::from_hex(std::string(64, 'a'));
  struct Parsed {
    std::int64_t id;
    std::string secret;
  };
  std::vector<Parsed> parsed;
  for (const auto& t : f.tokens) {
    auto p = tk::token_parse("tk", t);
    parsed.push_back({p->id, std::string(p->secret.view())});
  }
  sqlite3* db = nullptr;
  sqlite3_open_v2((f.dir + "/bench.db").c_str(), &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr);
  sqlite3_stmt* stmt = nullptr;
  sqlite3_prepare_v3(db,
                     "SELECT id, owner, name, scopes, digest, pepper_id, created_at, expires_at, "
                     "last_used_at, revoked_at, description, networks FROM tokens WHERE id = ?1",
                     -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  std::size_t i = 0;
  std::int64_t matched = 0;
  for (auto _ : state) {
    const Parsed& p = parsed[(i++ * 7) % parsed.size()];
    sqlite3_bind_int64(stmt, 1, p.id);
    if (sqlite3_step(stmt) == SQLITE_ROW && sqlite3_column_bytes(stmt, 4) == 32) {
      tk::Digest stored;
      std::memcpy(stored.data(), sqlite3_column_blob(stmt, 4), stored.size());
      matched += tk::digest_equal(stored, pepper.digest(p.id, p.secret)) ? 1 : 0;
    }
    sqlite3_reset(stmt);
  }
  if (matched != static_cast<std::int64_t>(state.iterations())) state.SkipWithError("a floor lookup failed");
  sqlite3_finalize(stmt);
  sqlite3_close_v2(db);
}
BENCHMARK(BM_FloorSqliteLookup);

void BM_VerifyInvalidChecksum(benchmark::State& state) {
  std::string t = fixture().tokens[0];
  t.back() = t.back() == 'A' ? 'B' : 'A';
  for (auto _ : state) benchmark::DoNotOptimize(fixture().engine->verify(t, 0, nullptr));
}
BENCHMARK(BM_VerifyInvalidChecksum);

void BM_CreateMany1000(benchmark::State& state) {
  auto& f = fixture();
  static int round = 0;
  for (auto _ : state) {
    std::vector<tk::NewToken> specs;
    for (int i = 0; i < 1000; ++i)
      specs.push_back({"c" + std::to_string(round) + "-" + std::to_string(i), {"device"}, {}});
    ++round;
    benchmark::DoNotOptimize(f.engine->create_many("bulk", specs, ""));
  }
  state.SetItemsProcessed(state.iterations() * 1000);
}
BENCHMARK(BM_CreateMany1000)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
