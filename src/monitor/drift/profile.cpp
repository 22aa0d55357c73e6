#include "monitor/drift/profile.h"

#include <cmath>

namespace shelfwatch::monitor::drift {

namespace {

constexpr uint32_t kMagic = 0x31465044;  // "DPF1"

void WriteMoments(ByteWriter& w, const RunningMoments& m) {
  w.U64(m.n);
  w.F64(m.mean);
  w.F64(m.m2);
}

bool ReadMoments(ByteReader& r, RunningMoments* m) { return r.U64(&m->n) && r.F64(&m->mean) && r.F64(&m->m2); }

FeatureProfile MakeFeatureProfile(const FeatureSpec& spec, const SketchOptions& o, size_t index) {
  FeatureProfile f;
  // Each feature's sketches get their own seed, so features never share coin flips.
  const uint64_t seed = o.seed + 0x9e3779b97f4a7c15ULL * (index + 1);
  switch (spec.kind) {
    case FeatureKind::kNumeric:
      f.data = NumericProfile{KllSketch(o.kll_k, seed), {}};
      break;
    case FeatureKind::kCategorical:
      f.data = CategoricalProfile{FrequentItemsSketch(o.frequent_items_capacity), BloomFilter(o.bloom_bits, o.bloom_hashes)};
      break;
    case FeatureKind::kVector: {
      VectorProfile v;
      v.dims.reserve(spec.dim);
      for (uint32_t d = 0; d < spec.dim; ++d) v.dims.emplace_back(o.vector_kll_k, seed + d);
      v.moments.resize(spec.dim);
      f.data = std::move(v);
      break;
    }
  }
  return f;
}

bool SameFeatures(const std::vector<FeatureSpec>& a, const std::vector<FeatureSpec>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].name != b[i].name || a[i].kind != b[i].kind || a[i].dim != b[i].dim) return false;
  }
  return true;
}

}  // namespace

void RunningMoments::Merge(const RunningMoments& o) {
  if (o.n == 0) return;
  if (n == 0) {
    *this = o;
    return;
  }
  const double na = static_cast<double>(n), nb = static_cast<double>(o.n), total = na + nb;
  const double delta = o.mean - mean;
  mean += delta * nb / total;
  m2 += o.m2 + delta * delta * na * nb / total;
  n += o.n;
}

double RunningMoments::StdDev() const { return std::sqrt(std::max(0.0, Variance())); }

uint64_t FeatureProfile::count() const {
  if (const auto* n = std::get_if<NumericProfile>(&data)) return n->sketch.count();
  if (const auto* c = std::get_if<CategoricalProfile>(&data)) return c->items.total_weight();
  return std::get<VectorProfile>(data).count;
}

ReferenceChecks::ReferenceChecks(const Profile& reference) {
  features_.resize(reference.size());
  for (size_t i = 0; i < reference.size(); ++i) {
    Feature& f = features_[i];
    const FeatureProfile& p = reference.feature(i);
    if (const auto* n = std::get_if<NumericProfile>(&p.data)) {
      f.has_range = !n->sketch.empty();
      f.min = n->sketch.min();
      f.max = n->sketch.max();
    } else if (const auto* c = std::get_if<CategoricalProfile>(&p.data)) {
      f.exact_categories = c->items.exact();
      if (f.exact_categories) {
        c->items.ForEach([&](std::string_view item, uint64_t) { f.categories.emplace(item); });
      }
      f.bloom = &c->seen;
    } else {
      const auto& v = std::get<VectorProfile>(p.data);
      if (v.count > 0) {
        f.has_range = true;
        for (const KllSketch& d : v.dims) {
          f.dim_min.push_back(d.min());
          f.dim_max.push_back(d.max());
        }
      }
    }
  }
}

bool ReferenceChecks::OutOfRange(size_t feature, double value) const {
  const Feature& f = features_[feature];
  return f.has_range && (value < f.min || value > f.max);
}

bool ReferenceChecks::OutOfRange(size_t feature, std::span<const float> vector) const {
  const Feature& f = features_[feature];
  if (!f.has_range || vector.size() != f.dim_min.size()) return false;
  for (size_t d = 0; d < vector.size(); ++d) {
    if (vector[d] < f.dim_min[d] || vector[d] > f.dim_max[d]) return true;
  }
  return false;
}

bool ReferenceChecks::Unseen(size_t feature, std::string_view category) const {
  const Feature& f = features_[feature];
  category = FrequentItemsSketch::Truncate(category);
  if (f.exact_categories) return f.categories.find(category) == f.categories.end();
  return f.bloom != nullptr && !f.bloom->MayContain(category);
}

Profile::Profile(FeatureList features, const SketchOptions& options)
    : specs_(std::move(features)), options_(options) {
  features_.reserve(specs_->size());
  for (size_t i = 0; i < specs_->size(); ++i) features_.push_back(MakeFeatureProfile((*specs_)[i], options_, i));
}

Status Profile::AddRow(std::span<const FeatureValue> row, const ReferenceChecks* checks) {
  if (row.size() != features_.size()) {
    return InvalidArgument("a row has " + std::to_string(row.size()) + " values but the monitor has " +
                           std::to_string(features_.size()) + " features");
  }
  for (size_t i = 0; i < row.size(); ++i) AddValue(i, row[i], checks);
  ++rows_;
  return Status::Ok();
}

void Profile::AddValue(size_t i, const FeatureValue& value, const ReferenceChecks* checks) {
  FeatureProfile& f = features_[i];
  if (auto* n = std::get_if<NumericProfile>(&f.data)) {
    if (value.type() != FeatureValue::Type::kNumber) {
      ++f.quality.missing;
      return;
    }
    const double x = value.number();
    if (!std::isfinite(x)) {
      ++f.quality.nan;
      return;
    }
    if (checks != nullptr && checks->OutOfRange(i, x)) ++f.quality.out_of_range;
    n->sketch.Update(x);
    n->moments.Add(x);
  } else if (auto* c = std::get_if<CategoricalProfile>(&f.data)) {
    if (value.type() != FeatureValue::Type::kCategory) {
      ++f.quality.missing;
      return;
    }
    const std::string_view item = value.category();
    if (checks != nullptr && checks->Unseen(i, item)) ++f.quality.unseen_category;
    c->items.Update(item);
    c->seen.Add(FrequentItemsSketch::Truncate(item));
  } else {
    auto& v = std::get<VectorProfile>(f.data);
    const std::span<const float> x = value.vector();
    if (value.type() != FeatureValue::Type::kVector || x.size() != v.dims.size()) {
      ++f.quality.missing;
      return;
    }
    for (float c : x) {
      if (!std::isfinite(c)) {
        ++f.quality.nan;
        return;
      }
    }
    if (checks != nullptr && checks->OutOfRange(i, x)) ++f.quality.out_of_range;
    for (size_t d = 0; d < x.size(); ++d) {
      v.dims[d].Update(x[d]);
      v.moments[d].Add(x[d]);
    }
    ++v.count;
  }
}

Status Profile::Merge(const Profile& other) {
  if (specs_ != other.specs_ && !SameFeatures(*specs_, *other.specs_)) {
    return InvalidArgument("profiles of different features cannot merge");
  }
  for (size_t i = 0; i < features_.size(); ++i) {
    if (auto* c = std::get_if<CategoricalProfile>(&features_[i].data)) {
      const auto& o = std::get<CategoricalProfile>(other.features_[i].data);
      if (o.seen.bits() != c->seen.bits() || o.seen.hashes() != c->seen.hashes()) {
        return InvalidArgument("profiles with different Bloom filter shapes cannot merge");
      }
    }
  }
  for (size_t i = 0; i < features_.size(); ++i) {
    FeatureProfile& f = features_[i];
    const FeatureProfile& o = other.features_[i];
    f.quality.Add(o.quality);
    if (auto* n = std::get_if<NumericProfile>(&f.data)) {
      const auto& on = std::get<NumericProfile>(o.data);
      n->sketch.Merge(on.sketch);
      n->moments.Merge(on.moments);
    } else if (auto* c = std::get_if<CategoricalProfile>(&f.data)) {
      const auto& oc = std::get<CategoricalProfile>(o.data);
      c->items.Merge(oc.items);
      (void)c->seen.Merge(oc.seen);  // shapes checked above
    } else {
      auto& v = std::get<VectorProfile>(f.data);
      const auto& ov = std::get<VectorProfile>(o.data);
      for (size_t d = 0; d < v.dims.size(); ++d) {
        v.dims[d].Merge(ov.dims[d]);
        v.moments[d].Merge(ov.moments[d]);
      }
      v.count += ov.count;
    }
  }
  rows_ += other.rows_;
  return Status::Ok();
}

std::string Profile::Serialize() const {
  std::string out;
  ByteWriter w(&out);
  w.U32(kMagic);
  w.U64(rows_);
  w.U32(options_.kll_k);
  w.U32(options_.vector_kll_k);
  w.U32(options_.frequent_items_capacity);
  w.U32(options_.bloom_bits);
  w.U32(options_.bloom_hashes);
  w.U64(options_.seed);
  w.U32(static_cast<uint32_t>(features_.size()));
  for (size_t i = 0; i < features_.size(); ++i) {
    const FeatureSpec& spec = (*specs_)[i];
    const FeatureProfile& f = features_[i];
    w.Bytes(spec.name);
    w.U8(static_cast<uint8_t>(spec.kind));
    w.U32(spec.dim);
    w.U64(f.quality.missing);
    w.U64(f.quality.nan);
    w.U64(f.quality.out_of_range);
    w.U64(f.quality.unseen_category);
    if (const auto* n = std::get_if<NumericProfile>(&f.data)) {
      n->sketch.SerializeTo(w);
      WriteMoments(w, n->moments);
    } else if (const auto* c = std::get_if<CategoricalProfile>(&f.data)) {
      c->items.SerializeTo(w);
      c->seen.SerializeTo(w);
    } else {
      const auto& v = std::get<VectorProfile>(f.data);
      w.U64(v.count);
      for (size_t d = 0; d < v.dims.size(); ++d) {
        v.dims[d].SerializeTo(w);
        WriteMoments(w, v.moments[d]);
      }
    }
  }
  return out;
}

Result<Profile> Profile::Deserialize(std::string_view bytes, FeatureList features) {
  auto bad = [](const std::string& what) { return Status(ErrorCode::kDataLoss, "drift profile: " + what); };
  ByteReader r(bytes);
  uint32_t magic = 0, n_features = 0;
  uint64_t rows = 0;
  SketchOptions o;
  if (!r.U32(&magic)) return bad("truncated header");
  if (magic != kMagic) return bad("not a drift profile (bad magic)");
  if (!r.U64(&rows) || !r.U32(&o.kll_k) || !r.U32(&o.vector_kll_k) || !r.U32(&o.frequent_items_capacity) ||
      !r.U32(&o.bloom_bits) || !r.U32(&o.bloom_hashes) || !r.U64(&o.seed) || !r.U32(&n_features)) {
    return bad("truncated header");
  }
  if (n_features != features->size()) {
    return InvalidArgument("the stored profile has " + std::to_string(n_features) + " features, the monitor " +
                           std::to_string(features->size()));
  }
  Profile p(features, o);
  p.rows_ = rows;
  for (size_t i = 0; i < n_features; ++i) {
    const FeatureSpec& spec = (*features)[i];
    std::string_view name;
    uint8_t kind = 0;
    uint32_t dim = 0;
    if (!r.Bytes(&name) || !r.U8(&kind) || !r.U32(&dim)) return bad("truncated feature header");
    if (name != spec.name || kind != static_cast<uint8_t>(spec.kind) || dim != spec.dim) {
      return InvalidArgument("stored feature " + std::to_string(i) + " is '" + std::string(name) + "' (kind " +
                             std::to_string(kind) + ", dim " + std::to_string(dim) + "), the monitor expects '" +
                             spec.name + "' (" + std::string(FeatureKindName(spec.kind)) + ", dim " +
                             std::to_string(spec.dim) + ")");
    }
    FeatureProfile& f = p.features_[i];
    if (!r.U64(&f.quality.missing) || !r.U64(&f.quality.nan) || !r.U64(&f.quality.out_of_range) ||
        !r.U64(&f.quality.unseen_category)) {
      return bad("truncated quality counts");
    }
    if (auto* n = std::get_if<NumericProfile>(&f.data)) {
      auto sketch = KllSketch::ParseFrom(r);
      if (!sketch.ok()) return sketch.status();
      n->sketch = std::move(*sketch);
      if (!ReadMoments(r, &n->moments)) return bad("truncated moments");
      if (n->moments.n != n->sketch.count()) return bad("feature '" + spec.name + "': moments and sketch disagree");
    } else if (auto* c = std::get_if<CategoricalProfile>(&f.data)) {
      auto items = FrequentItemsSketch::ParseFrom(r);
      if (!items.ok()) return items.status();
      auto seen = BloomFilter::ParseFrom(r);
      if (!seen.ok()) return seen.status();
      c->items = std::move(*items);
      c->seen = std::move(*seen);
    } else {
      auto& v = std::get<VectorProfile>(f.data);
      if (!r.U64(&v.count)) return bad("truncated vector count");
      for (uint32_t d = 0; d < dim; ++d) {
        auto sketch = KllSketch::ParseFrom(r);
        if (!sketch.ok()) return sketch.status();
        v.dims[d] = std::move(*sketch);
        if (!ReadMoments(r, &v.moments[d])) return bad("truncated moments");
        if (v.dims[d].count() != v.count) return bad("feature '" + spec.name + "': dimension counts disagree");
      }
    }
  }
  if (r.remaining() != 0) return bad(std::to_string(r.remaining()) + " trailing bytes");
  return p;
}

}  // namespace shelfwatch::monitor::drift
