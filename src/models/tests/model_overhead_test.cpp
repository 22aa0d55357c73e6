// Platform overhead of a model call through the serving API (repository lookup, shape checks,
// dynamic batcher, backend, output copy) against calling XGBoost / libtorch directly on the same
// inputs, side by side in one process. A measurement, not a check: disabled by default; run with
//   build-models/src/models/models_overhead_test --gtest_also_run_disabled_tests
#include <ATen/Parallel.h>
#include <gtest/gtest.h>
#include <torch/script.h>
#include <xgboost/c_api.h>

#include <algorithm>
#include <functional>

#include "common/clock.h"
#include "models/inference_api.h"
#include "models/model_repository.h"
#include "models_fixtures.h"

namespace shelfwatch::models {
namespace {

using namespace testing;  // NOLINT

// Mean microseconds per call of one round of `iterations` calls.
double Round(int iterations, const std::function<void()>& call) {
  const int64_t start = MonotonicNanos();
  for (int i = 0; i < iterations; ++i) call();
  return static_cast<double>(MonotonicNanos() - start) / 1e3 / iterations;
}

// Best round of each of `direct` and `api`, rounds interleaved so that both see the same load
// on this shared machine: {direct us, api us}.
std::pair<double, double> Compare(int iterations, const std::function<void()>& direct,
                                  const std::function<void()>& api) {
  Round(iterations / 10 + 1, direct);
  Round(iterations / 10 + 1, api);
  double best_direct = 1e18, best_api = 1e18;
  for (int round = 0; round < 7; ++round) {
    best_direct = std::min(best_direct, Round(iterations, direct));
    best_api = std::min(best_api, Round(iterations, api));
  }
  return {best_direct, best_api};
}

std::vector<std::vector<float>> Rows(size_t n, size_t width) {
  std::vector<std::vector<float>> rows(n, std::vector<float>(width));
  for (size_t r = 0; r < n; ++r) {
    for (size_t c = 0; c < width; ++c) rows[r][c] = static_cast<float>((r * 31 + c * 7) % 17) / 17.0f - 0.5f;
  }
  return rows;
}

TEST(ModelOverheadTest, DISABLED_PlatformOverheadVsDirectCalls) {
  const std::string root = TempRepository();
  // The same predictor on both sides (XGBoost's), so the difference is the platform's; the
  // compiled evaluator (tree_ensemble.h, the default) is measured beside them.
  WriteXgboostVersion(root, "rank", 1, XgboostConfig(8, "xgboost: {nthread: 1, evaluator: xgboost}\n"));
  WriteXgboostVersion(root, "rank_batched", 1,
                      XgboostConfig(8, "dynamic_batching: {max_queue_delay_us: 0, preferred_batch_size: 1}\n"
                                       "xgboost: {nthread: 1, evaluator: xgboost}\n"));
  WriteXgboostVersion(root, "rank_compiled", 1, XgboostConfig(8));
  WriteTorchVersion(root, "mlp", 1,
                    "kind: torchscript\nmax_batch_size: 256\ninputs: [{name: x, dims: [8]}]\noutputs: [{name: y, dims: [1]}]\n"
                    "warmup: {requests: 4}\n");
  WriteTorchVersion(root, "mlp_batched", 1,
                    "kind: torchscript\nmax_batch_size: 256\ninputs: [{name: x, dims: [8]}]\noutputs: [{name: y, dims: [1]}]\n"
                    "dynamic_batching: {max_queue_delay_us: 0, preferred_batch_size: 1}\nwarmup: {requests: 4}\n");
  monitor::Registry registry;
  ModelRepository repo({root, 0, &registry});
  ASSERT_TRUE(repo.Start().ok());

  BoosterHandle booster = nullptr;
  ASSERT_EQ(XGBoosterCreate(nullptr, 0, &booster), 0);
  ASSERT_EQ(XGBoosterLoadModel(booster, (root + "/rank/1/model.json").c_str()), 0);
  XGBoosterSetParam(booster, "nthread", "1");
  at::set_num_threads(1);
  torch::jit::Module mlp = torch::jit::load(root + "/mlp/1/model.pt");
  mlp.eval();

  std::printf("\n%-34s %10s %10s %10s\n", "call (rows x 8 FP32)", "direct us", "api us", "overhead");
  for (size_t rows : {size_t{1}, size_t{100}}) {
    const auto x = Rows(rows, 8);
    const Tensor input = Matrix("features", x);
    const int iterations = rows == 1 ? 4000 : 1000;
    float sink = 0;

    auto xgb_direct = [&] {
      char interface[160];
      std::snprintf(interface, sizeof interface,
                    "{\"data\":[%llu,true],\"shape\":[%zu,8],\"typestr\":\"<f4\",\"version\":3}",
                    static_cast<unsigned long long>(reinterpret_cast<uintptr_t>(input.fp32.data())), rows);
      const bst_ulong* shape;
      bst_ulong dim;
      const float* out;
      XGBoosterPredictFromDense(booster, interface,
                                "{\"type\":0,\"training\":false,\"iteration_begin\":0,\"iteration_end\":0,"
                                "\"strict_shape\":false,\"missing\":NaN,\"cache_id\":0}",
                                nullptr, &shape, &dim, &out);
      std::vector<float> copy(out, out + rows);  // the caller keeps the scores
      sink += copy[0];
    };
    for (const char* name : {"rank", "rank_batched", "rank_compiled"}) {
      const auto [direct, api] = Compare(iterations, xgb_direct, [&] {
        auto model = repo.Get(name);
        auto out = (*model)->Infer({input});
        sink += (*out)[0].fp32[0];
      });
      std::printf("%-34s %10.2f %10.2f %10.2f\n", (std::string("xgboost ") + name + " " + std::to_string(rows)).c_str(),
                  direct, api, api - direct);
      EXPECT_LE(api - direct, 50.0) << name;
    }

    const Tensor tx = Matrix("x", x);
    auto torch_direct = [&] {
      torch::NoGradGuard no_grad;
      std::vector<torch::jit::IValue> args{
          torch::from_blob(const_cast<float*>(tx.fp32.data()), {static_cast<int64_t>(rows), 8}, torch::kFloat32)};
      at::Tensor y = mlp.forward(std::move(args)).toTensor().contiguous();
      std::vector<float> copy(y.data_ptr<float>(), y.data_ptr<float>() + y.numel());
      sink += copy[0];
    };
    for (const char* name : {"mlp", "mlp_batched"}) {
      const auto [direct, api] = Compare(iterations, torch_direct, [&] {
        auto model = repo.Get(name);
        auto out = (*model)->Infer({tx});
        sink += (*out)[0].fp32[0];
      });
      std::printf("%-34s %10.2f %10.2f %10.2f\n", (std::string("torchscript ") + name + " " + std::to_string(rows)).c_str(),
                  direct, api, api - direct);
      EXPECT_LE(api - direct, 50.0) << name;
    }

    // The whole v2 REST handler (JSON parse + print) for reference; not part of the target.
    std::string body = "{\"inputs\":[{\"name\":\"features\",\"datatype\":\"FP32\",\"shape\":[" + std::to_string(rows) +
                       ",8],\"data\":[";
    for (size_t i = 0; i < input.fp32.size(); ++i) {
      if (i) body += ',';
      body += std::to_string(input.fp32[i]);
    }
    body += "]}]}";
    const auto [direct, v2] = Compare(iterations, xgb_direct, [&] {
      ApiReply r = HandleInferenceRequest(repo, "POST", "/models/rank/infer", body);
      sink += static_cast<float>(r.status);
    });
    std::printf("%-34s %10.2f %10.2f %10.2f\n", ("xgboost v2 JSON handler " + std::to_string(rows)).c_str(), direct,
                v2, v2 - direct);
    EXPECT_NE(sink, 12345.0f);
  }
  XGBoosterFree(booster);
}

}  // namespace
}  // namespace shelfwatch::models
