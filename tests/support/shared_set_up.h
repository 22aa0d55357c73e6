// SharedSetUp: a test suite's expensive shared set-up (a server, a trained model) that fails
// its tests when it fails.
//
// Why not SetUpTestSuite: GoogleTest skips every test of a suite whose SetUpTestSuite records
// a failure, and ctest then reports them as Skipped -- a server that never starts would leave
// the run green. A fixture instead calls Run from SetUp: the first test of the process runs the
// set-up (its ASSERTs fail that test), and every later test fails at once when it did.
// TearDownTestSuite still cleans up.
#pragma once

#include <gtest/gtest.h>

namespace shelfwatch::testing {

class SharedSetUp {
 public:
  // True when `setup` ran without a failure; it runs on the first call only.
  template <typename F>
  bool Run(F&& setup) {
    if (!ran_) {
      ran_ = true;
      setup();
      ok_ = !::testing::Test::HasFailure();
    }
    return ok_;
  }

 private:
  bool ran_ = false;
  bool ok_ = false;
};

}  // namespace shelfwatch::testing
