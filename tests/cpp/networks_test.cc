// The CIDR matcher (networks.h): address and network syntax, IPv4-mapped IPv6, host bits,
// boundaries of /0, /32, /128 and of each prefix, canonical texts, and the engine's use of it.
#include "tokenkeep/networks.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tokenkeep/errors.h"

namespace tokenkeep {
namespace {

IpAddress addr(const char* text) {
  auto a = ip_address_parse(text);
  EXPECT_TRUE(a.has_value()) << text;
  return a.value_or(IpAddress{});
}

IpNetwork net(const char* text) {
  auto n = ip_network_parse(text);
  EXPECT_TRUE(n.has_value()) << text;
  return n.value_or(IpNetwork{});
}

TEST(Networks, AddressesParseAndFormatCanonically) {
  const std::vector<std::pair<const char*, const char*>> cases = {
      {"0.0.0.0", "0.0.0.0"},
      {"255.255.255.255", "255.255.255.255"},
      {"10.0.0.1", "10.0.0.1"},
      {"::", "::"},
      {"::1", "::1"},
      {"1::", "1::"},
      {"2001:DB8::1", "2001:db8::1"},
      {"2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"},
      {"2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"},     // RFC 5952: the first of equal runs
      {"2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"},  // one zero group is not "::"
      {"1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"},
      {"::ffff:10.1.2.3", "10.1.2.3"},  // IPv4-mapped is IPv4
      {"::FFFF:a01:203", "10.1.2.3"},   // however it is spelled
      {"::10.1.2.3", "::a01:203"},      // IPv4-compatible (deprecated) is IPv6
      {"64:ff9b::192.0.2.1", "64:ff9b::c000:201"},
  };
  for (const auto& [in, out] : cases) {
    auto a = ip_address_parse(in);
    ASSERT_TRUE(a.has_value()) << in;
    EXPECT_EQ(ip_address_format(*a), out) << in;
    EXPECT_EQ(ip_address_parse(ip_address_format(*a)), a) << in;
  }
  EXPECT_TRUE(addr("10.1.2.3") == addr("::ffff:10.1.2.3"));
  EXPECT_TRUE(addr("10.1.2.3").is_v4());
  EXPECT_FALSE(addr("::a01:203").is_v4());
}

TEST(Networks, MalformedAddressesAreRefused) {
  for (const char* bad : {"",
                          " ",
                          "10.0.0.1 ",
                          " 10.0.0.1",
                          "10.0.0",
                          "10.0.0.1.2",
                          "256.0.0.1",
                          "10.0.0.01",
                          "010.0.0.1",
                          "1.2.3.-4",
                          "1.2.3.4/",
                          "0x0a.0.0.1",
                          "10..0.1",
                          "10.0.0.",
                          ".10.0.0",
                          "1234.1.1.1",
                          ":",
                          ":::",
                          "1:::2",
                          "1::2::3",
                          "12345::",
                          "1:2:3:4:5:6:7:8:9",
                          "1:2:3:4:5:6:7",
                          "::1:2:3:4:5:6:7:8",
                          "1:",
                          ":1",
                          "g::",
                          "fe80::1%eth0",
                          "fe80::1%",
                          "[::1]",
                          "::1.2.3",
                          "1.2.3.4::",
                          "::1.2.3.4:5",
                          "1:2:3:4:5:6:7:1.2.3.4",
                          "::ffff:1.2.3.256",
                          "localhost",
                          "testclient",
                          "10.0.0.1:80",
                          "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255x"}) {
    EXPECT_FALSE(ip_address_parse(bad).has_value()) << "'" << bad << "'";
  }
}

TEST(Networks, SlashZeroMatchesEveryAddressOfItsFamily) {
  const IpNetwork all4 = net("0.0.0.0/0"), all6 = net("::/0");
  EXPECT_TRUE(all4.contains(addr("0.0.0.0")));
  EXPECT_TRUE(all4.contains(addr("255.255.255.255")));
  EXPECT_TRUE(all4.contains(addr("::ffff:1.2.3.4")));
  EXPECT_FALSE(all4.contains(addr("::1")));
  EXPECT_FALSE(all4.contains(addr("2001:db8::1")));
  EXPECT_TRUE(all6.contains(addr("::1")));
  EXPECT_TRUE(all6.contains(addr("1.2.3.4")));  // every address is in ::/0
  EXPECT_EQ(ip_network_format(all4), "0.0.0.0/0");
  EXPECT_EQ(ip_network_format(all6), "::/0");
}

TEST(Networks, HostNetworksMatchOnlyTheirAddress) {
  const IpNetwork h4 = net("192.0.2.7/32"), h6 = net("2001:db8::7/128");
  EXPECT_TRUE(h4.contains(addr("192.0.2.7")));
  EXPECT_TRUE(h4.contains(addr("::ffff:192.0.2.7")));
  EXPECT_FALSE(h4.contains(addr("192.0.2.6")));
  EXPECT_FALSE(h4.contains(addr("192.0.2.8")));
  EXPECT_TRUE(h6.contains(addr("2001:db8::7")));
  EXPECT_FALSE(h6.contains(addr("2001:db8::6")));
  EXPECT_FALSE(h6.contains(addr("2001:db8::8")));
  EXPECT_TRUE(net("192.0.2.7") == h4);  // a bare address is its host network
  EXPECT_TRUE(net("2001:db8::7") == h6);
  EXPECT_EQ(ip_network_format(net("2001:db8::7")), "2001:db8::7/128");
}

TEST(Networks, EachPrefixLengthHasExactBoundaries) {
  // For every length, the network's first and last addresses are in, the ones just outside
  // are not: IPv4 10.128.0.0/n style networks and IPv6 ones, on both 64-bit words.
  for (int len = 1; len <= 32; ++len) {
    const std::uint32_t base = len == 32 ? 0x0a800001u : (0x0a800000u & (~0u << (32 - len)));
    const std::uint32_t size = len == 32 ? 1u : (1u << (32 - len));
    auto v4 = [](std::uint32_t v) { return IpAddress{0, (0xffffULL << 32) | v}; };
    IpNetwork n{v4(base), 96 + len};
    EXPECT_TRUE(n.contains(v4(base))) << len;
    EXPECT_TRUE(n.contains(v4(base + size - 1))) << len;
    if (base > 0) {
      EXPECT_FALSE(n.contains(v4(base - 1))) << len;
    }
    if (base + size != 0) {
      EXPECT_FALSE(n.contains(v4(base + size))) << len;
    }
    const std::string text = ip_network_format(n);
    EXPECT_TRUE(ip_network_parse(text) == n) << text;
  }
  for (int len = 1; len <= 128; ++len) {
    IpNetwork n = net("8000::/1");
    n.length = len;  // 8000::/len: host bits are clear for every len
    EXPECT_TRUE(n.contains(n.base)) << len;
    IpAddress last = n.base;
    if (len < 64) {
      last.hi |= (~0ULL >> len);
      last.lo = ~0ULL;
    } else if (len < 128) {
      last.lo |= (~0ULL >> (len - 64));
    }
    EXPECT_TRUE(n.contains(last)) << len;
    IpAddress after = last;  // last + 1
    if (++after.lo == 0) ++after.hi;
    EXPECT_FALSE(n.contains(after)) << len;
    IpAddress before{n.base.hi - (n.base.lo == 0 ? 1 : 0), n.base.lo - 1};  // base - 1
    EXPECT_FALSE(n.contains(before)) << len;
    EXPECT_TRUE(ip_network_parse(ip_network_format(n)) == n) << len;
  }
}

TEST(Networks, HostBitsZoneIdsAndBadLengthsAreRefusedWithAReason) {
  const std::vector<std::pair<const char*, const char*>> cases = {
      {"10.0.0.1/8", "host bits are set"},
      {"10.0.0.0/33", "prefix length is out of range"},
      {"2001:db8::/129", "prefix length is out of range"},
      {"2001:db8::1/64", "host bits are set"},
      {"10.0.0.0/", "must be a number"},
      {"10.0.0.0/08", "must be a number"},
      {"10.0.0.0/-1", "must be a number"},
      {"10.0.0.0/8/8", "must be a number"},
      {"10.0.0.0/ 8", "must be a number"},
      {"fe80::%eth0/64", "zone ids"},
      {"fe80::1%1", "zone ids"},
      {"/8", "not an IPv4 or IPv6 address"},
      {"10.0.0/8", "not an IPv4 or IPv6 address"},
      {"", "not an IPv4 or IPv6 address"},
  };
  for (const auto& [in, reason] : cases) {
    std::string why;
    EXPECT_FALSE(ip_network_parse(in, &why).has_value()) << in;
    EXPECT_NE(why.find(reason), std::string::npos) << in << ": " << why;
  }
}

TEST(Networks, MappedNetworksAreTheIpv4NetworksTheyMap) {
  EXPECT_TRUE(net("::ffff:10.0.0.0/104") == net("10.0.0.0/8"));
  EXPECT_EQ(ip_network_format(net("::ffff:10.0.0.0/104")), "10.0.0.0/8");
  EXPECT_EQ(ip_network_format(net("::ffff:0:0/96")), "0.0.0.0/0");
  EXPECT_EQ(ip_network_format(net("::/95")), "::/95");  // wider than the mapped range: IPv6
  EXPECT_TRUE(net("10.0.0.0/8").contains(addr("::ffff:10.200.0.1")));
  EXPECT_FALSE(net("10.0.0.0/8").contains(addr("::a00:1")));  // IPv4-compatible is not IPv4
}

TEST(Networks, CanonicalListsAreSortedDeduplicatedAndBounded) {
  EXPECT_EQ(networks_canonical({"2001:DB8::/32", "10.0.0.0/8", "::ffff:10.0.0.0/104", "192.0.2.1"}),
            (std::vector<std::string>{"10.0.0.0/8", "192.0.2.1/32", "2001:db8::/32"}));
  EXPECT_TRUE(networks_canonical({}).empty());
  std::vector<std::string> many;
  for (int i = 0; i < static_cast<int>(kMaxNetworks); ++i)
    many.push_back("10.0." + std::to_string(i) + ".0/24");
  EXPECT_EQ(networks_canonical(many).size(), kMaxNetworks);
  many.push_back("192.0.2.0/24");
  try {
    networks_canonical(many);
    ADD_FAILURE() << "33 networks accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_EQ(e.field, "networks");
  }
}

TEST(Networks, ErrorsNameTheEntryButNeverRepeatWhatCouldBeASecret) {
  const std::string secret_like = "tk_0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN";
  for (const auto& [input, shown] : std::vector<std::pair<std::string, std::string>>{
           {"10.0.0.1/8", "'10.0.0.1/8'"},
           {secret_like, "entry 2"},
           {"10.0.0.0/8 ", "entry 2"},
       }) {
    try {
      networks_canonical({"192.0.2.0/24", input});
      ADD_FAILURE() << input;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
      EXPECT_EQ(e.field, "networks");
      const std::string message = e.what();
      EXPECT_NE(message.find(shown), std::string::npos) << message;
      EXPECT_EQ(message.find("tk_"), std::string::npos) << message;
    }
  }
}

TEST(Networks, ContainIsTrueIfAnyNetworkHoldsTheAddress) {
  const auto nets = networks_parse_stored({"10.0.0.0/8", "2001:db8::/32", "not stored by anyone"});
  EXPECT_EQ(nets.size(), 2u);  // an entry no store writes matches nothing
  EXPECT_TRUE(networks_contain(nets, addr("10.255.255.255")));
  EXPECT_TRUE(networks_contain(nets, addr("2001:db8:ffff::1")));
  EXPECT_FALSE(networks_contain(nets, addr("11.0.0.0")));
  EXPECT_FALSE(networks_contain(nets, addr("2001:db9::")));
  EXPECT_FALSE(networks_contain({}, addr("10.0.0.1")));
}

}  // namespace
}  // namespace tokenkeep
