// HTTP handlers of the model-serving API as plain functions, so the server's router only
// forwards (method, path, body) and writes back {status, JSON body}:
//
// KServe / Open Inference Protocol v2 REST (https://kserve.github.io/website/latest/modelserving/
// data_plane/v2_protocol/), `path` being what follows "/v2":
//   GET  ""                                   server metadata {"name","version","extensions"}
//   GET  /health/live | /health/ready         200 (true) or 400 (false), empty body, per the spec
//   GET  /models/{m}[/versions/{v}]           model metadata {"name","versions","platform","inputs","outputs"}
//   GET  /models/{m}[/versions/{v}]/ready     200 / 400, empty body; 404 {"error"} for an unknown model
//   POST /models/{m}[/versions/{v}]/infer     {"id"?,"inputs":[{"name","shape","datatype","data"}],
//                                              "outputs"?:[{"name"}],"parameters"?:{"pred_contribs":true}}
//        -> {"model_name","model_version","id"?,"outputs":[{"name","datatype","shape","data"}]}
//        `data` may be flat or nested row-major; FP32 numbers or BYTES strings. pred_contribs adds
//        an output "contributions" [rows, features + 1] (xgboost models).
// Admin, `path` being what follows "/v1/admin/models":
//   GET  ""               {"models":[{"name","versions":[{"version","state","reason"?}]}]}
//   POST /{name}/load     applies the model's policy now -> 200 {"model", "versions": [...]} or error
//   POST /{name}/unload   unloads every version -> 200 {"model", "versions": [...]}
// Errors everywhere: {"error": "..."} with the Status's HTTP code (400, 404, 405, 503, ...).
// Model names are matched verbatim (no percent-decoding; repository names are plain words).
//
// Thread-safety: safe for concurrent use (the repository is). Cost: JSON parse/print O(body),
// plus the model call.
#pragma once

#include <string>
#include <string_view>

#include "models/model_repository.h"

namespace shelfwatch::models {

struct ApiReply {
  int status = 200;
  std::string body;  // JSON, or empty for the health/ready answers
};

ApiReply HandleInferenceRequest(ModelRepository& repository, std::string_view method, std::string_view path,
                                std::string_view body);

ApiReply HandleModelAdminRequest(ModelRepository& repository, std::string_view method, std::string_view path);

// {"models":[...]} as GET /v1/admin/models answers it.
std::string ModelsListingJson(const ModelRepository& repository);

}  // namespace shelfwatch::models
