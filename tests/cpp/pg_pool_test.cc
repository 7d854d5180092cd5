// PgPool (pg_pool.h): at most `size` connections whatever the threads, none opened before a
// call needs one, idle ones closed after idle_seconds, a waiter served by a returned one.
// Counted by the pool and on the server (pg_stat_activity by the schema's application_name).
// Needs TOKENKEEP_TEST_PG (fails without it).
#include "pg_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <thread>
#include <vector>

#include "contract_backends.h"
#include "tokenkeep/errors.h"

namespace tokenkeep {
namespace {

class PgPoolTest : public ::testing::Test {
 protected:
  // The server's count of this test's sessions (its schema's application_name).
  int server_count() {
    PgConnection admin(std::getenv("TOKENKEEP_TEST_PG"));
    PgParams p;
    p.add(schema.name());
    return static_cast<int>(
        admin.query("SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", p, "count on")
            .i64(0, 0));
  }
  testing::PgSchemaStore schema;
};

TEST_F(PgPoolTest, OpensNothingUntilACallNeedsAConnection) {
  PgPool pool(schema.conninfo(), 4, 5.0);
  EXPECT_EQ(pool.open_count(), 0);
  EXPECT_EQ(server_count(), 0);
  {
    auto c = pool.acquire();
    c->exec("SELECT 1", "select on");
    EXPECT_EQ(server_count(), 1);
  }
  EXPECT_EQ(pool.open_count(), 1);  // idle, kept for the next call
}

TEST_F(PgPoolTest, AWarmStartReadsOnAConnectionApartAndLeavesThePoolsIdleOneToVerifications) {
  PgPool pool(schema.conninfo(), 1, 5.0);
  { pool.acquire()->exec("SELECT 1", "select on"); }  // the store's connection, now idle
  {
    auto apart = pool.connect_apart();
    apart->exec("SELECT 1", "select on");
    EXPECT_EQ(pool.open_count(), 1);  // not the pool's
    EXPECT_EQ(server_count(), 2);
    // A verification meanwhile takes the idle connection: no connect, even at pool_size 1.
    const PgWireCount before = pg_wire_count_this_thread();
    auto lent = pool.acquire();
    EXPECT_EQ(pool.open_count(), 1);
    lent->exec("SELECT 1", "select on");
    EXPECT_EQ(pg_wire_count_this_thread().round_trips - before.round_trips, 1u);
  }
  EXPECT_EQ(server_count(), 1);  // closed by its caller
}

TEST_F(PgPoolTest, ABurstFromManyThreadsNeverOpensMoreThanSize) {
  PgPool pool(schema.conninfo(), 3, 5.0);
  std::atomic<int> busy{0}, most{0}, failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 16; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20; ++i) {
        try {
          auto c = pool.acquire();
          const int now = ++busy;
          int seen = most.load();
          while (now > seen && !most.compare_exchange_weak(seen, now)) {
          }
          c->exec("SELECT pg_sleep(0.001)", "sleep on");
          --busy;
        } catch (const Error&) {
          ++failures;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_LE(most.load(), 3);
  EXPECT_GE(most.load(), 2);  // the threads did overlap: the bound was exercised
  EXPECT_LE(pool.open_count(), 3);
  EXPECT_LE(server_count(), 3);
}

TEST_F(PgPoolTest, IdleConnectionsCloseAfterIdleSeconds) {
  PgPool pool(schema.conninfo(), 4, 0.3);
  {
    auto a = pool.acquire();
    auto b = pool.acquire();
    a->exec("SELECT 1", "select on");
    b->exec("SELECT 1", "select on");
  }
  EXPECT_EQ(pool.open_count(), 2);
  pool.idle_close();  // too early: both were used just now
  EXPECT_EQ(pool.open_count(), 2);
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  pool.idle_close();
  EXPECT_EQ(pool.open_count(), 0);
  for (int i = 0; i < 50 && server_count() != 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(server_count(), 0);
}

TEST_F(PgPoolTest, ZeroIdleClosesEachConnectionWhenGivenBack) {
  PgPool pool(schema.conninfo(), 2, 0.0);
  {
    auto c = pool.acquire();
    c->exec("SELECT 1", "select on");
  }
  EXPECT_EQ(pool.open_count(), 0);
}

TEST_F(PgPoolTest, AWaiterGetsTheConnectionGivenBack) {
  PgPool pool(schema.conninfo(), 1, 5.0);
  std::atomic<bool> got{false};
  std::thread waiter;
  {
    auto held = pool.acquire();
    waiter = std::thread([&] {
      auto c = pool.acquire();
      c->exec("SELECT 1", "select on");
      got = true;
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    EXPECT_FALSE(got.load());  // waiting, not opening a second one
    EXPECT_EQ(pool.open_count(), 1);
  }
  waiter.join();
  EXPECT_TRUE(got.load());
  EXPECT_EQ(pool.open_count(), 1);
}

TEST_F(PgPoolTest, BackgroundWorkTakesOnlyASpareConnection) {
  PgPool pool(schema.conninfo(), 4, 5.0);
  {
    auto spare = pool.acquire_spare();  // none open: it may open one
    ASSERT_TRUE(spare.has_value());
  }
  {
    auto busy = pool.acquire();                      // the idle one
    EXPECT_FALSE(pool.acquire_spare().has_value());  // every open one busy: not one more
    EXPECT_EQ(pool.open_count(), 1);
  }
  EXPECT_TRUE(pool.acquire_spare().has_value());  // idle again
  EXPECT_EQ(pool.open_count(), 1);
}

TEST_F(PgPoolTest, UnnamedStatementsRunWithoutPreparing) {
  PgPool pool(schema.conninfo(), 1, 5.0, /*prepare=*/false);
  auto c = pool.acquire();
  for (int i = 0; i < 3; ++i) {
    PgParams p;
    p.add(std::int64_t{40 + i});
    EXPECT_EQ(c->query("SELECT $1::bigint + 2", p, "select on").i64(0, 0), 42 + i);
  }
  PgParams none;
  EXPECT_EQ(c->query("SELECT count(*) FROM pg_prepared_statements", none, "count on").i64(0, 0), 0);
}

}  // namespace
}  // namespace tokenkeep
