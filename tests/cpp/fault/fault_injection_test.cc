// I/O fault injection, SQLite's own method (its test_devsym/malloc-fault style): a shim VFS
// registered as the process default wraps "unix" and fails the Nth xWrite, xSync or xRead
// with SQLITE_IOERR_* or SQLITE_FULL — once, or from the Nth call on ("persistent"). N is
// swept over each mutating call (create, scope edit, revoke, rotate) until the call gets
// through without reaching N. For every N that fires, the call must fail with kStoreError and
// a clear message, PRAGMA integrity_check must say ok, the database and every verify answer
// must be exactly as before the call, and once the fault clears the same call must succeed
// and be durable.
//
// This binary is separate from tokenkeep_tests: the default-VFS swap must not leak there.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "test_util.h"
#include "tokenkeep/errors.h"
#include "tokenkeep/store.h"
#include "verify_result.h"

namespace tokenkeep {
namespace {

// ----------------------------------------------------------------------------------------
// The shim VFS.

enum class FaultOp { kWrite, kSync, kRead };

struct FaultPlan {
  bool armed = false;
  FaultOp op = FaultOp::kWrite;
  int nth = 0;  // 1-based: the call that fails first
  int error = SQLITE_IOERR_WRITE;
  bool persistent = false;  // keep failing every later call of that kind until disarmed
  int calls = 0;            // calls of `op` seen while armed
  int fired = 0;            // how many calls were failed
};

FaultPlan g_plan;
sqlite3_vfs* g_real = nullptr;
sqlite3_vfs g_shim;
sqlite3_io_methods g_methods;

struct ShimFile {
  sqlite3_file base;
  sqlite3_file* real;  // the wrapped unix file, allocated right after this struct
};

sqlite3_file* real_of(sqlite3_file* f) { return reinterpret_cast<ShimFile*>(f)->real; }

// True if this call of `op` must fail.
bool fault_due(FaultOp op) {
  if (!g_plan.armed || g_plan.op != op) return false;
  ++g_plan.calls;
  if (g_plan.calls == g_plan.nth || (g_plan.persistent && g_plan.calls > g_plan.nth)) {
    ++g_plan.fired;
    return true;
  }
  return false;
}

int shim_close(sqlite3_file* f) { return real_of(f)->pMethods->xClose(real_of(f)); }
int shim_read(sqlite3_file* f, void* buf, int n, sqlite3_int64 off) {
  if (fault_due(FaultOp::kRead)) return g_plan.error;
  return real_of(f)->pMethods->xRead(real_of(f), buf, n, off);
}
int shim_write(sqlite3_file* f, const void* buf, int n, sqlite3_int64 off) {
  if (fault_due(FaultOp::kWrite)) return g_plan.error;
  return real_of(f)->pMethods->xWrite(real_of(f), buf, n, off);
}
int shim_truncate(sqlite3_file* f, sqlite3_int64 size) {
  return real_of(f)->pMethods->xTruncate(real_of(f), size);
}
int shim_sync(sqlite3_file* f, int flags) {
  if (fault_due(FaultOp::kSync)) return g_plan.error;
  return real_of(f)->pMethods->xSync(real_of(f), flags);
}
int shim_file_size(sqlite3_file* f, sqlite3_int64* size) {
  return real_of(f)->pMethods->xFileSize(real_of(f), size);
}
int shim_lock(sqlite3_file* f, int level) { return real_of(f)->pMethods->xLock(real_of(f), level); }
int shim_unlock(sqlite3_file* f, int level) { return real_of(f)->pMethods->xUnlock(real_of(f), level); }
int shim_check_reserved(sqlite3_file* f, int* out) {
  return real_of(f)->pMethods->xCheckReservedLock(real_of(f), out);
}
int shim_file_control(sqlite3_file* f, int op, void* arg) {
  return real_of(f)->pMethods->xFileControl(real_of(f), op, arg);
}
int shim_sector_size(sqlite3_file* f) { return real_of(f)->pMethods->xSectorSize(real_of(f)); }
int shim_device_characteristics(sqlite3_file* f) {
  return real_of(f)->pMethods->xDeviceCharacteristics(real_of(f));
}
int shim_shm_map(sqlite3_file* f, int page, int size, int extend, void volatile** out) {
  return real_of(f)->pMethods->xShmMap(real_of(f), page, size, extend, out);
}
int shim_shm_lock(sqlite3_file* f, int offset, int n, int flags) {
  return real_of(f)->pMethods->xShmLock(real_of(f), offset, n, flags);
}
void shim_shm_barrier(sqlite3_file* f) { real_of(f)->pMethods->xShmBarrier(real_of(f)); }
int shim_shm_unmap(sqlite3_file* f, int del) { return real_of(f)->pMethods->xShmUnmap(real_of(f), del); }
// No memory mapping: every page read goes through xRead, where faults can be injected.
int shim_fetch(sqlite3_file*, sqlite3_int64, int, void** out) {
  *out = nullptr;
  return SQLITE_OK;
}
int shim_unfetch(sqlite3_file*, sqlite3_int64, void*) { return SQLITE_OK; }

int shim_open(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* f, int flags, int* out_flags) {
  auto* s = reinterpret_cast<ShimFile*>(f);
  s->real = reinterpret_cast<sqlite3_file*>(s + 1);
  s->real->pMethods = nullptr;
  const int rc = g_real->xOpen(g_real, name, s->real, flags, out_flags);
  s->base.pMethods = s->real->pMethods ? &g_methods : nullptr;
  return rc;
}
int shim_delete(sqlite3_vfs*, const char* name, int sync_dir) {
  return g_real->xDelete(g_real, name, sync_dir);
}
int shim_access(sqlite3_vfs*, const char* name, int flags, int* out) {
  return g_real->xAccess(g_real, name, flags, out);
}
int shim_full_pathname(sqlite3_vfs*, const char* name, int n, char* out) {
  return g_real->xFullPathname(g_real, name, n, out);
}
void* shim_dl_open(sqlite3_vfs*, const char* name) { return g_real->xDlOpen(g_real, name); }
void shim_dl_error(sqlite3_vfs*, int n, char* out) { g_real->xDlError(g_real, n, out); }
void (*shim_dl_sym(sqlite3_vfs*, void* h, const char* sym))(void) { return g_real->xDlSym(g_real, h, sym); }
void shim_dl_close(sqlite3_vfs*, void* h) { g_real->xDlClose(g_real, h); }
int shim_randomness(sqlite3_vfs*, int n, char* out) { return g_real->xRandomness(g_real, n, out); }
int shim_sleep(sqlite3_vfs*, int us) { return g_real->xSleep(g_real, us); }
int shim_current_time(sqlite3_vfs*, double* out) { return g_real->xCurrentTime(g_real, out); }
int shim_last_error(sqlite3_vfs*, int n, char* out) { return g_real->xGetLastError(g_real, n, out); }
int shim_current_time64(sqlite3_vfs*, sqlite3_int64* out) { return g_real->xCurrentTimeInt64(g_real, out); }

// Registers the shim as the default VFS for the whole test program.
class ShimEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    g_real = sqlite3_vfs_find("unix");
    ASSERT_NE(g_real, nullptr);
    g_methods = sqlite3_io_methods{};
    g_methods.iVersion = 3;
    g_methods.xClose = shim_close;
    g_methods.xRead = shim_read;
    g_methods.xWrite = shim_write;
    g_methods.xTruncate = shim_truncate;
    g_methods.xSync = shim_sync;
    g_methods.xFileSize = shim_file_size;
    g_methods.xLock = shim_lock;
    g_methods.xUnlock = shim_unlock;
    g_methods.xCheckReservedLock = shim_check_reserved;
    g_methods.xFileControl = shim_file_control;
    g_methods.xSectorSize = shim_sector_size;
    g_methods.xDeviceCharacteristics = shim_device_characteristics;
    g_methods.xShmMap = shim_shm_map;
    g_methods.xShmLock = shim_shm_lock;
    g_methods.xShmBarrier = shim_shm_barrier;
    g_methods.xShmUnmap = shim_shm_unmap;
    g_methods.xFetch = shim_fetch;
    g_methods.xUnfetch = shim_unfetch;

    g_shim = sqlite3_vfs{};
    g_shim.iVersion = 2;
    g_shim.szOsFile = static_cast<int>(sizeof(ShimFile)) + g_real->szOsFile;
    g_shim.mxPathname = g_real->mxPathname;
    g_shim.zName = "tokenkeep-fault";
    g_shim.xOpen = shim_open;
    g_shim.xDelete = shim_delete;
    g_shim.xAccess = shim_access;
    g_shim.xFullPathname = shim_full_pathname;
    g_shim.xDlOpen = shim_dl_open;
    g_shim.xDlError = shim_dl_error;
    g_shim.xDlSym = shim_dl_sym;
    g_shim.xDlClose = shim_dl_close;
    g_shim.xRandomness = shim_randomness;
    g_shim.xSleep = shim_sleep;
    g_shim.xCurrentTime = shim_current_time;
    g_shim.xGetLastError = shim_last_error;
    g_shim.xCurrentTimeInt64 = shim_current_time64;
    ASSERT_EQ(sqlite3_vfs_register(&g_shim, 1), SQLITE_OK);
    ASSERT_EQ(sqlite3_vfs_find(nullptr), &g_shim);
  }
};

const auto* const g_env = ::testing::AddGlobalTestEnvironment(new ShimEnvironment);

// ----------------------------------------------------------------------------------------
// Observing a store without going through the shim or the engine under test.

// Raw view of the database through the real "unix" VFS: integrity_check, and every row of
// every table, so that "exactly as before" does not depend on the current schema.
class RawDb {
 public:
  explicit RawDb(const std::string& path) {
    if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE, "unix") != SQLITE_OK) {
      ADD_FAILURE() << "raw open failed: " << sqlite3_errmsg(db_);
    }
    sqlite3_busy_timeout(db_, 5000);
  }
  ~RawDb() { sqlite3_close_v2(db_); }

  std::string integrity() { return query("PRAGMA integrity_check"); }

  std::string dump() {
    std::string out;
    std::vector<std::string> tables;
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(db_, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name", -1, &st,
                       nullptr);
    while (sqlite3_step(st) == SQLITE_ROW)
      tables.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)));
    sqlite3_finalize(st);
    for (const auto& t : tables) {
      out += "== " + t + "\n" + query("SELECT * FROM \"" + t + "\" ORDER BY 1");
    }
    out += "== user_version " + query("PRAGMA user_version");
    return out;
  }

  std::string query(const std::string& sql) {
    std::string out;
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) {
      ADD_FAILURE() << sql << ": " << sqlite3_errmsg(db_);
      return out;
    }
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
      for (int i = 0; i < sqlite3_column_count(st); ++i) {
        if (i) out += "|";
        if (sqlite3_column_type(st, i) == SQLITE_BLOB) {
          const auto* p = static_cast<const unsigned char*>(sqlite3_column_blob(st, i));
          static const char* hex = "0123456789abcdef";
          for (int k = 0; k < sqlite3_column_bytes(st, i); ++k) {
            out += hex[p[k] >> 4];
            out += hex[p[k] & 15];
          }
        } else if (const auto* t = sqlite3_column_text(st, i)) {
          out += reinterpret_cast<const char*>(t);
        } else {
          out += "NULL";
        }
      }
      out += "\n";
    }
    if (rc != SQLITE_DONE) ADD_FAILURE() << sql << ": " << sqlite3_errmsg(db_);
    sqlite3_finalize(st);
    return out;
  }

 private:
  sqlite3* db_ = nullptr;
};

constexpr std::int64_t kT0 = 1893456000LL * kMicrosPerSecond;  // 2030-01-01T00:00:00Z
const std::string kPepper(64, 'c');

// The lines only in `before` (-) and only in `after` (+): what a failed call changed.
std::string lines_changed(const std::string& before, const std::string& after) {
  auto split = [](const std::string& s) {
    std::multiset<std::string> out;
    std::istringstream in(s);
    for (std::string line; std::getline(in, line);) out.insert(line);
    return out;
  };
  const auto a = split(before), b = split(after);
  std::string out;
  for (const auto& l : a)
    if (!b.count(l)) out += "- " + l + "\n";
  for (const auto& l : b)
    if (!a.count(l)) out += "+ " + l + "\n";
  return out;
}

const char* status_name(VerifyStatus s) {
  switch (s) {
    case VerifyStatus::kOk:
      return "ok";
    case VerifyStatus::kInvalid:
      return "invalid";
    case VerifyStatus::kExpired:
      return "expired";
    case VerifyStatus::kRevoked:
      return "revoked";
    case VerifyStatus::kInsufficientScope:
      return "scope";
    case VerifyStatus::kNetworkNotAllowed:
      return "network";
  }
  return "?";
}

enum class Mutation { kCreate, kUpdateScopes, kRevoke, kRotate };

const char* mutation_name(Mutation m) {
  switch (m) {
    case Mutation::kCreate:
      return "create";
    case Mutation::kUpdateScopes:
      return "update_scopes";
    case Mutation::kRevoke:
      return "revoke";
    case Mutation::kRotate:
      return "rotate";
  }
  return "?";
}

// One store on a fresh file with three baseline tokens (two of alice's, one of bob's).
struct Scenario {
  testing::TempDir dir;
  std::string db = dir.file("tokens.db");
  std::shared_ptr<ManualClock> clock = std::make_shared<ManualClock>(kT0);
  std::unique_ptr<Engine> engine;
  std::vector<std::string> secrets;  // baseline tokens, then any issued by the mutation
  std::vector<std::string> ids;

  // `cold`: checkpoint the WAL into the database file and reopen the engine, so that the
  // mutation reads its pages from disk (where read faults can reach it) instead of a warm
  // page cache.
  explicit Scenario(bool cold = false) {
    engine = open();
    add(engine->create("alice", NewToken{"a1", {"device"}, {}}, ""));
    add(engine->create("alice", NewToken{"a2", {"policy:read"}, {}}, ""));
    add(engine->create("bob", NewToken{"b1", {"collection"}, {}}, ""));
    // Enough other rows that the tables and indexes span several pages.
    std::vector<NewToken> filler;
    for (int i = 0; i < 60; ++i)
      filler.push_back(NewToken{"filler-" + std::to_string(i), {"device:read"}, {}});
    engine->create_many("carol", filler, "");
    clock->advance_us(kMicrosPerSecond);
    // A first verify of each, so that whatever a verify records or caches is in place.
    for (const auto& s : secrets) engine->verify(s, 0, nullptr);
    uses_settle();
    if (cold) {
      engine.reset();
      {
        RawDb raw(db);
        EXPECT_EQ(raw.query("PRAGMA wal_checkpoint(TRUNCATE)").substr(0, 2), "0|");
      }
      engine = open();
    }
  }

  // Waits until the uses recorded by the verifies above are in the database, so that no
  // background write (an engine that persists last_used_at asynchronously) runs while a
  // fault is armed, and "the rows before" are final. uses_flush() alone is not enough while
  // the engine's own flusher may be mid-write.
  void uses_settle() {
    for (int i = 0; i < 500; ++i) {
      testing::engine_uses_flush(*engine);
      RawDb raw(db);
      if (raw.query("SELECT count(*) FROM tokens WHERE owner IN ('alice', 'bob') AND last_used_at IS NULL") ==
          "0\n") {
        return;
      }
      ::usleep(10000);
    }
    ADD_FAILURE() << "the uses of the baseline tokens never reached the database";
  }

  std::unique_ptr<Engine> open() {
    StoreOptions o;
    o.pepper_hex = kPepper;
    o.clock = clock;
    o.sqlite.busy_timeout_ms = 2000;
    return store_open(db, o);
  }

  void add(const IssuedToken& t) {
    secrets.emplace_back(t.token.view());
    ids.push_back(token_id_format(t.record.id));
  }

  void mutate(Mutation m) {
    switch (m) {
      case Mutation::kCreate:
        add(engine->create("alice", NewToken{"new", {"device:read"}, {}}, ""));
        break;
      case Mutation::kUpdateScopes:
        engine->update_scopes("alice", ids[0], {"policy"}, "");
        break;
      case Mutation::kRevoke:
        engine->revoke("alice", ids[0], "");
        break;
      case Mutation::kRotate:
        add(engine->rotate("alice", ids[0], ""));
        break;
    }
  }

  // Everything a user of `e` can observe: each known token's verify outcome and scopes,
  // and both owners' lists.
  std::string observe(Engine& e) {
    std::ostringstream out;
    for (const auto& s : secrets) {
      testing::VerifyOut r{};
      const VerifyStatus st = e.verify(s, 0, &r);
      out << status_name(st) << " " << testing::result_name(r) << " ["
          << scopes_join(testing::result_scopes(r)) << "]\n";
    }
    for (const char* owner : {"alice", "bob"}) {
      out << owner << ":";
      for (const auto& r : e.list(owner)) out << " " << r.name << "=" << scopes_join(r.scopes);
      out << "\n";
    }
    return out.str();
  }

  // The observable result of a successful mutation `m`.
  void expect_applied(Mutation m, Engine& e) {
    testing::VerifyOut r{};
    switch (m) {
      case Mutation::kCreate:
        ASSERT_EQ(secrets.size(), 4u);
        EXPECT_EQ(e.verify(secrets[3], e.required_mask({"device:read"}), &r), VerifyStatus::kOk);
        EXPECT_EQ(testing::result_name(r), "new");
        EXPECT_EQ(e.list("alice").size(), 3u);
        break;
      case Mutation::kUpdateScopes:
        EXPECT_EQ(e.verify(secrets[0], e.required_mask({"policy:write"}), &r), VerifyStatus::kOk);
        EXPECT_EQ(testing::result_scopes(r), std::vector<std::string>{"policy"});
        EXPECT_EQ(e.verify(secrets[0], e.required_mask({"device:read"}), nullptr),
                  VerifyStatus::kInsufficientScope);
        break;
      case Mutation::kRevoke:
        EXPECT_EQ(e.verify(secrets[0], 0, nullptr), VerifyStatus::kRevoked);
        EXPECT_EQ(e.list("alice").size(), 1u);
        break;
      case Mutation::kRotate:
        ASSERT_EQ(secrets.size(), 4u);
        EXPECT_EQ(e.verify(secrets[0], 0, nullptr), VerifyStatus::kRevoked);
        EXPECT_EQ(e.verify(secrets[3], e.required_mask({"device:write"}), &r), VerifyStatus::kOk);
        EXPECT_EQ(testing::result_name(r), "a1");
        EXPECT_EQ(e.list("alice").size(), 2u);
        break;
    }
    EXPECT_EQ(e.verify(secrets[1], 0, nullptr), VerifyStatus::kOk);
    EXPECT_EQ(e.verify(secrets[2], 0, nullptr), VerifyStatus::kOk);
  }
};

struct FaultKind {
  const char* name;
  FaultOp op;
  int error;
  bool persistent;
};

const FaultKind kKinds[] = {
    {"write_ioerr", FaultOp::kWrite, SQLITE_IOERR_WRITE, false},
    {"write_full", FaultOp::kWrite, SQLITE_FULL, false},
    {"sync_ioerr", FaultOp::kSync, SQLITE_IOERR_FSYNC, false},
    {"read_ioerr", FaultOp::kRead, SQLITE_IOERR_READ, false},
    {"write_ioerr_persistent", FaultOp::kWrite, SQLITE_IOERR_WRITE, true},
    {"write_full_persistent", FaultOp::kWrite, SQLITE_FULL, true},
    {"sync_ioerr_persistent", FaultOp::kSync, SQLITE_IOERR_FSYNC, true},
    {"read_ioerr_persistent", FaultOp::kRead, SQLITE_IOERR_READ, true},
};

struct Param {
  Mutation mutation;
  FaultKind kind;
};

std::string param_name(const ::testing::TestParamInfo<Param>& info) {
  return std::string(mutation_name(info.param.mutation)) + "_" + info.param.kind.name;
}

std::vector<Param> all_params() {
  std::vector<Param> out;
  for (Mutation m : {Mutation::kCreate, Mutation::kUpdateScopes, Mutation::kRevoke, Mutation::kRotate}) {
    for (const auto& k : kKinds) out.push_back({m, k});
  }
  return out;
}

class FaultSweep : public ::testing::TestWithParam<Param> {};

// Sweeps N = 1, 2, ... over one mutation and one fault kind.
TEST_P(FaultSweep, EveryFailedCallIsAStoreErrorAndChangesNothing) {
  const Param p = GetParam();
  int points_fired = 0;
  int points_survived = 0;  // the fault fired but SQLite recovered and the call succeeded
  constexpr int kMaxN = 500;
  int n = 1;
  for (; n <= kMaxN; ++n) {
    SCOPED_TRACE(std::string(mutation_name(p.mutation)) + " " + p.kind.name + " N=" + std::to_string(n));
    Scenario sc(p.kind.op == FaultOp::kRead);
    std::string before_rows, before_seen;
    {
      RawDb raw(sc.db);
      before_rows = raw.dump();
    }
    before_seen = sc.observe(*sc.engine);

    g_plan = FaultPlan{};
    g_plan.op = p.kind.op;
    g_plan.nth = n;
    g_plan.error = p.kind.error;
    g_plan.persistent = p.kind.persistent;
    g_plan.armed = true;
    bool threw = false;
    try {
      sc.mutate(p.mutation);
    } catch (const Error& e) {
      threw = true;
      EXPECT_EQ(e.code(), ErrorCode::kStoreError) << e.what();
      const std::string msg = e.what();
      const bool clear =
          msg.find("disk I/O error") != std::string::npos || msg.find("disk is full") != std::string::npos;
      EXPECT_TRUE(clear) << "unclear message: " << msg;
      EXPECT_NE(msg.find(sc.db), std::string::npos) << "message does not name the database: " << msg;
      for (const auto& s : sc.secrets) EXPECT_EQ(msg.find(s.substr(3 + kIdWidth, 12)), std::string::npos);
    } catch (const std::exception& e) {
      threw = true;
      ADD_FAILURE() << "not a tokenkeep::Error: " << e.what();
    }
    g_plan.armed = false;
    const bool fired = g_plan.fired > 0;

    if (!fired) {
      // N is past the last I/O call of this kind in the mutation: the sweep is complete.
      EXPECT_FALSE(threw);
      sc.expect_applied(p.mutation, *sc.engine);
      break;
    }
    ++points_fired;
    {
      RawDb raw(sc.db);
      EXPECT_EQ(raw.integrity(), "ok\n");
      if (threw) {
        EXPECT_EQ(lines_changed(before_rows, raw.dump()), "") << "the failed call changed the database";
      }
    }
    if (!threw) {
      ++points_survived;
      sc.expect_applied(p.mutation, *sc.engine);
      continue;
    }
    // The same engine still answers exactly as before the failed call ...
    EXPECT_EQ(sc.observe(*sc.engine), before_seen) << "the failed call changed what verify/list report";
    // ... and once the fault is gone the same call goes through, durably.
    try {
      sc.mutate(p.mutation);
    } catch (const std::exception& e) {
      ADD_FAILURE() << "the call after the fault cleared failed: " << e.what();
      continue;
    }
    sc.expect_applied(p.mutation, *sc.engine);
    sc.engine.reset();
    {
      RawDb raw(sc.db);
      EXPECT_EQ(raw.integrity(), "ok\n");
    }
    auto reopened = sc.open();
    sc.expect_applied(p.mutation, *reopened);
    if (::testing::Test::HasFailure()) break;  // one N's failures are enough to read
  }
  EXPECT_LT(n, kMaxN) << "the sweep never got past the fault";
  EXPECT_GT(points_fired, 0) << "no fault point was reached: the shim is not in the I/O path";
  std::printf("[ sweep    ] %s %s: %d fault points fired, %d survived by SQLite, all recovered\n",
              mutation_name(p.mutation), p.kind.name, points_fired, points_survived);
  RecordProperty("fault_points", points_fired);
}

INSTANTIATE_TEST_SUITE_P(Sweep, FaultSweep, ::testing::ValuesIn(all_params()), param_name);

// A fault during verify (a read) is a StoreError from verify_or_throw, never a false accept
// or a crash; the next verify answers correctly.
TEST(FaultVerify, ReadFaultDuringVerifyIsAStoreErrorAndNeverAccepts) {
  int fired_points = 0;
  for (int n = 1; n <= 200; ++n) {
    SCOPED_TRACE("N=" + std::to_string(n));
    Scenario sc;
    sc.engine->revoke("alice", sc.ids[0], "");
    // A fresh engine on a checkpointed file: nothing cached, so verify must read the disk.
    sc.engine.reset();
    {
      RawDb raw(sc.db);
      raw.query("PRAGMA wal_checkpoint(TRUNCATE)");
    }
    sc.engine = sc.open();
    g_plan = FaultPlan{};
    g_plan.op = FaultOp::kRead;
    g_plan.nth = n;
    g_plan.error = SQLITE_IOERR_READ;
    g_plan.persistent = true;
    g_plan.armed = true;
    VerifyStatus st = VerifyStatus::kOk;
    bool threw = false;
    try {
      st = sc.engine->verify(sc.secrets[0], 0, nullptr);
    } catch (const Error& e) {
      threw = true;
      EXPECT_EQ(e.code(), ErrorCode::kStoreError) << e.what();
    }
    g_plan.armed = false;
    if (!threw) {
      EXPECT_EQ(st, VerifyStatus::kRevoked) << "a revoked token was not reported revoked";
    }
    EXPECT_EQ(sc.engine->verify(sc.secrets[0], 0, nullptr), VerifyStatus::kRevoked);
    EXPECT_EQ(sc.engine->verify(sc.secrets[1], 0, nullptr), VerifyStatus::kOk);
    if (g_plan.fired == 0) break;
    ++fired_points;
  }
  EXPECT_GT(fired_points, 0);
  std::printf("[ sweep    ] verify read_ioerr_persistent: %d fault points fired\n", fired_points);
}

}  // namespace
}  // namespace tokenkeep
