// A terminal progress bar for long loads and index builds.
// It draws on stderr only when stderr is a terminal and only once the work has taken more
// than a second, so short runs and logs/pipes stay quiet. Not thread-safe: one owner thread.
#pragma once

#include <cstdint>
#include <string>

namespace shelfwatch {

class ProgressBar {
 public:
  // `total` in units of work (bytes, rows); 0 when unknown.
  ProgressBar(std::string label, uint64_t total, bool enabled = true);
  ~ProgressBar();
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  // Cheap enough to call per row: redraws at most every 100 ms.
  void Update(uint64_t done) {
    if (!active_ || ((++calls_ & 1023) != 0 && done != total_)) return;
    MaybeDraw(done);
  }
  // Clears the bar line (if drawn).
  void Finish();

 private:
  void MaybeDraw(uint64_t done);
  std::string label_;
  uint64_t total_;
  bool active_;
  bool drawn_ = false;
  uint64_t calls_ = 0;
  int64_t start_ns_;
  int64_t last_draw_ns_ = 0;
};

}  // namespace shelfwatch
