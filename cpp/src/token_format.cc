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

RandomBytes::~RandomBytes() { sodium_memzero(block_, sizeof block_); }

void RandomBytes::fill(unsigned char* out, std::size_t n) {
  while (n > 0) {
    if (pos_ == kBlock) {
      // A fresh 256-bit seed from the system CSPRNG per block, expanded with ChaCha20
      // (randombytes_buf_deterministic): one system call per ~270 tokens instead of one per
      // 256 bytes, with output indistinguishable from random to anyone without the seed.
      unsigned char seed[randombytes_SEEDBYTES];
      randombytes_buf(seed, sizeof seed);
      randombytes_buf_deterministic(block_, kBlock, seed);
      sodium_memzero(seed, sizeof seed);
      pos_ = 0;
    }
    const std::size_t take = n < kBlock - pos_ ? n : kBlock - pos_;
    std::memcpy(out, block_ + pos_, take);
    sodium_memzero(block_ + pos_, take);
    pos_ += take;
    out += take;
    n -= take;
  }
}

std::int64_t token_id_generate(RandomBytes* rng) {
  std::uint64_t v = 0;
  while (v == 0) {
    if (rng) {
      rng->fill(reinterpret_cast<unsigned char*>(&v), sizeof v);
    } else {
      randombytes_buf(&v, sizeof v);
    }
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
static void random_base62(char* out, int n, RandomBytes* rng) {
  unsigned char pool[64];  // 43 accepted bytes need about 46 on average
  int filled = 0;
  while (filled < n) {
    if (rng) {
      rng->fill(pool, sizeof pool);
    } else {
      randombytes_buf(pool, sizeof pool);
    }
    for (unsigned char b : pool) {
      if (b >= 248) continue;
      out[filled++] = kBase62Alphabet[b % 62];
      if (filled == n) break;
    }
  }
  sodium_memzero(pool, sizeof pool);
}

void token_generate(std::string_view prefix, std::int64_t id, TokenText* token, SecretPart* secret,
                    RandomBytes* rng) {
  char buf[kMaxTokenLength];
  std::size_t n = 0;
  std::memcpy(buf, prefix.data(), prefix.size());
  n += prefix.size();
  buf[n++] = '_';
  base62_encode_fixed(static_cast<std::uint64_t>(id), kIdWidth, buf + n);
  n += kIdWidth;
  random_base62(buf + n, kSecretWidth, rng);
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
  // Every char a base62 digit (OR of the table values: any -1 makes it negative); the id
  // and checksum digits decoded on the way. 62^11 < 2^66, so the id fits after one check.
  const char* b = body.data();
  int bad = 0;
  unsigned __int128 id = 0;
  for (int i = 0; i < kIdWidth; ++i) {
    const int d = base62_digit(b[i]);
    bad |= d;
    id = id * 62 + static_cast<unsigned>(d & 63);
  }
  for (int i = kIdWidth; i < kIdWidth + kSecretWidth; ++i) bad |= base62_digit(b[i]);
  std::uint64_t crc = 0;
  for (int i = kIdWidth + kSecretWidth; i < kBodyWidth; ++i) {
    const int d = base62_digit(b[i]);
    bad |= d;
    crc = crc * 62 + static_cast<unsigned>(d & 63);
  }
  if (bad < 0 || id == 0 || id > kMaxTokenId || crc != crc32_compute(text.substr(0, text.size() - 6))) {
    return std::nullopt;
  }
  ParsedToken parsed;
  parsed.id = static_cast<std::int64_t>(id);
  parsed.secret.text = body.substr(kIdWidth, kSecretWidth);
  return parsed;
}

namespace {

bool word_char(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// Calls `found(offset)` for each token of `prefix` in `text`; stops when it returns false.
template <typename F>
void scan_each(std::string_view prefix, std::string_view text, F found) {
  if (prefix.empty()) return;
  const std::size_t len = prefix.size() + 1 + kBodyWidth;
  std::size_t from = 0;
  while (text.size() >= len && from <= text.size() - len) {
    const std::size_t at = text.find(prefix, from);
    if (at == std::string_view::npos || at > text.size() - len) return;
    from = at + 1;
    if (text[at + prefix.size()] != '_') continue;
    if (at > 0 && word_char(text[at - 1])) continue;
    if (at + len < text.size() && word_char(text[at + len])) continue;
    if (!token_parse(prefix, text.substr(at, len))) continue;
    if (!found(at)) return;
    from = at + len;
  }
}

}  // namespace

std::vector<TokenSpan> token_scan(std::string_view prefix, std::string_view text) {
  std::vector<TokenSpan> out;
  const std::size_t len = prefix.size() + 1 + kBodyWidth;
  scan_each(prefix, text, [&](std::size_t at) {
    out.push_back(TokenSpan{at, len});
    return true;
  });
  return out;
}

bool token_scan_any(std::string_view prefix, std::string_view text) {
  bool any = false;
  scan_each(prefix, text, [&](std::size_t) {
    any = true;
    return false;
  });
  return any;
}

}  // namespace tokenkeep
