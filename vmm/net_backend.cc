#include "vmm/net_backend.h"

#include <string>

#include "vmm/slirp_backend.h"
#include "vmm/tap_backend.h"

namespace rrvm {

namespace {

struct Spec {
  std::string kind;  // none | user | tap
  std::string ifname;
  std::vector<HostForward> forwards;
};

Spec parse(std::string_view text) {
  Spec s;
  if (text == "none") {
    s.kind = "none";
  } else if (text.rfind("tap:", 0) == 0) {
    s.kind = "tap";
    s.ifname = std::string(text.substr(4));
    if (s.ifname.empty()) throw NetError("--net tap:IFNAME needs an interface name");
  } else if (text == "user" || text.rfind("user,", 0) == 0) {
    s.kind = "user";
    std::string_view rest = text.substr(4);
    while (!rest.empty()) {
      rest.remove_prefix(1);  // the comma
      auto comma = rest.find(',');
      std::string_view opt = rest.substr(0, comma);
      if (opt.rfind("hostfwd=", 0) != 0)
        throw NetError("--net user takes hostfwd=... options, not '" + std::string(opt) + "'");
      s.forwards.push_back(parse_hostfwd(opt.substr(8)));
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma);
    }
  } else {
    throw NetError(
        "--net takes none, user[,hostfwd=tcp::HOSTPORT-:GUESTPORT] or tap:IFNAME, not '" +
        std::string(text) + "'");
  }
  return s;
}

}  // namespace

void validate_net_spec(std::string_view spec) {
  parse(spec);
}

std::unique_ptr<NetBackend> make_net_backend(std::string_view spec, WarnFn warn) {
  Spec s = parse(spec);
  if (s.kind == "user") return std::make_unique<SlirpBackend>(s.forwards, std::move(warn));
  if (s.kind == "tap") return std::make_unique<TapBackend>(s.ifname);
  return nullptr;
}

}  // namespace rrvm
