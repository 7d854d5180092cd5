// Leak response (Engine::revoke_leaked) and scope usage (Engine::scope_usage) on a real
// SQLite file: several engines on one database stand for several processes.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <iterator>
#include <map>
#include <thread>

#include "test_util.h"
#include "tokenkeep/base62.h"
#include "tokenkeep/checksum.h"
#include "tokenkeep/engine.h"
#include "tokenkeep/errors.h"
#include "tokenkeep/store.h"

namespace tokenkeep {
namespace {

constexpr std::int64_t kT0 = 1893456000LL * kMicrosPerSecond;  // 2030-01-01T00:00:00Z

// `token` with a different secret and a checksum that is valid again: a forgery that only the
// store can tell apart (real id, well formed, wrong secret).
std::string forge(const std::string& token) {
  std::string t = token;
  const std::size_t secret_at = t.size() - 6 - kSecretWidth;
  t[secret_at] = t[secret_at] == 'a' ? 'b' : 'a';
  const std::string head = t.substr(0, t.size() - 6);
  return head + base62_encode_fixed(crc32_compute(head), 6);
}

class EngineExtrasTest : public ::testing::Test {
 protected:
  std::unique_ptr<Engine> open() {
    StoreOptions o;
    o.pepper_hex = std::string(64, 'a');
    o.clock = clock;
    return store_open(db, o);
  }
  static NewToken spec(const std::string& name, std::vector<std::string> scopes, Expiry e = {}) {
    return NewToken{name, std::move(scopes), e};
  }
  static std::string text(const IssuedToken& t) { return std::string(t.token.view()); }
  static std::string id_of(const IssuedToken& t) { return token_id_format(t.record.id); }

  testing::TempDir dir;
  std::string db = dir.file("tokens.db");
  std::shared_ptr<ManualClock> clock = std::make_shared<ManualClock>(kT0);
};

// --- Leak response ----------------------------------------------------------------------------

TEST_F(EngineExtrasTest, LeakScanRevokesOnlyWellFormedTokensWhoseSecretMatches) {
  auto e = open();
  auto other_process = open();
  const auto a = e->create("alice", spec("ci", {"device"}), "");
  const auto b = e->create("bob", spec("deploy", {"policy"}), "");
  const auto c = e->create("alice", spec("old", {"device"}), "");
  const auto d = e->create("alice", spec("forged-at", {"device"}), "");
  const auto x = e->create("alice", spec("short", {"device"}, Expiry{Expiry::Kind::kIn, kMicrosPerDay}), "");
  e->revoke("alice", id_of(c), "");
  clock->advance_us(2 * kMicrosPerDay);                                      // x has expired
  ASSERT_EQ(other_process->verify(text(a), 0, nullptr), VerifyStatus::kOk);  // cached there
  std::string bad_checksum = text(d);
  bad_checksum.back() = bad_checksum.back() == 'A' ? 'B' : 'A';
  const std::string leak =
      "2030-01-03 INFO auth ok token=" + text(a) + " user=alice\n" + "{\"Authorization\": \"Bearer " +
      text(b) + "\"}\n" + "GET /api?access_token=" + text(c) + "&x=1\n" + "- TOKEN=" + forge(text(d)) + "\n" +
      "+ TOKEN=" + bad_checksum + " or x" + text(d) + " or " + text(d).substr(0, 40) + " or zz" +
      text(d).substr(2) + "\n" + "expired " + text(x) + " again " + text(a) + "\n";
  const auto found = e->revoke_leaked(leak, "", "app.log", false);
  ASSERT_EQ(found.size(), 5u);  // a (once), b, c, the forgery, x; none of the near misses
  EXPECT_EQ(found[0].id, a.record.id);
  EXPECT_EQ(found[0].outcome, LeakOutcome::kRevoked);
  EXPECT_EQ(found[0].line, 1u);
  EXPECT_EQ(found[1].outcome, LeakOutcome::kRevoked);  // bob's: whatever the owner
  EXPECT_EQ(found[1].record->owner, "bob");
  EXPECT_EQ(found[1].line, 2u);
  EXPECT_EQ(found[2].outcome, LeakOutcome::kAlreadyRevoked);
  EXPECT_EQ(found[3].id, d.record.id);
  EXPECT_EQ(found[3].outcome, LeakOutcome::kUnknown);  // real id, wrong secret
  EXPECT_FALSE(found[3].record);                       // and nothing told about the token
  EXPECT_EQ(found[4].outcome, LeakOutcome::kExpired);
  EXPECT_EQ(found[4].line, 6u);

  EXPECT_EQ(other_process->verify(text(a), 0, nullptr), VerifyStatus::kRevoked);  // its cache saw it
  EXPECT_EQ(e->verify(text(b), 0, nullptr), VerifyStatus::kRevoked);
  EXPECT_EQ(e->verify(text(d), 0, nullptr), VerifyStatus::kOk);  // the forgery revoked nothing
  auto audit = e->audit(std::string("alice"), 1);
  EXPECT_EQ(audit[0].action, "leaked");
  EXPECT_EQ(audit[0].actor, "leak-scan");
  EXPECT_EQ(audit[0].detail, "app.log, line 1");
  EXPECT_EQ(e->audit(std::string("bob"), 1)[0].detail, "app.log, line 2");

  // Again: nothing left to revoke, everything reported.
  const auto again = e->revoke_leaked(leak, "secops", "app.log", false);
  ASSERT_EQ(again.size(), 5u);
  EXPECT_EQ(again[0].outcome, LeakOutcome::kAlreadyRevoked);
  EXPECT_EQ(again[1].outcome, LeakOutcome::kAlreadyRevoked);
}

TEST_F(EngineExtrasTest, LeakDryRunDecidesTheSameAndChangesNothing) {
  auto e = open();
  const auto a = e->create("alice", spec("ci", {"device"}), "");
  const auto before = e->audit(std::nullopt, 100).size();
  const auto found = e->revoke_leaked("see " + text(a), "", "", true);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].outcome, LeakOutcome::kRevoked);
  EXPECT_EQ(e->verify(text(a), 0, nullptr), VerifyStatus::kOk);
  EXPECT_EQ(e->audit(std::nullopt, 100).size(), before);
  e->revoke_leaked("see " + text(a), "", "", false);
  EXPECT_EQ(e->audit(std::nullopt, 1)[0].detail, "line 1");  // no source given
}

TEST_F(EngineExtrasTest, LeakSourceIsCheckedAndNeverHoldsASecret) {
  auto e = open();
  const auto a = e->create("alice", spec("ci", {"device"}), "");
  for (const std::string& source : {"file " + text(a), std::string("bad\nlabel"), std::string(300, 's')}) {
    try {
      e->revoke_leaked(text(a), "", source, false);
      ADD_FAILURE() << "accepted a bad source";
    } catch (const Error& err) {
      EXPECT_EQ(err.code(), ErrorCode::kInvalidArgument);
      EXPECT_EQ(err.field, "source");
      EXPECT_EQ(std::string(err.what()).find(text(a)), std::string::npos);
    }
  }
  EXPECT_EQ(e->verify(text(a), 0, nullptr), VerifyStatus::kOk);  // nothing was revoked
  e->revoke_leaked("x " + text(a), "", "paste.txt", false);
  e.reset();
  for (const std::string& file : {db, db + "-wal"}) {
    std::ifstream f(file, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    EXPECT_EQ(bytes.find(text(a).substr(text(a).size() - 49)), std::string::npos)
        << file;  // secret + checksum
  }
}

TEST_F(EngineExtrasTest, LeakedNoticesAreTheOwnersLeakRowsSinceACutOff) {
  auto e = open();
  const auto a = e->create("alice", spec("ci", {"device"}), "");
  const auto b = e->create("alice", spec("cd", {"device"}), "");
  const auto c = e->create("bob", spec("x", {"device"}), "");
  e->revoke("alice", id_of(b), "");  // an ordinary revoke is no notice
  e->revoke_leaked(text(a) + " " + text(c), "", "gist", false);
  auto notices = e->leaked_notices("alice", kT0, 10);
  ASSERT_EQ(notices.size(), 1u);
  EXPECT_EQ(notices[0].token_id, a.record.id);
  EXPECT_EQ(notices[0].name, "ci");
  EXPECT_EQ(notices[0].detail, "gist, line 1");
  EXPECT_TRUE(e->leaked_notices("alice", kT0 + 1, 10).empty());
  EXPECT_EQ(e->leaked_notices("bob", 0, 10).size(), 1u);
}

// --- Scope usage ------------------------------------------------------------------------------

std::map<std::string, std::int64_t> last_used(const ScopeUsage& u) {
  std::map<std::string, std::int64_t> out;
  for (const auto& s : u.last_used) out[s.scope] = s.at;
  return out;
}

TEST_F(EngineExtrasTest, ScopeUsageRecordsWhatSuccessfulChecksRequiredAcrossARestart) {
  std::string t_id, unused_id;
  {
    auto e = open();
    const auto t = e->create("alice", spec("ci", {"device", "policy:read"}), "");
    const auto unused = e->create("alice", spec("idle", {"device"}), "");
    t_id = id_of(t);
    unused_id = id_of(unused);
    for (int i = 0; i < 3; ++i)
      ASSERT_EQ(e->verify(text(t), e->required_mask({"device:read"}), nullptr), VerifyStatus::kOk);
    e->uses_flush();
    clock->advance_us(10 * kMicrosPerSecond);
    ASSERT_EQ(e->verify(text(t), e->required_mask({"policy:read"}), nullptr), VerifyStatus::kOk);
    // A failed check exercises nothing.
    ASSERT_EQ(e->verify(text(t), e->required_mask({"policy:write"}), nullptr),
              VerifyStatus::kInsufficientScope);
    ASSERT_EQ(e->verify(text(unused), 0, nullptr), VerifyStatus::kOk);  // no scope required: none used
    // Before any flush: what is in memory counts.
    auto u = e->scope_usage("alice", {t_id}, 30 * kMicrosPerDay);
    ASSERT_EQ(u.size(), 1u);
    EXPECT_EQ(u[0].used, (std::vector<std::string>{"device:read", "policy:read"}));
    EXPECT_EQ(u[0].unused, (std::vector<std::string>{"device:write"}));
  }  // closing persists everything
  auto e = open();
  auto all = e->scope_usage("alice", {}, 30 * kMicrosPerDay);
  ASSERT_EQ(all.size(), 2u);
  const ScopeUsage& t = all[0].record.name == "ci" ? all[0] : all[1];
  const ScopeUsage& idle = all[0].record.name == "ci" ? all[1] : all[0];
  EXPECT_EQ(t.used, (std::vector<std::string>{"device:read", "policy:read"}));
  EXPECT_EQ(t.unused, (std::vector<std::string>{"device:write"}));
  EXPECT_EQ(last_used(t)["device:read"], kT0);
  EXPECT_EQ(last_used(t)["policy:read"], kT0 + 10 * kMicrosPerSecond);
  EXPECT_TRUE(idle.used.empty());
  EXPECT_EQ(idle.unused, (std::vector<std::string>{"device"}));

  // 31 days later, nothing was used in the last 30; one more use brings device:write in.
  clock->advance_us(31 * kMicrosPerDay);
  auto late = e->scope_usage("alice", {t_id}, 30 * kMicrosPerDay);
  EXPECT_TRUE(late[0].used.empty());
  EXPECT_EQ(late[0].unused, (std::vector<std::string>{"device", "policy:read"}));
  EXPECT_EQ(e->scope_usage("alice", {t_id}, 60 * kMicrosPerDay)[0].used.size(), 2u);
}

TEST_F(EngineExtrasTest, ScopeUsageAfterAFlushAndFromAnotherProcess) {
  auto e = open();
  const auto t = e->create("alice", spec("ci", {"device"}), "");
  ASSERT_EQ(e->verify(text(t), e->required_mask({"device"}), nullptr), VerifyStatus::kOk);
  e->uses_flush();
  auto other = open();  // sees only what was persisted
  EXPECT_EQ(other->scope_usage("alice", {id_of(t)}, kMicrosPerDay)[0].used,
            (std::vector<std::string>{"device"}));
  EXPECT_TRUE(other->scope_usage("alice", {id_of(t)}, kMicrosPerDay)[0].unused.empty());
}

// A scope used again soon after a persist is written when the token is next due, by the
// background thread, even if the token is never used again: its time stays the real one.
TEST_F(EngineExtrasTest, AScopeUsedBetweenPersistsIsWrittenWhenDueWithItsOwnTime) {
  auto e = open();
  const auto t = e->create("alice", spec("ci", {"device"}), "");
  ASSERT_EQ(e->verify(text(t), e->required_mask({"device:read"}), nullptr), VerifyStatus::kOk);
  e->uses_flush();  // device:read persisted at kT0
  clock->advance_us(10 * kMicrosPerSecond);
  ASSERT_EQ(e->verify(text(t), e->required_mask({"device:read"}), nullptr), VerifyStatus::kOk);
  clock->advance_us(30 * kMicrosPerDay);  // due long ago; no further use
  auto other = open();
  const std::int64_t want = kT0 + 10 * kMicrosPerSecond;
  std::int64_t seen = 0;
  for (int i = 0; i < 100 && seen != want; ++i) {  // the flusher ticks about once a second
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    auto u = other->scope_usage("alice", {id_of(t)}, 31 * kMicrosPerDay);
    seen = last_used(u[0])["device:read"];
  }
  EXPECT_EQ(seen, want);
}

TEST_F(EngineExtrasTest, ScopeUsageIsTheOwnersOnly) {
  auto e = open();
  const auto t = e->create("alice", spec("ci", {"device"}), "");
  try {
    e->scope_usage("bob", {id_of(t)}, kMicrosPerDay);
    ADD_FAILURE() << "bob read alice's token";
  } catch (const Error& err) {
    EXPECT_EQ(err.code(), ErrorCode::kNotFound);
  }
  try {
    e->scope_usage("alice", {id_of(t)}, 0);
    ADD_FAILURE() << "accepted an empty window";
  } catch (const Error& err) {
    EXPECT_EQ(err.field, "within");
  }
}

}  // namespace
}  // namespace tokenkeep
