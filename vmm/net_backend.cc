#include "vmm/net_backend.h"

#include <string>

#include "vmm/kicker.h"
#include "vmm/slirp_backend.h"
#include "vmm/tap_backend.h"

namespace rrvm {

namespace {

constexpr std::string_view kSpecUsage =
    "none, user[,hostfwd=[tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT]... or tap:IFNAME";

struct NetSpec {
  enum class Kind { kNone, kUser, kTap } kind = Kind::kNone;
  std::string ifname;                 // kTap
  std::vector<HostForward> forwards;  // kUser
};

bool starts_with(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

// "user" followed by ",hostfwd=RULE" options.
NetSpec parse_user(std::string_view options) {
  NetSpec spec{NetSpec::Kind::kUser, {}, {}};
  while (!options.empty()) {
    options.remove_prefix(1);  // the comma
    size_t comma = options.find(',');
    std::string_view opt = options.substr(0, comma);
    if (!starts_with(opt, "hostfwd=")) {
      throw NetError("--net user: unknown option '" + std::string(opt) +
                     "' (the only option is hostfwd=[tcp|udp]:[HOSTADDR]:HOSTPORT-"
                     "[GUESTADDR]:GUESTPORT)");
    }
    spec.forwards.push_back(parse_hostfwd(opt.substr(8)));
    options = comma == std::string_view::npos ? std::string_view() : options.substr(comma);
  }
  return spec;
}

NetSpec parse(std::string_view text) {
  if (text == "none") return {};
  if (text == "user" || starts_with(text, "user,")) return parse_user(text.substr(4));
  if (starts_with(text, "tap:")) {
    NetSpec spec{NetSpec::Kind::kTap, std::string(text.substr(4)), {}};
    check_tap_name(spec.ifname);
    return spec;
  }
  throw NetError("--net takes " + std::string(kSpecUsage) + ", not '" + std::string(text) + "'");
}

}  // namespace

void validate_net_spec(std::string_view spec) {
  parse(spec);
}

bool NetBackend::busy() const {
  return Kicker::monotonic_ns() - last_send_ns_.load() < kBusyNs;
}

void NetBackend::note_send() {
  last_send_ns_.store(Kicker::monotonic_ns());
}

std::unique_ptr<NetBackend> make_net_backend(std::string_view spec, WarnFn warn) {
  NetSpec s = parse(spec);
  switch (s.kind) {
    case NetSpec::Kind::kNone:
      return nullptr;
    case NetSpec::Kind::kUser:
      return std::make_unique<SlirpBackend>(s.forwards, std::move(warn));
    case NetSpec::Kind::kTap:
      return std::make_unique<TapBackend>(s.ifname, std::move(warn));
  }
  return nullptr;
}

}  // namespace rrvm
