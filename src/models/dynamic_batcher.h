// Dynamic batching for one model version (Triton's dynamic batcher): requests queue; one worker
// thread forms a batch as soon as the queued rows reach preferred_batch_size (or
// max_batch_size), or when the oldest request has waited max_queue_delay_us, whichever comes
// first, concatenates the requests' rows, runs the backend once and splits the outputs by rows.
// A batch never exceeds max_batch_size rows (a request is never split; larger ones are refused
// before they get here).
//
// Thread-safety: Submit is safe from any number of threads; the destructor runs what is still
// queued, then joins the worker (no request is dropped).
// Cost: per request one mutex hand-off and one wake-up of the worker (about 5-20 us of latency
// on top of the delay); a batch of several requests copies their inputs once into the batch.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "common/status.h"
#include "models/model_metrics.h"
#include "models/tensor.h"

namespace shelfwatch::models {

class DynamicBatcher {
 public:
  struct Options {
    int max_batch_size = 1;
    int preferred_batch_size = 0;  // 0: max_batch_size
    int64_t max_queue_delay_us = 0;
  };
  // Runs one batch: one tensor per input, each [rows, ...]; returns outputs [rows, ...].
  using RunFn = std::function<Result<std::vector<Tensor>>(const std::vector<Tensor>&)>;

  // `series` (may be null) receives queue/compute durations, batch sizes, executions and
  // inferences.
  DynamicBatcher(Options options, RunFn run, VersionSeries* series);
  ~DynamicBatcher();
  DynamicBatcher(const DynamicBatcher&) = delete;
  DynamicBatcher& operator=(const DynamicBatcher&) = delete;

  // Queues a request of `rows` rows (inputs as RunFn takes them) and blocks until the batch
  // holding it has run; returns this request's rows of every output.
  Result<std::vector<Tensor>> Submit(const std::vector<Tensor>& inputs, int64_t rows);

 private:
  struct Pending;
  void Work();
  void Execute(std::vector<Pending*>& batch, int64_t rows);

  const Options options_;
  const RunFn run_;
  VersionSeries* const series_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Pending*> queue_;
  int64_t queued_rows_ = 0;
  bool stop_ = false;
  std::thread worker_;
};

// Concatenates tensors along dimension 0 (same name, dtype and trailing dims assumed).
Tensor ConcatRows(const std::vector<const Tensor*>& parts);
// Rows [first, first + count) of a tensor whose dimension 0 has `total` rows.
Tensor SliceRows(const Tensor& t, int64_t first, int64_t count, int64_t total);

}  // namespace shelfwatch::models
