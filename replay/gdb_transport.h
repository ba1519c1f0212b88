// How gdb reaches the server: a TCP socket (`--gdb [HOST:]PORT`, loopback
// unless a host is given) or the process's own stdin/stdout (`--gdb -`, for
// `target remote | rrvm replay t.rrt --gdb -`), and the packet layer on top
// of either (acknowledgements, retransmission, interrupts).
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "replay/debug_target.h"
#include "replay/gdb_packet.h"

namespace rrvm {

// A bad --gdb spec, a port that cannot be bound, or a failed write to gdb.
// The message names the endpoint and what to do about it.
class GdbError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct GdbEndpoint {
  bool stdio = false;
  std::string host = "127.0.0.1";
  std::string port;  // decimal; "0" picks a free one

  // "-" (stdio), "PORT" or ":PORT" (loopback), "HOST:PORT", "[V6ADDR]:PORT".
  // Throws GdbError for anything else.
  static GdbEndpoint parse(std::string_view spec);
};

// One gdb connection speaking packets. Owns its file descriptors. The
// process must ignore SIGPIPE (rrvm's main does): a write to a gdb that went
// away fails with EPIPE and throws GdbError instead.
class GdbConnection final : public InterruptCheck {
 public:
  // in_fd may equal out_fd (a socket).
  GdbConnection(int in_fd, int out_fd);
  ~GdbConnection() override;
  GdbConnection(GdbConnection&& other) noexcept;
  GdbConnection& operator=(GdbConnection&&) = delete;
  GdbConnection(const GdbConnection&) = delete;

  // Blocks for the next packet and acknowledges it; nullopt when gdb closed
  // the connection or SIGINT/SIGTERM arrived. Answers a '-' by sending the
  // last packet again; drops interrupts that arrive while nothing runs.
  std::optional<std::string> read_packet();
  // Sends one packet (framed, run-length encoded). Acknowledgements are
  // consumed lazily by read_packet: gdb sends nothing else before acking.
  void send_packet(std::string_view body);
  // After QStartNoAckMode: no more '+'/'-' either way.
  void disable_acks() { acks_ = false; }

  // Non-blocking: whether gdb sent an interrupt (0x03), or closed the
  // connection after its last packet.
  bool requested() override;

 private:
  // Reads what is available into the decoder; with `block`, waits for at
  // least one byte. Returns false at end of input.
  bool fill(bool block);
  void write_all(std::string_view bytes);

  int in_fd_;
  int out_fd_;
  gdb::PacketDecoder decoder_;
  std::string last_sent_;
  bool acks_ = true;
  bool eof_ = false;
};

// A listening TCP socket for one endpoint.
class GdbListener {
 public:
  // Binds and listens; throws GdbError naming the address when it cannot
  // (port in use, permission, unknown host).
  explicit GdbListener(const GdbEndpoint& endpoint);
  ~GdbListener();
  GdbListener(const GdbListener&) = delete;
  GdbListener& operator=(const GdbListener&) = delete;

  // "127.0.0.1:1234", with the port actually bound.
  const std::string& address() const { return address_; }
  uint16_t port() const { return port_; }

  // Waits for gdb to connect; nullopt if SIGINT/SIGTERM came first.
  std::optional<GdbConnection> accept();

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
  std::string address_;
};

// The protocol on stdin/stdout. stdout is moved to a private descriptor and
// file descriptor 1 is pointed at stderr, so nothing else in the process
// (the guest's serial console, a stray message) can write into the protocol.
GdbConnection stdio_gdb_connection();

}  // namespace rrvm
