#include "tokenkeep/pepper.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <fstream>

#include "test_util.h"
#include "tokenkeep/errors.h"

namespace tokenkeep {
namespace {

const std::string kHexA(64, 'a');
const std::string kHexB = std::string(62, '0') + "01";

TEST(Pepper, DigestIsKeyedAndDeterministic) {
  const Pepper a = Pepper::from_hex(kHexA);
  const Pepper b = Pepper::from_hex(kHexB);
  const std::string secret(43, 'x');
  EXPECT_TRUE(digest_equal(a.digest(7, secret), a.digest(7, secret)));
  EXPECT_FALSE(digest_equal(a.digest(7, secret), b.digest(7, secret)));
  EXPECT_FALSE(digest_equal(a.digest(7, secret), a.digest(8, secret)));
  EXPECT_FALSE(digest_equal(a.digest(7, secret), a.digest(7, std::string(43, 'y'))));
}

TEST(Pepper, FingerprintIdentifiesWithoutRevealing) {
  const Pepper a = Pepper::from_hex(kHexA);
  EXPECT_EQ(a.fingerprint().size(), 16u);
  EXPECT_EQ(a.fingerprint(), Pepper::from_hex(kHexA).fingerprint());
  EXPECT_NE(a.fingerprint(), Pepper::from_hex(kHexB).fingerprint());
  EXPECT_EQ(kHexA.find(a.fingerprint()), std::string::npos);
  EXPECT_EQ(a.to_hex(), kHexA);
}

TEST(Pepper, RejectsMalformedHex) {
  EXPECT_THROW(Pepper::from_hex("abc"), Error);
  EXPECT_THROW(Pepper::from_hex(std::string(64, 'g')), Error);
}

TEST(PepperSet, FindsCurrentAndPreviousByFingerprint) {
  PepperSet set(Pepper::from_hex(kHexB));
  set.add_previous(Pepper::from_hex(kHexA));
  EXPECT_EQ(set.current().to_hex(), kHexB);
  ASSERT_NE(set.find(Pepper::from_hex(kHexA).fingerprint()), nullptr);
  EXPECT_EQ(set.find(Pepper::from_hex(kHexA).fingerprint())->to_hex(), kHexA);
  EXPECT_EQ(set.find("0000000000000000"), nullptr);
}

TEST(PepperLoad, CreatesPrivateKeyFileOnceAndRereadsIt) {
  ::unsetenv("TOKENKEEP_PEPPER");
  testing::TempDir dir;
  const std::string db = dir.file("t.db");
  const Pepper first = pepper_load(store_location_resolve(db));
  struct stat st {};
  ASSERT_EQ(::stat((db + ".key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(pepper_load(store_location_resolve(db)).fingerprint(), first.fingerprint());
}

TEST(PepperLoad, EnvironmentWins) {
  testing::TempDir dir;
  ::setenv("TOKENKEEP_PEPPER", kHexA.c_str(), 1);
  EXPECT_EQ(pepper_load(store_location_resolve(dir.file("t.db"))).to_hex(), kHexA);
  struct stat st {};
  EXPECT_NE(::stat(dir.file("t.db.key").c_str(), &st), 0);
  ::setenv("TOKENKEEP_PEPPER", "nothex", 1);
  EXPECT_THROW(pepper_load(store_location_resolve(dir.file("t.db"))), Error);
  ::unsetenv("TOKENKEEP_PEPPER");
}

TEST(PepperLoad, CorruptKeyFileIsAStoreError) {
  ::unsetenv("TOKENKEEP_PEPPER");
  testing::TempDir dir;
  std::ofstream(dir.file("t.db.key")) << "not a key\n";
  ::chmod(dir.file("t.db.key").c_str(), 0600);  // a loose mode is refused before the content is read
  try {
    pepper_load(store_location_resolve(dir.file("t.db")));
    FAIL() << "expected StoreError";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kStoreError);
    EXPECT_NE(std::string(e.what()).find("corrupt"), std::string::npos);
  }
}

}  // namespace
}  // namespace tokenkeep
