// The only translation unit that includes hnswlib (its headers define non-inline functions).
#include "models/embedding_model.h"

// hnswlib 0.6.2's searchBaseLayer prefetches the neighbour after the last one of a full list
// (hnswalg.h:214 reads datal[j + 1] at j = size - 1): a read of 4 bytes past the list's
// allocation whose value only feeds _mm_prefetch, harmless but an AddressSanitizer report.
// Address-sanitized builds compile hnswlib without its manual SIMD, which carries those
// prefetches; other builds keep it.
#if defined(__SANITIZE_ADDRESS__) && !defined(NO_MANUAL_VECTORIZATION)
#define NO_MANUAL_VECTORIZATION
#endif
#include <hnswlib/hnswlib.h>

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <shared_mutex>
#include <unordered_map>

#include "common/files.h"
#include "common/log.h"
#include "common/stable_hash.h"

namespace shelfwatch::models {
namespace {

namespace fs = std::filesystem;

Status ReadFloats(const fs::path& path, size_t expected_floats, const char* what, std::vector<float>* out) {
  std::error_code ec;
  const uintmax_t bytes = fs::file_size(path, ec);
  if (ec) return NotFound("missing " + path.string() + " (" + what + ")");
  if (bytes % sizeof(float) != 0 || (expected_floats != 0 && bytes != expected_floats * sizeof(float))) {
    return FailedPrecondition(path.string() + " holds " + std::to_string(bytes) + " bytes, expected " +
                              std::to_string(expected_floats * sizeof(float)) + " (" + what + ")");
  }
  out->resize(bytes / sizeof(float));
  std::ifstream in(path, std::ios::binary);
  if (!in.read(reinterpret_cast<char*>(out->data()), static_cast<std::streamsize>(bytes))) {
    return IoError("cannot read " + path.string());
  }
  for (float v : *out) {
    if (!std::isfinite(v)) return Status(ErrorCode::kDataLoss, path.string() + " holds NaN or Inf");
  }
  return Status::Ok();
}

void Normalise(std::span<float> v) {
  double norm = 0;
  for (float x : v) norm += static_cast<double>(x) * x;
  if (norm <= 0) return;
  const float inv = static_cast<float>(1.0 / std::sqrt(norm));
  for (float& x : v) x *= inv;
}

std::string CheckLine(size_t n, size_t dim, int m, int ef_construction, size_t bytes, uint64_t hash) {
  char buf[200];
  std::snprintf(buf, sizeof buf, "n=%zu dim=%zu m=%d ef_construction=%d bytes=%zu fnv1a64=%016llx\n", n, dim, m,
                ef_construction, bytes, static_cast<unsigned long long>(hash));
  return buf;
}

// The graph of `count` normalised rows (row(i) -> const float*, label i). The one construction
// both Open and BuildHnswIndexFiles use: a shipped graph is only valid while it is the graph
// Open would build, seed included.
template <typename Row>
std::unique_ptr<hnswlib::HierarchicalNSW<float>> BuildGraph(hnswlib::InnerProductSpace* space, size_t count, int m,
                                                            int ef_construction, Row row) {
  auto index = std::make_unique<hnswlib::HierarchicalNSW<float>>(space, count, static_cast<size_t>(m),
                                                                 static_cast<size_t>(ef_construction),
                                                                 /*random_seed=*/100);
  for (size_t i = 0; i < count; ++i) index->addPoint(row(i), i);
  return index;
}

}  // namespace

Result<HnswIndexFiles> BuildHnswIndexFiles(std::span<const float> items, size_t dim, int m, int ef_construction) {
  if (dim == 0 || items.empty() || items.size() % dim != 0 || m < 2 || ef_construction < 1) {
    return InvalidArgument("an HNSW index needs n x dim items, m >= 2 and ef_construction >= 1");
  }
  const size_t n = items.size() / dim;
  std::error_code ec;
  std::string tmp_path = (fs::temp_directory_path(ec) / "shelfwatch-hnsw-XXXXXX").string();
  const int fd = ::mkstemp(tmp_path.data());
  if (fd < 0) return IoError("cannot create a temporary file for the HNSW index");
  ::close(fd);
  const char* tmp = tmp_path.c_str();
  HnswIndexFiles out;
  try {
    hnswlib::InnerProductSpace space(dim);
    std::vector<float> row(dim);
    auto index = BuildGraph(&space, n, m, ef_construction, [&](size_t i) {
      std::copy_n(items.begin() + static_cast<std::ptrdiff_t>(i * dim), dim, row.begin());
      Normalise(row);
      return row.data();
    });
    index->saveIndex(tmp);
    // saveIndex reports no write error (a full disk leaves a short file): read it back the way
    // Open will, which checks the file's structure.
    hnswlib::HierarchicalNSW<float> reread(&space, tmp, false, n);
    if (reread.cur_element_count != n) throw std::runtime_error("the saved index lost items");
  } catch (const std::exception& e) {
    fs::remove(tmp, ec);
    return Internal(std::string("hnswlib: ") + e.what());
  }
  auto bytes = ReadWholeFile(tmp);
  fs::remove(tmp, ec);
  if (!bytes.ok()) return bytes.status();
  out.index = std::move(*bytes);
  out.check = CheckLine(n, dim, m, ef_construction, out.index.size(), shelfwatch::Fnv1a64(out.index));
  return out;
}

struct EmbeddingModel::State {
  ModelConfig config;
  std::vector<float> encoder_table;
  // Item vectors in rows of dim floats; a deque of rows keeps spans stable across AddItem.
  std::deque<std::vector<float>> vectors;
  std::deque<std::string> ids;
  std::unordered_map<std::string_view, uint32_t> rows;
  std::unique_ptr<hnswlib::InnerProductSpace> space;
  std::unique_ptr<hnswlib::HierarchicalNSW<float>> index;
  bool index_loaded = false;
  mutable std::shared_mutex mu;  // shared: Search; exclusive: AddItem
};

namespace {

// The shipped graph, when it is the one Open would build for these items (see the header);
// null otherwise, with the reason in *why ("" when there is no shipped graph).
std::unique_ptr<hnswlib::HierarchicalNSW<float>> LoadShippedIndex(const fs::path& root, const ModelConfig& config,
                                                                   hnswlib::InnerProductSpace* space,
                                                                   const std::deque<std::vector<float>>& vectors,
                                                                   std::string* why) {
  const size_t n = vectors.size(), dim = static_cast<size_t>(config.encoder.dim);
  std::error_code ec;
  if (!fs::exists(root / kHnswIndexFile, ec) || !fs::exists(root / kHnswCheckFile, ec)) return nullptr;
  auto check = ReadWholeFile((root / kHnswCheckFile).string());
  auto bytes = ReadWholeFile((root / kHnswIndexFile).string());
  if (!check.ok() || !bytes.ok()) {
    *why = "unreadable";
    return nullptr;
  }
  if (*check != CheckLine(n, dim, config.hnsw_m, config.hnsw_ef_construction, bytes->size(), shelfwatch::Fnv1a64(*bytes))) {
    *why = "its check does not match the items, the config or the file";
    return nullptr;
  }
  try {
    auto index = std::make_unique<hnswlib::HierarchicalNSW<float>>(space, (root / kHnswIndexFile).string(), false, n);
    if (index->cur_element_count != n) {
      *why = "it holds another number of items";
      return nullptr;
    }
    // Every stored vector must be the item's normalised vector (same order, same floats).
    for (size_t i = 0; i < n; ++i) {
      const std::vector<float> stored = index->getDataByLabel<float>(i);
      if (stored.size() != dim || std::memcmp(stored.data(), vectors[i].data(), dim * sizeof(float)) != 0) {
        *why = "its vectors differ from items.f32";
        return nullptr;
      }
    }
    return index;
  } catch (const std::exception& e) {
    *why = std::string("hnswlib: ") + e.what();
    return nullptr;
  }
}

}  // namespace

EmbeddingModel::EmbeddingModel(std::unique_ptr<State> state) : s_(std::move(state)) {}
EmbeddingModel::~EmbeddingModel() = default;

Result<std::unique_ptr<EmbeddingModel>> EmbeddingModel::Open(const ModelConfig& config, const std::string& dir) {
  auto s = std::make_unique<State>();
  s->config = config;
  const size_t dim = static_cast<size_t>(config.encoder.dim);
  const fs::path root(dir);

  std::ifstream ids_in(root / "items.txt");
  if (!ids_in) return NotFound("missing " + (root / "items.txt").string() + " (item ids)");
  std::string line;
  while (std::getline(ids_in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    s->ids.push_back(line);
  }
  if (s->ids.empty()) return FailedPrecondition((root / "items.txt").string() + " lists no items");
  std::vector<float> matrix;
  SW_RETURN_IF_ERROR(ReadFloats(root / "items.f32", s->ids.size() * dim, "items x dim float32", &matrix));
  SW_RETURN_IF_ERROR(ReadFloats(root / "encoder.f32", static_cast<size_t>(config.encoder.buckets) * dim,
                                "buckets x dim float32", &s->encoder_table));

  const size_t n = s->ids.size();
  for (size_t i = 0; i < n; ++i) {
    auto [it, fresh] = s->rows.emplace(s->ids[i], static_cast<uint32_t>(i));
    if (!fresh) return Status(ErrorCode::kDataLoss, "items.txt repeats the id '" + s->ids[i] + "'");
  }
  for (size_t i = 0; i < n; ++i) {
    std::vector<float> row(matrix.begin() + static_cast<std::ptrdiff_t>(i * dim),
                           matrix.begin() + static_cast<std::ptrdiff_t>((i + 1) * dim));
    Normalise(row);
    s->vectors.push_back(std::move(row));
  }
  try {
    s->space = std::make_unique<hnswlib::InnerProductSpace>(dim);
    std::string why;
    s->index = LoadShippedIndex(root, config, s->space.get(), s->vectors, &why);
    s->index_loaded = s->index != nullptr;
    if (!why.empty()) log::Warn("shipped HNSW index not used; building it", {{"dir", dir}, {"reason", why}});
    if (!s->index) {
      s->index = BuildGraph(s->space.get(), n, config.hnsw_m, config.hnsw_ef_construction,
                            [&](size_t i) { return s->vectors[i].data(); });
    }
    s->index->setEf(static_cast<size_t>(config.hnsw_ef_search));
  } catch (const std::exception& e) {
    return Internal(std::string("hnswlib: ") + e.what());
  }
  return std::unique_ptr<EmbeddingModel>(new EmbeddingModel(std::move(s)));
}

int EmbeddingModel::dim() const { return s_->config.encoder.dim; }
bool EmbeddingModel::index_loaded() const { return s_->index_loaded; }
size_t EmbeddingModel::size() const {
  std::shared_lock lock(s_->mu);
  return s_->ids.size();
}
const EncoderSpec& EmbeddingModel::encoder() const { return s_->config.encoder; }

std::vector<float> EmbeddingModel::Encode(std::string_view text) const {
  return EncodeText(s_->config.encoder, s_->encoder_table, text);
}

std::vector<EmbeddingModel::Hit> EmbeddingModel::Search(std::span<const float> query, size_t k) const {
  std::vector<Hit> hits;
  if (query.size() != static_cast<size_t>(dim()) || k == 0) return hits;
  std::shared_lock lock(s_->mu);
  auto heap = s_->index->searchKnn(query.data(), std::min(k, s_->ids.size()));
  hits.resize(heap.size());
  // The heap pops the farthest first; hnswlib's inner-product distance is 1 - dot.
  for (size_t i = heap.size(); i-- > 0;) {
    hits[i] = {static_cast<uint32_t>(heap.top().second), 1.0f - heap.top().first};
    heap.pop();
  }
  return hits;
}

const std::string& EmbeddingModel::item_id(uint32_t row) const {
  std::shared_lock lock(s_->mu);
  return s_->ids[row];
}

std::span<const float> EmbeddingModel::item_vector(uint32_t row) const {
  std::shared_lock lock(s_->mu);
  return s_->vectors[row];
}

void EmbeddingModel::Similarities(std::span<const float> query, std::span<const uint32_t> rows,
                                  std::span<float> out) const {
  const size_t dim = static_cast<size_t>(this->dim());
  std::shared_lock lock(s_->mu);
  // The rows are scattered over memory: ask for all their cache lines first, so the misses
  // overlap instead of costing one memory latency each (a row is dim x 4 bytes).
  const size_t n = std::min(rows.size(), out.size());
  for (size_t i = 0; i < n; ++i) {
    const char* p = reinterpret_cast<const char*>(s_->vectors[rows[i]].data());
    for (size_t off = 0; off < dim * sizeof(float); off += 64) __builtin_prefetch(p + off);
  }
  for (size_t i = 0; i < n; ++i) {
    const float* v = s_->vectors[rows[i]].data();
    float dot = 0;
    for (size_t j = 0; j < dim && j < query.size(); ++j) dot += query[j] * v[j];
    out[i] = dot;
  }
}

std::optional<uint32_t> EmbeddingModel::RowOf(std::string_view id) const {
  std::shared_lock lock(s_->mu);
  auto it = s_->rows.find(id);
  if (it == s_->rows.end()) return std::nullopt;
  return it->second;
}

Status EmbeddingModel::AddItem(std::string id, std::span<const float> vector) {
  if (vector.size() != static_cast<size_t>(dim())) {
    return InvalidArgument("item vector has " + std::to_string(vector.size()) + " values, the model " +
                           std::to_string(dim()));
  }
  std::unique_lock lock(s_->mu);
  if (s_->rows.count(id)) return Status(ErrorCode::kConflict, "item '" + id + "' is already indexed");
  std::vector<float> row(vector.begin(), vector.end());
  Normalise(row);
  const size_t label = s_->ids.size();
  try {
    if (label >= s_->index->max_elements_) s_->index->resizeIndex(label * 2 + 16);
    s_->index->addPoint(row.data(), label);
  } catch (const std::exception& e) {
    return Internal(std::string("hnswlib: ") + e.what());
  }
  s_->ids.push_back(std::move(id));
  s_->vectors.push_back(std::move(row));
  s_->rows.emplace(s_->ids.back(), static_cast<uint32_t>(label));
  return Status::Ok();
}

Result<std::vector<Tensor>> EmbeddingModel::Run(const std::vector<Tensor>& inputs) const {
  const Tensor& q = inputs[0];
  if (q.dtype != DataType::kBytes) return InvalidArgument("embedding models take BYTES queries");
  const size_t k = static_cast<size_t>(s_->config.top_k);
  const int64_t n = static_cast<int64_t>(q.bytes.size());
  std::vector<Tensor> out(2);
  out[0].shape = {n, static_cast<int64_t>(k)};
  out[0].fp32.assign(static_cast<size_t>(n) * k, 0.0f);
  out[1].dtype = DataType::kBytes;
  out[1].shape = out[0].shape;
  out[1].bytes.assign(static_cast<size_t>(n) * k, std::string());
  for (int64_t i = 0; i < n; ++i) {
    const std::vector<float> v = Encode(q.bytes[static_cast<size_t>(i)]);
    const std::vector<Hit> hits = Search(v, k);
    for (size_t j = 0; j < hits.size(); ++j) {
      out[0].fp32[static_cast<size_t>(i) * k + j] = hits[j].score;
      out[1].bytes[static_cast<size_t>(i) * k + j] = item_id(hits[j].row);
    }
  }
  return out;
}

Result<std::unique_ptr<Backend>> OpenEmbeddingBackend(const ModelConfig& config, const std::string& dir) {
  Result<std::unique_ptr<EmbeddingModel>> m = EmbeddingModel::Open(config, dir);
  if (!m.ok()) return m.status();
  return std::unique_ptr<Backend>(std::move(m).value());
}

}  // namespace shelfwatch::models
