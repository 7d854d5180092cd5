#include "tokenkeep/networks.h"

#include <algorithm>

#include "tokenkeep/errors.h"

namespace tokenkeep {
namespace {

constexpr std::uint64_t kMappedPrefix = 0xffffULL << 32;  // ::ffff:0:0 in the low word

int hex_digit(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Dotted-decimal IPv4: four parts of 1-3 digits, each <= 255, no leading zero.
bool v4_parse(std::string_view s, std::uint32_t* out) noexcept {
  std::uint32_t v = 0;
  int parts = 0;
  std::size_t i = 0;
  while (true) {
    std::size_t start = i;
    unsigned part = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9' && i - start < 3) part = part * 10 + (s[i++] - '0');
    const std::size_t digits = i - start;
    if (digits == 0 || part > 255 || (digits > 1 && s[start] == '0')) return false;
    v = (v << 8) | part;
    if (++parts == 4) break;
    if (i >= s.size() || s[i] != '.') return false;
    ++i;
  }
  if (i != s.size()) return false;
  *out = v;
  return true;
}

// RFC 4291 text: up to eight groups of 1-4 hex digits, one "::", optionally an IPv4 tail.
bool v6_parse(std::string_view s, std::uint16_t out[8]) noexcept {
  std::uint16_t head[8] = {}, tail[8] = {};
  int nhead = 0, ntail = 0;
  bool gap = false;
  std::size_t i = 0;
  if (s.size() < 2) return false;
  if (s[0] == ':') {
    if (s[1] != ':') return false;
    gap = true;
    i = 2;
    if (i == s.size()) {
      std::fill(out, out + 8, 0);
      return true;
    }
  }
  while (i < s.size()) {
    std::uint16_t* groups = gap ? tail : head;
    int& n = gap ? ntail : nhead;
    // An IPv4 tail: the rest has a '.' before any ':'.
    const std::size_t colon = s.find(':', i);
    const std::size_t dot = s.find('.', i);
    if (dot != std::string_view::npos && (colon == std::string_view::npos || dot < colon)) {
      std::uint32_t v4 = 0;
      if (nhead + ntail > 6 || !v4_parse(s.substr(i), &v4)) return false;
      groups[n++] = static_cast<std::uint16_t>(v4 >> 16);
      groups[n++] = static_cast<std::uint16_t>(v4 & 0xffff);
      i = s.size();
      break;
    }
    unsigned g = 0;
    std::size_t start = i;
    while (i < s.size() && hex_digit(s[i]) >= 0 && i - start < 4) g = g * 16 + hex_digit(s[i++]);
    if (i == start || nhead + ntail >= 8) return false;
    groups[n++] = static_cast<std::uint16_t>(g);
    if (i == s.size()) break;
    if (s[i] != ':') return false;
    ++i;
    if (i < s.size() && s[i] == ':') {
      if (gap) return false;
      gap = true;
      ++i;
      if (i == s.size()) break;
    } else if (i == s.size()) {
      return false;  // a trailing single ':'
    }
  }
  const int total = nhead + ntail;
  if (gap ? total > 7 : total != 8) return false;
  int k = 0;
  for (int j = 0; j < nhead; ++j) out[k++] = head[j];
  for (int j = 0; j < 8 - total; ++j) out[k++] = 0;
  for (int j = 0; j < ntail; ++j) out[k++] = tail[j];
  return true;
}

IpAddress from_groups(const std::uint16_t g[8]) noexcept {
  IpAddress a;
  for (int j = 0; j < 4; ++j) a.hi = (a.hi << 16) | g[j];
  for (int j = 4; j < 8; ++j) a.lo = (a.lo << 16) | g[j];
  return a;
}

IpAddress mask_of(int length) noexcept {
  IpAddress m;
  if (length >= 64) {
    m.hi = ~0ULL;
    m.lo = length == 64 ? 0 : ~0ULL << (128 - length);
  } else {
    m.hi = length == 0 ? 0 : ~0ULL << (64 - length);
  }
  return m;
}

bool shown_safely(std::string_view s) {
  if (s.empty() || s.size() > 49) return false;
  for (char c : s) {
    if (!(hex_digit(c) >= 0 || c == '.' || c == ':' || c == '/')) return false;
  }
  return true;
}

}  // namespace

bool IpNetwork::contains(const IpAddress& a) const noexcept {
  const IpAddress m = mask_of(length);
  return (a.hi & m.hi) == base.hi && (a.lo & m.lo) == base.lo;
}

std::optional<IpAddress> ip_address_parse(std::string_view text) noexcept {
  if (text.empty() || text.size() > 45) return std::nullopt;
  if (text.find(':') == std::string_view::npos) {
    std::uint32_t v4 = 0;
    if (!v4_parse(text, &v4)) return std::nullopt;
    return IpAddress{0, kMappedPrefix | v4};
  }
  std::uint16_t g[8];
  if (!v6_parse(text, g)) return std::nullopt;
  return from_groups(g);
}

std::string ip_address_format(const IpAddress& a) {
  if (a.is_v4()) {
    const auto v = static_cast<std::uint32_t>(a.lo);
    return std::to_string(v >> 24) + "." + std::to_string((v >> 16) & 0xff) + "." +
           std::to_string((v >> 8) & 0xff) + "." + std::to_string(v & 0xff);
  }
  std::uint16_t g[8];
  for (int j = 0; j < 4; ++j) g[j] = static_cast<std::uint16_t>(a.hi >> (48 - 16 * j));
  for (int j = 0; j < 4; ++j) g[4 + j] = static_cast<std::uint16_t>(a.lo >> (48 - 16 * j));
  // RFC 5952: the longest run of two or more zero groups (the first of equals) becomes "::".
  int best = -1, best_len = 0;
  for (int j = 0; j < 8;) {
    if (g[j] != 0) {
      ++j;
      continue;
    }
    int k = j;
    while (k < 8 && g[k] == 0) ++k;
    if (k - j > best_len && k - j >= 2) best = j, best_len = k - j;
    j = k;
  }
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (int j = 0; j < 8; ++j) {
    if (j == best) {
      out += "::";
      j += best_len - 1;
      continue;
    }
    if (!out.empty() && out.back() != ':') out += ':';
    bool started = false;
    for (int shift = 12; shift >= 0; shift -= 4) {
      const int d = (g[j] >> shift) & 0xf;
      if (d || started || shift == 0) out += kHex[d], started = true;
    }
  }
  return out;
}

std::optional<IpNetwork> ip_network_parse(std::string_view text, std::string* why) noexcept {
  auto refuse = [&](const char* reason) -> std::optional<IpNetwork> {
    if (why) *why = reason;
    return std::nullopt;
  };
  const std::size_t slash = text.find('/');
  const std::string_view addr_text = text.substr(0, slash);
  if (addr_text.find('%') != std::string_view::npos) return refuse("zone ids are not allowed");
  const auto addr = ip_address_parse(addr_text);
  if (!addr) return refuse("not an IPv4 or IPv6 address");
  const bool v4_text = addr_text.find(':') == std::string_view::npos;
  int length = v4_text ? 32 : 128;
  if (slash != std::string_view::npos) {
    const std::string_view digits = text.substr(slash + 1);
    if (digits.empty() || digits.size() > 3 || (digits.size() > 1 && digits[0] == '0'))
      return refuse("the prefix length must be a number");
    length = 0;
    for (char c : digits) {
      if (c < '0' || c > '9') return refuse("the prefix length must be a number");
      length = length * 10 + (c - '0');
    }
    if (length > (v4_text ? 32 : 128)) return refuse("the prefix length is out of range");
  }
  IpNetwork n;
  n.length = v4_text ? 96 + length : length;
  const IpAddress m = mask_of(n.length);
  n.base = IpAddress{addr->hi & m.hi, addr->lo & m.lo};
  if (n.base != *addr) return refuse("host bits are set (write the network's first address)");
  return n;
}

std::string ip_network_format(const IpNetwork& n) {
  // An IPv6 network inside ::ffff:0:0/96 is the IPv4 network it maps.
  const bool v4 = n.length >= 96 && n.base.is_v4();
  return ip_address_format(n.base) + "/" + std::to_string(v4 ? n.length - 96 : n.length);
}

std::vector<std::string> networks_canonical(const std::vector<std::string>& networks) {
  if (networks.size() > kMaxNetworks) {
    fail(ErrorCode::kInvalidArgument,
         "a token may be bound to at most " + std::to_string(kMaxNetworks) + " networks", "networks");
  }
  std::vector<IpNetwork> parsed;
  for (std::size_t i = 0; i < networks.size(); ++i) {
    std::string why;
    const auto n = ip_network_parse(networks[i], &why);
    if (!n) {
      const std::string which =
          shown_safely(networks[i]) ? "'" + networks[i] + "'" : "entry " + std::to_string(i + 1);
      fail(ErrorCode::kInvalidArgument, "networks: " + which + " is not a CIDR network: " + why, "networks");
    }
    parsed.push_back(*n);
  }
  std::sort(parsed.begin(), parsed.end(), [](const IpNetwork& a, const IpNetwork& b) {
    if (a.base.hi != b.base.hi) return a.base.hi < b.base.hi;
    if (a.base.lo != b.base.lo) return a.base.lo < b.base.lo;
    return a.length < b.length;
  });
  parsed.erase(std::unique(parsed.begin(), parsed.end()), parsed.end());
  std::vector<std::string> out;
  out.reserve(parsed.size());
  for (const auto& n : parsed) out.push_back(ip_network_format(n));
  return out;
}

std::vector<IpNetwork> networks_parse_stored(const std::vector<std::string>& canonical) {
  std::vector<IpNetwork> out;
  for (const auto& text : canonical) {
    if (auto n = ip_network_parse(text)) out.push_back(*n);
  }
  return out;
}

bool networks_contain(const std::vector<IpNetwork>& networks, const IpAddress& a) noexcept {
  for (const auto& n : networks) {
    if (n.contains(a)) return true;
  }
  return false;
}

}  // namespace tokenkeep
