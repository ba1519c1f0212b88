#include "vmm/net_backend.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "vmm/slirp_backend.h"
#include "vmm/tap_backend.h"

namespace rrvm {
namespace {

using Frame = std::vector<uint8_t>;
using Mac = std::array<uint8_t, 6>;

constexpr Mac kGuestMac = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
constexpr Mac kBroadcast = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
constexpr uint16_t kTypeIpv4 = 0x0800, kTypeArp = 0x0806;
constexpr uint8_t kProtoIcmp = 1, kProtoTcp = 6, kProtoUdp = 17;
constexpr int kWaitMs = 5000;  // for any one expected frame

constexpr uint32_t ip(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  return uint32_t(a) << 24 | uint32_t(b) << 16 | uint32_t(c) << 8 | d;
}
constexpr uint32_t kGuestIp = ip(10, 0, 2, 15), kGatewayIp = ip(10, 0, 2, 2);

// ---- building frames (big-endian fields) -------------------------------

void put8(Frame& f, uint8_t v) {
  f.push_back(v);
}
void put16(Frame& f, uint16_t v) {
  f.push_back(uint8_t(v >> 8));
  f.push_back(uint8_t(v));
}
void put32(Frame& f, uint32_t v) {
  put16(f, uint16_t(v >> 16));
  put16(f, uint16_t(v));
}
void put_bytes(Frame& f, std::span<const uint8_t> bytes) {
  f.insert(f.end(), bytes.begin(), bytes.end());
}
void set16(Frame& f, size_t at, uint16_t v) {
  f[at] = uint8_t(v >> 8);
  f[at + 1] = uint8_t(v);
}

uint16_t get16(std::span<const uint8_t> f, size_t at) {
  return uint16_t(f[at] << 8 | f[at + 1]);
}
uint32_t get32(std::span<const uint8_t> f, size_t at) {
  return uint32_t(get16(f, at)) << 16 | get16(f, at + 2);
}
Mac get_mac(std::span<const uint8_t> f, size_t at) {
  Mac m;
  std::copy_n(f.begin() + ptrdiff_t(at), 6, m.begin());
  return m;
}

// RFC 1071 ones'-complement sum, as IPv4 and ICMP use it.
uint16_t inet_checksum(std::span<const uint8_t> data) {
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < data.size(); i += 2) sum += get16(data, i);
  if (data.size() % 2) sum += uint32_t(data.back()) << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return uint16_t(~sum);
}

Frame ethernet(const Mac& dst, const Mac& src, uint16_t type, std::span<const uint8_t> payload) {
  Frame f;
  put_bytes(f, dst);
  put_bytes(f, src);
  put16(f, type);
  put_bytes(f, payload);
  return f;
}

Frame ipv4(uint32_t src, uint32_t dst, uint8_t proto, std::span<const uint8_t> payload) {
  Frame p;
  put8(p, 0x45);  // version 4, 20-byte header
  put8(p, 0);     // TOS
  put16(p, uint16_t(20 + payload.size()));
  put16(p, 0x1234);  // identification
  put16(p, 0x4000);  // don't fragment
  put8(p, 64);       // TTL
  put8(p, proto);
  put16(p, 0);  // checksum, below
  put32(p, src);
  put32(p, dst);
  set16(p, 10, inet_checksum(p));
  put_bytes(p, payload);
  return p;
}

Frame udp(uint16_t sport, uint16_t dport, std::span<const uint8_t> payload) {
  Frame u;
  put16(u, sport);
  put16(u, dport);
  put16(u, uint16_t(8 + payload.size()));
  put16(u, 0);  // no checksum (allowed over IPv4)
  put_bytes(u, payload);
  return u;
}

Frame icmp_echo_request(uint16_t id, uint16_t seq, std::span<const uint8_t> data) {
  Frame m;
  put8(m, 8);  // echo request
  put8(m, 0);
  put16(m, 0);  // checksum, below
  put16(m, id);
  put16(m, seq);
  put_bytes(m, data);
  set16(m, 2, inet_checksum(m));
  return m;
}

Frame arp(uint16_t op, const Mac& sha, uint32_t spa, const Mac& tha, uint32_t tpa) {
  Frame a;
  put16(a, 1);          // Ethernet
  put16(a, kTypeIpv4);  // IPv4
  put8(a, 6);
  put8(a, 4);
  put16(a, op);
  put_bytes(a, sha);
  put32(a, spa);
  put_bytes(a, tha);
  put32(a, tpa);
  return ethernet(op == 1 ? kBroadcast : tha, sha, kTypeArp, a);
}

Frame arp_request(uint32_t target) {
  return arp(1, kGuestMac, kGuestIp, Mac{}, target);
}

// BOOTP (RFC 951) with the DHCP magic cookie and options (RFC 2131/2132).
constexpr size_t kBootpYiaddr = 16, kBootpOptions = 240;

Frame dhcp_discover(uint32_t xid) {
  Frame b;
  put8(b, 1);  // BOOTREQUEST
  put8(b, 1);  // Ethernet
  put8(b, 6);
  put8(b, 0);  // hops
  put32(b, xid);
  put16(b, 0);              // secs
  put16(b, 0x8000);         // broadcast reply
  b.resize(b.size() + 16);  // ciaddr yiaddr siaddr giaddr
  put_bytes(b, kGuestMac);
  b.resize(b.size() + 10 + 64 + 128);              // chaddr padding, sname, file
  put32(b, 0x63825363);                            // magic cookie
  put_bytes(b, std::array<uint8_t, 3>{53, 1, 1});  // DHCPDISCOVER
  put8(b, 255);
  b.resize(kBootpOptions + 312 - 4, 0);  // BOOTP's minimum, slirp's option area
  Frame u = udp(68, 67, b);
  return ethernet(kBroadcast, kGuestMac, kTypeIpv4, ipv4(0, 0xffffffff, kProtoUdp, u));
}

// ---- looking at frames --------------------------------------------------

// An IPv4 frame's protocol, addresses and payload.
struct Ipv4View {
  uint8_t proto;
  uint32_t src, dst;
  std::span<const uint8_t> payload;
};

std::optional<Ipv4View> as_ipv4(std::span<const uint8_t> f) {
  if (f.size() < 34 || get16(f, 12) != kTypeIpv4 || (f[14] >> 4) != 4) return std::nullopt;
  size_t ihl = size_t(f[14] & 0xf) * 4, total = get16(f, 16);
  if (total < ihl || 14 + total > f.size()) return std::nullopt;
  return Ipv4View{f[23], get32(f, 26), get32(f, 30), f.subspan(14 + ihl, total - ihl)};
}

bool is_arp(std::span<const uint8_t> f, uint16_t op) {
  return f.size() >= 42 && get16(f, 12) == kTypeArp && get16(f, 20) == op;
}

// Waits for a frame `want` accepts, answering slirp's ARP requests for the
// guest on the way (slirp holds IP packets until it knows the guest's MAC).
// Frames neither accepts are passed over.
std::optional<Frame> wait_for(NetBackend& net, const std::function<bool(const Frame&)>& want,
                              int timeout_ms = kWaitMs) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    while (auto f = net.receive()) {
      if (is_arp(*f, 1) && get32(*f, 38) == kGuestIp) {
        net.send(arp(2, kGuestMac, kGuestIp, get_mac(*f, 22), get32(*f, 28)));
      } else if (want(*f)) {
        return f;
      }
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    pollfd p{net.wake_fd(), POLLIN, 0};
    int n = ::poll(&p, 1, int(left.count()));
    if (n < 0 && errno != EINTR) return std::nullopt;
  }
}

bool readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 0) == 1;
}

std::unique_ptr<NetBackend> user_net(const std::string& spec = "user") {
  auto net = make_net_backend(spec);
  EXPECT_NE(net, nullptr);
  return net;
}

// The message of the NetError `spec` throws ("" if none).
std::string spec_error(std::string_view spec) {
  try {
    validate_net_spec(spec);
  } catch (const NetError& e) {
    return e.what();
  }
  return "";
}

// ---- user network --------------------------------------------------------

TEST(SlirpBackend, DhcpDiscoverGetsOfferOfFirstLease) {
  auto net = user_net();
  EXPECT_EQ(net->name(), "user");
  net->send(dhcp_discover(0xdeadbeef));
  auto offer = wait_for(*net, [](const Frame& f) {
    auto v = as_ipv4(f);
    return v && v->proto == kProtoUdp && v->payload.size() >= 8 && get16(v->payload, 0) == 67 &&
           get16(v->payload, 2) == 68;
  });
  ASSERT_TRUE(offer) << "no DHCP reply within " << kWaitMs << " ms";
  auto bootp = as_ipv4(*offer)->payload.subspan(8);
  ASSERT_GE(bootp.size(), kBootpOptions + 3);
  EXPECT_EQ(bootp[0], 2) << "BOOTREPLY";
  EXPECT_EQ(get32(bootp, 4), 0xdeadbeefu) << "xid";
  EXPECT_EQ(get32(bootp, kBootpYiaddr), kGuestIp) << "yiaddr";
  EXPECT_EQ(get_mac(bootp, 28), kGuestMac) << "chaddr";
  EXPECT_EQ(get32(bootp, kBootpOptions - 4), 0x63825363u);
  // The first option slirp writes is the message type: DHCPOFFER.
  EXPECT_EQ(bootp[kBootpOptions], 53);
  EXPECT_EQ(bootp[kBootpOptions + 2], 2);
  EXPECT_EQ(get_mac(*offer, 0), kBroadcast);
}

TEST(SlirpBackend, ArpRequestForGatewayIsAnswered) {
  auto net = user_net();
  EXPECT_FALSE(readable(net->wake_fd()));
  net->send(arp_request(kGatewayIp));
  auto reply = wait_for(*net, [](const Frame& f) { return is_arp(f, 2); });
  ASSERT_TRUE(reply) << "no ARP reply within " << kWaitMs << " ms";
  EXPECT_EQ(get_mac(*reply, 0), kGuestMac);
  EXPECT_EQ(get32(*reply, 28), kGatewayIp) << "sender IP";
  EXPECT_EQ(get_mac(*reply, 32), kGuestMac) << "target MAC";
  EXPECT_EQ(get32(*reply, 38), kGuestIp) << "target IP";
  EXPECT_NE(get_mac(*reply, 22), Mac{}) << "the gateway has a MAC";
  // Drained: the wake fd is no longer readable.
  while (net->receive()) {
  }
  EXPECT_FALSE(readable(net->wake_fd()));
}

TEST(SlirpBackend, GatewayAnswersPing) {
  auto net = user_net();
  const std::array<uint8_t, 12> data = {'r', 'r', 'v', 'm', ' ', 'p', 'i', 'n', 'g', 0, 1, 2};
  Frame echo = icmp_echo_request(0x4242, 7, data);
  net->send(ethernet(Mac{0x52, 0x55, 10, 0, 2, 2}, kGuestMac, kTypeIpv4,
                     ipv4(kGuestIp, kGatewayIp, kProtoIcmp, echo)));
  auto reply = wait_for(*net, [](const Frame& f) {
    auto v = as_ipv4(f);
    return v && v->proto == kProtoIcmp;
  });
  ASSERT_TRUE(reply) << "no ICMP reply within " << kWaitMs << " ms";
  auto v = *as_ipv4(*reply);
  EXPECT_EQ(v.src, kGatewayIp);
  EXPECT_EQ(v.dst, kGuestIp);
  EXPECT_EQ(get_mac(*reply, 0), kGuestMac);
  ASSERT_EQ(v.payload.size(), 8 + data.size());
  EXPECT_EQ(v.payload[0], 0) << "echo reply";
  EXPECT_EQ(inet_checksum(v.payload), 0) << "ICMP checksum";
  EXPECT_EQ(get16(v.payload, 4), 0x4242) << "id";
  EXPECT_EQ(get16(v.payload, 6), 7) << "seq";
  EXPECT_TRUE(std::equal(data.begin(), data.end(), v.payload.begin() + 8)) << "payload";
}

// Whether the host lets us listen on 127.0.0.1:`port` (tcp).
int listening_socket(uint16_t port) {
  int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  if (::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(s, 1) != 0) {
    ::close(s);
    return -1;
  }
  return s;
}

uint16_t local_port(int s) {
  sockaddr_in a{};
  socklen_t len = sizeof a;
  ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  return ntohs(a.sin_port);
}

TEST(SlirpBackend, HostForwardReachesGuestPort) {
  int probe = listening_socket(0);
  ASSERT_GE(probe, 0);
  uint16_t port = local_port(probe);
  ::close(probe);
  auto net = user_net("user,hostfwd=tcp:127.0.0.1:" + std::to_string(port) + "-:22");

  int c = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  int r = ::connect(c, reinterpret_cast<sockaddr*>(&a), sizeof a);
  ASSERT_TRUE(r == 0 || errno == EINPROGRESS) << std::strerror(errno);
  auto syn = wait_for(*net, [](const Frame& f) {
    auto v = as_ipv4(f);
    return v && v->proto == kProtoTcp && v->payload.size() >= 20;
  });
  ::close(c);
  ASSERT_TRUE(syn) << "no SYN to the guest within " << kWaitMs << " ms";
  auto v = *as_ipv4(*syn);
  EXPECT_EQ(v.dst, kGuestIp);
  EXPECT_EQ(get16(v.payload, 2), 22) << "guest port";
  EXPECT_EQ(v.payload[13] & 0x12, 0x02) << "SYN without ACK";
}

TEST(SlirpBackend, HostForwardOnBusyPortIsNetError) {
  int busy = listening_socket(0);
  ASSERT_GE(busy, 0);
  std::string port = std::to_string(local_port(busy));
  try {
    make_net_backend("user,hostfwd=tcp:127.0.0.1:" + port + "-:22");
    ADD_FAILURE() << "no error for a port in use";
  } catch (const NetError& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("127.0.0.1:" + port), std::string::npos) << msg;
    EXPECT_NE(msg.find(std::strerror(EADDRINUSE)), std::string::npos) << msg;
  }
  ::close(busy);
}

TEST(SlirpBackend, GuestQueueIsBoundedWithOneWarning) {
  std::atomic<int> warnings{0};
  std::mutex mu;
  std::string message;
  auto net = make_net_backend("user", [&](const std::string& m) {
    std::lock_guard<std::mutex> lock(mu);
    message = m;
    ++warnings;
  });
  // Each ARP request gets a reply; nobody takes them.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kWaitMs);
  while (warnings == 0 && std::chrono::steady_clock::now() < deadline) {
    for (int i = 0; i < 256; ++i) net->send(arp_request(kGatewayIp));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_EQ(warnings, 1) << "no warning for a full queue";
  for (int i = 0; i < 512; ++i) net->send(arp_request(kGatewayIp));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(warnings, 1) << "warned more than once";
  {
    std::lock_guard<std::mutex> lock(mu);
    EXPECT_NE(message.find("dropping"), std::string::npos) << message;
  }
  size_t queued = 0;
  while (net->receive()) ++queued;
  EXPECT_EQ(queued, SlirpBackend::kQueueLimit);
}

TEST(SlirpBackend, DestroyWithFramesQueuedIsClean) {
  {
    // Replies waiting for the guest.
    auto net = user_net();
    for (int i = 0; i < 100; ++i) net->send(arp_request(kGatewayIp));
    pollfd p{net->wake_fd(), POLLIN, 0};
    ASSERT_EQ(::poll(&p, 1, kWaitMs), 1);
  }
  {
    // Frames the slirp thread has not taken yet.
    auto net = user_net();
    for (int i = 0; i < 100; ++i) net->send(dhcp_discover(uint32_t(i)));
  }
  // Never started anything.
  auto idle = user_net();
  idle.reset();
}

TEST(SlirpBackend, IgnoresRuntFramesAndGarbage) {
  auto net = user_net();
  net->send(Frame{});
  net->send(Frame{1, 2, 3});
  net->send(Frame(60, 0xff));
  net->send(arp_request(kGatewayIp));
  EXPECT_TRUE(wait_for(*net, [](const Frame& f) { return is_arp(f, 2); }))
      << "still answers after garbage";
}

// ---- spec parsing ----------------------------------------------------------

TEST(NetSpec, NoneIsNoBackend) {
  EXPECT_EQ(make_net_backend("none"), nullptr);
  EXPECT_EQ(spec_error("none"), "");
}

TEST(NetSpec, ValidSpecs) {
  EXPECT_EQ(spec_error("user"), "");
  EXPECT_EQ(spec_error("user,hostfwd=tcp::2222-:22"), "");
  EXPECT_EQ(spec_error("user,hostfwd=tcp::2222-:22,hostfwd=udp:127.0.0.1:5353-10.0.2.15:53"), "");
  EXPECT_EQ(spec_error("user,hostfwd=::8080-:80"), "");
  EXPECT_EQ(spec_error("tap:tap0"), "");
}

TEST(NetSpec, HostForwardFields) {
  HostForward f = parse_hostfwd("udp:127.0.0.1:5353-10.0.2.16:53");
  EXPECT_TRUE(f.udp);
  EXPECT_EQ(ntohl(f.host_addr), ip(127, 0, 0, 1));
  EXPECT_EQ(f.host_port, 5353);
  EXPECT_EQ(ntohl(f.guest_addr), ip(10, 0, 2, 16));
  EXPECT_EQ(f.guest_port, 53);
  HostForward g = parse_hostfwd("tcp::2222-:22");
  EXPECT_FALSE(g.udp);
  EXPECT_EQ(g.host_addr, 0u);
  EXPECT_EQ(g.guest_addr, 0u);
  EXPECT_EQ(g.host_port, 2222);
  EXPECT_EQ(g.guest_port, 22);
}

// Each bad spec fails, and the message quotes `part`.
struct BadSpec {
  const char* spec;
  const char* part;
};

TEST(NetSpec, BadSpecsNameTheBadPart) {
  const BadSpec cases[] = {
      {"", "none, user"},
      {"bogus", "'bogus'"},
      {"users", "'users'"},
      {"tap", "'tap'"},
      {"user,", "unknown option ''"},
      {"user,restrict=on", "'restrict=on'"},
      {"user,hostfwd=tcp:2222-:22", "hostfwd takes [tcp|udp]"},
      {"user,hostfwd=tcp::2222:22", "hostfwd takes"},
      {"user,hostfwd=sctp::2222-:22", "'sctp'"},
      {"user,hostfwd=tcp::99999-:22", "out of range"},
      {"user,hostfwd=tcp::0-:22", "out of range"},
      {"user,hostfwd=tcp::22x-:22", "bad port '22x'"},
      {"user,hostfwd=tcp::2222-:", "bad port ''"},
      {"user,hostfwd=tcp:1.2.3:2222-:22", "bad IPv4 address '1.2.3'"},
      {"user,hostfwd=tcp::2222-10.0.2.x:22", "'10.0.2.x'"},
      {"user,hostfwd=tcp::2222-:22,oops", "'oops'"},
      {"tap:", "needs an interface name"},
      {"tap:averyveryverylongname", "longer than 15"},
      {"tap:a/b", "must not contain"},
      {"tap:a b", "must not contain"},
  };
  for (const BadSpec& c : cases) {
    std::string msg = spec_error(c.spec);
    EXPECT_NE(msg, "") << "'" << c.spec << "' was accepted";
    EXPECT_NE(msg.find(c.part), std::string::npos) << "'" << c.spec << "': " << msg;
    EXPECT_THROW(make_net_backend(c.spec), NetError) << c.spec;
  }
}

// ---- tap -------------------------------------------------------------------

// What a tap open failure must explain.
void expect_helpful_tap_error(const std::string& msg, const std::string& ifname) {
  EXPECT_NE(msg.find(ifname), std::string::npos) << msg;
  bool hint = msg.find("CAP_NET_ADMIN") != std::string::npos ||
              msg.find("/dev/net/tun") != std::string::npos ||
              msg.find("is not a tap") != std::string::npos;
  EXPECT_TRUE(hint) << msg;
}

TEST(TapBackend, NonTapInterfaceIsNetError) {
  // "lo" exists and is not a tap: attaching fails with or without privileges.
  try {
    make_net_backend("tap:lo");
    ADD_FAILURE() << "attached to lo as a tap";
  } catch (const NetError& e) {
    expect_helpful_tap_error(e.what(), "lo");
  }
}

// Sets IFF_UP on `ifname`; false if not allowed.
bool bring_up(const std::string& ifname) {
  int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ifreq req{};
  std::strncpy(req.ifr_name, ifname.c_str(), IFNAMSIZ - 1);
  bool ok = ::ioctl(s, SIOCGIFFLAGS, &req) == 0;
  req.ifr_flags = short(req.ifr_flags | IFF_UP);
  ok = ok && ::ioctl(s, SIOCSIFFLAGS, &req) == 0;
  ::close(s);
  return ok;
}

constexpr uint16_t kTypeTest = 0x88b5;  // IEEE 802 local experimental

TEST(TapBackend, FramesBothWaysThroughARealTap) {
  std::string ifname = "rrvmt" + std::to_string(::getpid() % 1000000);
  std::unique_ptr<NetBackend> tap;
  std::vector<std::string> warnings;
  try {
    tap = make_net_backend("tap:" + ifname, [&](const std::string& m) { warnings.push_back(m); });
  } catch (const NetError& e) {
    expect_helpful_tap_error(e.what(), ifname);
    GTEST_SKIP() << "cannot create a tap here: " << e.what();
  }
  EXPECT_EQ(tap->name(), "tap:" + ifname);
  EXPECT_FALSE(tap->receive());
  EXPECT_FALSE(readable(tap->wake_fd()));
  const std::array<uint8_t, 4> data = {1, 2, 3, 4};
  Frame out = ethernet(kBroadcast, kGuestMac, kTypeTest, data);
  out.resize(60);
  tap->send(out);  // interface down: dropped with a hint
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("ip link set " + ifname + " up"), std::string::npos) << warnings[0];
  tap->send(out);
  EXPECT_EQ(warnings.size(), 1u) << "one warning only";

  if (!bring_up(ifname)) GTEST_SKIP() << "cannot bring " << ifname << " up";
  int ps = ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(kTypeTest));
  ASSERT_GE(ps, 0) << std::strerror(errno);
  sockaddr_ll ll{};
  ll.sll_family = AF_PACKET;
  ll.sll_protocol = htons(kTypeTest);
  ll.sll_ifindex = int(if_nametoindex(ifname.c_str()));
  ASSERT_EQ(::bind(ps, reinterpret_cast<sockaddr*>(&ll), sizeof ll), 0) << std::strerror(errno);

  // Guest -> host.
  tap->send(out);
  pollfd p{ps, POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, kWaitMs), 1) << "the host saw nothing";
  uint8_t buf[2048];
  ssize_t n = ::recv(ps, buf, sizeof buf, 0);
  ASSERT_EQ(n, ssize_t(out.size()));
  EXPECT_TRUE(std::equal(out.begin(), out.end(), buf));

  // Host -> guest; the kernel may send its own frames (IPv6) meanwhile.
  Frame in = ethernet(kGuestMac, Mac{0x02, 0, 0, 0, 0, 1}, kTypeTest, data);
  in.resize(60);
  ASSERT_EQ(::sendto(ps, in.data(), in.size(), 0, reinterpret_cast<sockaddr*>(&ll), sizeof ll),
            ssize_t(in.size()))
      << std::strerror(errno);
  auto got =
      wait_for(*tap, [](const Frame& f) { return f.size() >= 14 && get16(f, 12) == kTypeTest; });
  ASSERT_TRUE(got) << "the guest saw nothing";
  EXPECT_EQ(*got, in);
  ::close(ps);
}

}  // namespace
}  // namespace rrvm
