#include "common/progress.h"

#include <unistd.h>

#include <cstdio>

#include "common/clock.h"

namespace shelfwatch {

ProgressBar::ProgressBar(std::string label, uint64_t total, bool enabled)
    : label_(std::move(label)),
      total_(total),
      active_(enabled && ::isatty(STDERR_FILENO) == 1),
      start_ns_(MonotonicNanos()) {}

ProgressBar::~ProgressBar() { Finish(); }

void ProgressBar::MaybeDraw(uint64_t done) {
  int64_t now = MonotonicNanos();
  if (now - start_ns_ < 1'000'000'000) return;        // quiet for the first second
  if (now - last_draw_ns_ < 100'000'000) return;      // at most 10 redraws a second
  last_draw_ns_ = now;
  drawn_ = true;
  double secs = static_cast<double>(now - start_ns_) / 1e9;
  if (total_ > 0) {
    double frac = static_cast<double>(done) / static_cast<double>(total_);
    if (frac > 1) frac = 1;
    constexpr int kWidth = 30;
    int filled = static_cast<int>(frac * kWidth);
    char bar[kWidth + 1];
    for (int i = 0; i < kWidth; ++i) bar[i] = i < filled ? '#' : '.';
    bar[kWidth] = 0;
    std::fprintf(stderr, "\r%s [%s] %5.1f%% %.1fs", label_.c_str(), bar, frac * 100, secs);
  } else {
    std::fprintf(stderr, "\r%s %llu %.1fs", label_.c_str(), static_cast<unsigned long long>(done),
                 secs);
  }
  std::fflush(stderr);
}

void ProgressBar::Finish() {
  if (drawn_) {
    std::fprintf(stderr, "\r\033[K");
    std::fflush(stderr);
    drawn_ = false;
  }
  active_ = false;
}

}  // namespace shelfwatch
