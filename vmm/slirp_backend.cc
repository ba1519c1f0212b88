#include "vmm/slirp_backend.h"

#include <arpa/inet.h>
#include <poll.h>
#include <slirp/libslirp.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <ctime>

namespace rrvm {

namespace {

int64_t monotonic_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

in_addr ipv4(const char* text) {
  in_addr a{};
  inet_pton(AF_INET, text, &a);
  return a;
}

void signal_fd(int fd) {
  uint64_t one = 1;
  ssize_t n = ::write(fd, &one, sizeof one);
  (void)n;  // an eventfd only fails when its counter would overflow
}

void drain_fd(int fd) {
  uint64_t v;
  while (::read(fd, &v, sizeof v) > 0) {
  }
}

uint16_t parse_port(std::string_view text, std::string_view whole) {
  unsigned v = 0;
  if (text.empty() || text.size() > 5)
    throw NetError("bad port in hostfwd '" + std::string(whole) + "'");
  for (char c : text) {
    if (c < '0' || c > '9') throw NetError("bad port in hostfwd '" + std::string(whole) + "'");
    v = v * 10 + unsigned(c - '0');
  }
  if (v == 0 || v > 65535)
    throw NetError("port out of range in hostfwd '" + std::string(whole) + "'");
  return uint16_t(v);
}

uint32_t parse_addr(std::string_view text, std::string_view whole) {
  if (text.empty()) return 0;
  in_addr a{};
  if (inet_pton(AF_INET, std::string(text).c_str(), &a) != 1)
    throw NetError("bad IPv4 address in hostfwd '" + std::string(whole) + "'");
  return a.s_addr;
}

}  // namespace

// [tcp|udp]:[hostaddr]:hostport-[guestaddr]:guestport (QEMU's syntax).
HostForward parse_hostfwd(std::string_view text) {
  HostForward f;
  auto c1 = text.find(':');
  auto dash = text.find('-');
  if (c1 == std::string_view::npos || dash == std::string_view::npos || dash < c1)
    throw NetError("hostfwd takes [tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT, not '" +
                   std::string(text) + "'");
  std::string_view proto = text.substr(0, c1), host = text.substr(c1 + 1, dash - c1 - 1),
                   guest = text.substr(dash + 1);
  if (proto == "udp")
    f.udp = true;
  else if (!proto.empty() && proto != "tcp")
    throw NetError("hostfwd protocol must be tcp or udp, not '" + std::string(proto) + "'");
  auto hc = host.rfind(':'), gc = guest.rfind(':');
  if (hc == std::string_view::npos || gc == std::string_view::npos)
    throw NetError("hostfwd takes [tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT, not '" +
                   std::string(text) + "'");
  f.host_addr = parse_addr(host.substr(0, hc), text);
  f.host_port = parse_port(host.substr(hc + 1), text);
  f.guest_addr = parse_addr(guest.substr(0, gc), text);
  f.guest_port = parse_port(guest.substr(gc + 1), text);
  return f;
}

struct SlirpBackend::Timer {
  SlirpTimerId id;
  void* cb_opaque;
  int64_t expire_ms = -1;  // -1: not armed
};

struct SlirpBackend::Impl {
  Slirp* slirp = nullptr;
  std::vector<std::unique_ptr<Timer>> timers;
  std::vector<pollfd> fds;
  SlirpCb callbacks{};
};

SlirpBackend::SlirpBackend(const std::vector<HostForward>& forwards, WarnFn warn)
    : warn_(std::move(warn)), impl_(std::make_unique<Impl>()) {
  to_slirp_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  to_guest_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (to_slirp_fd_ < 0 || to_guest_fd_ < 0)
    throw NetError(std::string("eventfd: ") + std::strerror(errno));

  SlirpCb& cb = impl_->callbacks;
  cb.send_packet = [](const void* buf, size_t len, void* op) -> ssize_t {
    static_cast<SlirpBackend*>(op)->deliver({static_cast<const uint8_t*>(buf), len});
    return ssize_t(len);
  };
  cb.guest_error = [](const char* msg, void* op) {
    rrvm::warn(static_cast<SlirpBackend*>(op)->warn_, std::string("slirp: ") + msg);
  };
  cb.clock_get_ns = [](void*) -> int64_t { return monotonic_ns(); };
  cb.timer_new_opaque = [](SlirpTimerId id, void* cb_opaque, void* op) -> void* {
    auto* self = static_cast<SlirpBackend*>(op);
    self->impl_->timers.push_back(std::make_unique<Timer>(Timer{id, cb_opaque, -1}));
    return self->impl_->timers.back().get();
  };
  cb.timer_free = [](void* t, void* op) {
    auto& timers = static_cast<SlirpBackend*>(op)->impl_->timers;
    std::erase_if(timers, [t](const auto& p) { return p.get() == t; });
  };
  cb.timer_mod = [](void* t, int64_t expire_ms, void*) {
    static_cast<Timer*>(t)->expire_ms = expire_ms;
  };
  cb.register_poll_fd = [](int, void*) {};
  cb.unregister_poll_fd = [](int, void*) {};
  cb.notify = [](void* op) { signal_fd(static_cast<SlirpBackend*>(op)->to_slirp_fd_); };

  SlirpConfig cfg{};
  cfg.version = 4;
  cfg.in_enabled = true;
  cfg.vnetwork = ipv4("10.0.2.0");
  cfg.vnetmask = ipv4("255.255.255.0");
  cfg.vhost = ipv4("10.0.2.2");
  cfg.vdhcp_start = ipv4("10.0.2.15");
  cfg.vnameserver = ipv4("10.0.2.3");
  cfg.vhostname = "rrvm";
  impl_->slirp = slirp_new(&cfg, &cb, this);
  if (!impl_->slirp) throw NetError("libslirp could not create the user-mode network");
  for (const HostForward& f : forwards) {
    in_addr host{f.host_addr}, guest{f.guest_addr ? f.guest_addr : cfg.vdhcp_start.s_addr};
    if (slirp_add_hostfwd(impl_->slirp, f.udp, host, f.host_port, guest, f.guest_port) < 0) {
      slirp_cleanup(impl_->slirp);
      throw NetError("cannot forward host port " + std::to_string(f.host_port) +
                     " (in use, or not allowed)");
    }
  }
  thread_ = std::thread([this] { loop(); });
}

SlirpBackend::~SlirpBackend() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  signal_fd(to_slirp_fd_);
  if (thread_.joinable()) thread_.join();
  if (impl_->slirp) slirp_cleanup(impl_->slirp);
  ::close(to_slirp_fd_);
  ::close(to_guest_fd_);
}

void SlirpBackend::send(std::span<const uint8_t> frame) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (to_slirp_.size() >= kQueueLimit) return;  // the wire is busy: dropped, as on Ethernet
    to_slirp_.emplace_back(frame.begin(), frame.end());
  }
  signal_fd(to_slirp_fd_);
}

void SlirpBackend::deliver(std::span<const uint8_t> frame) {
  std::lock_guard<std::mutex> lock(mu_);
  if (to_guest_.size() >= kQueueLimit) {
    if (!warned_full_) warn(warn_, "guest is not taking frames: dropping");
    warned_full_ = true;
    return;
  }
  to_guest_.emplace_back(frame.begin(), frame.end());
  signal_fd(to_guest_fd_);
}

std::optional<std::vector<uint8_t>> SlirpBackend::receive() {
  std::lock_guard<std::mutex> lock(mu_);
  if (to_guest_.empty()) return std::nullopt;
  std::vector<uint8_t> frame = std::move(to_guest_.front());
  to_guest_.pop_front();
  if (to_guest_.empty()) drain_fd(to_guest_fd_);
  return frame;
}

// The slirp thread: sockets, timers, and frames from the guest.
void SlirpBackend::loop() {
  Impl& im = *impl_;
  for (;;) {
    // Drain the wake-up before looking at the flags: a wake-up that comes
    // after the look stays pending for poll() below.
    drain_fd(to_slirp_fd_);
    std::deque<std::vector<uint8_t>> frames;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) return;
      frames.swap(to_slirp_);
    }
    for (const auto& f : frames) slirp_input(im.slirp, f.data(), int(f.size()));

    im.fds.assign(1, pollfd{to_slirp_fd_, POLLIN, 0});
    uint32_t timeout = 1000;
    slirp_pollfds_fill(
        im.slirp, &timeout,
        [](int fd, int events, void* op) -> int {
          auto& fds = static_cast<SlirpBackend*>(op)->impl_->fds;
          short ev = 0;
          if (events & SLIRP_POLL_IN) ev |= POLLIN;
          if (events & SLIRP_POLL_OUT) ev |= POLLOUT;
          if (events & SLIRP_POLL_PRI) ev |= POLLPRI;
          fds.push_back(pollfd{fd, ev, 0});
          return int(fds.size() - 1);
        },
        this);
    int64_t now_ms = monotonic_ns() / 1'000'000;
    for (const auto& t : im.timers)
      if (t->expire_ms >= 0)
        timeout = uint32_t(std::clamp<int64_t>(t->expire_ms - now_ms, 0, timeout));
    int n = ::poll(im.fds.data(), im.fds.size(), int(timeout));
    slirp_pollfds_poll(
        im.slirp, n < 0,
        [](int idx, void* op) -> int {
          const pollfd& p = static_cast<SlirpBackend*>(op)->impl_->fds[size_t(idx)];
          int r = 0;
          if (p.revents & POLLIN) r |= SLIRP_POLL_IN;
          if (p.revents & POLLOUT) r |= SLIRP_POLL_OUT;
          if (p.revents & POLLPRI) r |= SLIRP_POLL_PRI;
          if (p.revents & POLLERR) r |= SLIRP_POLL_ERR;
          if (p.revents & POLLHUP) r |= SLIRP_POLL_HUP;
          return r;
        },
        this);
    now_ms = monotonic_ns() / 1'000'000;
    for (size_t i = 0; i < im.timers.size(); ++i) {
      Timer* t = im.timers[i].get();
      if (t->expire_ms < 0 || t->expire_ms > now_ms) continue;
      t->expire_ms = -1;
      slirp_handle_timer(im.slirp, t->id, t->cb_opaque);  // may free or add timers
    }
  }
}

}  // namespace rrvm
