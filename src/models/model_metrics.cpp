#include "models/model_metrics.h"

namespace shelfwatch::models {

using monitor::ExponentialBuckets;
using monitor::LatencyBuckets;

ModelMetrics::ModelMetrics(monitor::Registry& r)
    : requests(r.AddCounter("shelfwatch_model_requests_total", "Inference requests received per model version.",
                            {"model", "version"})),
      inferences(r.AddCounter("shelfwatch_model_inferences_total",
                              "Rows inferred per model version (a batched request of n rows counts n).",
                              {"model", "version"})),
      executions(r.AddCounter("shelfwatch_model_executions_total",
                              "Backend executions (batches) per model version.", {"model", "version"})),
      failures(r.AddCounter("shelfwatch_model_failures_total", "Failed inference requests by reason.",
                            {"model", "version", "reason"})),
      load_failures(r.AddCounter("shelfwatch_model_load_failures_total",
                                 "Model versions refused at load, by reason.", {"model", "reason"})),
      queue_duration(r.AddHistogram("shelfwatch_model_queue_duration_seconds",
                                    "Time a request waited in the dynamic batcher's queue.",
                                    {"model", "version"}, LatencyBuckets())),
      compute_duration(r.AddHistogram("shelfwatch_model_compute_duration_seconds",
                                      "Backend compute time per execution (batch).", {"model", "version"},
                                      LatencyBuckets())),
      batch_size(r.AddHistogram("shelfwatch_model_batch_size", "Rows per backend execution.",
                                {"model", "version"}, ExponentialBuckets(1, 2, 10))),
      ready(r.AddGauge("shelfwatch_model_ready", "1 while the model version is loaded and serving.",
                       {"model", "version"})) {}

VersionSeries::VersionSeries(ModelMetrics& m, const std::string& model, const std::string& version)
    : requests(m.requests.WithLabels({model, version})),
      inferences(m.inferences.WithLabels({model, version})),
      executions(m.executions.WithLabels({model, version})),
      invalid_input(m.failures.WithLabels({model, version, "invalid_input"})),
      backend_error(m.failures.WithLabels({model, version, "backend_error"})),
      unavailable(m.failures.WithLabels({model, version, "unavailable"})),
      queue_duration(m.queue_duration.WithLabels({model, version})),
      compute_duration(m.compute_duration.WithLabels({model, version})),
      batch_size(m.batch_size.WithLabels({model, version})),
      ready(m.ready.WithLabels({model, version})) {}

}  // namespace shelfwatch::models
