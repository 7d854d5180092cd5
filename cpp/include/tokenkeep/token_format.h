// The token string: <prefix>_<id:11><secret:43><checksum:6>, all base62 after "_".
//   id       63-bit random public id, fixed width 11 (TokenInfo.id is these 11 chars)
//   secret   43 uniformly random base62 chars from randombytes_buf: 43*log2(62) = 256.03 bits
//   checksum CRC-32 of everything before it (checksum.h)
// The body is always 60 chars, so parsing works from the right and the prefix may be any
// 1-16 lowercase letters/digits.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tokenkeep/secret.h"

namespace tokenkeep {

inline constexpr int kIdWidth = 11;
inline constexpr int kSecretWidth = 43;
inline constexpr int kBodyWidth = kIdWidth + kSecretWidth + 6;
inline constexpr std::size_t kMaxPrefix = 16;
inline constexpr std::uint64_t kMaxTokenId = 0x7fffffffffffffffULL;
// Longest string the parser will even look at; anything longer is rejected at once.
inline constexpr std::size_t kMaxTokenLength = kMaxPrefix + 1 + kBodyWidth;

using TokenText = SecretBuffer<kMaxTokenLength>;
using SecretPart = SecretBuffer<kSecretWidth>;

// The 43 secret characters of a parsed token, borrowed from the caller's buffer: parsing
// copies nothing, so there is nothing of the secret to wipe afterwards.
struct BorrowedSecret {
  std::string_view text;
  std::string_view view() const noexcept { return text; }
};

struct ParsedToken {
  std::int64_t id = 0;
  BorrowedSecret secret;  // valid as long as the parsed text is
};

// Random bytes from libsodium's CSPRNG, drawn in 16 KiB blocks (each a ChaCha20 stream under
// a fresh 256-bit seed from randombytes_buf), so that issuing many tokens costs one system
// call per block instead of several per token. Consumed and unused bytes are wiped.
class RandomBytes {
 public:
  RandomBytes() = default;
  RandomBytes(const RandomBytes&) = delete;
  RandomBytes& operator=(const RandomBytes&) = delete;
  ~RandomBytes();
  void fill(unsigned char* out, std::size_t n);

 private:
  static constexpr std::size_t kBlock = 16384;
  unsigned char block_[kBlock];
  std::size_t pos_ = kBlock;
};

// True for 1-16 chars of [a-z0-9].
bool prefix_is_valid(std::string_view prefix) noexcept;

// A fresh random public id in [1, 2^63-1].
std::int64_t token_id_generate(RandomBytes* rng = nullptr);

// Public id <-> its 11-char text (TokenInfo.id). Decoding returns empty on malformed text.
std::string token_id_format(std::int64_t id);
std::optional<std::int64_t> token_id_parse(std::string_view text) noexcept;

// Fills `token` with a new token for `prefix` and `id`; its secret part goes to `secret`.
void token_generate(std::string_view prefix, std::int64_t id, TokenText* token, SecretPart* secret,
                    RandomBytes* rng = nullptr);

// Validates shape, prefix and checksum in one pass. Does no I/O, no allocation and no copy;
// empty on any defect.
std::optional<ParsedToken> token_parse(std::string_view prefix, std::string_view text) noexcept;

// Where a well-formed token sits in a larger text: its byte offset and length.
struct TokenSpan {
  std::size_t offset = 0;
  std::size_t length = 0;
};

// Every well-formed token of `prefix` (shape and checksum, as token_parse) in arbitrary text
// (a log, a paste, a name someone typed), in order. A candidate must not be part of a longer
// run of [A-Za-z0-9_], so `xtk_...` or a token with a character glued on is not a match. No
// I/O, no allocation beyond the result; used to refuse secret-shaped input and to find leaks.
std::vector<TokenSpan> token_scan(std::string_view prefix, std::string_view text);

// True if `text` contains a well-formed token of `prefix` (token_scan found one).
bool token_scan_any(std::string_view prefix, std::string_view text);

}  // namespace tokenkeep
