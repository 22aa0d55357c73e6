#include "models/model_config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <sstream>

namespace shelfwatch::models {
namespace {

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("cannot open " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Status ParseTensorSpecs(const YAML::Node& node, const char* field, std::vector<TensorSpec>* out) {
  if (!node) return Status::Ok();
  if (!node.IsSequence()) return InvalidArgument(std::string(field) + " must be a list");
  for (const YAML::Node& t : node) {
    TensorSpec spec;
    if (!t["name"]) return InvalidArgument(std::string(field) + ": every tensor needs a name");
    spec.name = t["name"].as<std::string>();
    const std::string dtype = t["dtype"] ? t["dtype"].as<std::string>() : "FP32";
    if (!ParseDataType(dtype, &spec.dtype)) {
      return InvalidArgument(std::string(field) + "." + spec.name + ": dtype '" + dtype +
                             "' is not FP32 or BYTES");
    }
    if (!t["dims"] || !t["dims"].IsSequence()) {
      return InvalidArgument(std::string(field) + "." + spec.name + ": dims must be a list");
    }
    for (const YAML::Node& d : t["dims"]) {
      const int64_t v = d.as<int64_t>();
      if (v == 0 || v < -1) {
        return InvalidArgument(std::string(field) + "." + spec.name + ": dims must be > 0 or -1");
      }
      spec.dims.push_back(v);
    }
    out->push_back(std::move(spec));
  }
  return Status::Ok();
}

int IntOr(const YAML::Node& node, int fallback) { return node ? node.as<int>() : fallback; }

Result<ModelConfig> ParseModelConfigNode(const YAML::Node& root) {
  if (!root.IsMap()) return InvalidArgument("config.yaml must be a mapping");
  ModelConfig c;
  if (!root["kind"]) return InvalidArgument("config.yaml: kind is required (xgboost|torchscript|embedding)");
  const std::string kind = root["kind"].as<std::string>();
  if (kind == "xgboost") {
    c.kind = ModelKind::kXgboost;
  } else if (kind == "torchscript") {
    c.kind = ModelKind::kTorchscript;
  } else if (kind == "embedding") {
    c.kind = ModelKind::kEmbedding;
  } else {
    return InvalidArgument("config.yaml: unknown kind '" + kind + "'");
  }
  SW_RETURN_IF_ERROR(ParseTensorSpecs(root["inputs"], "inputs", &c.inputs));
  SW_RETURN_IF_ERROR(ParseTensorSpecs(root["outputs"], "outputs", &c.outputs));
  c.max_batch_size = IntOr(root["max_batch_size"], 0);
  if (c.max_batch_size < 0) return InvalidArgument("config.yaml: max_batch_size must be >= 0");
  if (const YAML::Node db = root["dynamic_batching"]) {
    if (c.max_batch_size == 0) {
      return InvalidArgument("config.yaml: dynamic_batching needs max_batch_size > 0");
    }
    c.dynamic_batching = true;
    c.max_queue_delay_us = db["max_queue_delay_us"] ? db["max_queue_delay_us"].as<int64_t>() : 0;
    c.preferred_batch_size = IntOr(db["preferred_batch_size"], 0);
    if (c.max_queue_delay_us < 0 || c.preferred_batch_size < 0 ||
        c.preferred_batch_size > c.max_batch_size) {
      return InvalidArgument(
          "config.yaml: dynamic_batching needs max_queue_delay_us >= 0 and "
          "0 <= preferred_batch_size <= max_batch_size");
    }
  }
  if (const YAML::Node w = root["warmup"]) c.warmup_requests = IntOr(w["requests"], 0);
  if (const YAML::Node x = root["xgboost"]) {
    c.xgboost_nthread = IntOr(x["nthread"], 1);
    if (x["evaluator"]) {
      const std::string ev = x["evaluator"].as<std::string>();
      if (ev != "compiled" && ev != "xgboost") {
        return InvalidArgument("config.yaml: xgboost.evaluator must be compiled or xgboost (got '" + ev + "')");
      }
      c.xgboost_compiled = ev == "compiled";
    }
  }
  if (const YAML::Node t = root["torchscript"]) {
    c.torch_intra_op_threads = IntOr(t["intra_op_threads"], 1);
  }
  if (c.xgboost_nthread < 1 || c.torch_intra_op_threads < 1) {
    return InvalidArgument("config.yaml: thread counts must be >= 1");
  }
  if (c.kind == ModelKind::kEmbedding) {
    const YAML::Node e = root["embedding"];
    if (!e) return InvalidArgument("config.yaml: kind embedding needs an embedding section");
    c.encoder.dim = IntOr(e["dim"], 0);
    c.encoder.buckets = e["buckets"] ? e["buckets"].as<uint32_t>() : 0;
    c.encoder.word_ngrams = IntOr(e["word_ngrams"], 2);
    if (const YAML::Node cg = e["char_ngrams"]) {
      if (!cg.IsSequence() || cg.size() != 2) {
        return InvalidArgument("config.yaml: embedding.char_ngrams is [min, max]");
      }
      c.encoder.char_ngram_min = cg[0].as<int>();
      c.encoder.char_ngram_max = cg[1].as<int>();
    }
    c.top_k = IntOr(e["top_k"], 10);
    if (const YAML::Node h = e["hnsw"]) {
      c.hnsw_m = IntOr(h["m"], c.hnsw_m);
      c.hnsw_ef_construction = IntOr(h["ef_construction"], c.hnsw_ef_construction);
      c.hnsw_ef_search = IntOr(h["ef_search"], c.hnsw_ef_search);
    }
    if (c.encoder.dim <= 0 || c.encoder.buckets == 0 || c.top_k <= 0 || c.hnsw_m < 2 ||
        c.encoder.word_ngrams < 0 || c.encoder.char_ngram_min < 0 ||
        c.encoder.char_ngram_max < c.encoder.char_ngram_min) {
      return InvalidArgument(
          "config.yaml: embedding needs dim > 0, buckets > 0, top_k > 0, hnsw.m >= 2 and "
          "0 <= char_ngrams[0] <= char_ngrams[1]");
    }
    if (c.inputs.empty()) c.inputs.push_back({"query", DataType::kBytes, {1}});
    if (c.outputs.empty()) {
      c.outputs.push_back({"scores", DataType::kFp32, {c.top_k}});
      c.outputs.push_back({"item_ids", DataType::kBytes, {c.top_k}});
    }
  }
  if (c.inputs.empty() || c.outputs.empty()) {
    return InvalidArgument("config.yaml: inputs and outputs must each name at least one tensor");
  }
  return c;
}

}  // namespace

std::string_view ModelKindName(ModelKind kind) {
  switch (kind) {
    case ModelKind::kXgboost:
      return "xgboost";
    case ModelKind::kTorchscript:
      return "torchscript";
    case ModelKind::kEmbedding:
      return "embedding";
  }
  return "unknown";
}

Result<ModelConfig> ParseModelConfig(const std::string& yaml_text) {
  try {
    return ParseModelConfigNode(YAML::Load(yaml_text));
  } catch (const YAML::Exception& e) {
    return InvalidArgument(std::string("config.yaml: ") + e.what());
  }
}

Result<ModelConfig> LoadModelConfig(const std::string& path) {
  Result<std::string> text = ReadFile(path);
  if (!text.ok()) return text.status();
  return ParseModelConfig(*text);
}

std::vector<int64_t> VersionPolicy::Select(std::vector<int64_t> available) const {
  std::sort(available.begin(), available.end());
  std::vector<int64_t> out;
  switch (kind) {
    case Kind::kAll:
      out = available;
      break;
    case Kind::kLatest: {
      const size_t n = std::min(available.size(), static_cast<size_t>(std::max(latest, 0)));
      out.assign(available.end() - static_cast<std::ptrdiff_t>(n), available.end());
      break;
    }
    case Kind::kSpecific:
      for (int64_t v : available) {
        if (std::find(specific.begin(), specific.end(), v) != specific.end()) out.push_back(v);
      }
      break;
  }
  return out;
}

Result<VersionPolicy> ParseVersionPolicy(const std::string& yaml_text) {
  VersionPolicy p;
  try {
    const YAML::Node root = YAML::Load(yaml_text);
    if (!root || root.IsNull()) return p;
    const YAML::Node vp = root["version_policy"];
    if (!vp) return p;
    if (vp.IsScalar() && vp.as<std::string>() == "all") {
      p.kind = VersionPolicy::Kind::kAll;
    } else if (vp.IsMap() && vp["all"]) {
      p.kind = VersionPolicy::Kind::kAll;
    } else if (vp.IsMap() && vp["latest"]) {
      p.kind = VersionPolicy::Kind::kLatest;
      p.latest = vp["latest"].as<int>();
      if (p.latest < 1) return InvalidArgument("version_policy.latest must be >= 1");
    } else if (vp.IsMap() && vp["specific"]) {
      p.kind = VersionPolicy::Kind::kSpecific;
      for (const YAML::Node& v : vp["specific"]) p.specific.push_back(v.as<int64_t>());
      if (p.specific.empty()) return InvalidArgument("version_policy.specific must list versions");
    } else {
      return InvalidArgument("version_policy must be {latest: N}, {specific: [...]} or all");
    }
  } catch (const YAML::Exception& e) {
    return InvalidArgument(std::string("model config.yaml: ") + e.what());
  }
  return p;
}

Result<VersionPolicy> LoadVersionPolicy(const std::string& path) {
  Result<std::string> text = ReadFile(path);
  if (!text.ok()) return VersionPolicy{};
  return ParseVersionPolicy(*text);
}

}  // namespace shelfwatch::models
