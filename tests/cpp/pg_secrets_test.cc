// No PostgreSQL password in an error (issue 19, item 2). libpq's parser quotes the string it
// cannot read; a URL whose password holds an unescaped '@' or '/' is cut there and the rest
// quoted as a host or port. No server is needed: each of these fails before connecting.
#include <gtest/gtest.h>

#include <string>

#include "pg_connection.h"
#include "tokenkeep/errors.h"
#include "tokenkeep/store.h"

namespace tokenkeep {
namespace {

std::string open_error(const std::string& url) {
  try {
    StoreOptions options;
    options.pepper_hex = std::string(64, 'a');
    store_open(url, options);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kStoreError) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "opened";
  return "";
}

TEST(PgSecrets, ParserAndCutPasswordsNeverReachTheMessage) {
  const struct {
    const char* url;
    const char* telltale;
  } cases[] = {
      {"postgresql://app:50%off-Secret@localhost:1/tokens", "off-Secret"},
      {"host=/nonexistent-tokenkeep port=1 password=My Secret", "Secret"},
      {"postgresql://app:pa/SecretTail@localhost:1/tokens", "SecretTail"},
      {"postgresql://app:pa@SecretTail@localhost:1/tokens", "SecretTail"},
      {"host=/nonexistent-tokenkeep port=1 user=app password=Hunter2Secret", "Hunter2Secret"},
  };
  int leaks = 0;
  for (const auto& c : cases) {
    const std::string message = open_error(c.url);
    EXPECT_EQ(message.rfind("cannot connect to", 0), 0u) << message;
    leaks += message.find(c.telltale) != std::string::npos;
    EXPECT_EQ(message.find(c.telltale), std::string::npos) << message;
  }
  EXPECT_EQ(leaks, 0);
}

TEST(PgSecrets, RedactReplacesEverySpellingOfThePassword) {
  const std::string url = "postgresql://app:50%25off@db.example/tokens?sslpassword=k3y";
  char* err = nullptr;
  PQconninfoOption* options = PQconninfoParse(url.c_str(), &err);
  ASSERT_NE(options, nullptr);
  const std::string said =
      pg_redact("could not connect: \"50%off\" and \"50%25off\" and k3y and " + url, options, url);
  PQconninfoFree(options);
  EXPECT_EQ(said, "could not connect: \"[redacted]\" and \"[redacted]\" and [redacted] and [redacted]");
}

}  // namespace
}  // namespace tokenkeep
