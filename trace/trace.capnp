# rrvm trace file (.rrt) schema. This file is the contract between rrvm
# versions: fields keep their numbers forever; new fields get new numbers
# and defaults; nothing depends on declaration order.
#
# File layout: a sequence of standard zstd frames (content size and content
# checksum present). Each frame decompresses to one Cap'n Proto message in the
# standard, unpacked serialization whose root is TraceRecord, so
#   zstd -dc trace.rrt | capnp decode trace/trace.capnp TraceRecord
# prints a trace. (Unpacked: the benchmark shows zstd removes the zero bytes
# packing would, at no extra CPU.) The file starts with a header record,
# then blob records (guest images), then chunk records (events); a complete
# trace ends with an index record, a footer record, and a zstd skippable
# frame (magic 0x184D2A50) holding "RRVMIDX\0" and the u64 file offset of the
# index frame, which zstd -dc ignores.
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
  formatMajor @0 :UInt16;       # a reader refuses a major it does not know
  formatMinor @1 :UInt16;       # a newer minor is read; unknown fields are ignored
  requiredForwardCompat @2 :UInt16;  # > the reader's own: the reader must refuse (rr's scheme)
  rrvmVersion @3 :Text;
  createdUnixSeconds @4 :Int64;
  host @5 :HostInfo;
  config @6 :List(KeyValue);    # complete machine configuration, in order
  cpuid @7 :List(CpuidLeaf);    # the table given to the guest with KVM_SET_CPUID2
  images @8 :List(ImageRef);    # guest images, embedded as blobs by hash
  clockMode @9 :Text;           # "host" or "virtual"
}

struct HostInfo {
  kernel @0 :Text;              # uname -srm
  cpuModel @1 :Text;            # /proc/cpuinfo "model name"
  kvmCapabilities @2 :List(Text);
}

struct KeyValue {
  key @0 :Text;
  value @1 :Text;
}

struct CpuidLeaf {
  function @0 :UInt32;
  index @1 :UInt32;
  flags @2 :UInt32;
  eax @3 :UInt32;
  ebx @4 :UInt32;
  ecx @5 :UInt32;
  edx @6 :UInt32;
}

struct ImageRef {
  role @0 :Text;                # "kernel", "initrd", ...
  name @1 :Text;                # file name as given on the command line
  hash @2 :Text;                # xxh3-128, 32 hex digits
  size @3 :UInt64;
}

# A guest image or part of one (images above 4 MiB are split).
struct Blob {
  hash @0 :Text;
  role @1 :Text;
  part @2 :UInt32;              # 0-based
  parts @3 :UInt32;
  data @4 :Data;
}

enum EventKind {
  portRead @0;      # fields: port, size, zigzag(value - previous value of this port)
  mmioRead @1;      # fields: address, size, zigzag(value - previous value at this address)
  msrRead @2;       # fields: msr, value
  dmaWrite @3;      # fields: guest physical address; bytes in payloads
  interrupt @4;     # fields: vector, 1 if injected at the preceding landmark else 0
  clockRead @5;     # fields: source (0 device, 1 timer at exit, 2 timer at kick), value - previous clock value
  packet @6;        # bytes in payloads
  consoleInput @7;  # bytes in payloads
  landmark @8;      # next entry of landmarks
  regDigest @9;     # fields: 8 raw bytes
  memDigest @10;    # fields: 8 raw bytes
  guestExit @11;    # fields: status, reason code; text in texts
  note @12;         # text in texts
}

# A run of events. Chunks decode independently: every "previous value"
# starts from 0 at the start of a chunk.
struct Chunk {
  firstOrdinal @0 :UInt64;      # exit ordinal of the first event
  count @1 :UInt32;
  kinds @2 :Data;               # one EventKind value (a byte) per event
  ordinals @3 :Data;            # LEB128 deltas: each event's ordinal minus the previous one's
  fields @4 :Data;              # LEB128 fields per kind, as listed in EventKind
  landmarks @5 :List(Landmark);
  payloads @6 :List(Data);
  texts @7 :List(Text);
}

struct Landmark {
  rip @0 :UInt64;
  gprs @1 :List(UInt64);        # rax rbx rcx rdx rsi rdi rsp rbp r8-r15
  rflags @2 :UInt64;
  memDigest @3 :UInt64;         # xxh3-64 of the pages written since the last sync point
  cpl @4 :UInt8;
}

struct Index {
  chunks @0 :List(ChunkRef);
  countsByKind @1 :List(UInt64);  # indexed by EventKind
}

struct ChunkRef {
  firstOrdinal @0 :UInt64;
  fileOffset @1 :UInt64;
  count @2 :UInt32;
}

struct Footer {
  totalEvents @0 :UInt64;
  exits @1 :UInt64;             # natural exits in the run
  finalRegDigest @2 :UInt64;
  finalMemDigest @3 :UInt64;    # xxh3-64 of all of guest RAM at the end
  endReason @4 :Text;
  guestStatus @5 :Int32;
}
