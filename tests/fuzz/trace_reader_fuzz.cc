// libFuzzer target: arbitrary bytes through everything the tools do with a
// trace (open, verify, dump, seek, extract blobs). The only acceptable
// failure is a TraceError: no crash, no hang, no unbounded allocation.
//
// Seed corpus: tests/data/trace-corpus (tests/unit/trace_robustness_test.cc
// writes it and replays 10,000 mutations of it in every build). Run:
//   cmake --build BUILD --target trace_reader_fuzz_clang   (any compiler)
//   BUILD/fuzz-clang/tests/fuzz/trace_reader_fuzz -max_total_time=300 \
//       -rss_limit_mb=512 CORPUS_DIR tests/data/trace-corpus
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <vector>

#include "trace/trace_inspect.h"
#include "trace/trace_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace rrvm::trace;
  try {
    TraceReader reader(std::vector<uint8_t>(data, data + size));
    verify(reader);
    std::ostringstream sink;
    dump(reader, DumpFilter{.from = 3, .to = std::nullopt, .kind = std::nullopt}, true, sink);
    for (const BlobInfo& b : reader.blobs()) (void)reader.blob(b.hash.substr(0, 4));
  } catch (const TraceError&) {
  }
  return 0;
}
