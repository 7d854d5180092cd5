#include "tokenkeep/token_format.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "tokenkeep/base62.h"
#include "tokenkeep/checksum.h"

namespace tokenkeep {
namespace {

std::string fresh_token(const std::string& prefix = "tk", std::int64_t* id_out = nullptr) {
  TokenText text;
  SecretPart secret;
  const std::int64_t id = token_id_generate();
  if (id_out) *id_out = id;
  token_generate(prefix, id, &text, &secret);
  return std::string(text.view());
}

TEST(Base62, RoundTripsFixedWidth) {
  for (std::uint64_t v : std::vector<std::uint64_t>{0, 1, 61, 62, 3843, 0xFFFFFFFFULL, kMaxTokenId}) {
    const std::string s = base62_encode_fixed(v, 11);
    ASSERT_EQ(s.size(), 11u);
    auto back = base62_decode_fixed(s, kMaxTokenId);
    ASSERT_TRUE(back.has_value()) << s;
    EXPECT_EQ(*back, v);
  }
  EXPECT_EQ(base62_encode_fixed(61, 2), "0z");
}

TEST(Base62, RejectsNonDigitsAndOverflow) {
  EXPECT_FALSE(base62_decode_fixed("abc-", 1000000).has_value());
  EXPECT_FALSE(base62_decode_fixed("zzzzzzzzzzz", kMaxTokenId).has_value());  // 62^11-1 > 2^63-1
  EXPECT_FALSE(base62_decode_fixed("10", 61).has_value());
  EXPECT_TRUE(base62_decode_fixed("z", 61).has_value());
}

TEST(Checksum, MatchesZlibCrc32) {
  // zlib.crc32(b"123456789") == 0xCBF43926, the standard check value.
  EXPECT_EQ(crc32_compute("123456789"), 0xCBF43926u);
  EXPECT_EQ(crc32_compute(""), 0u);
}

TEST(TokenFormat, HasFixedLengthAndAlphabet) {
  std::set<std::string> seen;
  for (int i = 0; i < 200; ++i) {
    const std::string t = fresh_token();
    ASSERT_EQ(t.size(), 3u + kBodyWidth);
    ASSERT_EQ(t.substr(0, 3), "tk_");
    for (char c : t.substr(3)) ASSERT_GE(base62_digit(c), 0) << t;
    seen.insert(t);
  }
  EXPECT_EQ(seen.size(), 200u);
}

TEST(TokenFormat, ParseRecoversIdAndSecret) {
  std::int64_t id = 0;
  const std::string t = fresh_token("tk", &id);
  auto parsed = token_parse("tk", t);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->id, id);
  EXPECT_EQ(std::string(parsed->secret.view()), t.substr(3 + kIdWidth, kSecretWidth));
}

TEST(TokenFormat, RejectsEverySingleCharacterChange) {
  const std::string t = fresh_token();
  int accepted = 0;
  for (std::size_t i = 0; i < t.size(); ++i) {
    for (char c : std::string(kBase62Alphabet) + "_-") {
      if (c == t[i]) continue;
      std::string u = t;
      u[i] = c;
      if (token_parse("tk", u).has_value()) ++accepted;
    }
  }
  EXPECT_EQ(accepted, 0);
}

TEST(TokenFormat, RejectsTruncatedExtendedEmptyAndForeignPrefix) {
  const std::string t = fresh_token();
  EXPECT_FALSE(token_parse("tk", "").has_value());
  EXPECT_FALSE(token_parse("tk", t.substr(0, t.size() - 1)).has_value());
  EXPECT_FALSE(token_parse("tk", t + "0").has_value());
  EXPECT_FALSE(token_parse("tk", " " + t).has_value());
  EXPECT_FALSE(token_parse("gh", t).has_value());
  EXPECT_FALSE(token_parse("tk", std::string(1 << 20, 'a')).has_value());
  std::string non_ascii = t;
  non_ascii.replace(5, 2, "\xc3\xa9");
  EXPECT_FALSE(token_parse("tk", non_ascii).has_value());
}

TEST(TokenFormat, CustomPrefix) {
  EXPECT_TRUE(prefix_is_valid("acme2"));
  EXPECT_FALSE(prefix_is_valid(""));
  EXPECT_FALSE(prefix_is_valid("Acme"));
  EXPECT_FALSE(prefix_is_valid("a_b"));
  EXPECT_FALSE(prefix_is_valid(std::string(17, 'a')));
  const std::string t = fresh_token("acme2");
  EXPECT_EQ(t.size(), 6u + kBodyWidth);
  EXPECT_TRUE(token_parse("acme2", t).has_value());
  EXPECT_FALSE(token_parse("tk", t).has_value());
}

TEST(TokenId, FormatParseRoundTrip) {
  for (int i = 0; i < 100; ++i) {
    const std::int64_t id = token_id_generate();
    ASSERT_GT(id, 0);
    auto back = token_id_parse(token_id_format(id));
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(*back, id);
  }
  EXPECT_FALSE(token_id_parse("00000000000").has_value());
  EXPECT_FALSE(token_id_parse("short").has_value());
  EXPECT_FALSE(token_id_parse("zzzzzzzzzzz").has_value());
}

TEST(TokenScan, FindsEveryWellFormedTokenAndNoNearMiss) {
  const std::string a = fresh_token();
  const std::string b = fresh_token();
  std::string bad_crc = fresh_token();
  bad_crc.back() = bad_crc.back() == 'a' ? 'b' : 'a';
  const std::string other_prefix = fresh_token("acme");
  const std::string text = "Authorization: Bearer " + a + "\n" +          // header
                           "curl ?token=" + b + "&x=1\n" +                // query string
                           "typo " + bad_crc + "\n" +                     // checksum wrong
                           "short " + a.substr(0, a.size() - 1) + "\n" +  // one char short
                           "long " + a + "x\n" +                          // glued to a word
                           "word x" + a + "\n" +                          // inside a word
                           "other " + other_prefix + "\n" +               // another prefix
                           "(" + b + ")";                                 // punctuation around
  const auto spans = token_scan("tk", text);
  ASSERT_EQ(spans.size(), 3u);
  EXPECT_EQ(text.substr(spans[0].offset, spans[0].length), a);
  EXPECT_EQ(text.substr(spans[1].offset, spans[1].length), b);
  EXPECT_EQ(text.substr(spans[2].offset, spans[2].length), b);
  EXPECT_TRUE(token_scan_any("tk", text));
  EXPECT_FALSE(token_scan_any("tk", "typo " + bad_crc + " long " + a + "x"));
  EXPECT_EQ(token_scan("acme", text).size(), 1u);
  EXPECT_TRUE(token_scan("tk", "").empty());
  EXPECT_EQ(token_scan("tk", a).size(), 1u);  // the whole text
}

}  // namespace
}  // namespace tokenkeep
