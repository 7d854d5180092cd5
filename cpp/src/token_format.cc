#include "tokenkeep/token_format.h"

#include <sodium.h>

#include <cstring>

#include "tokenkeep/base62.h"
#include "tokenkeep/checksum.h"

namespace tokenkeep {

bool prefix_is_valid(std::string_view prefix) noexcept {
  if (prefix.empty() || prefix.size() > kMaxPrefix) return false;
  for (char c : prefix) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) return false;
  }
  return true;
}

std::int64_t token_id_generate() {
  std::uint64_t v = 0;
  while (v == 0) {
    randombytes_buf(&v, sizeof v);
    v &= kMaxTokenId;
  }
  return static_cast<std::int64_t>(v);
}

std::string token_id_format(std::int64_t id) {
  return base62_encode_fixed(static_cast<std::uint64_t>(id), kIdWidth);
}

std::optional<std::int64_t> token_id_parse(std::string_view text) noexcept {
  if (text.size() != static_cast<std::size_t>(kIdWidth)) return std::nullopt;
  auto v = base62_decode_fixed(text, kMaxTokenId);
  if (!v || *v == 0) return std::nullopt;
  return static_cast<std::int64_t>(*v);
}

// Fills `out` with `n` uniformly random base62 characters. Rejection sampling on random
// bytes below 248 = 4*62 keeps the distribution exactly uniform.
static void random_base62(char* out, int n) {
  unsigned char pool[96];
  int filled = 0;
  while (filled < n) {
    randombytes_buf(pool, sizeof pool);
    for (unsigned char b : pool) {
      if (b >= 248) continue;
      out[filled++] = kBase62Alphabet[b % 62];
      if (filled == n) break;
    }
  }
  sodium_memzero(pool, sizeof pool);
}

void token_generate(std::string_view prefix, std::int64_t id, TokenText* token,
                    SecretPart* secret) {
  char buf[kMaxTokenLength];
  std::size_t n = 0;
  std::memcpy(buf, prefix.data(), prefix.size());
  n += prefix.size();
  buf[n++] = '_';
  base62_encode_fixed(static_cast<std::uint64_t>(id), kIdWidth, buf + n);
  n += kIdWidth;
  random_base62(buf + n, kSecretWidth);
  secret->assign(std::string_view(buf + n, kSecretWidth));
  n += kSecretWidth;
  const std::uint32_t crc = crc32_compute(std::string_view(buf, n));
  base62_encode_fixed(crc, 6, buf + n);
  n += 6;
  token->assign(std::string_view(buf, n));
  sodium_memzero(buf, sizeof buf);
}

std::optional<ParsedToken> token_parse(std::string_view prefix, std::string_view text) noexcept {
  const std::size_t expected = prefix.size() + 1 + kBodyWidth;
  if (text.size() != expected) return std::nullopt;
  if (text.compare(0, prefix.size(), prefix) != 0 || text[prefix.size()] != '_') {
    return std::nullopt;
  }
  const std::string_view body = text.substr(prefix.size() + 1);
  for (char c : body) {
    if (base62_digit(c) < 0) return std::nullopt;
  }
  const auto crc = base62_decode_fixed(body.substr(kIdWidth + kSecretWidth), 0xFFFFFFFFu);
  if (!crc || *crc != crc32_compute(text.substr(0, text.size() - 6))) return std::nullopt;
  const auto id = token_id_parse(body.substr(0, kIdWidth));
  if (!id) return std::nullopt;
  ParsedToken parsed;
  parsed.id = *id;
  parsed.secret.assign(body.substr(kIdWidth, kSecretWidth));
  return parsed;
}

}  // namespace tokenkeep
