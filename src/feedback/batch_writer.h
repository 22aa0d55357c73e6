// BatchWriter: the background thread behind EventStore, internal to the
// feedback module. Producers push items into a bounded queue; the thread takes everything
// queued at once and hands it to `write` (one transaction per call: group commit), and runs
// `maintain` (retention) once at start, every `maintain_every`, and when asked.
//
// Thread-safety: Push, Flush, MaintainNow, queued_weight and Stop are safe from any thread;
// the hooks and WriteQueued run on the writer thread only. Cost: Push is one short lock and a
// move; it wakes the thread only when the queue was empty.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/status.h"

namespace shelfwatch::feedback {

template <typename Item>
class BatchWriter {
 public:
  struct Hooks {
    std::function<void(std::vector<Item>&)> write;  // the items queued, in push order
    std::function<Result<uint64_t>()> maintain;     // returns what it removed
  };
  enum class PushResult { kQueued, kFull, kClosed };

  // `maintain_every` <= 0: maintenance only on MaintainNow(). `linger_ms` > 0: after the first
  // item arrives, wait this long for more before writing, so that a busy queue is written in
  // few large transactions (each commit rewrites the hot pages of the table and its indexes;
  // many small ones cost far more CPU than one big one). Starts the thread.
  BatchWriter(Hooks hooks, int64_t maintain_every_ms, int64_t linger_ms = 0)
      : hooks_(std::move(hooks)),
        maintain_every_ms_(maintain_every_ms),
        linger_ms_(linger_ms),
        thread_([this] { Run(); }) {}
  ~BatchWriter() { Stop(); }
  BatchWriter(const BatchWriter&) = delete;
  BatchWriter& operator=(const BatchWriter&) = delete;

  // Queues `item` (moved from only when kQueued) unless the queued weight would pass
  // `max_weight`; an empty queue takes any item, so an oversized one is never refused forever.
  PushResult Push(Item&& item, size_t weight, size_t max_weight) {
    bool was_empty;
    {
      std::lock_guard lk(mu_);
      if (stopping_) return PushResult::kClosed;
      if (!queue_.empty() && queued_weight_ + weight > max_weight) return PushResult::kFull;
      was_empty = queue_.empty();
      queue_.push_back(std::move(item));
      queued_weight_ += weight;
      ++pushed_;
    }
    if (was_empty) wake_.notify_one();
    return PushResult::kQueued;
  }

  // Waits until every item pushed before the call went through `write`.
  void Flush() {
    std::unique_lock lk(mu_);
    const uint64_t target = pushed_;
    ++flush_waiters_;
    wake_.notify_all();
    done_.wait(lk, [&] { return written_ >= target || exited_; });
    --flush_waiters_;
  }

  // Runs `maintain` on the writer thread now and returns its result.
  Result<uint64_t> MaintainNow() {
    std::unique_lock lk(mu_);
    if (stopping_) return Unavailable("the writer is closing");
    const uint64_t ticket = ++maintain_requested_;
    wake_.notify_one();
    done_.wait(lk, [&] { return maintain_done_ >= ticket || exited_; });
    if (maintain_done_ < ticket) return Unavailable("the writer closed");
    return maintain_result_;
  }

  size_t queued_weight() const {
    std::lock_guard lk(mu_);
    return queued_weight_;
  }

  // Writes everything queued, then ends the thread. Later pushes answer kClosed.
  void Stop() {
    {
      std::lock_guard lk(mu_);
      stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  // For `maintain`: writes what producers queued meanwhile, so long maintenance does not hold
  // up ingest. Writer thread only.
  void WriteQueued() {
    std::vector<Item> work;
    {
      std::lock_guard lk(mu_);
      work.swap(queue_);
      queued_weight_ = 0;
    }
    WriteBatch(work);
  }

 private:
  void WriteBatch(std::vector<Item>& work) {
    if (work.empty()) return;
    const size_t n = work.size();
    hooks_.write(work);
    work.clear();
    {
      std::lock_guard lk(mu_);
      written_ += n;
    }
    done_.notify_all();
  }

  void Run() {
    std::vector<Item> work;
    auto next_maintenance = SteadyClock::now();  // once at start: catches up after downtime
    const bool periodic = maintain_every_ms_ > 0;
    for (;;) {
      uint64_t ticket;
      {
        std::unique_lock lk(mu_);
        auto ready = [&] { return stopping_ || !queue_.empty() || maintain_requested_ > maintain_done_; };
        if (periodic) {
          wake_.wait_until(lk, next_maintenance, ready);
        } else {
          wake_.wait(lk, ready);
        }
        if (linger_ms_ > 0 && !stopping_ && !queue_.empty() && flush_waiters_ == 0) {
          wake_.wait_for(lk, std::chrono::milliseconds(linger_ms_), [&] { return stopping_ || flush_waiters_ > 0; });
        }
        work.swap(queue_);
        queued_weight_ = 0;
        ticket = maintain_requested_;
        if (work.empty() && stopping_) break;
      }
      WriteBatch(work);
      const bool requested = ticket > maintain_started_;
      if (requested || (periodic && SteadyClock::now() >= next_maintenance)) {
        maintain_started_ = ticket;
        Result<uint64_t> result = hooks_.maintain();
        if (periodic) next_maintenance = SteadyClock::now() + std::chrono::milliseconds(maintain_every_ms_);
        {
          std::lock_guard lk(mu_);
          maintain_done_ = ticket;
          maintain_result_ = std::move(result);
        }
        done_.notify_all();
      }
    }
    std::lock_guard lk(mu_);
    exited_ = true;
    done_.notify_all();
  }

  const Hooks hooks_;
  const int64_t maintain_every_ms_;
  const int64_t linger_ms_;
  size_t flush_waiters_ = 0;  // Flush() cuts a linger short

  mutable std::mutex mu_;
  std::condition_variable wake_;  // the thread waits here
  std::condition_variable done_;  // Flush and MaintainNow wait here
  std::vector<Item> queue_;
  size_t queued_weight_ = 0;
  uint64_t pushed_ = 0;
  uint64_t written_ = 0;
  uint64_t maintain_requested_ = 0;
  uint64_t maintain_done_ = 0;
  Result<uint64_t> maintain_result_ = uint64_t{0};
  bool stopping_ = false;
  bool exited_ = false;
  uint64_t maintain_started_ = 0;  // writer thread only

  std::thread thread_;  // last: starts after everything above is initialised
};

}  // namespace shelfwatch::feedback
