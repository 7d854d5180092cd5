// A leak scan's work is bounded (issue 19, item 6): candidates are looked up in batches of
// Engine::kLeakBatch ids, one query each, never one query per token; a text over max_bytes
// or with more than max_tokens distinct well-formed tokens is refused whole, before any
// lookup, with InvalidArgument naming the limit.
#include <gtest/gtest.h>

#include <string>

#include "fake_repository.h"
#include "tokenkeep/base62.h"
#include "tokenkeep/checksum.h"
#include "tokenkeep/engine.h"
#include "tokenkeep/errors.h"
#include "tokenkeep/token_format.h"

namespace tokenkeep {
namespace {

// The fake, counting its lookups: single (token_find) and batched (tokens_find).
class CountingFake final : public testing::FakeRepository {
 public:
  std::optional<TokenRecord> token_find(std::int64_t id) override {
    ++single;
    return FakeRepository::token_find(id);
  }
  std::vector<TokenRecord> tokens_find(const std::vector<std::int64_t>& ids) override {
    ++batches;
    largest = std::max(largest, ids.size());
    std::vector<TokenRecord> out;
    for (const std::int64_t id : ids) {
      if (auto r = FakeRepository::token_find(id)) out.push_back(std::move(*r));
    }
    return out;
  }
  int single = 0;
  int batches = 0;
  std::size_t largest = 0;
};

struct Rig {
  CountingFake* repo;
  std::unique_ptr<Engine> engine;
};

Rig rig() {
  auto repo = std::make_unique<CountingFake>();
  CountingFake* raw = repo.get();
  auto engine = std::make_unique<Engine>(std::move(repo), PepperSet(Pepper::from_hex(std::string(64, 'a'))),
                                         std::make_shared<SystemClock>(), EngineOptions{});
  return Rig{raw, std::move(engine)};
}

// `n` distinct checksum-valid tokens of prefix "tk" that no store issued, one per line.
std::string forged_tokens(int n) {
  std::string out;
  for (int i = 0; i < n; ++i) {
    TokenText token;
    SecretPart secret;
    token_generate("tk", token_id_generate(), &token, &secret);
    out.append(token.view());
    out.push_back('\n');
  }
  return out;
}

std::string token_text(const IssuedToken& t) { return std::string(t.token.view()); }

TEST(LeakBounds, CandidatesAreLookedUpInBatchesNotOneQueryEach) {
  Rig r = rig();
  const auto real = r.engine->create("alice", NewToken{"ci", {"device"}, {}}, "");
  const int before = r.repo->single;
  const std::string text = forged_tokens(4999) + "leaked: " + token_text(real) + "\n";
  const auto found = r.engine->revoke_leaked(text, "", "app.log", false);
  ASSERT_EQ(found.size(), 5000u);
  EXPECT_EQ(found.back().outcome, LeakOutcome::kRevoked);
  EXPECT_EQ(found.back().line, 5000u);
  int unknown = 0;
  for (const auto& f : found) unknown += f.outcome == LeakOutcome::kUnknown;
  EXPECT_EQ(unknown, 4999);
  EXPECT_EQ(r.repo->single - before, 0);  // no per-token query
  EXPECT_EQ(r.repo->batches, 3);          // 2000 + 2000 + 1000
  EXPECT_EQ(r.repo->largest, Engine::kLeakBatch);
}

TEST(LeakBounds, MoreTokensThanTheLimitIsRefusedBeforeAnyLookup) {
  Rig r = rig();
  const auto real = r.engine->create("alice", NewToken{"ci", {"device"}, {}}, "");
  const std::string text = token_text(real) + "\n" + forged_tokens(10);
  LeakScanOptions options;
  options.max_tokens = 10;
  try {
    r.engine->revoke_leaked(text, "", "paste", false, options);
    FAIL() << "accepted 11 tokens with max_tokens = 10";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_EQ(e.field, "max_tokens");
    EXPECT_NE(std::string(e.what()).find("more than 10 distinct well-formed tokens"), std::string::npos)
        << e.what();
  }
  EXPECT_EQ(r.repo->batches, 0);
  EXPECT_EQ(r.engine->verify(token_text(real), 0, nullptr), VerifyStatus::kOk);  // not revoked
  options.max_tokens = 11;
  EXPECT_EQ(r.engine->revoke_leaked(text, "", "paste", true, options).size(), 11u);
}

TEST(LeakBounds, ALongerTextThanTheLimitIsRefusedAndPositionsCountFromThePartsStart) {
  Rig r = rig();
  const auto real = r.engine->create("alice", NewToken{"ci", {"device"}, {}}, "");
  const std::string text = "x\n" + token_text(real) + "\n";
  LeakScanOptions options;
  options.max_bytes = text.size() - 1;
  try {
    r.engine->revoke_leaked(text, "", "paste", false, options);
    FAIL() << "accepted a text over max_bytes";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_EQ(e.field, "max_bytes");
    EXPECT_NE(std::string(e.what()).find("over the limit of " + std::to_string(text.size() - 1)),
              std::string::npos)
        << e.what();
  }
  options.max_bytes = text.size();
  options.first_line = 41;
  options.first_offset = 1000;
  const auto found = r.engine->revoke_leaked(text, "", "paste", false, options);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].line, 42u);
  EXPECT_EQ(found[0].offset, 1002u);
  EXPECT_EQ(r.engine->leaked_notices("alice", 0, 10).at(0).detail, "paste, line 42");
}

}  // namespace
}  // namespace tokenkeep
