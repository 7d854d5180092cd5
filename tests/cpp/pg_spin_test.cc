// How a cache miss waits for PostgreSQL's answer (PgSpinPolicy, pg_spin.h): the policy alone
// against played answer times (spin only where spinning answers sooner by the margin; probe
// the other way one read in 16, or 128 where spinning is twice as fast; come back at once to a
// server that came close; never on one core), and a real connection against a server whose answers take 3 ms
// (pg_sleep): only the first read and the probes spin, and the next connection, starting from
// what the first measured, spins only for the probes. Needs TOKENKEEP_TEST_PG for the last.
#include "pg_spin.h"

#include <gtest/gtest.h>

#include <cstdlib>

#include "pg_connection.h"

namespace tokenkeep {
namespace {

// `n` reads under `p` whose answers take `spun` ns when spinning, `slept` ns when sleeping:
// how many spun.
int play(PgSpinPolicy& p, int n, std::int64_t spun, std::int64_t slept) {
  int spins = 0;
  for (int i = 0; i < n; ++i) {
    const bool spin = p.spin_next();
    spins += spin ? 1 : 0;
    p.answered(spin, spin ? spun : slept);
  }
  return spins;
}

TEST(PgSpinPolicy, SpinsWhereSpinningAnswersSoonerAndProbesSleepingOneReadIn16) {
  PgSpinPolicy p(true, nullptr);
  play(p, 32, 70000, 110000);                   // learning (a quiet machine over TCP)
  EXPECT_EQ(play(p, 160, 70000, 110000), 150);  // all but the 10 probes
}

// Where spinning answers in under half a sleep's time, a probe is one slow read for nothing
// likely to change: one read in 128 (reads 33-416 hold three multiples of 128).
TEST(PgSpinPolicy, WhereSpinningIsTwiceAsFastItProbesSleepingOneReadIn128) {
  PgSpinPolicy p(true, nullptr);
  play(p, 32, 50000, 110000);
  EXPECT_EQ(play(p, 384, 50000, 110000), 384 - 3);
  // A probe finds sleeping cheaper: the two are no longer far apart, and probes go back to
  // one read in 16.
  PgSpinPolicy q(true, nullptr);
  play(q, 32, 50000, 110000);
  EXPECT_EQ(q.explore_every(), PgSpinPolicy::kExploreClear);
  q.answered(false, 45000);  // sleeping's average: (3 * 110 + 45) / 4 = 94 us < 2 * 50 us
  EXPECT_EQ(q.explore_every(), 16u);
}

TEST(PgSpinPolicy, SleepsWhereSleepingIsAsFastAndProbesSpinningOneReadIn16) {
  PgSpinPolicy p(true, nullptr);
  play(p, 32, 54000, 38000);  // a busy machine, or a Unix socket
  EXPECT_EQ(play(p, 160, 54000, 38000), 10);
  PgSpinPolicy q(true, nullptr);
  play(q, 32, 100000, 105000);  // sooner by less than the margin: not worth its CPU
  EXPECT_EQ(play(q, 160, 100000, 105000), 10);
}

TEST(PgSpinPolicy, ADistantServerIsOnlyProbedAndOneThatCameCloseIsSpunForAtOnce) {
  PgSpinPolicy p(true, nullptr);
  EXPECT_EQ(play(p, 64, 3100000, 3000000), 1 + 64 / 16);  // the first read, then probes
  // Close again: the next probe's quick answer replaces the spinning average, and sleeping's
  // average still remembers 3 ms: spinning resumes from the probe on.
  const int spins = play(p, 32, 40000, 110000);
  EXPECT_GE(spins, 32 - 16 - 1);
}

TEST(PgSpinPolicy, WhereWakingIsSlowAnAnswerSlowerThanTheMinimumBudgetIsStillSpunFor) {
  // A server answering in 150 us, and sleeping costing 500 us (a virtual machine whose idle
  // cores wake slowly): spinning up to what a sleep costs (400 us at most) catches every answer.
  // With the budget fixed at 100 us every read spun in vain and then slept: 10 spins, the probes.
  PgSpinPolicy p(true, nullptr);
  play(p, 32, 150000, 500000);
  EXPECT_EQ(p.budget_ns(), PgSpinPolicy::kMaxBudgetNs);
  EXPECT_EQ(play(p, 160, 150000, 500000), 159);  // all but the probe at read 128
  // Sleeping as cheap as the minimum: the budget is the minimum, and a 150 us answer is slept for.
  PgSpinPolicy q(true, nullptr);
  play(q, 32, 150000, 90000);
  EXPECT_EQ(q.budget_ns(), PgSpinPolicy::kBudgetNs);
  EXPECT_EQ(play(q, 160, 150000, 90000), 10);
}

// The costs belong to the machine and the server: a connection opened after others (a pool
// reconnecting after an idle spell, a reopened store) starts from their averages, and pays
// neither the forced sleep of its second read nor probes one read in 16.
TEST(PgSpinPolicy, AConnectionOpenedAfterOthersStartsFromWhatTheyMeasured) {
  PgSpinSeed seed;
  PgSpinPolicy first(true, &seed);
  play(first, 32, 50000, 300000);
  EXPECT_EQ(seed.spin_ns.load(), first.spin_ns());
  EXPECT_EQ(seed.sleep_ns.load(), first.sleep_ns());
  PgSpinPolicy next(true, &seed);
  EXPECT_EQ(next.explore_every(), PgSpinPolicy::kExploreClear);
  EXPECT_EQ(play(next, 127, 50000, 300000), 127);
  PgSpinPolicy alone(true, nullptr);
  EXPECT_EQ(play(alone, 127, 50000, 300000), 126);  // its second read sleeps to measure
}

// Per server: a process that also talks to a distant server does not start there from here.
TEST(PgSpinPolicy, EachServerHasItsOwnSeed) {
  PgSpinSeed& here = PgSpinSeed::of("/tmp/near:5432");
  EXPECT_EQ(&here, &PgSpinSeed::of("/tmp/near:5432"));
  EXPECT_NE(&here, &PgSpinSeed::of("db.example:5432"));
  EXPECT_NE(&PgSpinSeed::of("db.example:5432"), &PgSpinSeed::of("db.example:6432"));
}

// On loopback the server often runs on the caller's core while the query is sent, and
// the answer is complete before the read waits: 3 us either way. Counted, such reads made
// sleeping look free (the policy slept where a sleep costs 300 us) and shrank the budget.
TEST(PgSpinPolicy, AReadAnsweredBeforeItWaitedIsNotCounted) {
  PgSpinPolicy p(true, nullptr);
  play(p, 32, 50000, 300000);
  const std::int64_t sleep = p.sleep_ns();
  for (int i = 0; i < 64; ++i) p.answered(false, 3000, false);
  EXPECT_EQ(p.sleep_ns(), sleep);
  EXPECT_EQ(p.budget_ns(), 300000);  // a spin may last what a sleep costs
  EXPECT_EQ(play(p, 64, 50000, 300000), 64);
  for (int i = 0; i < 64; ++i) p.answered(false, 3000);  // the same reads, counted
  EXPECT_EQ(p.budget_ns(), PgSpinPolicy::kBudgetNs);
  EXPECT_EQ(play(p, 15, 50000, 3000), 0);  // sleeps (read 112 would be a probe)
}

TEST(PgSpinPolicy, OneCoreNeverSpins) {
  PgSpinPolicy p(false, nullptr);
  EXPECT_EQ(play(p, 64, 1000, 1000000), 0);
}

TEST(PgSpin, AConnectionToADistantServerSpinsForItsFirstReadAndTheProbesTheNextOnlyForTheProbes) {
  const char* url = std::getenv("TOKENKEEP_TEST_PG");
  ASSERT_TRUE(url != nullptr && *url) << "TOKENKEEP_TEST_PG is not set (make test starts a server)";
  PgSpinSeed::reset_all();  // what earlier tests' connections measured
  auto spins_over_64_reads = [&] {
    PgConnection c(url);
    const std::uint64_t before = pg_wire_count_this_thread().spins;
    for (int i = 0; i < 64; ++i) {
      PgParams p;
      PgResult r = c.query_binary("SELECT 1 FROM pg_sleep(0.003)", p, "cannot read from", true);
      EXPECT_EQ(r.rows(), 1);
    }
    return pg_wire_count_this_thread().spins - before;
  };
  EXPECT_EQ(spins_over_64_reads(), 1u + 64u / 16);
  // The next connection starts from this one's averages: it does not spin its first read.
  EXPECT_EQ(spins_over_64_reads(), 64u / 16);
}

}  // namespace
}  // namespace tokenkeep
