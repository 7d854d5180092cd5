// IP addresses and CIDR networks: what a network-bound token is bound to and what a
// verification's client address is checked against. No I/O, no allocation on the matching
// path.
//
// Rules (one home for every surface):
//  - An address is IPv4 dotted-decimal ("10.0.0.1", no leading zeros, exactly four parts) or
//    IPv6 text (RFC 4291, "::" and an embedded IPv4 tail allowed). Zone ids ("fe80::1%eth0"),
//    brackets, ports and blanks are not addresses.
//  - An IPv4-mapped IPv6 address (::ffff:a.b.c.d) *is* the IPv4 address a.b.c.d: a dual-stack
//    socket reports IPv4 peers that way, and a token bound to 10.0.0.0/8 must accept them. A
//    network written ::ffff:0:0/96 or longer is the IPv4 network it maps.
//  - A network is "address/length" or a bare address (a /32 or /128 host). Host bits set in a
//    network ("10.0.0.1/8") are refused, not masked: the writer meant something, and silently
//    widening "10.1.2.3/8" to all of 10/8 would grant more than they read.
//  - The canonical text of a network is what TokenInfo.networks shows and the stores keep:
//    IPv4 dotted, IPv6 per RFC 5952 (lower case, longest zero run as "::"), always with the
//    length ("10.0.0.0/8", "10.0.0.1/32", "2001:db8::/32").
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tokenkeep {

// An address as 128 bits; IPv4 is held in its IPv4-mapped form (::ffff:a.b.c.d).
struct IpAddress {
  std::uint64_t hi = 0;
  std::uint64_t lo = 0;
  bool is_v4() const noexcept { return hi == 0 && (lo >> 32) == 0xffffULL; }
  bool operator==(const IpAddress& o) const noexcept { return hi == o.hi && lo == o.lo; }
  bool operator!=(const IpAddress& o) const noexcept { return !(*this == o); }
};

// A network: an address with its host bits clear and a prefix length over the 128 bits
// (an IPv4 /n is held as /96+n of its mapped form).
struct IpNetwork {
  IpAddress base;
  int length = 0;  // 0..128
  bool contains(const IpAddress& a) const noexcept;
  bool operator==(const IpNetwork& o) const noexcept { return base == o.base && length == o.length; }
};

// The address `text` spells, or empty (see the rules above). At most 45 characters read.
std::optional<IpAddress> ip_address_parse(std::string_view text) noexcept;
// Canonical text: dotted for IPv4 (mapped addresses included), RFC 5952 for IPv6.
std::string ip_address_format(const IpAddress& a);

// The network `text` spells; empty if it is not one. `why` (if given) gets a short reason
// for a refusal that names no input ("host bits are set", "prefix length out of range", ...).
std::optional<IpNetwork> ip_network_parse(std::string_view text, std::string* why = nullptr) noexcept;
// Canonical text, always with the length: "10.0.0.0/8", "2001:db8::/32".
std::string ip_network_format(const IpNetwork& n);

// At most this many networks per token (Engine::networks_canonical).
inline constexpr std::size_t kMaxNetworks = 32;

// The canonical, sorted, duplicate-free texts of `networks`; InvalidArgument (field
// "networks") naming the first bad entry by position and reason, or the count over
// kMaxNetworks. The message quotes an entry only if it is at most 49 characters of hex
// digits, '.', ':' and '/' (a token secret never is), else names it by position only.
std::vector<std::string> networks_canonical(const std::vector<std::string>& networks);

// The parsed form of a token's stored networks (canonical texts); unparsable entries, which
// no store writes, match nothing.
std::vector<IpNetwork> networks_parse_stored(const std::vector<std::string>& canonical);
// True if `a` is in any of `networks`.
bool networks_contain(const std::vector<IpNetwork>& networks, const IpAddress& a) noexcept;

}  // namespace tokenkeep
