// Fixed-width base62 ("0-9A-Za-z") for unsigned integers. Fixed width keeps every
// token of one prefix the same length and makes parsing positional.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tokenkeep {

inline constexpr char kBase62Alphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

namespace detail {
constexpr std::array<signed char, 256> base62_digit_table() {
  std::array<signed char, 256> t{};
  for (auto& v : t) v = -1;
  for (int i = 0; i < 62; ++i)
    t[static_cast<unsigned char>(kBase62Alphabet[i])] = static_cast<signed char>(i);
  return t;
}
inline constexpr auto kBase62Digits = base62_digit_table();
}  // namespace detail

// Value of one base62 digit, or -1 for any other byte. Inline: parsing calls it 60 times.
inline int base62_digit(char c) noexcept { return detail::kBase62Digits[static_cast<unsigned char>(c)]; }

// Writes `value` as exactly `width` digits, most significant first, into `out`.
// Assumes value < 62^width; higher digits are silently dropped otherwise.
void base62_encode_fixed(std::uint64_t value, int width, char* out) noexcept;
std::string base62_encode_fixed(std::uint64_t value, int width);

// Parses exactly text.size() digits. Empty on a non-digit or a value above `max`.
std::optional<std::uint64_t> base62_decode_fixed(std::string_view text, std::uint64_t max) noexcept;

}  // namespace tokenkeep
