#include "vmm/machine_config.h"

#include <array>

#include "devices/rtc.h"
#include "vmm/guest_ram.h"
#include "vmm/net_backend.h"

namespace rrvm {

std::string_view to_string(ClockMode mode) {
  return mode == ClockMode::kVirtual ? "virtual" : "host";
}

std::string_view to_string(CpuModel model) {
  return model == CpuModel::kHost ? "host" : "rrvm64";
}

std::string_view to_string(NetKind kind) {
  return kind == NetKind::kUser ? "user" : kind == NetKind::kTap ? "tap" : "none";
}

std::string_view to_string(SerialKind kind) {
  return kind == SerialKind::kFile ? "file" : kind == SerialKind::kNone ? "none" : "stdio";
}

namespace {

template <typename T>
using Member = T MachineConfig::*;

// A parse/format pair for each kind of value; the rows below pick one.
struct Value {
  MachineOption::ParseFn parse;
  MachineOption::FormatFn format;
  const char* implicit = nullptr;
};

Value on_off(Member<bool> m) {
  return {[m](MachineConfig& c, std::string_view key, std::string_view t) {
            c.*m = parse_on_off(key, t);
          },
          [m](const MachineConfig& c) { return std::string(c.*m ? "on" : "off"); }};
}

// An on|off option that a bare --key turns on (a switch).
Value switch_on(Member<bool> m) {
  Value v = on_off(m);
  v.implicit = "on";
  return v;
}

Value text(Member<std::string> m) {
  return {[m](MachineConfig& c, std::string_view, std::string_view t) { c.*m = t; },
          [m](const MachineConfig& c) { return c.*m; }};
}

Value integer(Member<uint64_t> m, uint64_t min, uint64_t max, std::string_view unit) {
  return {[=](MachineConfig& c, std::string_view key, std::string_view t) {
            c.*m = parse_integer(key, t, min, max, unit);
          },
          [m](const MachineConfig& c) { return std::to_string(c.*m); }};
}

// Stored as a byte count, as traces have always held it.
Value bytes(Member<uint64_t> m, uint64_t min, uint64_t max, uint64_t align) {
  return {[=](MachineConfig& c, std::string_view key, std::string_view t) {
            c.*m = parse_bytes(key, t, min, max, align);
          },
          [m](const MachineConfig& c) { return std::to_string(c.*m); }};
}

Value seconds(Member<double> m, double max) {
  return {[=](MachineConfig& c, std::string_view key, std::string_view t) {
            c.*m = parse_seconds(key, t, max);
          },
          {}};
}

template <typename E, size_t N>
Value choice(Member<E> m, const std::array<E, N>& values) {
  return {[=](MachineConfig& c, std::string_view key, std::string_view t) {
            c.*m = parse_choice<E>(key, t, values);
          },
          [m](const MachineConfig& c) { return std::string(to_string(c.*m)); }};
}

// --net: the kind, and the whole text (user networking carries hostfwd rules).
Value net() {
  return {[](MachineConfig& c, std::string_view, std::string_view t) {
            try {
              validate_net_spec(t);
            } catch (const NetError& e) {
              // NetError speaks in CLI terms ("--net takes ..."); the key comes first here.
              std::string m = e.what();
              throw ConfigError(m.rfind("--net", 0) == 0 ? m.substr(2) : "net: " + m);
            }
            c.net.kind = t == "none"                ? NetKind::kNone
                         : t.substr(0, 4) == "tap:" ? NetKind::kTap
                                                    : NetKind::kUser;
            c.net.spec = t;
          },
          [](const MachineConfig& c) { return c.net.spec; }};
}

Value serial() {
  return {[](MachineConfig& c, std::string_view key, std::string_view t) {
            if (t == "stdio" || t == "none") {
              c.serial = {t == "none" ? SerialKind::kNone : SerialKind::kStdio, ""};
            } else if (t.substr(0, 5) == "file:" && t.size() > 5) {
              c.serial = {SerialKind::kFile, std::string(t.substr(5))};
            } else {
              throw ConfigError::bad_value(key, t, "stdio, none or file:PATH");
            }
          },
          {}};
}

constexpr std::array kMpTables = {MpTableVariant::fixed, MpTableVariant::kvm84,
                                  MpTableVariant::none};
constexpr std::array kClocks = {ClockMode::kHost, ClockMode::kVirtual};
constexpr std::array kCpus = {CpuModel::kRrvm64, CpuModel::kHost};
constexpr double kMaxTimeoutSec = 365.0 * 86400;  // keeps timeout * 1e9 ns far from overflow

MachineOption row(std::string_view key, char short_name, std::string_view value_name,
                  const char* default_value, OptionScope scope, Value v, std::string_view help) {
  return {key,  short_name, value_name,         default_value,      v.implicit,
          help, scope,      std::move(v.parse), std::move(v.format)};
}

// A row for a key that traces written before it do not have.
MachineOption added_later(MachineOption o, const char* absent_from_trace) {
  o.absent_from_trace = absent_from_trace;
  return o;
}

using C = MachineConfig;
constexpr auto kMachine = OptionScope::kMachine;
constexpr auto kHost = OptionScope::kHost;

// The machine-shape rows keep the order of the keys in existing traces'
// headers (mem .. clock); new keys go after them.
std::vector<MachineOption> make_table() {
  return {
      row("kernel", 'k', "FILE", nullptr, kHost, text(&C::kernel_path),
          "guest kernel: a Multiboot image (ELF32/ELF64/a.out kludge), an ELF64 kernel or a "
          "Linux bzImage (required)"),
      row("initrd", 0, "FILE", nullptr, kHost, text(&C::initrd_path),
          "initial ramdisk (a Multiboot module, or the Linux initrd)"),
      row("mem", 'm', "SIZE", "256M", kMachine,
          bytes(&C::mem_size, GuestRam::kMinSize, GuestRam::kMaxSize, GuestRam::kSizeAlign),
          "guest RAM, e.g. 64M, 1G (2M .. 64G)"),
      row("cmdline", 0, "STR", "", kMachine, text(&C::cmdline), "kernel command line"),
      row("mptable", 0, "V", "fixed", kMachine, choice(&C::mptable, kMpTables),
          "MP table: fixed (PCI bus 0 + ISA bus 1 with PCI interrupt entries), kvm84 (the "
          "seed's broken one: ISA bus only, so an OS finds no PCI interrupts) or none"),
      row("acpi", 0, "on|off", "on", kMachine, on_off(&C::acpi),
          "ACPI tables: RSDP, RSDT/XSDT, FADT, FACS, MADT, DSDT"),
      row("acpi-pic", 0, "on|off", "on", kMachine, on_off(&C::acpi_pic),
          "DSDT has the _PIC method (off: kvm-84's DSDT, where an OS cannot switch ACPI to "
          "APIC mode); off by itself when --acpi off"),
      row("rtl8139-timer", 0, "on|off", "on", kMachine, on_off(&C::rtl8139_timer),
          "RTL8139C+ onboard timer (TCTR/TimerInt); off behaves as kvm-84, whose timer "
          "never fires"),
      row("net", 0, "B", "none", kMachine, net(),
          "network back end: none, user[,hostfwd=[tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:"
          "GUESTPORT]... (libslirp) or tap:IFNAME; any but none adds an RTL8139C+ NIC"),
      row("rtc-epoch", 0, "SEC", "1230768000", kMachine,
          integer(&C::rtc_epoch, 0, Rtc146818::kMaxEpochSeconds,
                  "seconds since 1970, up to 9999-12-31T23:59:59Z"),
          "RTC wall-clock time at power-on, in seconds since 1970 (default 2009-01-01)"),
      row("clock", 0, "C", "host", kMachine, choice(&C::clock, kClocks),
          "guest time: host (the host's clock; its values are recorded) or virtual (from the "
          "execution: each exit is 1 us, HLT skips to the next timer). Under virtual, a guest "
          "that waits for time through port/MMIO reads and HLT runs, and records, identically "
          "every time, however loaded or stalled the host. Not reproducible without a trace: "
          "a guest that spins (10 ms or more of CPU time without an exit) moves its time on "
          "10 ms per spin, and its timer interrupts land where the host's timing puts them; "
          "console and network input are not either, nor is any time value under host)"),
      row("cpu", 0, "NAME", "rrvm64", kMachine, choice(&C::cpu, kCpus),
          "CPU model the guest sees in CPUID: rrvm64 (default: a fixed AMD64 baseline with "
          "x2APIC, no XSAVE, RDRAND or paravirtual features; a host whose KVM passes its own "
          "CPUID bits through adds them, with a warning) or host (what this host's KVM "
          "offers, minus what rrvm cannot record or this KVM cannot execute in ring 0; traces "
          "may not replay elsewhere). What the guest saw is stored in the trace"),
      row("pc-testdev", 0, "on|off", "off", kMachine, on_off(&C::pc_testdev),
          "QEMU's pc-testdev test device, for kvm-unit-tests: IRQ line ports 0x2000-0x200f "
          "(ISA IRQs 0-15), scratch ports 0xe0-0xe3 and 0xe8-0xeb, flush-page port 0xe4, "
          "64 KiB scratch memory at 0xff000000"),
      added_later(row("hpet", 0, "on|off", "on", kMachine, on_off(&C::hpet),
                      "IA-PC HPET at 0xfed00000 (QEMU's -machine hpet=): a 64-bit 100 MHz "
                      "counter and 3 timers, routable to IOAPIC inputs 20-23 or, in "
                      "LegacyReplacement mode, to IRQ0 and IRQ8 in place of the PIT and the RTC"),
                  "off"),
      row("serial", 0, "WHERE", "stdio", kHost, serial(), "COM1 output: stdio, file:PATH or none"),
      row("timeout", 0, "SEC", "0", kHost, seconds(&C::timeout_sec, kMaxTimeoutSec),
          "stop the guest after SEC host seconds (exit 124); 0 = no limit"),
      row("strict-io", 0, "on|off", "off", kHost, switch_on(&C::strict_io),
          "an access to an unmapped port or address is fatal"),
  };
}

}  // namespace

std::span<const MachineOption> machine_option_table() {
  static const std::vector<MachineOption> table = make_table();
  return table;
}

const MachineOption* find_machine_option(std::string_view key) {
  for (const MachineOption& o : machine_option_table())
    if (o.key == key) return &o;
  return nullptr;
}

std::string machine_option_keys() {
  std::string keys;
  for (const MachineOption& o : machine_option_table()) {
    if (o.scope != OptionScope::kMachine) continue;
    keys += (keys.empty() ? "" : ", ") + std::string(o.key);
  }
  return keys;
}

MachineConfig::MachineConfig() {
  for (const MachineOption& o : machine_option_table()) {
    if (o.default_value) o.parse(*this, o.key, o.default_value);
  }
}

std::vector<std::pair<std::string, std::string>> MachineConfig::to_pairs() const {
  std::vector<std::pair<std::string, std::string>> pairs;
  for (const MachineOption& o : machine_option_table()) {
    if (o.scope == OptionScope::kMachine) pairs.emplace_back(o.key, o.format(*this));
  }
  return pairs;
}

void MachineConfig::set(std::string_view key, std::string_view value) {
  const MachineOption* o = find_machine_option(key);
  if (!o || o->scope != OptionScope::kMachine) {
    throw ConfigError("unknown machine option '" + std::string(key) +
                      "' (known: " + machine_option_keys() + ")");
  }
  o->parse(*this, o->key, value);
}

}  // namespace rrvm
