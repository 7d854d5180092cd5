// PgCoherence's read of its own state (pg_coherence.h), without a server: a fake feed lets
// the test run "the listener" at the worst instant of a reader's snapshot.
#include "pg_coherence.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>

namespace tokenkeep {
namespace {

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// A feed whose state() returns what it holds, then runs `after_read` once: the listener
// thread scheduled right after the reader loaded the feed.
class RacingFeed final : public ChangeFeed {
 public:
  State state() const noexcept override {
    State st{generation, generation};
    if (after_read) {
      auto run = std::move(after_read);
      after_read = nullptr;
      run();
    }
    return st;
  }
  void write_begin(const std::vector<std::int64_t>&) noexcept override {}
  void write_finish() noexcept override {}
  void repair() noexcept override {}
  bool changes(std::uint64_t, std::uint64_t, std::vector<std::int64_t>*) const noexcept override {
    return false;
  }
  bool usable() const noexcept override { return true; }

  std::uint64_t generation = 0;
  mutable std::function<void()> after_read;
};

// The node's lease lapsed (it was paused, or cut off) while a revoke committed generation 8;
// the listener then applies it and renews. A reader whose snapshot straddles the listener's
// two writes must not pair the old generation with the new deadline: that is "stable at 7",
// a cache answering as if the revoke had not happened, with the node's trust renewed.
TEST(PgCoherenceSnapshot, NeverPairsAnOldGenerationWithARenewedDeadline) {
  int violations = 0;
  for (int trial = 0; trial < 100; ++trial) {
    RacingFeed feed;
    feed.generation = 7;
    std::atomic<std::int64_t> deadline{now_ns() - 1};  // lapsed
    feed.after_read = [&] {
      feed.generation = 8;                                                       // applied, then
      deadline.store(now_ns() + 1000 * 1000 * 1000, std::memory_order_release);  // renewed
    };
    const Coherence c = pg_coherence_snapshot(feed, deadline, now_ns, true);
    if (c.stable && c.generation == 7) ++violations;
  }
  EXPECT_EQ(violations, 0);
}

TEST(PgCoherenceSnapshot, FreshOnlyBeforeTheDeadlineAndInTheProcessThatRenewed) {
  RacingFeed feed;
  feed.generation = 3;
  std::atomic<std::int64_t> deadline{now_ns() + 1000 * 1000 * 1000};
  EXPECT_EQ(pg_coherence_snapshot(feed, deadline, now_ns, true), (Coherence{3, true}));
  EXPECT_EQ(pg_coherence_snapshot(feed, deadline, now_ns, false), (Coherence{3, false}));
  deadline.store(now_ns() - 1);
  EXPECT_EQ(pg_coherence_snapshot(feed, deadline, now_ns, true), (Coherence{3, false}));
}

}  // namespace
}  // namespace tokenkeep

namespace tokenkeep {
namespace {

TEST(PgChannel, CutsTheSchemaNameAtACharacterBoundaryWithinAnIdentifier) {
  EXPECT_EQ(pg_channel_of("public"), "tokenkeep_public");
  EXPECT_EQ(pg_channel_of("we\"ird"), "tokenkeep_we\"ird");  // quoted when used, never pasted
  const std::string long_ascii(80, 'a');
  EXPECT_EQ(pg_channel_of(long_ascii), "tokenkeep_" + std::string(50, 'a'));
  // 49 bytes, then a 2-byte character across the 50-byte cut: it goes whole, not halved.
  const std::string split = std::string(49, 'x') + "\xC3\xA9" + "tail";
  EXPECT_EQ(pg_channel_of(split), "tokenkeep_" + std::string(49, 'x'));
  // A 4-byte character starting at byte 48: also kept out whole.
  const std::string emoji = std::string(48, 'y') + "\xF0\x9F\x94\x91" + "z";
  EXPECT_EQ(pg_channel_of(emoji), "tokenkeep_" + std::string(48, 'y'));
  EXPECT_LE(pg_channel_of(std::string(200, 'b')).size(), 63u);
}

}  // namespace
}  // namespace tokenkeep
