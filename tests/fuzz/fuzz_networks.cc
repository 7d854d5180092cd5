// Fuzzes the address and CIDR parsers of networks.h with arbitrary bytes. Beyond "no crash,
// no sanitizer report": the address parser agrees with glibc's inet_pton on every input
// (a differential oracle: both refuse zone ids, leading zeros and blanks), an accepted
// address or network formats to text that parses back to itself and formats the same, a
// network has no host bits and contains its own base, and networks_canonical either
// returns an idempotent canonical list or throws InvalidArgument about "networks" - never
// anything else, and never with the input in its message unless it could not be a secret.
#include <arpa/inet.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.h"
#include "tokenkeep/errors.h"
#include "tokenkeep/networks.h"

using namespace tokenkeep;

namespace {

IpAddress from_pton(int family, const unsigned char* b) {
  IpAddress a;
  if (family == AF_INET) {
    a.lo = (0xffffULL << 32) | (std::uint64_t{b[0]} << 24) | (std::uint64_t{b[1]} << 16) |
           (std::uint64_t{b[2]} << 8) | b[3];
    return a;
  }
  for (int i = 0; i < 8; ++i) a.hi = (a.hi << 8) | b[i];
  for (int i = 8; i < 16; ++i) a.lo = (a.lo << 8) | b[i];
  return a;
}

void check_address(std::string_view text) {
  const auto mine = ip_address_parse(text);
  // inet_pton reads a NUL-terminated string: inputs holding a NUL are ours alone to refuse.
  if (text.find('\0') == std::string_view::npos && text.size() <= 45) {
    const std::string z(text);
    unsigned char buf[16];
    const int family = z.find(':') == std::string::npos ? AF_INET : AF_INET6;
    const bool theirs = inet_pton(family, z.c_str(), buf) == 1;
    FUZZ_CHECK(theirs == mine.has_value());
    if (theirs) FUZZ_CHECK(*mine == from_pton(family, buf));
  } else {
    FUZZ_CHECK(!mine.has_value());
  }
  if (!mine) return;
  const std::string canonical = ip_address_format(*mine);
  const auto again = ip_address_parse(canonical);
  FUZZ_CHECK(again && *again == *mine);
  FUZZ_CHECK(ip_address_format(*again) == canonical);
}

void check_network(std::string_view text) {
  std::string why;
  const auto n = ip_network_parse(text, &why);
  if (!n) {
    FUZZ_CHECK(!why.empty());
    return;
  }
  FUZZ_CHECK(n->length >= 0 && n->length <= 128);
  FUZZ_CHECK(n->contains(n->base));
  const std::string canonical = ip_network_format(*n);
  const auto again = ip_network_parse(canonical);
  FUZZ_CHECK(again && *again == *n);
  FUZZ_CHECK(ip_network_format(*again) == canonical);
  // The text before '/' is an address, and it is the network's base (no host bits).
  const auto base = ip_address_parse(text.substr(0, text.find('/')));
  FUZZ_CHECK(base && *base == n->base);
}

void check_canonical(std::string_view text) {
  std::vector<std::string> items;
  std::size_t start = 0;
  while (true) {
    const std::size_t comma = text.find(',', start);
    items.emplace_back(
        text.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  try {
    const auto out = networks_canonical(items);
    FUZZ_CHECK(out.size() <= kMaxNetworks && out.size() <= items.size());
    FUZZ_CHECK(networks_canonical(out) == out);
  } catch (const Error& e) {
    FUZZ_CHECK(e.code() == ErrorCode::kInvalidArgument);
    FUZZ_CHECK(e.field == "networks");
    // Whatever it quotes is short and made of address characters only.
    const std::string message = e.what();
    const std::size_t q = message.find('\'');
    if (q != std::string::npos) {
      const std::size_t end = message.find('\'', q + 1);
      FUZZ_CHECK(end != std::string::npos && end - q - 1 <= 49);
      for (std::size_t i = q + 1; i < end; ++i) {
        const char c = message[i];
        FUZZ_CHECK((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == '.' ||
                   c == ':' || c == '/');
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  check_address(text);
  check_network(text);
  check_canonical(text);
  return 0;
}
