// JSON answers of the alert endpoints, as strings, for the server to send:
//   GET    /v1/alerts                 Prometheus /api/v1/alerts shape:
//          {"status":"success","data":{"alerts":[{"labels","annotations","state","activeAt",
//          "value","keepFiringSince"?,"silenced"}]}}  (value as Go's FormatFloat(v,'e',-1))
//   GET    /v1/alerts/rules           Prometheus /api/v1/rules shape: groups with rules, state,
//          health, lastError, lastEvaluation, evaluationTime, alerts
//   GET    /v1/alerts/history?limit=N {"transitions":[{"time","group","alertname","labels",
//          "from","to","value"}]} newest first (default limit 100)
//   GET    /v1/alerts/silences        Alertmanager API v2 gettableSilences: [{"id","status":
//          {"state"},"updatedAt","matchers":[{"name","value","isRegex","isEqual"}],"startsAt",
//          "endsAt","createdBy","comment"}]
//   POST   /v1/alerts/silences        body: Alertmanager postableSilence (startsAt may be left
//          out: now); answers {"silenceID":"..."}
//   DELETE /v1/alerts/silences/{id}   expires it
// Errors answer {"error":{"code":"invalid_argument","message":"..."}} with the code's status.
//
// Thread-safety: stateless functions over thread-safe stores.
// Cost: O(size of the answer).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "alert/evaluator.h"
#include "alert/silences.h"
#include "alert/transition_log.h"
#include "common/status.h"

namespace shelfwatch::alert {

struct ApiReply {
  int status = 200;
  std::string body;  // JSON
};

std::string RenderAlerts(const std::vector<Alert>& alerts);
std::string RenderRules(const std::vector<GroupStatus>& groups);
std::string RenderHistory(const std::vector<Transition>& transitions);
std::string RenderSilences(const std::vector<Silence>& silences, int64_t now_ms);
ApiReply ErrorReply(const Status& status);

// GET /v1/alerts/history with its query string ("limit=20").
ApiReply HandleHistory(const TransitionLog& log, std::string_view query);
// POST /v1/alerts/silences: parses the body and adds the silence.
ApiReply HandlePostSilence(SilenceStore& silences, std::string_view body, int64_t now_ms);
// DELETE /v1/alerts/silences/{id}
ApiReply HandleDeleteSilence(SilenceStore& silences, std::string_view id, int64_t now_ms);

}  // namespace shelfwatch::alert
