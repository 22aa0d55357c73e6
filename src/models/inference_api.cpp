#include "models/inference_api.h"

#include <simdjson.h>

#include <charconv>
#include <optional>

#include "common/json_writer.h"

namespace shelfwatch::models {
namespace {

namespace dom = simdjson::dom;

ApiReply Error(int status, std::string_view message) {
  ApiReply r;
  r.status = status;
  JsonWriter w(&r.body);
  w.BeginObject().Key("error").String(message).EndObject();
  return r;
}

ApiReply Error(const Status& s) { return Error(s.http_status(), s.message()); }

std::vector<std::string_view> Split(std::string_view path) {
  std::vector<std::string_view> parts;
  size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '/') {
      ++i;
      continue;
    }
    const size_t j = path.find('/', i);
    parts.push_back(path.substr(i, j == std::string_view::npos ? std::string_view::npos : j - i));
    if (j == std::string_view::npos) break;
    i = j;
  }
  return parts;
}

bool ParseVersion(std::string_view s, int64_t* v) {
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *v);
  return ec == std::errc() && p == s.data() + s.size() && *v > 0;
}

std::string_view PlatformOf(ModelKind kind) {
  switch (kind) {
    case ModelKind::kXgboost:
      return "xgboost";
    case ModelKind::kTorchscript:
      return "pytorch_torchscript";
    case ModelKind::kEmbedding:
      return "shelfwatch_embedding";
  }
  return "unknown";
}

void WriteSpecs(JsonWriter& w, const std::vector<TensorSpec>& specs, bool batched) {
  w.BeginArray();
  for (const TensorSpec& s : specs) {
    w.BeginObject().Key("name").String(s.name).Key("datatype").String(DataTypeName(s.dtype)).Key("shape").BeginArray();
    if (batched) w.Int(-1);
    for (int64_t d : s.dims) w.Int(d);
    w.EndArray().EndObject();
  }
  w.EndArray();
}

void WriteTensor(JsonWriter& w, const Tensor& t) {
  w.BeginObject().Key("name").String(t.name).Key("datatype").String(DataTypeName(t.dtype)).Key("shape").BeginArray();
  for (int64_t d : t.shape) w.Int(d);
  w.EndArray().Key("data").BeginArray();
  if (t.dtype == DataType::kFp32) {
    for (float v : t.fp32) w.Float(v);
  } else {
    for (const std::string& s : t.bytes) w.String(s);
  }
  w.EndArray().EndObject();
}

// Appends the leaves of a (possibly nested) JSON array in row-major order.
Status Flatten(dom::element el, Tensor* t, int depth) {
  if (depth > 32) return InvalidArgument("data nests too deeply");
  dom::array children;
  if (el.get_array().get(children) == simdjson::SUCCESS) {
    for (dom::element child : children) SW_RETURN_IF_ERROR(Flatten(child, t, depth + 1));
    return Status::Ok();
  }
  if (t->dtype == DataType::kFp32) {
    double v = 0;
    int64_t i = 0;
    uint64_t u = 0;
    if (el.get_int64().get(i) == simdjson::SUCCESS) {
      v = static_cast<double>(i);
    } else if (el.get_uint64().get(u) == simdjson::SUCCESS) {
      v = static_cast<double>(u);
    } else if (el.get_double().get(v) != simdjson::SUCCESS) {
      return InvalidArgument("input '" + t->name + "' is FP32 but its data holds a non-number");
    }
    t->fp32.push_back(static_cast<float>(v));
  } else {
    std::string_view s;
    if (el.get_string().get(s) != simdjson::SUCCESS) {
      return InvalidArgument("input '" + t->name + "' is BYTES but its data holds a non-string");
    }
    t->bytes.emplace_back(s);
  }
  return Status::Ok();
}

struct InferRequest {
  std::string id;
  std::vector<Tensor> inputs;
  std::vector<std::string> outputs;  // empty: all
  bool pred_contribs = false;
};

Result<InferRequest> ParseInfer(std::string_view body) {
  thread_local dom::parser parser;
  dom::element doc;
  if (auto err = parser.parse(body.data(), body.size()).get(doc); err) {
    return InvalidArgument(std::string("request body is not valid JSON: ") + simdjson::error_message(err));
  }
  dom::object obj;
  if (doc.get_object().get(obj) != simdjson::SUCCESS) return InvalidArgument("request body must be a JSON object");
  InferRequest req;
  std::string_view sv;
  if (obj["id"].get_string().get(sv) == simdjson::SUCCESS) req.id = std::string(sv);
  dom::array inputs;
  if (obj["inputs"].get_array().get(inputs) != simdjson::SUCCESS) {
    return InvalidArgument("request needs \"inputs\": an array of tensors");
  }
  for (dom::element in : inputs) {
    Tensor t;
    if (in["name"].get_string().get(sv) != simdjson::SUCCESS) return InvalidArgument("every input needs a \"name\"");
    t.name = std::string(sv);
    if (in["datatype"].get_string().get(sv) != simdjson::SUCCESS || !ParseDataType(sv, &t.dtype)) {
      return InvalidArgument("input '" + t.name + "' needs \"datatype\": \"FP32\" or \"BYTES\"");
    }
    dom::array shape;
    if (in["shape"].get_array().get(shape) != simdjson::SUCCESS) {
      return InvalidArgument("input '" + t.name + "' needs \"shape\": an array of integers");
    }
    for (dom::element d : shape) {
      int64_t v = 0;
      if (d.get_int64().get(v) != simdjson::SUCCESS || v < 0) {
        return InvalidArgument("input '" + t.name + "' has a shape that is not non-negative integers");
      }
      t.shape.push_back(v);
    }
    dom::element data;
    if (in["data"].get(data) != simdjson::SUCCESS) return InvalidArgument("input '" + t.name + "' needs \"data\"");
    SW_RETURN_IF_ERROR(Flatten(data, &t, 0));
    if (static_cast<int64_t>(t.StoredCount()) != t.ElementCount()) {
      return InvalidArgument("input '" + t.name + "' has " + std::to_string(t.StoredCount()) +
                             " values for shape " + ShapeString(t.shape));
    }
    req.inputs.push_back(std::move(t));
  }
  dom::array outputs;
  if (obj["outputs"].get_array().get(outputs) == simdjson::SUCCESS) {
    for (dom::element o : outputs) {
      if (o["name"].get_string().get(sv) != simdjson::SUCCESS) return InvalidArgument("every output needs a \"name\"");
      req.outputs.emplace_back(sv);
    }
  }
  bool contribs = false;
  if (obj["parameters"]["pred_contribs"].get_bool().get(contribs) == simdjson::SUCCESS) req.pred_contribs = contribs;
  return req;
}

ApiReply Infer(const ModelVersion& model, std::string_view body) {
  Result<InferRequest> req = ParseInfer(body);
  if (!req.ok()) return Error(req.status());
  std::optional<Tensor> contributions;
  if (req->pred_contribs) {
    if (req->inputs.empty()) return Error(400, "pred_contribs needs an input");
    Result<Tensor> c = model.Explain(req->inputs[0]);
    if (!c.ok()) return Error(c.status());
    contributions = std::move(c).value();
  }
  Result<std::vector<Tensor>> out = model.Infer(std::move(req->inputs));
  if (!out.ok()) return Error(out.status());
  for (const std::string& name : req->outputs) {
    bool known = name == "contributions" && contributions;
    for (const Tensor& t : *out) known = known || t.name == name;
    if (!known) return Error(400, "model " + model.name() + " has no output '" + name + "'");
  }
  auto wanted = [&](const std::string& name) {
    if (req->outputs.empty()) return true;
    for (const std::string& n : req->outputs) {
      if (n == name) return true;
    }
    return false;
  };
  ApiReply r;
  JsonWriter w(&r.body);
  w.BeginObject().Key("model_name").String(model.name()).Key("model_version").String(model.version_label());
  if (!req->id.empty()) w.Key("id").String(req->id);
  w.Key("outputs").BeginArray();
  for (const Tensor& t : *out) {
    if (wanted(t.name)) WriteTensor(w, t);
  }
  if (contributions && (req->outputs.empty() || wanted("contributions"))) WriteTensor(w, *contributions);
  w.EndArray().EndObject();
  return r;
}

ApiReply Metadata(const ModelRepository& repo, const ModelVersion& model) {
  ApiReply r;
  JsonWriter w(&r.body);
  w.BeginObject().Key("name").String(model.name()).Key("versions").BeginArray();
  for (const ModelStatus& m : repo.List()) {
    if (m.name != model.name()) continue;
    for (const VersionStatus& v : m.versions) {
      if (v.state == VersionState::kReady) w.String(std::to_string(v.version));
    }
  }
  const bool batched = model.config().max_batch_size > 0;
  w.EndArray().Key("platform").String(PlatformOf(model.config().kind)).Key("inputs");
  WriteSpecs(w, model.config().inputs, batched);
  w.Key("outputs");
  WriteSpecs(w, model.config().outputs, batched);
  w.EndObject();
  return r;
}

void WriteVersions(JsonWriter& w, const ModelStatus& m) {
  w.BeginArray();
  for (const VersionStatus& v : m.versions) {
    w.BeginObject().Key("version").Int(v.version).Key("state").String(VersionStateName(v.state));
    if (!v.reason.empty()) w.Key("reason").String(v.reason);
    w.EndObject();
  }
  w.EndArray();
}

ApiReply ModelAnswer(const ModelRepository& repo, std::string_view name, const Status& outcome) {
  ApiReply r;
  r.status = outcome.ok() ? 200 : outcome.http_status();
  JsonWriter w(&r.body);
  w.BeginObject().Key("model").String(name);
  if (!outcome.ok()) w.Key("error").String(outcome.message());
  for (const ModelStatus& m : repo.List()) {
    if (m.name == name) {
      w.Key("versions");
      WriteVersions(w, m);
    }
  }
  w.EndObject();
  return r;
}

}  // namespace

std::string ModelsListingJson(const ModelRepository& repository) {
  std::string out;
  JsonWriter w(&out);
  w.BeginObject().Key("models").BeginArray();
  for (const ModelStatus& m : repository.List()) {
    w.BeginObject().Key("name").String(m.name).Key("versions");
    WriteVersions(w, m);
    w.EndObject();
  }
  w.EndArray().EndObject();
  return out;
}

ApiReply HandleInferenceRequest(ModelRepository& repo, std::string_view method, std::string_view path,
                                std::string_view body) {
  const std::vector<std::string_view> parts = Split(path);
  const bool get = method == "GET" || method == "HEAD";
  const bool post = method == "POST";
  if (parts.empty()) {
    if (!get) return Error(405, "use GET");
    ApiReply r;
    JsonWriter w(&r.body);
    w.BeginObject().Key("name").String("shelfwatch").Key("version").String(SHELFWATCH_VERSION)
        .Key("extensions").BeginArray().EndArray().EndObject();
    return r;
  }
  if (parts[0] == "health" && parts.size() == 2) {
    if (!get) return Error(405, "use GET");
    if (parts[1] == "live") return {200, ""};
    if (parts[1] == "ready") return {repo.started() ? 200 : 400, ""};
    return Error(404, "unknown health endpoint");
  }
  if (parts[0] != "models" || parts.size() < 2) return Error(404, "unknown endpoint /v2" + std::string(path));
  const std::string_view name = parts[1];
  size_t next = 2;
  int64_t version = 0;
  if (parts.size() >= 4 && parts[2] == "versions") {
    if (!ParseVersion(parts[3], &version)) return Error(400, "version must be a positive integer");
    next = 4;
  }
  const std::string_view action = next < parts.size() ? parts[next] : std::string_view();
  if (next + (action.empty() ? 0 : 1) != parts.size() || (!action.empty() && action != "ready" && action != "infer")) {
    return Error(404, "unknown endpoint /v2" + std::string(path));
  }
  Result<std::shared_ptr<const ModelVersion>> model = repo.Get(name, version);
  if (action == "ready") {
    if (!get) return Error(405, "use GET");
    if (!model.ok() && model.status().code() == ErrorCode::kNotFound) return Error(model.status());
    return {model.ok() ? 200 : 400, ""};
  }
  if (action == "infer") {
    if (!post) return Error(405, "use POST");
    if (!model.ok()) return Error(model.status());
    return Infer(**model, body);  // the shared_ptr keeps this version alive for the request
  }
  if (!get) return Error(405, "use GET");
  if (!model.ok()) return Error(model.status());
  return Metadata(repo, **model);
}

ApiReply HandleModelAdminRequest(ModelRepository& repo, std::string_view method, std::string_view path) {
  const std::vector<std::string_view> parts = Split(path);
  if (parts.empty()) {
    if (method != "GET" && method != "HEAD") return Error(405, "use GET");
    return {200, ModelsListingJson(repo)};
  }
  if (parts.size() != 2 || (parts[1] != "load" && parts[1] != "unload")) {
    return Error(404, "use POST /v1/admin/models/{name}/load or /unload");
  }
  if (method != "POST") return Error(405, "use POST");
  const std::string name(parts[0]);
  const Status s = parts[1] == "load" ? repo.Load(name) : repo.Unload(name);
  if (s.code() == ErrorCode::kNotFound) return Error(s);
  return ModelAnswer(repo, name, s);
}

}  // namespace shelfwatch::models
