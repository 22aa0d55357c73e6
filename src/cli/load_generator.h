// A closed-loop HTTP/1.1 load generator (the model is Triton's perf_analyzer): `concurrency`
// keep-alive connections each send a request, wait for the whole response, and send the next,
// cycling through a fixed list of request targets. Latency is measured per request from the
// first byte written to the last byte read.
// Thread-safety: Run() is called from one thread; it runs its own I/O threads.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace shelfwatch::cli {

struct LoadOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;
  std::vector<std::string> targets;  // request targets ("/v1/...?q=..."), used round-robin
  // With bodies: POST targets[i % targets.size()] with bodies[i] (round-robin over the bodies).
  std::vector<std::string> bodies;
  std::string content_type = "application/json";
  int concurrency = 1;
  double duration_s = 10;
  double warmup_s = 1;
  int threads = 1;  // client I/O threads
};

struct LoadResult {
  int concurrency = 0;
  uint64_t requests = 0;   // completed in the measured window
  uint64_t errors = 0;     // non-2xx answers plus connection failures
  uint64_t non_2xx = 0;
  uint64_t connection_errors = 0;
  double seconds = 0;
  double throughput = 0;   // requests/s
  double p50_ms = 0, p90_ms = 0, p99_ms = 0, p999_ms = 0, max_ms = 0, mean_ms = 0;
};

// Fails only when no connection can be made at all.
Result<LoadResult> RunLoad(const LoadOptions& options);

}  // namespace shelfwatch::cli
