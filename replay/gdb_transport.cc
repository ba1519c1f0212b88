#include "replay/gdb_transport.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>

#include "vmm/kicker.h"

namespace rrvm {
namespace {

constexpr const char* kSpecHelp = "expected PORT, HOST:PORT or - (stdin/stdout)";

bool valid_port(std::string_view p) {
  if (p.empty() || p.size() > 5) return false;
  for (char c : p)
    if (c < '0' || c > '9') return false;
  return std::stoul(std::string(p)) <= 65535;
}

std::string errno_text(int err) {
  return std::strerror(err);
}

std::string bind_advice(int err) {
  if (err == EADDRINUSE)
    return "the port is already in use (another rrvm or gdbserver?); pick another, or 0 for any "
           "free port";
  if (err == EACCES) return "permission denied (ports below 1024 need privileges)";
  if (err == EADDRNOTAVAIL) return "no such address on this host";
  return errno_text(err);
}

std::string format_address(const sockaddr* sa) {
  char host[NI_MAXHOST], serv[NI_MAXSERV];
  socklen_t len = sa->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
  if (getnameinfo(sa, len, host, sizeof host, serv, sizeof serv, NI_NUMERICHOST | NI_NUMERICSERV))
    return "?";
  std::string h = host;
  return (sa->sa_family == AF_INET6 ? "[" + h + "]" : h) + ":" + serv;
}

// Waits for `fd` to become readable; false when interrupted by a stop signal.
bool wait_readable(int fd, int timeout_ms) {
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    int r = poll(&p, 1, timeout_ms);
    if (r >= 0) return r > 0;
    if (errno != EINTR) throw GdbError("gdb connection: poll: " + errno_text(errno));
    if (Kicker::stop_signal()) return false;
  }
}

}  // namespace

GdbEndpoint GdbEndpoint::parse(std::string_view spec) {
  GdbEndpoint ep;
  if (spec == "-") {
    ep.stdio = true;
    return ep;
  }
  std::string_view host, port = spec;
  if (spec.starts_with('[')) {
    size_t close = spec.find("]:");
    if (close == std::string_view::npos)
      throw GdbError("--gdb " + std::string(spec) + ": " + kSpecHelp);
    host = spec.substr(1, close - 1);
    port = spec.substr(close + 2);
  } else if (size_t colon = spec.rfind(':'); colon != std::string_view::npos) {
    host = spec.substr(0, colon);
    port = spec.substr(colon + 1);
  }
  if (!valid_port(port) || (spec.starts_with('[') && host.empty()))
    throw GdbError("--gdb " + std::string(spec) + ": " + kSpecHelp);
  if (!host.empty()) ep.host = host;
  ep.port = port;
  return ep;
}

GdbConnection::GdbConnection(int in_fd, int out_fd) : in_fd_(in_fd), out_fd_(out_fd) {}

GdbConnection::GdbConnection(GdbConnection&& o) noexcept
    : in_fd_(o.in_fd_),
      out_fd_(o.out_fd_),
      decoder_(std::move(o.decoder_)),
      last_sent_(std::move(o.last_sent_)),
      acks_(o.acks_),
      eof_(o.eof_) {
  o.in_fd_ = o.out_fd_ = -1;
}

GdbConnection::~GdbConnection() {
  if (in_fd_ >= 0) close(in_fd_);
  if (out_fd_ >= 0 && out_fd_ != in_fd_) close(out_fd_);
}

bool GdbConnection::fill(bool block) {
  if (eof_) return false;
  if (!wait_readable(in_fd_, block ? -1 : 0)) return !block;
  char buf[4096];
  ssize_t n = read(in_fd_, buf, sizeof buf);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return true;
  if (n <= 0) {
    eof_ = true;  // a read error is as final as a close
    return false;
  }
  decoder_.feed(std::string_view(buf, static_cast<size_t>(n)));
  return true;
}

std::optional<std::string> GdbConnection::read_packet() {
  using Kind = gdb::PacketDecoder::Item::Kind;
  for (;;) {
    while (auto item = decoder_.next()) {
      switch (item->kind) {
        case Kind::kPacket:
          if (acks_) write_all("+");
          return std::move(item->body);
        case Kind::kBadPacket:
          if (acks_) write_all("-");
          break;
        case Kind::kNak:
          if (acks_ && !last_sent_.empty()) write_all(last_sent_);
          break;
        case Kind::kAck:
        case Kind::kInterrupt:  // nothing runs: a late Ctrl-C has no effect
          break;
      }
    }
    if (Kicker::stop_signal() || !fill(true)) return std::nullopt;
  }
}

void GdbConnection::send_packet(std::string_view body) {
  last_sent_ = gdb::frame_packet(body);
  write_all(last_sent_);
}

void GdbConnection::write_all(std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = write(out_fd_, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw GdbError("gdb connection: write: " + errno_text(n < 0 ? errno : EPIPE));
    bytes.remove_prefix(static_cast<size_t>(n));
  }
}

bool GdbConnection::requested() {
  fill(false);
  // A gdb that went away will not ask again; but packets it sent before
  // closing are still answered first.
  return decoder_.take_interrupt() || (eof_ && decoder_.empty());
}

GdbListener::GdbListener(const GdbEndpoint& ep) {
  std::string name = ep.host + ":" + ep.port;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  if (int rc = getaddrinfo(ep.host.c_str(), ep.port.c_str(), &hints, &res))
    throw GdbError("--gdb " + name + ": " + gai_strerror(rc));
  int err = 0;
  for (addrinfo* ai = res; ai && fd_ < 0; ai = ai->ai_next) {
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      err = errno;
      continue;
    }
    // Lets a new rrvm bind while the last one's connection sits in
    // TIME_WAIT; Linux still refuses a port another socket listens on.
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 1) == 0) {
      fd_ = fd;
    } else {
      err = errno;
      close(fd);
    }
  }
  freeaddrinfo(res);
  if (fd_ < 0) throw GdbError("--gdb " + name + ": cannot listen: " + bind_advice(err));
  sockaddr_storage sa{};
  socklen_t len = sizeof sa;
  getsockname(fd_, reinterpret_cast<sockaddr*>(&sa), &len);
  address_ = format_address(reinterpret_cast<sockaddr*>(&sa));
  port_ = ntohs(sa.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&sa)->sin6_port
                                         : reinterpret_cast<sockaddr_in*>(&sa)->sin_port);
}

GdbListener::~GdbListener() {
  if (fd_ >= 0) close(fd_);
}

std::optional<GdbConnection> GdbListener::accept() {
  for (;;) {
    if (!wait_readable(fd_, -1)) return std::nullopt;
    int fd = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      throw GdbError("--gdb " + address_ + ": accept: " + errno_text(errno));
    }
    // Packets are small and strictly request/reply: Nagle would add a
    // delayed-ACK wait to every round trip.
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return GdbConnection(fd, fd);
  }
}

GdbConnection stdio_gdb_connection() {
  std::cout.flush();
  std::fflush(stdout);
  int in = fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 3);
  int out = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
  if (in < 0 || out < 0 || dup2(STDERR_FILENO, STDOUT_FILENO) < 0)
    throw GdbError(std::string("--gdb -: cannot set up stdin/stdout: ") + errno_text(errno));
  return GdbConnection(in, out);
}

}  // namespace rrvm
