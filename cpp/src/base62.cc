#include "tokenkeep/base62.h"

#include <array>

namespace tokenkeep {
void base62_encode_fixed(std::uint64_t value, int width, char* out) noexcept {
  for (int i = width - 1; i >= 0; --i) {
    out[i] = kBase62Alphabet[value % 62];
    value /= 62;
  }
}

std::string base62_encode_fixed(std::uint64_t value, int width) {
  std::string s(static_cast<std::size_t>(width), '0');
  base62_encode_fixed(value, width, s.data());
  return s;
}

std::optional<std::uint64_t> base62_decode_fixed(std::string_view text, std::uint64_t max) noexcept {
  std::uint64_t v = 0;
  for (char c : text) {
    const int d = base62_digit(c);
    if (d < 0) return std::nullopt;
    // v * 62 + d <= max, checked without overflow.
    if (v > (max - static_cast<std::uint64_t>(d)) / 62) return std::nullopt;
    v = v * 62 + static_cast<std::uint64_t>(d);
  }
  return v;
}

}  // namespace tokenkeep
