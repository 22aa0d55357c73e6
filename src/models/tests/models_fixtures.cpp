#include "models_fixtures.h"

#include <simdjson.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

#include "models/embedding_encoder.h"
#include "support/test_server.h"

namespace shelfwatch::models::testing {

namespace fs = std::filesystem;

std::string FixturePath(const std::string& relative) {
  return std::string(SHELFWATCH_MODEL_FIXTURES) + "/" + relative;
}

std::string TempRepository() {
  // Removed when the test process exits, so runs do not pile model copies up in /tmp.
  static struct Cleanup {
    std::vector<std::string> dirs;
    ~Cleanup() {
      std::error_code ec;
      for (const auto& d : dirs) fs::remove_all(d, ec);
    }
  } cleanup;
  cleanup.dirs.push_back(shelfwatch::testing::MakeTempDir("models"));
  return cleanup.dirs.back();
}

void WriteText(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream out(path, std::ios::binary);
  out << text;
}

std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string XgboostConfig(int features, const std::string& extra) {
  return "kind: xgboost\nmax_batch_size: 256\ninputs:\n  - {name: features, dtype: FP32, dims: [" +
         std::to_string(features) + "]}\noutputs:\n  - {name: score, dtype: FP32, dims: [1]}\nwarmup: {requests: 2}\n" +
         extra;
}

static std::string VersionDir(const std::string& root, const std::string& name, int64_t version) {
  const fs::path dir = fs::path(root) / name / std::to_string(version);
  fs::create_directories(dir);
  return dir.string();
}

void WriteXgboostVersion(const std::string& root, const std::string& name, int64_t version,
                         const std::string& config, const std::string& artifact_dir) {
  const std::string dir = VersionDir(root, name, version);
  WriteText(dir + "/config.yaml", config);
  fs::copy_file(FixturePath(artifact_dir + "/model.json"), dir + "/model.json", fs::copy_options::overwrite_existing);
}

void WriteTorchVersion(const std::string& root, const std::string& name, int64_t version, const std::string& config) {
  const std::string dir = VersionDir(root, name, version);
  WriteText(dir + "/config.yaml",
            config.empty() ? "kind: torchscript\nmax_batch_size: 64\ninputs:\n  - {name: x, dtype: FP32, dims: [8]}\n"
                             "outputs:\n  - {name: y, dtype: FP32, dims: [1]}\nwarmup: {requests: 2}\n"
                           : config);
  fs::copy_file(FixturePath("mlp/model.pt"), dir + "/model.pt", fs::copy_options::overwrite_existing);
}

void WriteEmbeddingVersion(const std::string& root, const std::string& name, int64_t version,
                           const std::vector<std::string>& titles, int dim, uint32_t buckets) {
  const std::string dir = VersionDir(root, name, version);
  WriteText(dir + "/config.yaml", "kind: embedding\nmax_batch_size: 16\nembedding:\n  dim: " + std::to_string(dim) +
                                      "\n  buckets: " + std::to_string(buckets) +
                                      "\n  char_ngrams: [3, 5]\n  top_k: 3\n  hnsw: {m: 8, ef_construction: 64, ef_search: 32}\n"
                                      "warmup: {requests: 1}\n");
  EncoderSpec spec;
  spec.dim = dim;
  spec.buckets = buckets;
  std::vector<float> table(static_cast<size_t>(buckets) * static_cast<size_t>(dim));
  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0, 1);
  for (float& v : table) v = normal(rng);
  std::string ids;
  std::vector<float> items;
  for (size_t i = 0; i < titles.size(); ++i) {
    ids += "item" + std::to_string(i) + "\n";
    const std::vector<float> v = EncodeText(spec, table, titles[i]);
    items.insert(items.end(), v.begin(), v.end());
  }
  WriteText(dir + "/items.txt", ids);
  WriteText(dir + "/items.f32", std::string(reinterpret_cast<const char*>(items.data()), items.size() * sizeof(float)));
  WriteText(dir + "/encoder.f32", std::string(reinterpret_cast<const char*>(table.data()), table.size() * sizeof(float)));
}

static std::vector<float> FloatsOf(simdjson::dom::array a) {
  std::vector<float> v;
  for (simdjson::dom::element e : a) v.push_back(static_cast<float>(double(e)));
  return v;
}

Expected LoadExpected(const std::string& file) {
  simdjson::dom::parser parser;
  const std::string text = ReadText(FixturePath(file));
  simdjson::dom::element doc = parser.parse(text);
  Expected e;
  for (simdjson::dom::element row : doc["x"].get_array()) e.x.push_back(FloatsOf(row.get_array()));
  simdjson::dom::element y;
  if (doc["pred"].get(y) == simdjson::SUCCESS || doc["y"].get(y) == simdjson::SUCCESS) e.y = FloatsOf(y.get_array());
  simdjson::dom::array contribs;
  if (doc["contribs"].get_array().get(contribs) == simdjson::SUCCESS) {
    for (simdjson::dom::element row : contribs) e.contribs.push_back(FloatsOf(row.get_array()));
  }
  return e;
}

Tensor Matrix(const std::string& name, const std::vector<std::vector<float>>& rows) {
  Tensor t;
  t.name = name;
  t.shape = {static_cast<int64_t>(rows.size()), rows.empty() ? 0 : static_cast<int64_t>(rows[0].size())};
  for (const auto& r : rows) t.fp32.insert(t.fp32.end(), r.begin(), r.end());
  return t;
}

int64_t ResidentBytes() {
  std::ifstream in("/proc/self/statm");
  int64_t size = 0, resident = 0;
  in >> size >> resident;
  return resident * sysconf(_SC_PAGESIZE);
}

}  // namespace shelfwatch::models::testing
