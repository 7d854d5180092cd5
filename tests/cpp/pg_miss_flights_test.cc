// PgMissFlights (pg_miss_flights.h): a miss joins a read in flight only at the generation that
// read began at, with the node stable; otherwise it reads for itself. No server needed.
#include "pg_miss_flights.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>

namespace tokenkeep {
namespace {

using namespace std::chrono_literals;

TokenRecord record(std::int64_t id, const std::string& name) {
  TokenRecord r;
  r.id = id;
  r.name = name;
  return r;
}

// Starts a leader whose read blocks until `release`, at generation 7 (stable); returns once
// its flight is registered.
struct Leader {
  PgMissFlights& flights;
  std::atomic<bool> release{false}, started{false};
  std::thread t;
  explicit Leader(PgMissFlights& f) : flights(f) {
    t = std::thread([this] {
      flights.run(1, Coherence{7, true}, [this] {
        started = true;
        while (!release) std::this_thread::sleep_for(1ms);
        return std::optional<TokenRecord>(record(1, "leader"));
      });
    });
    while (!started) std::this_thread::sleep_for(1ms);
  }
  ~Leader() {
    release = true;
    t.join();
  }
};

TEST(PgMissFlights, AMissAtTheSameStableGenerationSharesTheReadInFlight) {
  PgMissFlights flights;
  Leader leader(flights);
  std::atomic<int> own_reads{0};
  std::thread joiner([&] {
    auto r = flights.run(1, Coherence{7, true}, [&] {
      ++own_reads;
      return std::optional<TokenRecord>(record(1, "own"));
    });
    EXPECT_EQ(r->name, "leader");
  });
  std::this_thread::sleep_for(50ms);
  leader.release = true;
  joiner.join();
  EXPECT_EQ(own_reads.load(), 0);
}

TEST(PgMissFlights, AMissAfterAChangeOrWhileUnstableReadsForItself) {
  PgMissFlights flights;
  Leader leader(flights);
  auto own = [] { return std::optional<TokenRecord>(record(1, "own")); };
  EXPECT_EQ(flights.run(1, Coherence{8, true}, own)->name, "own");   // a change since it began
  EXPECT_EQ(flights.run(1, Coherence{7, false}, own)->name, "own");  // not trusting its view
  EXPECT_EQ(flights.run(2, Coherence{7, true}, own)->name, "own");   // another id
}

TEST(PgMissFlights, AJoinerGetsTheLeadersErrorAndTheNextMissReadsAgain) {
  PgMissFlights flights;
  std::atomic<bool> release{false}, started{false};
  std::thread lead([&] {
    EXPECT_THROW(flights.run(1, Coherence{3, true},
                             [&]() -> std::optional<TokenRecord> {
                               started = true;
                               while (!release) std::this_thread::sleep_for(1ms);
                               throw std::runtime_error("link down");
                             }),
                 std::runtime_error);
  });
  while (!started) std::this_thread::sleep_for(1ms);
  std::thread joiner([&] {
    EXPECT_THROW(flights.run(1, Coherence{3, true}, [] { return std::optional<TokenRecord>(); }),
                 std::runtime_error);
  });
  std::this_thread::sleep_for(50ms);
  release = true;
  lead.join();
  joiner.join();
  EXPECT_EQ(
      flights.run(1, Coherence{3, true}, [] { return std::optional<TokenRecord>(record(1, "again")); })->name,
      "again");
}

}  // namespace
}  // namespace tokenkeep
