#include "tokenkeep/input_rules.h"

#include <cstdint>
#include <iterator>

#include "tokenkeep/errors.h"

namespace tokenkeep {
namespace {

struct CodeRange {
  std::uint32_t first;
  std::uint32_t last;
};
#include "unicode_tables.inc"

template <std::size_t N>
bool in_ranges(const CodeRange (&table)[N], std::uint32_t cp) {
  std::size_t lo = 0, hi = N;
  while (lo < hi) {
    const std::size_t mid = (lo + hi) / 2;
    if (cp < table[mid].first) {
      hi = mid;
    } else if (cp > table[mid].last) {
      lo = mid + 1;
    } else {
      return true;
    }
  }
  return false;
}

constexpr std::size_t kMaxNameChars = 100;
constexpr std::size_t kMaxDescriptionChars = 200;
constexpr std::size_t kMaxOwnerBytes = 256;

// Python's str.isspace(): the code points a name is stripped of at both ends, so that the
// engine, the CLI and the web page agree on what "surrounding blanks" are.
bool is_space(std::uint32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20) || cp == 0x85 || cp == 0xA0 ||
         cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
         cp == 0x205F || cp == 0x3000;
}

// The code point starting at s[i] and its length in bytes; length 0 if not valid UTF-8.
std::uint32_t utf8_at(std::string_view s, std::size_t i, std::size_t* len) {
  const auto c = static_cast<unsigned char>(s[i]);
  const std::size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
  *len = 0;
  if (n == 0 || i + n > s.size()) return 0;
  std::uint32_t cp = n == 1 ? c : n == 2 ? (c & 0x1F) : n == 3 ? (c & 0x0F) : (c & 0x07);
  for (std::size_t k = 1; k < n; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b & 0x3F);
  }
  *len = n;
  return cp;
}

std::string_view strip_spaces(std::string_view s) {
  std::size_t len = 0;
  while (!s.empty()) {
    const std::uint32_t cp = utf8_at(s, 0, &len);
    if (len == 0 || !is_space(cp)) break;
    s.remove_prefix(len);
  }
  while (!s.empty()) {
    std::size_t start = s.size() - 1;  // back up to the last code point's first byte
    while (start > 0 && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80 && s.size() - start < 4)
      --start;
    const std::uint32_t cp = utf8_at(s, start, &len);
    if (len == 0 || start + len != s.size() || !is_space(cp)) break;
    s.remove_suffix(len);
  }
  return s;
}

// What a text holds, for the rules below, in one pass: its length in code points (-1 if it
// is not valid UTF-8 or holds a control character: C0, DEL, C1 U+0080-U+009F), whether it
// has a format (Cf) character, and whether any character is visible.
struct TextFacts {
  long chars = 0;
  bool format = false;
  bool visible = false;
};

TextFacts text_facts(std::string_view s) {
  TextFacts f;
  std::size_t len = 0;
  for (std::size_t i = 0; i < s.size(); i += len) {
    const std::uint32_t cp = utf8_at(s, i, &len);
    if (len == 0 || cp < 0x20 || (cp >= 0x7F && cp <= 0x9F)) {
      f.chars = -1;
      return f;
    }
    ++f.chars;
    if (in_ranges(kFormatRanges, cp)) f.format = true;
    if (!in_ranges(kInvisibleRanges, cp) && !is_space(cp)) f.visible = true;
  }
  return f;
}

}  // namespace

std::string name_normalize(std::string_view name) {
  name = strip_spaces(name);
  if (name.empty()) fail(ErrorCode::kInvalidArgument, "a token name must not be empty", "name");
  const TextFacts f = text_facts(name);
  if (f.chars < 0)
    fail(ErrorCode::kInvalidArgument, "a token name must not contain control characters", "name");
  if (f.format) {
    fail(ErrorCode::kInvalidArgument,
         "a token name must not contain invisible format characters (zero-width or bidirectional controls)",
         "name");
  }
  if (!f.visible) fail(ErrorCode::kInvalidArgument, "a token name must contain a visible character", "name");
  if (static_cast<std::size_t>(f.chars) > kMaxNameChars) {
    fail(ErrorCode::kInvalidArgument, "a token name must be at most 100 characters", "name");
  }
  return std::string(name);
}

std::string description_normalize(std::string_view description) {
  description = strip_spaces(description);
  if (description.empty()) return std::string();
  const TextFacts f = text_facts(description);
  if (f.chars < 0)
    fail(ErrorCode::kInvalidArgument, "a description must not contain control characters", "description");
  if (f.format) {
    fail(ErrorCode::kInvalidArgument,
         "a description must not contain invisible format characters (zero-width or bidirectional controls)",
         "description");
  }
  if (static_cast<std::size_t>(f.chars) > kMaxDescriptionChars) {
    fail(ErrorCode::kInvalidArgument, "a description must be at most 200 characters", "description");
  }
  return std::string(description);
}

void owner_validate(std::string_view owner) {
  if (owner.empty()) fail(ErrorCode::kInvalidArgument, "owner must be a non-empty string", "owner");
  if (owner.size() > kMaxOwnerBytes)
    fail(ErrorCode::kInvalidArgument, "owner must be at most 256 bytes", "owner");
  const TextFacts f = text_facts(owner);
  if (f.chars < 0) fail(ErrorCode::kInvalidArgument, "owner must not contain control characters", "owner");
  if (f.format) {
    fail(ErrorCode::kInvalidArgument,
         "owner must not contain invisible format characters (zero-width or bidirectional controls)",
         "owner");
  }
}

void actor_validate(std::string_view actor) {
  if (actor.empty()) return;
  const TextFacts f = text_facts(actor);
  if (f.chars < 0) fail(ErrorCode::kInvalidArgument, "actor must not contain control characters", "actor");
  if (f.format) {
    fail(ErrorCode::kInvalidArgument,
         "actor must not contain invisible format characters (zero-width or bidirectional controls)",
         "actor");
  }
}

void source_validate(std::string_view source) {
  if (source.size() > kMaxOwnerBytes)
    fail(ErrorCode::kInvalidArgument, "source must be at most 256 bytes", "source");
  const TextFacts f = text_facts(source);
  if (f.chars < 0) fail(ErrorCode::kInvalidArgument, "source must not contain control characters", "source");
  if (f.format) {
    fail(ErrorCode::kInvalidArgument,
         "source must not contain invisible format characters (zero-width or bidirectional controls)",
         "source");
  }
}

}  // namespace tokenkeep
