#include "replay/gdb_transport.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <csignal>

#include "replay/gdb_server.h"
#include "tests/gdb/history_target.h"

namespace rrvm {
namespace {

TEST(GdbEndpoint, LoopbackUnlessAHostIsGiven) {
  GdbEndpoint ep = GdbEndpoint::parse("1234");
  EXPECT_FALSE(ep.stdio);
  EXPECT_EQ(ep.host, "127.0.0.1");
  EXPECT_EQ(ep.port, "1234");
  EXPECT_EQ(GdbEndpoint::parse(":1234").host, "127.0.0.1");
  ep = GdbEndpoint::parse("0.0.0.0:2000");
  EXPECT_EQ(ep.host, "0.0.0.0") << "any address only when asked for";
  EXPECT_EQ(ep.port, "2000");
  ep = GdbEndpoint::parse("[::1]:0");
  EXPECT_EQ(ep.host, "::1");
  EXPECT_EQ(ep.port, "0");
  EXPECT_TRUE(GdbEndpoint::parse("-").stdio);
}

TEST(GdbEndpoint, RejectsWhatIsNotAnEndpoint) {
  for (const char* bad : {"", "gdb", "host:", "65536", "1234567", "[::1]1234", "[]:1", "12a"}) {
    try {
      GdbEndpoint::parse(bad);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const GdbError& e) {
      EXPECT_NE(std::string(e.what()).find("expected PORT, HOST:PORT or -"), std::string::npos)
          << e.what();
    }
  }
}

int connect_to(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  return fd;
}

TEST(GdbListener, ServesAConnectionOnLoopback) {
  GdbListener listener(GdbEndpoint::parse("0"));
  ASSERT_NE(listener.port(), 0) << "port 0 picks a free one";
  EXPECT_EQ(listener.address(), "127.0.0.1:" + std::to_string(listener.port()));
  int client = connect_to(listener.port());
  std::string input = "$qC#b4$D#44";
  ASSERT_EQ(write(client, input.data(), input.size()), static_cast<ssize_t>(input.size()));
  std::optional<GdbConnection> conn = listener.accept();
  ASSERT_TRUE(conn);
  testing::HistoryTarget target;
  EXPECT_EQ(GdbServer(target, *conn).serve(), GdbServer::End::kDetached);
  char buf[64];
  ssize_t n = read(client, buf, sizeof buf);
  EXPECT_EQ(std::string(buf, static_cast<size_t>(std::max<ssize_t>(n, 0))), "+$QC1#c5+$OK#9a");
  close(client);
}

TEST(GdbListener, APortInUseIsAClearError) {
  GdbListener first(GdbEndpoint::parse("0"));
  try {
    GdbListener second(GdbEndpoint::parse(std::to_string(first.port())));
    ADD_FAILURE() << "bound a port that is in use";
  } catch (const GdbError& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("--gdb 127.0.0.1:" + std::to_string(first.port())), std::string::npos)
        << msg;
    EXPECT_NE(msg.find("already in use"), std::string::npos) << msg;
  }
}

TEST(GdbListener, AnAddressOfAnotherHostIsAClearError) {
  try {
    GdbListener l(GdbEndpoint::parse("192.0.2.1:0"));  // TEST-NET-1, not ours
    ADD_FAILURE() << "bound 192.0.2.1";
  } catch (const GdbError& e) {
    EXPECT_NE(std::string(e.what()).find("no such address on this host"), std::string::npos)
        << e.what();
  }
}

TEST(GdbConnection, AWriteToAClosedPeerThrowsInsteadOfKilling) {
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  close(fds[1]);
  GdbConnection conn(fds[0], fds[0]);
  std::signal(SIGPIPE, SIG_IGN);  // as rrvm's main does
  EXPECT_THROW(conn.send_packet("OK"), GdbError);
  EXPECT_EQ(conn.read_packet(), std::nullopt);
  EXPECT_TRUE(conn.requested()) << "a closed connection stops a running target";
}

}  // namespace
}  // namespace rrvm
