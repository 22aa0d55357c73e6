#include "models/dynamic_batcher.h"

#include <optional>

#include "common/clock.h"

namespace shelfwatch::models {

struct DynamicBatcher::Pending {
  const std::vector<Tensor>* inputs = nullptr;
  int64_t rows = 0;
  int64_t enqueued_ns = 0;
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  std::optional<Result<std::vector<Tensor>>> result;
};

Tensor ConcatRows(const std::vector<const Tensor*>& parts) {
  Tensor t;
  t.name = parts[0]->name;
  t.dtype = parts[0]->dtype;
  t.shape = parts[0]->shape;
  int64_t rows = 0;
  size_t elements = 0;
  for (const Tensor* p : parts) {
    rows += p->shape.empty() ? 0 : p->shape[0];
    elements += p->StoredCount();
  }
  if (!t.shape.empty()) t.shape[0] = rows;
  if (t.dtype == DataType::kFp32) {
    t.fp32.reserve(elements);
    for (const Tensor* p : parts) t.fp32.insert(t.fp32.end(), p->fp32.begin(), p->fp32.end());
  } else {
    t.bytes.reserve(elements);
    for (const Tensor* p : parts) t.bytes.insert(t.bytes.end(), p->bytes.begin(), p->bytes.end());
  }
  return t;
}

Tensor SliceRows(const Tensor& t, int64_t first, int64_t count, int64_t total) {
  Tensor s;
  s.name = t.name;
  s.dtype = t.dtype;
  s.shape = t.shape;
  if (!s.shape.empty()) s.shape[0] = count;
  const size_t per_row = total > 0 ? t.StoredCount() / static_cast<size_t>(total) : 0;
  const size_t begin = static_cast<size_t>(first) * per_row;
  const size_t end = begin + static_cast<size_t>(count) * per_row;
  if (t.dtype == DataType::kFp32) {
    s.fp32.assign(t.fp32.begin() + static_cast<std::ptrdiff_t>(begin),
                  t.fp32.begin() + static_cast<std::ptrdiff_t>(end));
  } else {
    s.bytes.assign(t.bytes.begin() + static_cast<std::ptrdiff_t>(begin),
                   t.bytes.begin() + static_cast<std::ptrdiff_t>(end));
  }
  return s;
}

DynamicBatcher::DynamicBatcher(Options options, RunFn run, VersionSeries* series)
    : options_(options), run_(std::move(run)), series_(series) {
  worker_ = std::thread([this] { Work(); });
}

DynamicBatcher::~DynamicBatcher() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_one();
  worker_.join();
}

Result<std::vector<Tensor>> DynamicBatcher::Submit(const std::vector<Tensor>& inputs, int64_t rows) {
  Pending p;
  p.inputs = &inputs;
  p.rows = rows;
  p.enqueued_ns = MonotonicNanos();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) return Unavailable("model version is being unloaded");
    queue_.push_back(&p);
    queued_rows_ += rows;
  }
  cv_.notify_one();
  std::unique_lock<std::mutex> lock(p.mu);
  p.cv.wait(lock, [&] { return p.done; });
  return std::move(*p.result);
}

void DynamicBatcher::Work() {
  const int64_t target = options_.preferred_batch_size > 0 ? options_.preferred_batch_size
                                                            : options_.max_batch_size;
  const auto delay = std::chrono::microseconds(options_.max_queue_delay_us);
  std::vector<Pending*> batch;
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) break;  // stopping with nothing left
    // Wait for more rows until the oldest request's delay runs out.
    const auto deadline = SteadyClock::time_point(std::chrono::nanoseconds(queue_.front()->enqueued_ns)) + delay;
    while (!stop_ && queued_rows_ < target && SteadyClock::now() < deadline) {
      cv_.wait_until(lock, deadline);
    }
    batch.clear();
    int64_t rows = 0;
    while (!queue_.empty() &&
           (batch.empty() || rows + queue_.front()->rows <= options_.max_batch_size)) {
      rows += queue_.front()->rows;
      batch.push_back(queue_.front());
      queue_.pop_front();
    }
    queued_rows_ -= rows;
    lock.unlock();
    Execute(batch, rows);
    lock.lock();
  }
}

void DynamicBatcher::Execute(std::vector<Pending*>& batch, int64_t rows) {
  const int64_t start = MonotonicNanos();
  std::optional<Result<std::vector<Tensor>>> out;
  if (batch.size() == 1) {
    out.emplace(run_(*batch[0]->inputs));
  } else {
    std::vector<Tensor> inputs(batch[0]->inputs->size());
    std::vector<const Tensor*> parts(batch.size());
    for (size_t i = 0; i < inputs.size(); ++i) {
      for (size_t b = 0; b < batch.size(); ++b) parts[b] = &(*batch[b]->inputs)[i];
      inputs[i] = ConcatRows(parts);
    }
    out.emplace(run_(inputs));
  }
  const int64_t end = MonotonicNanos();
  if (series_) {
    for (Pending* p : batch) series_->queue_duration.Observe(static_cast<double>(start - p->enqueued_ns) * 1e-9);
    series_->compute_duration.Observe(static_cast<double>(end - start) * 1e-9);
    series_->batch_size.Observe(static_cast<double>(rows));
    series_->executions.Inc();
    series_->inferences.Inc(static_cast<uint64_t>(rows));
  }
  Result<std::vector<Tensor>>& result = *out;
  if (result.ok()) {
    for (const Tensor& t : *result) {
      if (t.shape.empty() || t.shape[0] != rows) {
        result = Internal("backend output " + t.name + " has shape " + ShapeString(t.shape) +
                          ", expected " + std::to_string(rows) + " rows");
        break;
      }
    }
  }
  int64_t first = 0;
  for (size_t b = 0; b < batch.size(); ++b) {
    Pending* p = batch[b];
    std::optional<Result<std::vector<Tensor>>> mine;
    if (!result.ok()) {
      mine.emplace(result.status());
    } else if (batch.size() == 1) {
      mine.emplace(std::move(result));
    } else {
      std::vector<Tensor> slice;
      slice.reserve(result->size());
      for (const Tensor& t : *result) slice.push_back(SliceRows(t, first, p->rows, rows));
      mine.emplace(std::move(slice));
    }
    first += p->rows;
    // Notify under the lock: the waiter destroys `p` as soon as it sees done.
    std::lock_guard<std::mutex> lock(p->mu);
    p->result = std::move(mine);
    p->done = true;
    p->cv.notify_one();
  }
}

}  // namespace shelfwatch::models
