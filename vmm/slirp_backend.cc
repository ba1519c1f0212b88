#include "vmm/slirp_backend.h"

#include <arpa/inet.h>
#include <poll.h>
#include <slirp/libslirp.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <mutex>
#include <string>

#include "vmm/kicker.h"

namespace rrvm {

namespace {

// The guest network (PLATFORM.md, "User-mode network").
constexpr const char* kNetwork = "10.0.2.0";
constexpr const char* kNetmask = "255.255.255.0";
constexpr const char* kHost = "10.0.2.2";  // gateway, DHCP server
constexpr const char* kDhcpStart = "10.0.2.15";
constexpr const char* kNameserver = "10.0.2.3";

// The poll loop sleeps at most this long when slirp asks for nothing sooner.
constexpr uint32_t kMaxPollMs = 1000;

// slirp's clock: the host's CLOCK_MONOTONIC, as the run loop's.
int64_t monotonic_ns() {
  return int64_t(Kicker::monotonic_ns());
}

in_addr ipv4(const char* text) {
  in_addr a{};
  inet_pton(AF_INET, text, &a);
  return a;
}

// An eventfd, closed on destruction.
class EventFd {
 public:
  EventFd() : fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
    if (fd_ < 0) throw NetError(std::string("eventfd: ") + std::strerror(errno));
  }
  ~EventFd() { ::close(fd_); }
  EventFd(const EventFd&) = delete;
  EventFd& operator=(const EventFd&) = delete;

  int fd() const { return fd_; }
  void signal() {
    uint64_t one = 1;
    ssize_t n = ::write(fd_, &one, sizeof one);
    (void)n;  // fails only when the counter would overflow: still readable
  }
  void drain() {
    uint64_t v;
    ssize_t n = ::read(fd_, &v, sizeof v);
    (void)n;  // one read resets the counter; EAGAIN: already clear
  }

 private:
  int fd_;
};

std::string hostfwd_syntax(std::string_view text) {
  return "hostfwd takes [tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT, not '" +
         std::string(text) + "'";
}

uint16_t parse_port(std::string_view text, std::string_view whole) {
  unsigned v = 0;
  bool digits = !text.empty() && text.size() <= 5 &&
                std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (!digits)
    throw NetError("bad port '" + std::string(text) + "' in hostfwd '" + std::string(whole) + "'");
  for (char c : text) v = v * 10 + unsigned(c - '0');
  if (v == 0 || v > 65535) {
    throw NetError("port " + std::string(text) + " out of range (1-65535) in hostfwd '" +
                   std::string(whole) + "'");
  }
  return uint16_t(v);
}

uint32_t parse_addr(std::string_view text, std::string_view whole) {
  if (text.empty()) return 0;
  in_addr a{};
  if (inet_pton(AF_INET, std::string(text).c_str(), &a) != 1) {
    throw NetError("bad IPv4 address '" + std::string(text) + "' in hostfwd '" +
                   std::string(whole) + "'");
  }
  return a.s_addr;
}

}  // namespace

HostForward parse_hostfwd(std::string_view text) {
  size_t colon = text.find(':'), dash = text.find('-');
  if (colon == std::string_view::npos || dash == std::string_view::npos || dash < colon) {
    throw NetError(hostfwd_syntax(text));
  }
  std::string_view proto = text.substr(0, colon);
  std::string_view host = text.substr(colon + 1, dash - colon - 1), guest = text.substr(dash + 1);
  size_t host_colon = host.rfind(':'), guest_colon = guest.rfind(':');
  if (host_colon == std::string_view::npos || guest_colon == std::string_view::npos) {
    throw NetError(hostfwd_syntax(text));
  }
  HostForward f;
  if (proto == "udp") {
    f.udp = true;
  } else if (!proto.empty() && proto != "tcp") {
    throw NetError("hostfwd protocol must be tcp or udp, not '" + std::string(proto) + "' in '" +
                   std::string(text) + "'");
  }
  f.host_addr = parse_addr(host.substr(0, host_colon), text);
  f.host_port = parse_port(host.substr(host_colon + 1), text);
  f.guest_addr = parse_addr(guest.substr(0, guest_colon), text);
  f.guest_port = parse_port(guest.substr(guest_colon + 1), text);
  return f;
}

// Everything the two threads share, and slirp itself. Destroying it (after
// the slirp thread has stopped) runs slirp_cleanup, which frees slirp's
// timers through the callbacks while `timers` is still alive.
struct SlirpBackend::State {
  // A timer slirp created; it fires through slirp_handle_timer.
  struct Timer {
    SlirpTimerId id;
    void* cb_opaque;
    int64_t expire_ms = -1;  // CLOCK_MONOTONIC; -1: not armed
  };

  explicit State(WarnFn w) : warn(std::move(w)) {}
  ~State() {
    if (slirp) slirp_cleanup(slirp);
  }

  void start(const std::vector<HostForward>& forwards);
  void send(std::span<const uint8_t> frame);
  void deliver(std::span<const uint8_t> frame);
  std::optional<std::vector<uint8_t>> receive();
  void stop();
  void run();

  // Slirp thread only (and the constructing thread before it starts):
  bool feed_frames();
  int poll_sockets(bool fed);
  void fire_timers();

  WarnFn warn;
  EventFd to_slirp_fd;  // wakes the slirp thread: frames queued, or stop
  EventFd to_guest_fd;  // readable while to_guest is not empty

  std::mutex mu;  // guards the queues and the flags below
  std::deque<std::vector<uint8_t>> to_slirp, to_guest;
  bool stopping = false;
  bool warned_full = false;

  SlirpCb callbacks{};  // slirp keeps a pointer to it
  Slirp* slirp = nullptr;
  std::vector<std::unique_ptr<Timer>> timers;
  std::vector<pollfd> fds;  // this turn's poll set; [0] is to_slirp_fd
};

void SlirpBackend::State::start(const std::vector<HostForward>& forwards) {
  SlirpCb& cb = callbacks;
  cb.send_packet = [](const void* buf, size_t len, void* op) -> ssize_t {
    static_cast<State*>(op)->deliver({static_cast<const uint8_t*>(buf), len});
    return ssize_t(len);
  };
  cb.guest_error = [](const char* msg, void* op) {
    rrvm::warn(static_cast<State*>(op)->warn, std::string("slirp: ") + msg);
  };
  cb.clock_get_ns = [](void*) -> int64_t { return monotonic_ns(); };
  cb.timer_new_opaque = [](SlirpTimerId id, void* cb_opaque, void* op) -> void* {
    auto& list = static_cast<State*>(op)->timers;
    list.push_back(std::make_unique<Timer>(Timer{id, cb_opaque, -1}));
    return list.back().get();
  };
  cb.timer_free = [](void* t, void* op) {
    std::erase_if(static_cast<State*>(op)->timers, [t](const auto& p) { return p.get() == t; });
  };
  cb.timer_mod = [](void* t, int64_t expire_ms, void*) {
    static_cast<Timer*>(t)->expire_ms = expire_ms;
  };
  cb.register_poll_fd = [](int, void*) {};  // the poll set is rebuilt every turn
  cb.unregister_poll_fd = [](int, void*) {};
  cb.notify = [](void* op) { static_cast<State*>(op)->to_slirp_fd.signal(); };

  SlirpConfig cfg{};
  cfg.version = 4;  // timer_new_opaque
  cfg.restricted = 0;
  cfg.in_enabled = true;
  cfg.vnetwork = ipv4(kNetwork);
  cfg.vnetmask = ipv4(kNetmask);
  cfg.vhost = ipv4(kHost);
  cfg.vdhcp_start = ipv4(kDhcpStart);
  cfg.vnameserver = ipv4(kNameserver);
  cfg.vhostname = "rrvm";
  slirp = slirp_new(&cfg, &cb, this);
  if (!slirp) throw NetError("libslirp could not create the user-mode network");

  for (const HostForward& f : forwards) {
    in_addr host{f.host_addr}, guest{f.guest_addr ? f.guest_addr : cfg.vdhcp_start.s_addr};
    if (slirp_add_hostfwd(slirp, f.udp, host, f.host_port, guest, f.guest_port) < 0) {
      int err = errno;
      char addr[INET_ADDRSTRLEN] = "*";
      if (f.host_addr) inet_ntop(AF_INET, &host, addr, sizeof addr);
      throw NetError(std::string("hostfwd: cannot listen on ") + (f.udp ? "udp " : "tcp ") + addr +
                     ":" + std::to_string(f.host_port) + ": " + std::strerror(err) +
                     (err == EADDRINUSE ? " (another program has that port)" : ""));
    }
  }
}

void SlirpBackend::State::send(std::span<const uint8_t> frame) {
  {
    std::lock_guard<std::mutex> lock(mu);
    if (to_slirp.size() >= kQueueLimit) return;  // the wire is busy: dropped
    to_slirp.emplace_back(frame.begin(), frame.end());
  }
  to_slirp_fd.signal();
}

// slirp -> guest (slirp thread, from send_packet).
void SlirpBackend::State::deliver(std::span<const uint8_t> frame) {
  bool first_drop = false;
  {
    std::lock_guard<std::mutex> lock(mu);
    if (to_guest.size() >= kQueueLimit) {
      first_drop = !warned_full;
      warned_full = true;
    } else {
      to_guest.emplace_back(frame.begin(), frame.end());
      if (to_guest.size() == 1) to_guest_fd.signal();
    }
  }
  if (first_drop) {
    rrvm::warn(warn, "user network: the guest is not taking frames; dropping beyond " +
                         std::to_string(kQueueLimit) + " waiting");
  }
}

std::optional<std::vector<uint8_t>> SlirpBackend::State::receive() {
  std::lock_guard<std::mutex> lock(mu);
  if (to_guest.empty()) return std::nullopt;
  std::vector<uint8_t> frame = std::move(to_guest.front());
  to_guest.pop_front();
  if (to_guest.empty()) to_guest_fd.drain();
  return frame;
}

void SlirpBackend::State::stop() {
  {
    std::lock_guard<std::mutex> lock(mu);
    stopping = true;
  }
  to_slirp_fd.signal();
}

// The slirp thread: frames from the guest, sockets, timers, until stop().
void SlirpBackend::State::run() {
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (stopping) return;
    }
    bool fed = feed_frames();
    int ready = poll_sockets(fed);
    slirp_pollfds_poll(
        slirp, ready < 0,
        [](int idx, void* op) -> int {
          short rev = static_cast<State*>(op)->fds[size_t(idx)].revents;
          return ((rev & POLLIN) ? SLIRP_POLL_IN : 0) | ((rev & POLLOUT) ? SLIRP_POLL_OUT : 0) |
                 ((rev & POLLPRI) ? SLIRP_POLL_PRI : 0) | ((rev & POLLERR) ? SLIRP_POLL_ERR : 0) |
                 ((rev & POLLHUP) ? SLIRP_POLL_HUP : 0);
        },
        this);
    fire_timers();
  }
}

// Hands slirp what send() queued; false if there was nothing. The wake-up is
// consumed before the queue is taken, so a frame queued meanwhile leaves the
// eventfd readable.
bool SlirpBackend::State::feed_frames() {
  to_slirp_fd.drain();
  std::deque<std::vector<uint8_t>> frames;
  {
    std::lock_guard<std::mutex> lock(mu);
    frames.swap(to_slirp);
  }
  for (const auto& f : frames) slirp_input(slirp, f.data(), int(f.size()));
  return !frames.empty();
}

// Waits for slirp's sockets, the wake-up eventfd or the next timer. After
// frames were fed it only looks: slirp_pollfds_poll must follow at once, as
// it sends what waited for ARP (an ARP reply from the guest just came in);
// slirp drops such packets a second after asking.
int SlirpBackend::State::poll_sockets(bool fed) {
  fds.assign(1, pollfd{to_slirp_fd.fd(), POLLIN, 0});
  uint32_t timeout = fed ? 0 : kMaxPollMs;
  slirp_pollfds_fill(
      slirp, &timeout,
      [](int fd, int events, void* op) -> int {
        auto& set = static_cast<State*>(op)->fds;
        short ev = short(((events & SLIRP_POLL_IN) ? POLLIN : 0) |
                         ((events & SLIRP_POLL_OUT) ? POLLOUT : 0) |
                         ((events & SLIRP_POLL_PRI) ? POLLPRI : 0));
        set.push_back(pollfd{fd, ev, 0});
        return int(set.size() - 1);
      },
      this);
  int64_t now_ms = monotonic_ns() / 1'000'000;
  for (const auto& t : timers) {
    if (t->expire_ms >= 0)
      timeout = uint32_t(std::clamp<int64_t>(t->expire_ms - now_ms, 0, timeout));
  }
  return ::poll(fds.data(), fds.size(), int(timeout));
}

// Runs the timers that are due. A handler may free, create or re-arm timers,
// so the list is searched afresh after each one.
void SlirpBackend::State::fire_timers() {
  int64_t now_ms = monotonic_ns() / 1'000'000;
  for (;;) {
    auto due = std::find_if(timers.begin(), timers.end(), [now_ms](const auto& t) {
      return t->expire_ms >= 0 && t->expire_ms <= now_ms;
    });
    if (due == timers.end()) return;
    Timer& t = **due;
    t.expire_ms = -1;
    slirp_handle_timer(slirp, t.id, t.cb_opaque);
  }
}

SlirpBackend::SlirpBackend(const std::vector<HostForward>& forwards, WarnFn warn)
    : state_(std::make_unique<State>(std::move(warn))) {
  state_->start(forwards);
  thread_ = std::thread([s = state_.get()] { s->run(); });
}

SlirpBackend::~SlirpBackend() {
  state_->stop();
  thread_.join();
}

void SlirpBackend::send(std::span<const uint8_t> frame) {
  note_send();
  state_->send(frame);
}

std::optional<std::vector<uint8_t>> SlirpBackend::receive() {
  return state_->receive();
}

int SlirpBackend::wake_fd() const {
  return state_->to_guest_fd.fd();
}

}  // namespace rrvm
