// libFuzzer target: traces through everything the tools do with one (open,
// verify, dump, seek, extract blobs). The only acceptable failure is a
// TraceError: no crash, no hang, no unbounded allocation.
//
// Mutations are structure-aware (tests/fuzz/trace_mutator.h: records edited
// and recompressed with valid checksums, LLVMFuzzerCustomMutator) three
// times in four, libFuzzer's own byte mutations otherwise.
//
// Seed corpus: tests/data/trace-corpus (tests/unit/trace_robustness_test.cc
// writes it and replays 10,000 mutations of it in every build). Run:
//   cmake --build BUILD --target trace_reader_fuzz_clang   (any compiler)
//   ASAN_OPTIONS=quarantine_size_mb=16 \
//   BUILD/fuzz-clang/tests/fuzz/trace_reader_fuzz -max_total_time=300 \
//       -rss_limit_mb=512 -timeout=10 CORPUS_DIR tests/data/trace-corpus
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <sstream>
#include <vector>

#include "tests/fuzz/trace_mutator.h"
#include "trace/trace_inspect.h"
#include "trace/trace_reader.h"

extern "C" size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t max_size);

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size,
                                          unsigned int seed) {
  if (seed % 4 == 0) return LLVMFuzzerMutate(data, size, max_size);
  rrvm::trace::testing::TraceMutator mutator(seed);
  std::vector<uint8_t> out = mutator.mutate({data, size});
  if (out.empty() || out.size() > max_size) return LLVMFuzzerMutate(data, size, max_size);
  std::memcpy(data, out.data(), out.size());
  return out.size();
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace rrvm::trace;
  try {
    TraceReader reader(std::vector<uint8_t>(data, data + size));
    verify(reader);
    std::ostringstream sink;
    dump(reader, DumpFilter{.from = 3, .to = std::nullopt, .kind = std::nullopt}, true, sink);
    for (const BlobInfo& b : reader.blobs())
      reader.read_blob(reader.find_blob(b.hash.substr(0, 4)), [](std::span<const uint8_t>) {});
  } catch (const TraceError&) {
  }
  return 0;
}
