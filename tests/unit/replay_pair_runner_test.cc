// PairRunner: both halves run, side 0 on the caller, side 1 on its own
// thread while running at once pays; exceptions come back; PairPacing's
// verdicts from measured windows.
#include "replay/pair_runner.h"

#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <thread>

namespace rrvm {
namespace {

TEST(PairPacing, AtOnceUntilAWindowShowsNoGain) {
  PairPacing p;
  EXPECT_TRUE(p.at_once());
  for (int i = 0; i < PairPacing::kWindow; ++i) p.ran_at_once(10'000, 12'000);  // 1.2x
  EXPECT_TRUE(p.at_once());
  for (int i = 0; i < PairPacing::kWindow - 1; ++i) p.ran_at_once(10'000, 170'000);
  EXPECT_TRUE(p.at_once()) << "no verdict before the window is full";
  p.ran_at_once(10'000, 170'000);
  EXPECT_FALSE(p.at_once());
}

TEST(PairPacing, OneAfterTheOtherForARunThenTriesAgain) {
  PairPacing p;
  for (int i = 0; i < PairPacing::kWindow; ++i) p.ran_at_once(10'000, 19'000);  // 1.9x
  ASSERT_FALSE(p.at_once());
  for (int i = 0; i < PairPacing::kSerialRun - 1; ++i) p.ran_serially();
  EXPECT_FALSE(p.at_once());
  p.ran_serially();
  EXPECT_TRUE(p.at_once());
}

TEST(PairRunner, RunsBothSidesAndSideZeroOnTheCaller) {
  PairRunner r;
  std::thread::id ids[2];
  int runs[2] = {0, 0};
  r.both([&](int side) {
    ids[side] = std::this_thread::get_id();
    ++runs[side];
  });
  EXPECT_EQ(runs[0], 1);
  EXPECT_EQ(runs[1], 1);
  EXPECT_EQ(ids[0], std::this_thread::get_id());
  EXPECT_NE(ids[1], std::this_thread::get_id()) << "the first call runs at once";
}

// A job of nothing gains nothing from a second thread: after a window the
// halves run one after the other here, and every call still runs both.
TEST(PairRunner, TrivialJobsEndUpOneAfterTheOtherOnTheCaller) {
  PairRunner r;
  uint64_t sum[2] = {0, 0};
  for (int i = 0; i < 10'000; ++i) r.both([&](int side) { sum[side] += i; });
  EXPECT_EQ(sum[0], 49'995'000u);
  EXPECT_EQ(sum[1], 49'995'000u);
  EXPECT_FALSE(r.pacing().at_once());
  std::thread::id id;
  r.both([&](int side) {
    if (side == 1) id = std::this_thread::get_id();
  });
  EXPECT_EQ(id, std::this_thread::get_id());
}

TEST(PairRunner, ExceptionsFromEitherSideComeBack) {
  PairRunner r;
  EXPECT_THROW(r.both([](int side) {
    if (side == 1) throw std::runtime_error("side 1");
  }),
               std::runtime_error);
  try {
    r.both([](int side) { throw std::runtime_error("side " + std::to_string(side)); });
    FAIL() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "side 0");
  }
  std::atomic<int> runs{0};
  r.both([&](int) { ++runs; });
  EXPECT_EQ(runs, 2) << "the runner goes on after an exception";
}

}  // namespace
}  // namespace rrvm
