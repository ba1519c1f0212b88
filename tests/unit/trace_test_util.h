// Shared by the trace_*_test.cc files: deterministic event sequences shaped
// like recordings and a writer/reader round trip (the header and Item come
// from trace_builder.h).
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "tests/unit/trace_builder.h"
#include "trace/trace_reader.h"
#include "trace/trace_writer.h"

namespace rrvm::trace::testing {

inline std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() /
          ("rrvm-trace-" + std::to_string(::getpid()) + "-" + name))
      .string();
}

inline std::vector<uint8_t> slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void spit(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}

// What the reader gives back for an appended event: the format does not
// store a modelled read's value.
inline Item expected(Item it) {
  if (it.event.modelled()) it.event.b = 0;
  return it;
}

inline LandmarkData random_landmark(std::mt19937_64& rng) {
  LandmarkData lm;
  lm.rip = rng();
  for (auto& g : lm.gprs) g = rng();
  lm.rflags = rng() & 0x3f7fd7;
  lm.mem_digest = rng();
  lm.hits = uint32_t(1 + rng() % 5);
  lm.cpl = uint8_t(rng() % 4);
  return lm;
}

// A deterministic random mix of every kind, with nondecreasing ordinals.
inline std::vector<Item> random_items(uint64_t seed, size_t n) {
  std::mt19937_64 rng(seed);
  std::vector<Item> out;
  uint64_t ord = rng() % 1000, clock[3] = {0, 0, 0};
  for (size_t i = 0; i < n; ++i) {
    ord += rng() % 4 == 0 ? rng() % 50 : 0;
    Item it;
    switch (rng() % 17) {
      case 0:
      case 1:
      case 2:
        it.event = Event::port_read(ord, uint16_t(0x40 + rng() % 4), 1, rng() % 256, rng() % 2);
        break;
      case 3:
        it.event = Event::mmio_read(ord, 0xFEE00000 + (rng() % 64) * 16, 4, rng() & 0xffffffff,
                                    rng() % 3 == 0);
        break;
      case 4:
        it.event = Event::msr_read(ord, uint32_t(rng() % 3 ? 0x10 : 0xc0000080), rng());
        break;
      case 5:
      case 6: {
        uint32_t src = uint32_t(rng() % 3);
        clock[src] += rng() % 2000000;
        it.event = Event::clock_read(ord, src, clock[src]);
        break;
      }
      case 7:
        it.event = Event::interrupt(ord, uint8_t(0x20 + rng() % 16), rng() % 2);
        break;
      case 8:
        it.event = Event::landmark(ord);
        it.landmark = random_landmark(rng);
        break;
      case 9:
        it.event = Event::reg_digest(ord, rng());
        break;
      case 10:
        it.event = Event::mem_digest(ord, rng());
        break;
      case 11:
        it.event = Event::dma_write(ord, rng() % (1u << 28));
        it.bytes.resize(rng() % 1600);
        for (auto& b : it.bytes) b = uint8_t(rng());
        break;
      case 12:
        it.event = Event::packet(ord);
        it.bytes.resize(42 + rng() % 100, uint8_t(rng()));
        break;
      case 13:
        it.event = Event::console_input(ord);
        it.bytes.assign(rng() % 8, uint8_t('a' + rng() % 26));
        break;
      case 14:
        it.event = Event::note(ord);
        for (size_t k = rng() % 30; k > 0; --k) it.bytes.push_back(uint8_t(' ' + rng() % 90));
        break;
      case 15:
        if (rng() % 4 == 0)
          it.event = Event::progress(ord);
        else if (rng() % 2)
          it.event = Event::time_skip(ord, TimeSkip(rng() % 2), rng() % 2 ? rng() % 50'000'000 : 0);
        else
          it.event = Event::port_read(ord, 0x3fd, 1, 0x60, false);
        break;
      default:
        it.event = Event::completion(ord, uint8_t(rng() % 4), uint8_t(rng() % 2 ? 3 : 255),
                                     0xffffffff80000000ull + rng() % 4096);
        break;
    }
    out.push_back(it);
  }
  Item exit;
  exit.event = Event::guest_exit(ord, -3, 7);
  std::string why = "guest exit -3";
  exit.bytes.assign(why.begin(), why.end());
  out.push_back(exit);
  return out;
}

inline void append_item(EventSink& w, const Item& it) {
  if (it.event.kind == EventKind::kLandmark)
    w.append_landmark(it.event, it.landmark);
  else if (kind_has_bytes(it.event.kind) || kind_has_text(it.event.kind))
    w.append_bytes(it.event, it.bytes);
  else
    w.append(it.event);
}

inline FooterInfo test_footer() {
  FooterInfo f;
  f.final_reg_digest = 0x1234;
  f.final_mem_digest = 0x5678;
  f.end_reason = "guest exit -3";
  f.guest_status = -3;
  return f;
}

inline void write_trace(const std::string& path, const std::vector<Item>& items,
                        WriterOptions opts = {}) {
  TraceWriter w(path, test_header(), opts);
  w.add_blob("kernel", std::vector<uint8_t>{1, 2, 3});
  for (const Item& it : items) append_item(w, it);
  w.close(test_footer());
}

inline std::vector<uint8_t> trace_bytes(const std::vector<Item>& items, WriterOptions opts = {}) {
  std::string path = temp_path("bytes.rrt");
  write_trace(path, items, opts);
  std::vector<uint8_t> out = slurp(path);
  std::filesystem::remove(path);
  return out;
}

inline Item item_of(const ReadEvent& e) {
  Item it;
  it.event = e.event;
  if (e.landmark) it.landmark = *e.landmark;
  if (e.payload) it.bytes = *e.payload;
  if (e.text) it.bytes.assign(e.text->begin(), e.text->end());
  return it;
}

// Every event the reader yields (up to a TraceError, which propagates).
inline std::vector<Item> read_items(TraceReader& r) {
  std::vector<Item> out;
  ReadEvent e;
  while (r.next(e)) out.push_back(item_of(e));
  return out;
}

// Small chunks, so that short sequences span many chunk records.
inline WriterOptions small_chunks(size_t events = 64) {
  WriterOptions o;
  o.chunk_events = events;
  o.ring_events = 1024;
  o.arena_bytes = 1 << 16;
  return o;
}

}  // namespace rrvm::trace::testing
