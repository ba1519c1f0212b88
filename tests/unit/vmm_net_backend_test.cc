// The network back ends: --net spec parsing, and libslirp's user-mode
// network answering DHCP, ARP and ping as the seedboot guest needs.
#include "vmm/net_backend.h"

#include <gtest/gtest.h>
#include <poll.h>

#include <chrono>

#include "vmm/slirp_backend.h"

namespace rrvm {
namespace {

using Bytes = std::vector<uint8_t>;
const Bytes kMac = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};

void put16(Bytes& b, size_t at, uint16_t v) {
  b[at] = uint8_t(v >> 8);
  b[at + 1] = uint8_t(v);
}
uint16_t get16(const Bytes& b, size_t at) {
  return uint16_t(b[at] << 8 | b[at + 1]);
}

uint16_t ip_checksum(const uint8_t* p, size_t n) {
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < n; i += 2) sum += uint32_t(p[i] << 8 | p[i + 1]);
  if (n & 1) sum += uint32_t(p[n - 1] << 8);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return uint16_t(~sum);
}

Bytes ethernet(const Bytes& dst, uint16_t type, size_t payload) {
  Bytes f(14 + payload, 0);
  std::copy(dst.begin(), dst.end(), f.begin());
  std::copy(kMac.begin(), kMac.end(), f.begin() + 6);
  put16(f, 12, type);
  return f;
}

// IPv4 header at 14 with addresses given as a.b.c.d bytes.
void ipv4(Bytes& f, uint8_t proto, const Bytes& src, const Bytes& dst) {
  size_t len = f.size() - 14;
  f[14] = 0x45;
  put16(f, 16, uint16_t(len));
  f[22] = 64;
  f[23] = proto;
  std::copy(src.begin(), src.end(), f.begin() + 26);
  std::copy(dst.begin(), dst.end(), f.begin() + 30);
  put16(f, 24, ip_checksum(&f[14], 20));
}

// Waits up to 5 s for a frame the predicate accepts.
std::optional<Bytes> wait_for(NetBackend& net, const std::function<bool(const Bytes&)>& want) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (std::chrono::steady_clock::now() < deadline) {
    while (auto f = net.receive())
      if (want(*f)) return f;
    pollfd p{net.wake_fd(), POLLIN, 0};
    ::poll(&p, 1, 100);
  }
  return std::nullopt;
}

TEST(NetSpec, NoneMeansNoBackendAndBadSpecsAreClear) {
  EXPECT_EQ(make_net_backend("none"), nullptr);
  EXPECT_NO_THROW(validate_net_spec("user"));
  EXPECT_NO_THROW(validate_net_spec("user,hostfwd=tcp::2222-:22"));
  EXPECT_NO_THROW(validate_net_spec("tap:tap0"));
  for (const char* bad : {"slirp", "user,foo=1", "user,hostfwd=tcp::99999-:22",
                          "user,hostfwd=sctp::1-:2", "user,hostfwd=nonsense", "tap:"}) {
    try {
      validate_net_spec(bad);
      ADD_FAILURE() << bad << " accepted";
    } catch (const NetError& e) {
      EXPECT_FALSE(std::string(e.what()).empty());
    }
  }
}

// Creating a tap needs CAP_NET_ADMIN: where we have it the back end must
// work, where we do not the error must name the interface and the reason.
TEST(NetSpec, TapOpensOrSaysWhy) {
  try {
    auto tap = make_net_backend("tap:rrvmtest0");
    ASSERT_NE(tap, nullptr);
    EXPECT_EQ(tap->name(), "tap:rrvmtest0");
    EXPECT_GE(tap->wake_fd(), 0);
    EXPECT_FALSE(tap->receive().has_value()) << "the interface is down: nothing arrives";
    tap->send(ethernet(Bytes(6, 0xff), 0x0806, 28));  // dropped by a down link, no error
  } catch (const NetError& e) {
    EXPECT_NE(std::string(e.what()).find("rrvmtest0"), std::string::npos) << e.what();
  }
  EXPECT_THROW(make_net_backend("tap:an-interface-name-too-long"), NetError);
}

TEST(Slirp, DhcpArpAndPingToTheGateway) {
  auto net = make_net_backend("user");
  ASSERT_NE(net, nullptr);

  // DHCPDISCOVER (RFC 2131) from 0.0.0.0:68 to 255.255.255.255:67.
  Bytes d = ethernet(Bytes(6, 0xff), 0x0800, 20 + 8 + 240 + 4);
  ipv4(d, 17, {0, 0, 0, 0}, {255, 255, 255, 255});
  put16(d, 34, 68);
  put16(d, 36, 67);
  put16(d, 38, uint16_t(8 + 240 + 4));
  uint8_t* bootp = &d[42];
  bootp[0] = 1, bootp[1] = 1, bootp[2] = 6;
  bootp[4] = 0x39, bootp[5] = 0x03, bootp[6] = 0xf3, bootp[7] = 0x26;
  std::copy(kMac.begin(), kMac.end(), bootp + 28);
  const uint8_t cookie_and_options[] = {99, 130, 83, 99, 53, 1, 1, 255};
  std::copy(std::begin(cookie_and_options), std::end(cookie_and_options), bootp + 236);
  net->send(d);
  auto offer = wait_for(*net, [](const Bytes& f) {
    return f.size() > 42 + 20 && get16(f, 12) == 0x0800 && f[23] == 17 && get16(f, 34) == 67;
  });
  ASSERT_TRUE(offer.has_value()) << "no DHCP reply from slirp";
  EXPECT_EQ((*offer)[42], 2) << "BOOTREPLY";
  EXPECT_EQ(Bytes(offer->begin() + 42 + 16, offer->begin() + 42 + 20), (Bytes{10, 0, 2, 15}));

  // ARP who-has 10.0.2.2 tell 10.0.2.15 (RFC 826).
  Bytes a = ethernet(Bytes(6, 0xff), 0x0806, 28);
  put16(a, 14, 1), put16(a, 16, 0x0800), a[18] = 6, a[19] = 4, put16(a, 20, 1);
  std::copy(kMac.begin(), kMac.end(), a.begin() + 22);
  const Bytes me = {10, 0, 2, 15}, gw = {10, 0, 2, 2};
  std::copy(me.begin(), me.end(), a.begin() + 28);
  std::copy(gw.begin(), gw.end(), a.begin() + 38);
  net->send(a);
  auto reply = wait_for(*net, [](const Bytes& f) {
    return f.size() >= 42 && get16(f, 12) == 0x0806 && get16(f, 20) == 2;
  });
  ASSERT_TRUE(reply.has_value()) << "no ARP reply";
  Bytes gw_mac(reply->begin() + 22, reply->begin() + 28);

  // ICMP echo request to the gateway, which slirp answers itself.
  Bytes p = ethernet(gw_mac, 0x0800, 20 + 8 + 16);
  ipv4(p, 1, me, gw);
  p[34] = 8;
  put16(p, 38, 0x5eed), put16(p, 40, 7);
  for (int i = 0; i < 16; ++i) p[42 + i] = uint8_t(i);
  put16(p, 36, ip_checksum(&p[34], 24));
  net->send(p);
  auto pong = wait_for(*net, [](const Bytes& f) {
    return f.size() >= 58 && get16(f, 12) == 0x0800 && f[23] == 1 && f[34] == 0;
  });
  ASSERT_TRUE(pong.has_value()) << "no echo reply";
  EXPECT_EQ(get16(*pong, 38), 0x5eed);
  EXPECT_EQ(get16(*pong, 40), 7);
  EXPECT_EQ((*pong)[42 + 15], 15) << "payload echoed";
}

TEST(Slirp, DestroyingWithFramesQueuedIsClean) {
  auto t0 = std::chrono::steady_clock::now();
  auto net = make_net_backend("user");
  Bytes junk = ethernet(Bytes(6, 0xff), 0x0806, 28);
  for (int i = 0; i < 100; ++i) net->send(junk);
  net.reset();  // joins the thread, frees slirp; ASan checks the rest
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(900))
      << "shutdown must wake the slirp thread, not wait for its poll timeout";
}

}  // namespace
}  // namespace rrvm
