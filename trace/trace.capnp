# rrvm trace file (.rrt) schema, format 1.1 (1.0 plus Header.readsModelled,
# Header.deviceModels and the timeSkip and progress events; see "What a trace
# stores"). This file is the contract
# between rrvm versions: fields keep their numbers forever, new fields get new
# numbers (and defaults that mean "absent"), nothing depends on declaration
# order, and event kinds are stored by the explicit numbers of EventKind.
#
# File layout (DESIGN.md, "Trace file"):
#   frame 0        header record
#   frames 1..     blob records (guest images) and chunk records (events),
#                  in the order they were written
#   (complete traces only)
#                  index record, footer record, then a zstd *skippable* frame
#                  (magic 0x184D2A50, 24 bytes: "RRVMIDX\0", u64 LE file
#                  offset of the index frame, u64 LE xxh64 of the previous
#                  16 bytes) so a reader can find the index without a scan.
#
# Every record is one standard zstd frame with the content size and a content
# checksum in its header, holding exactly one Cap'n Proto message in the
# standard UNPACKED serialization (segment table + segments) whose root is
# TraceRecord. So
#   zstd -t trace.rrt                                         # checksums
#   zstd -dc trace.rrt | capnp decode trace/trace.capnp TraceRecord
# validate and print a trace; zstd -dc skips the trailing skippable frame.
#
# Unpacked, not packed: the events are already varint columns (see Chunk), so
# packing removes almost nothing that zstd does not, and costs a pass over
# every message. tests/bench/trace_bench measures both ("packed" counters).
#
# What a trace stores. Only what the device models cannot recompute: replay
# re-runs the same models on the same guest, so a read's value follows from
# the models and the inputs already in the trace (clock values, packets,
# console input, interrupts at landmarks), and so, under --clock virtual,
# does guest time (a fixed amount per exit). Such values are left out
# entirely (Header.readsModelled): no event per read, not even a flagged one.
# What verifies them is what verifies everything else: the register and
# memory digests, the final memory digest and the guest's exit. A replay
# whose models answer a read differently diverges at the next digest, and
# the report names that exit; `rrvm bisect` runs both executions side by
# side and names the read itself, comparing the two sides' model outputs
# live. Stored in full: host clock values (delta-coded), network frames,
# console input, landmarks, and under a virtual clock the halts and spins
# that moved time (timeSkip). `rrvm record --log-values` stores every value
# as format 1.0 did (readsModelled false): such a trace replays on builds
# whose device models differ, and on 1.0 readers.
#
# Embedded images are compressed hard (zstd level 19 with long-distance
# matching, for parts up to 4 MiB): a Multiboot image that is mostly zero
# page tables costs a few hundred bytes.
#
# Limits a reader enforces (a trace is untrusted input, README "Untrusted
# traces"): a frame's content size must be declared and at most 64 MiB;
# Cap'n Proto traversal limits follow from the frame's real size; a chunk
# holds at most 65,536 events; exit ordinals never go backwards; a blob's
# hash is 32 or 16 lower-case hex digits, its records agree on size and part
# count and name each part once, and the blobs' sizes, each and together,
# fit in the guest RAM of the header's "mem" (decimal bytes; 1 GiB when it
# is not given so); the footer is the last record (only the trailer follows
# it) and only the footer follows the index. A scan without an index reads
# only the first 64 KiB of a chunk or blob record, so writers put a record's
# small fields before its columns and bytes (Cap'n Proto builders lay out
# fields in the order they are set).
@0xe18ac4567ac67a61;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("rrvm::trace::schema");

struct TraceRecord {
  union {
    header @0 :Header;
    blob @1 :Blob;
    chunk @2 :Chunk;
    index @3 :Index;
    footer @4 :Footer;
  }
}

struct Header {
  formatMajor @0 :UInt16;            # a reader refuses a major it does not know
  formatMinor @1 :UInt16;            # a newer minor is read; unknown fields are ignored
  requiredForwardCompat @2 :UInt16;  # refuse when above the reader's own level (rr's scheme):
                                     # bumped only when old readers would misread new files
  rrvmVersion @3 :Text;              # e.g. "0.1.0"
  createdUnixSeconds @4 :Int64;
  host @5 :HostInfo;
  config @6 :List(KeyValue);         # complete machine configuration, in order ("mem" = "256M")
  cpuid @7 :List(CpuidLeaf);         # the table given to the guest (KVM_SET_CPUID2)
  images @8 :List(ImageRef);         # guest images; their bytes are blobs with the same hash
  clockMode @9 :Text;                # guest time source: "host" (every read logged) or "virtual"
  readsModelled @10 :Bool;           # 1.1: read values, interrupts injected at exits and (with
                                     # clockMode "virtual") guest time are not stored: replay's
                                     # device models recompute them. Such a trace sets
                                     # requiredForwardCompat 2. False: every value is stored.
  deviceModels @11 :Text;            # 1.1: the recording build's device-model version (a hash of
                                     # the model sources); a replay by other models says so
  hostProbe @12 :List(InstructionProbe);
                                     # what the recording host's KVM could execute in guest
                                     # ring 0 (vmm/cpu_probe.h); empty in older traces
  hostForcedCpuid @13 :List(Text);   # CPUID flags (Linux names) the recording host's KVM showed
                                     # every guest whatever its table said (nested PVM)
}

# One instruction the recording host was asked to run in a ring-0 probe guest.
struct InstructionProbe {
  instruction @0 :Text;              # "cmpxchg16b"
  feature @1 :Text;                  # its CPUID flag as Linux names it ("cx16"); empty: baseline
  outcome @2 :ProbeOutcome;
  vector @3 :UInt8;                  # faults: the exception vector (255: none, e.g. a shutdown)
}

enum ProbeOutcome {
  works @0;                          # ran (int3: delivered #BP)
  emulationFailure @1;               # KVM_EXIT_INTERNAL_ERROR: KVM's emulator cannot run it
  faults @2;                         # raised an exception although the feature is offered
  notOffered @3;                     # KVM does not offer the feature; not tried
}

struct HostInfo {
  kernel @0 :Text;                   # uname: sysname release machine
  cpuModel @1 :Text;                 # /proc/cpuinfo "model name"
  kvmCapabilities @2 :List(Text);    # the KVM_CAP_* names rrvm relied on
}

struct KeyValue {
  key @0 :Text;
  value @1 :Text;
}

struct CpuidLeaf {
  function @0 :UInt32;
  index @1 :UInt32;
  flags @2 :UInt32;                  # KVM_CPUID_FLAG_*
  eax @3 :UInt32;
  ebx @4 :UInt32;
  ecx @5 :UInt32;
  edx @6 :UInt32;
}

struct ImageRef {
  role @0 :Text;                     # "kernel", "initrd", "acpi", ...
  name @1 :Text;                     # file name as given on the command line
  hash @2 :Text;                     # lower-case hex: 32 digits xxh3-128, or 16 digits xxh3-64
  size @3 :UInt64;                   # bytes
}

# One frame's worth of a content-addressed blob. Blobs above 4 MiB are split
# into parts of 4 MiB (the last one shorter), one record each.
struct Blob {
  hash @0 :Text;                     # hash of the whole blob, as in ImageRef
  role @1 :Text;
  part @2 :UInt32;                   # 0-based
  parts @3 :UInt32;
  size @4 :UInt64;                   # bytes of the whole blob
  data @5 :Data;                     # this part's bytes
}

# Event kinds as stored in Chunk.kinds (bits 0-5 of each byte). The numbers
# are the format; names are for people. trace/event.h has the same list
# (EventKind) and one row per kind saying how its fields are stored
# (kKindLayouts, the table below); a unit test checks that they agree.
enum EventKind {
  portRead @0;
  mmioRead @1;
  msrRead @2;
  dmaWrite @3;
  interrupt @4;
  clockRead @5;
  packet @6;
  consoleInput @7;
  landmark @8;
  regDigest @9;
  memDigest @10;
  guestExit @11;
  note @12;
  timeSkip @13;
  progress @14;
  completion @15;
  nmi @16;
}

# A run of events, stored column-wise so that zstd sees like next to like.
# Numbers are LEB128 varints ("v"), signed ones zigzag-encoded first ("z").
# Every chunk decodes on its own: all "previous" values start at 0.
#
#   kind           args column                     values column
#   portRead       v port, byte size               z (value - previous value of this port) *
#   mmioRead       v address, byte size            z (value - previous value at this address) *
#   msrRead        v msr                           z (value - previous value of this msr)
#   dmaWrite       v guest physical address, v n   -          (n bytes in payloads)
#   interrupt      v vector                        -          (flag: injected at a landmark)
#   clockRead      v source                        z (value - previous value of this source)
#   packet         v n                             -          (n bytes in payloads)
#   consoleInput   v n                             -          (n bytes in payloads)
#   landmark       -                               -          (next entry of landmarks)
#   regDigest      -                               8 bytes little-endian
#   memDigest      -                               8 bytes little-endian
#   guestExit      z code, v detail, v n           -          (n bytes of reason text)
#   note           v n                             -          (n bytes of UTF-8 text)
#   timeSkip       v cause, v ns                   -          (cause 0: halted, time jumped to the
#                                                              next timer deadline, ns 0; 1: spun,
#                                                              ns of guest time added at a kick)
#   progress       -                               -          (the recording ran through this
#                                                              exit: written about once a second
#                                                              when nothing else was, so a trace
#                                                              cut off later replays that far)
#   completion     v insn, v rip                   -          an instruction KVM could not
#                                                             emulate that rrvm completed:
#                                                             insn = instruction (0 int3,
#                                                             1 fwait, 2 clac, 3 stac,
#                                                             4 popcnt, 5 ldmxcsr, 6 sse,
#                                                             7 int n, 8 x87) | vector << 8 (the
#                                                             exception or interrupt raised;
#                                                             0xff: none)
#   nmi            -                               -          (flag: injected at a landmark)
#
# * Reads with the flag bit set are "as modelled": replay's device model
#   reproduces the value, so it is not stored and reads back as 0. rrvm 1.1
#   writes no such events (a trace with readsModelled leaves modelled reads
#   out entirely) but reads them: replay keeps the model's value.
struct Chunk {
  firstOrdinal @0 :UInt64;           # exit ordinal of the first event
  count @1 :UInt32;                  # events; equals the length of kinds
  kinds @2 :Data;                    # per event: bits 0-5 EventKind, bit 7 flag, bit 6 reserved (0)
  ordinals @3 :Data;                 # per event: v (ordinal - previous ordinal); the first
                                     # event's previous ordinal is firstOrdinal
  args @4 :Data;                     # see the table
  values @5 :Data;                   # see the table
  payloads @6 :Data;                 # the side bytes of dmaWrite/packet/consoleInput/guestExit/note
  landmarks @7 :List(Landmark);
}

# Where an asynchronous interrupt was injected (DESIGN.md, Determinism model).
struct Landmark {
  rip @0 :UInt64;
  gprs @1 :List(UInt64);             # 16, struct kvm_regs order: rax rbx rcx rdx rsi rdi rsp rbp r8..r15
  rflags @2 :UInt64;
  memDigest @3 :UInt64;              # xxh3-64 of the pages written since the last exit
  hits @4 :UInt32;                   # times the state was reached before injection (1 = first)
  cpl @5 :UInt8;
}

# Random access for complete traces; a reader can always rebuild it by a scan.
struct Index {
  chunks @0 :List(ChunkRef);         # in file order
  countsByKind @1 :List(UInt64);     # indexed by EventKind
  blobs @2 :List(BlobRef);
}

struct ChunkRef {
  firstOrdinal @0 :UInt64;
  lastOrdinal @1 :UInt64;
  fileOffset @2 :UInt64;             # of the chunk's zstd frame
  frameBytes @3 :UInt64;             # compressed size of that frame
  count @4 :UInt32;
}

struct BlobRef {
  hash @0 :Text;
  role @1 :Text;
  part @2 :UInt32;
  parts @3 :UInt32;
  size @4 :UInt64;                   # of the whole blob
  fileOffset @5 :UInt64;
  frameBytes @6 :UInt64;
}

struct Footer {
  totalEvents @0 :UInt64;
  countsByKind @1 :List(UInt64);     # indexed by EventKind
  exits @2 :UInt64;                  # exit ordinals used by the run (the last ordinal + 1)
  finalRegDigest @3 :UInt64;
  finalMemDigest @4 :UInt64;         # xxh3-64 of all guest RAM at the end
  endReason @5 :Text;                # "guest exit 0", "interrupted", ...
  guestStatus @6 :Int32;
}
