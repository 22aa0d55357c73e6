// Config parsing, version policy and the query encoder.
#include <gtest/gtest.h>

#include <cmath>

#include "models/embedding_encoder.h"
#include "models/model_config.h"

namespace shelfwatch::models {
namespace {

TEST(ModelConfigTest, ParsesTritonStyleConfig) {
  Result<ModelConfig> c = ParseModelConfig(R"(
kind: torchscript
max_batch_size: 32
inputs:
  - {name: x, dtype: FP32, dims: [20]}
  - {name: mask, dims: [-1]}
outputs:
  - {name: y, dtype: FP32, dims: [1]}
dynamic_batching: {max_queue_delay_us: 250, preferred_batch_size: 8}
warmup: {requests: 3}
torchscript: {intra_op_threads: 2}
)");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->kind, ModelKind::kTorchscript);
  EXPECT_EQ(c->max_batch_size, 32);
  ASSERT_EQ(c->inputs.size(), 2u);
  EXPECT_EQ(c->inputs[0].dims, std::vector<int64_t>{20});
  EXPECT_EQ(c->inputs[1].dims, std::vector<int64_t>{-1});
  EXPECT_TRUE(c->dynamic_batching);
  EXPECT_EQ(c->max_queue_delay_us, 250);
  EXPECT_EQ(c->preferred_batch_size, 8);
  EXPECT_EQ(c->warmup_requests, 3);
  EXPECT_EQ(c->torch_intra_op_threads, 2);
}

TEST(ModelConfigTest, RefusesWrongConfigsNamingTheField) {
  struct Case {
    const char* yaml;
    const char* mentions;
  } cases[] = {
      {"kind: onnx\ninputs: [{name: a, dims: [1]}]\noutputs: [{name: b, dims: [1]}]", "unknown kind"},
      {"inputs: [{name: a, dims: [1]}]", "kind is required"},
      {"kind: xgboost\ninputs: [{name: a, dims: [0]}]\noutputs: [{name: b, dims: [1]}]", "dims must be > 0"},
      {"kind: xgboost\ninputs: [{name: a, dtype: INT8, dims: [4]}]\noutputs: [{name: b, dims: [1]}]", "INT8"},
      {"kind: xgboost\ninputs: [{name: a, dims: [4]}]\noutputs: [{name: b, dims: [1]}]\n"
       "dynamic_batching: {max_queue_delay_us: 10}",
       "needs max_batch_size"},
      {"kind: xgboost\noutputs: [{name: b, dims: [1]}]", "at least one"},
      {"kind: embedding\nembedding: {dim: 0, buckets: 10}", "dim > 0"},
      {"kind: [unclosed", "config.yaml"},
  };
  for (const Case& c : cases) {
    Result<ModelConfig> r = ParseModelConfig(c.yaml);
    ASSERT_FALSE(r.ok()) << c.yaml;
    EXPECT_EQ(r.status().code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find(c.mentions), std::string::npos) << r.status().message();
  }
}

TEST(ModelConfigTest, EmbeddingDefaultsItsTensors) {
  Result<ModelConfig> c = ParseModelConfig("kind: embedding\nmax_batch_size: 4\nembedding: {dim: 16, buckets: 100, top_k: 5}");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_EQ(c->inputs.size(), 1u);
  EXPECT_EQ(c->inputs[0].dtype, DataType::kBytes);
  ASSERT_EQ(c->outputs.size(), 2u);
  EXPECT_EQ(c->outputs[0].dims, std::vector<int64_t>{5});
}

TEST(VersionPolicyTest, SelectsLikeTfServing) {
  const std::vector<int64_t> on_disk{7, 1, 3};
  VersionPolicy latest;  // default: latest 1
  EXPECT_EQ(latest.Select(on_disk), (std::vector<int64_t>{7}));
  Result<VersionPolicy> two = ParseVersionPolicy("version_policy: {latest: 2}");
  ASSERT_TRUE(two.ok());
  EXPECT_EQ(two->Select(on_disk), (std::vector<int64_t>{3, 7}));
  Result<VersionPolicy> specific = ParseVersionPolicy("version_policy: {specific: [1, 7, 9]}");
  ASSERT_TRUE(specific.ok());
  EXPECT_EQ(specific->Select(on_disk), (std::vector<int64_t>{1, 7}));
  Result<VersionPolicy> all = ParseVersionPolicy("version_policy: all");
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->Select(on_disk), (std::vector<int64_t>{1, 3, 7}));
  EXPECT_FALSE(ParseVersionPolicy("version_policy: {latest: 0}").ok());
  EXPECT_FALSE(ParseVersionPolicy("version_policy: newest").ok());
  EXPECT_TRUE(ParseVersionPolicy("").ok());
}

float Dot(const std::vector<float>& a, const std::vector<float>& b) {
  float s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

TEST(EmbeddingEncoderTest, FeaturesFollowTheDocumentedScheme) {
  EncoderSpec spec;
  spec.buckets = 1u << 30;
  spec.word_ngrams = 2;
  spec.char_ngram_min = 3;
  spec.char_ngram_max = 4;
  // "ab cd": words ab, cd; bigram "ab cd"; "<ab>" gives 2 trigrams + 1 four-gram, same for cd.
  const std::vector<uint32_t> f = EncoderFeatures(spec, "AB, cd");
  ASSERT_EQ(f.size(), 3u + 6u);
  EXPECT_EQ(f[0], Fnv1a64('w', "ab") % spec.buckets);
  EXPECT_EQ(f[2], Fnv1a64('w', "ab cd") % spec.buckets);
  EXPECT_EQ(f[3], Fnv1a64('c', "<ab") % spec.buckets);
  EXPECT_EQ(f[5], Fnv1a64('c', "<ab>") % spec.buckets);
  // FNV-1a 64 of "a" (with no prefix the basis would give 0xaf63dc4c8601ec8c); check one
  // published vector through the prefix: FNV-1a("a") == Fnv1a64('a', "").
  EXPECT_EQ(Fnv1a64('a', ""), 0xaf63dc4c8601ec8cull);
}

TEST(EmbeddingEncoderTest, SimilarTitlesAreCloserThanUnrelatedOnes) {
  EncoderSpec spec;
  spec.dim = 64;
  spec.buckets = 1 << 14;
  std::vector<float> table(static_cast<size_t>(spec.buckets) * 64);
  uint64_t state = 1;
  for (float& v : table) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    v = static_cast<float>(static_cast<int64_t>(state >> 33) % 2001 - 1000) / 1000.0f;
  }
  const auto drill = EncodeText(spec, table, "cordless drill");
  const auto drills = EncodeText(spec, table, "Cordless Drills");
  const auto paint = EncodeText(spec, table, "exterior paint primer");
  EXPECT_NEAR(Dot(drill, drill), 1.0f, 1e-4);
  EXPECT_EQ(drill, EncodeText(spec, table, "CORDLESS   drill!"));
  EXPECT_GT(Dot(drill, drills), Dot(drill, paint) + 0.3f);
  const auto empty = EncodeText(spec, table, "  ,. ");
  EXPECT_EQ(Dot(empty, empty), 0.0f);
}

}  // namespace
}  // namespace shelfwatch::models
