#include "tokenkeep/scopes.h"

#include <gtest/gtest.h>

#include "tokenkeep/errors.h"

namespace tokenkeep {
namespace {

ErrorCode code_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.code();
  }
  ADD_FAILURE() << "no error thrown";
  return ErrorCode::kStoreError;
}

TEST(Scopes, NameGrantsEveryAction) {
  const auto v = ScopeVocabulary::default_vocabulary();
  const ScopeMask device = v.mask_of("device");
  EXPECT_EQ(device & v.mask_of("device:read"), v.mask_of("device:read"));
  EXPECT_EQ(device & v.mask_of("device:write"), v.mask_of("device:write"));
  EXPECT_EQ(device & v.mask_of("policy:read"), 0u);
}

TEST(Scopes, SubScopeGrantsOnlyItself) {
  const auto v = ScopeVocabulary::default_vocabulary();
  const ScopeMask held = v.mask_of("device:read");
  EXPECT_EQ(held & v.mask_of("device:read"), v.mask_of("device:read"));
  EXPECT_NE(held & v.mask_of("device:write"), v.mask_of("device:write"));
  EXPECT_NE(held & v.mask_of("device"), v.mask_of("device"));
}

TEST(Scopes, UnknownScopesAreRejectedExactly) {
  const auto v = ScopeVocabulary::default_vocabulary();
  for (const char* bad :
       {"admin", "device:delete", "Device", "device ", " device", "device:", ":read", "", "device:read:x"}) {
    EXPECT_EQ(code_of([&] { v.mask_of(bad); }), ErrorCode::kUnknownScope) << bad;
  }
  EXPECT_EQ(code_of([&] { v.mask_of(std::vector<std::string>{}); }), ErrorCode::kInvalidArgument);
}

TEST(Scopes, CanonicalNamesCollapseFullSets) {
  const auto v = ScopeVocabulary::default_vocabulary();
  EXPECT_EQ(v.names_of(v.mask_of(std::vector<std::string>{"device:read", "device:write"})),
            std::vector<std::string>{"device"});
  EXPECT_EQ(v.names_of(v.mask_of(std::vector<std::string>{"policy:read", "device", "device:read"})),
            (std::vector<std::string>{"device", "policy:read"}));
  EXPECT_TRUE(v.names_of(0).empty());
}

TEST(Scopes, VocabularySerializesAndParses) {
  const ScopeVocabulary v({{"fleet", {"read", "write", "admin"}}, {"report", {"read"}}});
  EXPECT_EQ(v.serialize(), "fleet:read,write,admin;report:read");
  const auto back = ScopeVocabulary::parse(v.serialize());
  EXPECT_EQ(back.serialize(), v.serialize());
  EXPECT_EQ(back.mask_of("fleet:admin"), v.mask_of("fleet:admin"));
  EXPECT_TRUE(ScopeVocabulary(std::vector<ScopeEntry>{{"report", {"read"}}}).is_subset_of(v));
  EXPECT_FALSE(v.is_subset_of(ScopeVocabulary(std::vector<ScopeEntry>{{"report", {"read"}}})));
}

TEST(Scopes, VocabularyRejectsBadDefinitions) {
  EXPECT_EQ(code_of([] { ScopeVocabulary({}); }), ErrorCode::kInvalidArgument);
  EXPECT_EQ(code_of([] {
              ScopeVocabulary(std::vector<ScopeEntry>{{"Bad", {"read"}}});
            }),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(code_of([] {
              ScopeVocabulary({{"a", {"read"}}, {"a", {"write"}}});
            }),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(code_of([] {
              ScopeVocabulary(std::vector<ScopeEntry>{{"a", {}}});
            }),
            ErrorCode::kInvalidArgument);
  std::vector<ScopeEntry> many;
  for (int i = 0; i < 33; ++i) many.push_back({"s" + std::to_string(i), {"read", "write"}});
  EXPECT_EQ(code_of([&] { ScopeVocabulary(std::move(many)); }), ErrorCode::kInvalidArgument);
}

TEST(Scopes, SplitJoinRoundTrip) {
  const std::vector<std::string> s{"device", "policy:read"};
  EXPECT_EQ(scopes_split(scopes_join(s)), s);
  EXPECT_TRUE(scopes_split("").empty());
}

}  // namespace
}  // namespace tokenkeep

TEST(ScopesTest, UnknownScopeMessageNeverCutsAUtf8Sequence) {
  const auto v = tokenkeep::ScopeVocabulary::default_vocabulary();
  // 63 ASCII bytes, then a 3-byte character straddling the 64-byte cut.
  const std::string scope = std::string(63, 'x') + "\xE0\xA0\x80" + "tail";
  try {
    (void)v.mask_of(std::vector<std::string>{scope});
    FAIL() << "expected UnknownScope";
  } catch (const tokenkeep::Error& e) {
    const std::string m = e.what();
    EXPECT_EQ(m.find("\xE0\xA0"), std::string::npos) << "a truncated sequence leaked into the message";
    EXPECT_NE(m.find(std::string(63, 'x') + "..."), std::string::npos);
  }
}

namespace {
std::string unknown_scope_message(const tokenkeep::ScopeVocabulary& v, const std::string& scope) {
  try {
    (void)v.mask_of(scope);
  } catch (const tokenkeep::Error& e) {
    EXPECT_EQ(e.code(), tokenkeep::ErrorCode::kUnknownScope);
    EXPECT_EQ(e.field, "scopes");
    return e.what();
  }
  ADD_FAILURE() << "expected UnknownScope for " << scope;
  return "";
}
}  // namespace

// Issue 11: the message says what to do and prints the vocabulary as people read it.
TEST(ScopesTest, UnknownScopeMessageSuggestsTheNearestScopeAndReadsLikeProse) {
  const auto v = tokenkeep::ScopeVocabulary::default_vocabulary();
  const std::string known =
      "; known scopes: collection (read, write), device (read, write), policy (read, write), "
      "each alone or as name:action";
  EXPECT_EQ(unknown_scope_message(v, "devic"), "unknown scope 'devic' (did you mean 'device'?)" + known);
  EXPECT_EQ(unknown_scope_message(v, "device:raed"),
            "unknown scope 'device:raed' (did you mean 'device:read'?)" + known);
  EXPECT_EQ(unknown_scope_message(v, "zzzzzz"), "unknown scope 'zzzzzz'" + known);  // no wild guess
  EXPECT_EQ(
      unknown_scope_message(v, "device,policy:read"),
      "unknown scope 'device,policy:read': one scope per item; give 'device' and 'policy:read' separately" +
          known);
  EXPECT_EQ(unknown_scope_message(v, "a b;c"),
            "unknown scope 'a b;c': one scope per item; give 'a', 'b' and 'c' separately" + known);
}
