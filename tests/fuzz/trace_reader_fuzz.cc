// libFuzzer target: arbitrary bytes through the trace reader. It must only
// ever throw TraceError (never crash, hang or allocate without bound).
//   cmake -DCMAKE_CXX_COMPILER=clang++ ... && ./trace_reader_fuzz tests/data
#include <cstddef>
#include <cstdint>
#include <vector>

#include "trace/trace_inspect.h"
#include "trace/trace_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    rrvm::trace::TraceReader reader(std::vector<uint8_t>(data, data + size));
    rrvm::trace::verify(reader);
    for (const auto& [hash, role] : reader.blobs()) (void)reader.blob(hash);
  } catch (const rrvm::trace::TraceError&) {
  }
  return 0;
}
