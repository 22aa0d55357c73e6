// Test fixtures of the models module: a temporary model repository filled with versions made
// from the artifacts that tests/fixtures/make_fixtures.py generated at build time
// (SHELFWATCH_MODEL_FIXTURES), and python's expected outputs on them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "models/tensor.h"

namespace shelfwatch::models::testing {

std::string FixturePath(const std::string& relative);
// A fresh, empty directory under /tmp.
std::string TempRepository();
void WriteText(const std::string& path, const std::string& text);
std::string ReadText(const std::string& path);

// config.yaml of an xgboost ranker with 8 features (the fixture), with optional extra YAML.
std::string XgboostConfig(int features = 8, const std::string& extra = "");
// <root>/<name>/<version>/ with config.yaml and the xgb_rank (or `artifact_dir`) model.json.
void WriteXgboostVersion(const std::string& root, const std::string& name, int64_t version,
                         const std::string& config = XgboostConfig(),
                         const std::string& artifact_dir = "xgb_rank");
// <root>/<name>/<version>/ with the TorchScript MLP 8 -> 16 -> 1.
void WriteTorchVersion(const std::string& root, const std::string& name, int64_t version,
                       const std::string& config = "");
// <root>/<name>/<version>/ of kind embedding: `titles` become item ids "item<i>", their vectors
// are the encoder's embedding of the title (so a title finds its item), encoder table random.
void WriteEmbeddingVersion(const std::string& root, const std::string& name, int64_t version,
                           const std::vector<std::string>& titles, int dim = 32, uint32_t buckets = 4096);

// Python's inputs and outputs (xgb_expected.json / mlp_expected.json).
struct Expected {
  std::vector<std::vector<float>> x;
  std::vector<float> y;                         // pred or y
  std::vector<std::vector<float>> contribs;     // xgboost only
};
Expected LoadExpected(const std::string& file);

// A row-major FP32 tensor [rows.size(), rows[0].size()].
Tensor Matrix(const std::string& name, const std::vector<std::vector<float>>& rows);
// Resident set size of this process in bytes (/proc/self/statm).
int64_t ResidentBytes();

}  // namespace shelfwatch::models::testing
