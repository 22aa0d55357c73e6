#include "monitor/drift/drift_report.h"

#include <cmath>

#include "common/utf8.h"

namespace shelfwatch::monitor::drift {

std::string_view DriftStatusName(DriftStatus status) {
  switch (status) {
    case DriftStatus::kOk: return "ok";
    case DriftStatus::kWarn: return "warn";
    case DriftStatus::kAlert: return "alert";
  }
  return "ok";
}

const MethodResult* FeatureDrift::Find(DriftMethod method) const {
  for (const MethodResult& m : methods) {
    if (m.method == method) return &m;
  }
  return nullptr;
}

const FeatureDrift* DriftReport::Find(std::string_view feature) const {
  for (const FeatureDrift& f : features) {
    if (f.feature == feature) return &f;
  }
  return nullptr;
}

namespace {

// Category values are user data: replace ill-formed UTF-8 by U+FFFD so the body stays JSON.
std::string ValidUtf8(std::string_view s) {
  std::string out;
  while (!s.empty()) {
    const size_t bad = FirstInvalidUtf8(s);
    out.append(s.substr(0, bad));
    if (bad == s.size()) break;
    out.append("\xEF\xBF\xBD");
    s.remove_prefix(bad + 1);
  }
  return out;
}

void WriteMethod(JsonWriter& w, const MethodResult& m) {
  w.BeginObject();
  w.Key("method").String(DriftMethodName(m.method));
  w.Key("score").Double(m.score);
  if (!std::isnan(m.statistic)) w.Key("statistic").Double(m.statistic);
  if (!std::isnan(m.dof)) w.Key("dof").Double(m.dof);
  w.Key("threshold").Double(m.threshold);
  w.Key("threshold_kind").String(IsPValueMethod(m.method) ? "p_value_below" : "score_at_least");
  if (!std::isnan(m.warn_threshold)) w.Key("warn_threshold").Double(m.warn_threshold);
  w.Key("drifted").Bool(m.drifted);
  w.Key("status").String(DriftStatusName(m.status));
  w.EndObject();
}

void WriteFeature(JsonWriter& w, const FeatureDrift& f) {
  w.BeginObject();
  w.Key("name").String(f.feature);
  w.Key("kind").String(FeatureKindName(f.kind));
  if (f.kind == FeatureKind::kVector) w.Key("dim").Uint(f.dim);
  w.Key("evaluated").Bool(f.evaluated);
  if (!f.note.empty()) w.Key("note").String(f.note);
  w.Key("drifted").Bool(f.drifted);
  w.Key("status").String(DriftStatusName(f.status));
  if (f.evaluated) w.Key("decision_method").String(DriftMethodName(f.decision_method));
  w.Key("reference_count").Uint(f.reference_count);
  w.Key("current_count").Uint(f.current_count);
  w.Key("methods").BeginArray();
  for (const MethodResult& m : f.methods) WriteMethod(w, m);
  w.EndArray();
  w.Key("data_quality").BeginObject();
  w.Key("missing").Uint(f.quality.missing);
  w.Key("nan").Uint(f.quality.nan);
  w.Key("out_of_range").Uint(f.quality.out_of_range);
  w.Key("unseen_category").Uint(f.quality.unseen_category);
  w.EndObject();
  if (!f.histogram.edges.empty()) {
    w.Key("histogram").BeginObject();
    w.Key("edges").BeginArray();
    for (double e : f.histogram.edges) w.Double(e);
    w.EndArray();
    w.Key("reference").BeginArray();
    for (uint64_t c : f.histogram.reference) w.Uint(c);
    w.EndArray();
    w.Key("current").BeginArray();
    for (uint64_t c : f.histogram.current) w.Uint(c);
    w.EndArray();
    w.EndObject();
  }
  if (!f.categories.empty()) {
    w.Key("categories").BeginArray();
    for (const CategoryShare& c : f.categories) {
      w.BeginObject();
      w.Key("value").String(ValidUtf8(c.value));
      w.Key("reference_share").Double(c.reference_share);
      w.Key("current_share").Double(c.current_share);
      w.EndObject();
    }
    w.EndArray();
  }
  if (f.kind == FeatureKind::kVector && f.evaluated) {
    w.Key("centroid_norm").BeginObject();
    w.Key("reference").Double(f.reference_centroid_norm);
    w.Key("current").Double(f.current_centroid_norm);
    w.EndObject();
  }
  w.EndObject();
}

}  // namespace

void WriteDriftReport(JsonWriter& w, const DriftReport& r) {
  w.BeginObject();
  w.Key("model").String(r.model);
  w.Key("evaluated_at").Double(r.evaluated_at);
  w.Key("window").BeginObject();
  w.Key("start").Double(r.window_start);
  w.Key("end").Double(r.window_end);
  w.EndObject();
  w.Key("reference").BeginObject();
  w.Key("available").Bool(r.has_reference);
  w.Key("source").String(r.reference_source);
  w.Key("start").Double(r.reference_start);
  w.Key("end").Double(r.reference_end);
  w.Key("rows").Uint(r.reference_rows);
  w.EndObject();
  w.Key("current_rows").Uint(r.current_rows);
  w.Key("dropped_rows").Uint(r.dropped_rows);
  w.Key("drifted_features").Uint(r.drifted_features);
  w.Key("drift_share").Double(r.drift_share);
  w.Key("dataset_drift").Bool(r.dataset_drift);
  w.Key("features").BeginArray();
  for (const FeatureDrift& f : r.features) WriteFeature(w, f);
  w.EndArray();
  w.EndObject();
}

std::string DriftReportJson(const std::vector<DriftReport>& reports) {
  std::string out;
  JsonWriter w(&out);
  w.BeginObject();
  w.Key("monitors").BeginArray();
  for (const DriftReport& r : reports) WriteDriftReport(w, r);
  w.EndArray();
  w.EndObject();
  return out;
}

}  // namespace shelfwatch::monitor::drift
