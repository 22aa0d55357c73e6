// The per-model metric families, named after Triton's (nv_inference_*), with model and version
// labels, registered once on the registry the server exposes at /metrics:
//   shelfwatch_model_requests_total{model,version}          requests received
//   shelfwatch_model_inferences_total{model,version}        rows inferred (a batch of 8 rows: 8)
//   shelfwatch_model_executions_total{model,version}        backend calls (batches)
//   shelfwatch_model_failures_total{model,version,reason}   reason: invalid_input | backend_error | unavailable
//   shelfwatch_model_queue_duration_seconds{model,version}  per request, enqueue -> batch start
//   shelfwatch_model_compute_duration_seconds{model,version} per execution, backend time
//   shelfwatch_model_batch_size{model,version}              rows per execution
//   shelfwatch_model_ready{model,version}                   1 while the version serves
//   shelfwatch_model_load_failures_total{model,reason}      reasons: see backend.h, warmup_failed
// Thread-safety: the families are thread-safe (monitor/metrics.h). Cost: registration only.
#pragma once

#include <string>

#include "monitor/metrics.h"

namespace shelfwatch::models {

struct ModelMetrics {
  explicit ModelMetrics(monitor::Registry& registry);

  monitor::Family<monitor::Counter>& requests;
  monitor::Family<monitor::Counter>& inferences;
  monitor::Family<monitor::Counter>& executions;
  monitor::Family<monitor::Counter>& failures;
  monitor::Family<monitor::Counter>& load_failures;
  monitor::Family<monitor::Histogram>& queue_duration;
  monitor::Family<monitor::Histogram>& compute_duration;
  monitor::Family<monitor::Histogram>& batch_size;
  monitor::Family<monitor::Gauge>& ready;
};

// The series of one model version, resolved once at load so requests never look labels up.
struct VersionSeries {
  VersionSeries(ModelMetrics& metrics, const std::string& model, const std::string& version);

  monitor::Counter& requests;
  monitor::Counter& inferences;
  monitor::Counter& executions;
  monitor::Counter& invalid_input;
  monitor::Counter& backend_error;
  monitor::Counter& unavailable;
  monitor::Histogram& queue_duration;
  monitor::Histogram& compute_duration;
  monitor::Histogram& batch_size;
  monitor::Gauge& ready;
};

}  // namespace shelfwatch::models
