// Fuzzes the token parser and the small parsers beside it (public id, base62, scope
// vocabulary and scope lists, names, owners) with arbitrary bytes. Beyond "no crash, no
// sanitizer report", every accepted input must satisfy the format's invariants: exact
// length, the id and secret are the bytes at their positions, the checksum is the CRC of
// the rest, and encode(decode(x)) == x wherever a parser accepts x.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.h"
#include "tokenkeep/base62.h"
#include "tokenkeep/checksum.h"
#include "tokenkeep/engine.h"
#include "tokenkeep/errors.h"
#include "tokenkeep/scopes.h"
#include "tokenkeep/token_format.h"

using namespace tokenkeep;

namespace {

void check_parse(std::string_view prefix, std::string_view text) {
  const auto parsed = token_parse(prefix, text);
  if (!parsed) return;
  FUZZ_CHECK(prefix_is_valid(prefix) || prefix.empty());
  FUZZ_CHECK(text.size() == prefix.size() + 1 + kBodyWidth);
  FUZZ_CHECK(text.substr(0, prefix.size()) == prefix && text[prefix.size()] == '_');
  const std::string_view body = text.substr(prefix.size() + 1);
  for (char c : body) FUZZ_CHECK(base62_digit(c) >= 0);
  FUZZ_CHECK(parsed->id >= 1);
  FUZZ_CHECK(token_id_format(parsed->id) == body.substr(0, kIdWidth));
  FUZZ_CHECK(parsed->secret.view() == body.substr(kIdWidth, kSecretWidth));
  const std::uint32_t crc = crc32_compute(text.substr(0, text.size() - kChecksumWidth));
  FUZZ_CHECK(base62_encode_fixed(crc, kChecksumWidth) == body.substr(kIdWidth + kSecretWidth));
}

template <typename F>
void expect_only_errors(F f) {
  try {
    f();
  } catch (const Error&) {
    // A typed outcome is fine; anything else (std::bad_alloc, out_of_range, ...) escapes
    // and libFuzzer reports it as a crash.
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  check_parse("tk", text);
  // The prefix the input claims for itself (everything before its last '_').
  const auto us = text.rfind('_');
  if (us != std::string_view::npos && us <= kMaxPrefix) {
    const std::string_view claimed = text.substr(0, us);
    if (prefix_is_valid(claimed)) check_parse(claimed, text);
  }

  if (const auto id = token_id_parse(text)) {
    FUZZ_CHECK(*id >= 1);
    FUZZ_CHECK(token_id_format(*id) == text);
  }
  if (size >= 1 && size <= 11) {
    const std::uint64_t max = size == 11 ? kMaxTokenId : ~0ULL;
    if (const auto v = base62_decode_fixed(text, max)) {
      FUZZ_CHECK(*v <= max);
      FUZZ_CHECK(base62_encode_fixed(*v, static_cast<int>(size)) == text);
    }
  }

  // The stored vocabulary text is read back from the database; a corrupt one must be an Error.
  expect_only_errors([&] {
    const auto vocab = ScopeVocabulary::parse(text);
    FUZZ_CHECK(ScopeVocabulary::parse(vocab.serialize()).serialize() == vocab.serialize());
  });
  // Scope lists as a caller gives them: split at NUL.
  std::vector<std::string> scopes;
  for (std::string_view rest = text;;) {
    const auto nul = rest.find('\0');
    scopes.emplace_back(rest.substr(0, nul));
    if (nul == std::string_view::npos) break;
    rest.remove_prefix(nul + 1);
  }
  expect_only_errors([&] {
    const auto vocab = ScopeVocabulary::default_vocabulary();
    const ScopeMask mask = vocab.mask_of(scopes);
    FUZZ_CHECK(mask != 0);
    FUZZ_CHECK(vocab.mask_of(vocab.names_of(mask)) == mask);
  });
  const auto split = scopes_split(text);
  FUZZ_CHECK(scopes_split(scopes_join(split)) == split);
  expect_only_errors([&] {
    const std::string name = name_normalize(text);
    FUZZ_CHECK(!name.empty() && name_normalize(name) == name);
  });
  expect_only_errors([&] { owner_validate(text); });
  return 0;
}
