#include "alert/api.h"

#include <simdjson.h>

#include <charconv>

#include "alert/go_format.h"
#include "common/clock.h"
#include "common/json_writer.h"
#include "feedback/timestamp.h"

namespace shelfwatch::alert {
namespace {

constexpr size_t kDefaultHistoryLimit = 100;
// Go's zero time, which Prometheus writes for a rule never evaluated.
constexpr std::string_view kZeroTime = "0001-01-01T00:00:00Z";

// "\"key\"", built by appending (GCC 12's -Wrestrict misfires on "lit" + std::string&&).
std::string Quoted(std::string_view key) { return std::string("\"").append(key).append("\""); }

std::string TimeOrZero(int64_t ms) { return ms == 0 ? std::string(kZeroTime) : FormatRfc3339Millis(ms); }

void WriteLabels(JsonWriter& w, const monitor::LabelSet& labels) {
  w.BeginObject();
  for (const auto& [k, v] : labels.labels()) w.Key(k).String(v);
  w.EndObject();
}

void WriteAlert(JsonWriter& w, const Alert& a) {
  w.BeginObject();
  w.Key("labels");
  WriteLabels(w, a.labels);
  w.Key("annotations").BeginObject();
  for (const auto& [k, v] : a.annotations) w.Key(k).String(v);
  w.EndObject();
  w.Key("state").String(AlertStateName(a.state));
  w.Key("activeAt").String(FormatRfc3339Millis(a.active_at_ms));
  if (a.keep_firing_since_ms != 0) w.Key("keepFiringSince").String(FormatRfc3339Millis(a.keep_firing_since_ms));
  w.Key("value").String(GoFormatExponent(a.value));
  w.Key("silenced").Bool(a.silenced);
  w.EndObject();
}

}  // namespace

ApiReply ErrorReply(const Status& status) {
  ApiReply r;
  r.status = status.http_status();
  JsonWriter w(&r.body);
  w.BeginObject().Key("error").BeginObject();
  w.Key("code").String(ErrorCodeName(status.code()));
  w.Key("message").String(status.message());
  w.EndObject().EndObject();
  return r;
}

std::string RenderAlerts(const std::vector<Alert>& alerts) {
  std::string out;
  JsonWriter w(&out);
  w.BeginObject().Key("status").String("success").Key("data").BeginObject().Key("alerts").BeginArray();
  for (const Alert& a : alerts) {
    if (a.state != AlertState::kInactive) WriteAlert(w, a);
  }
  w.EndArray().EndObject().EndObject();
  return out;
}

std::string RenderRules(const std::vector<GroupStatus>& groups) {
  std::string out;
  JsonWriter w(&out);
  w.BeginObject().Key("status").String("success").Key("data").BeginObject().Key("groups").BeginArray();
  for (const GroupStatus& g : groups) {
    w.BeginObject();
    w.Key("name").String(g.name);
    w.Key("file").String(g.file);
    w.Key("rules").BeginArray();
    for (const RuleStatus& r : g.rules) {
      w.BeginObject();
      const bool alerting = r.rule.kind == RuleKind::kAlerting;
      if (alerting) {
        AlertState state = AlertState::kInactive;
        for (const Alert& a : r.alerts) {
          if (a.state == AlertState::kFiring || (a.state == AlertState::kPending && state == AlertState::kInactive)) {
            state = a.state;
          }
        }
        w.Key("state").String(AlertStateName(state));
      }
      w.Key("name").String(r.rule.name);
      w.Key("query").String(r.rule.expr_text);
      if (alerting) {
        w.Key("duration").Double(static_cast<double>(r.rule.for_ms) / 1000.0);
        w.Key("keepFiringFor").Double(static_cast<double>(r.rule.keep_firing_for_ms) / 1000.0);
      }
      w.Key("labels").BeginObject();
      for (const auto& [k, v] : r.rule.labels) w.Key(k).String(v.text());
      w.EndObject();
      if (alerting) {
        w.Key("annotations").BeginObject();
        for (const auto& [k, v] : r.rule.annotations) w.Key(k).String(v.text());
        w.EndObject();
        w.Key("alerts").BeginArray();
        for (const Alert& a : r.alerts) {
          if (a.state != AlertState::kInactive) WriteAlert(w, a);
        }
        w.EndArray();
      }
      w.Key("health").String(r.health);
      if (!r.last_error.empty()) w.Key("lastError").String(r.last_error);
      w.Key("evaluationTime").Double(r.evaluation_seconds);
      w.Key("lastEvaluation").String(TimeOrZero(r.last_evaluation_ms));
      w.Key("type").String(alerting ? "alerting" : "recording");
      w.EndObject();
    }
    w.EndArray();
    w.Key("interval").Double(static_cast<double>(g.interval_ms) / 1000.0);
    w.Key("limit").Int(0);
    w.Key("evaluationTime").Double(g.evaluation_seconds);
    w.Key("lastEvaluation").String(TimeOrZero(g.last_evaluation_ms));
    w.EndObject();
  }
  w.EndArray().EndObject().EndObject();
  return out;
}

std::string RenderHistory(const std::vector<Transition>& transitions) {
  std::string out;
  JsonWriter w(&out);
  w.BeginObject().Key("transitions").BeginArray();
  for (const Transition& t : transitions) {
    w.BeginObject();
    w.Key("time").String(FormatRfc3339Millis(t.time_ms));
    w.Key("group").String(t.group);
    w.Key("alertname").String(t.alertname);
    w.Key("labels");
    WriteLabels(w, t.labels);
    w.Key("from").String(t.from);
    w.Key("to").String(t.to);
    w.Key("value").Double(t.value);  // null when unknown (NaN)
    w.EndObject();
  }
  w.EndArray().EndObject();
  return out;
}

std::string RenderSilences(const std::vector<Silence>& silences, int64_t now_ms) {
  std::string out;
  JsonWriter w(&out);
  w.BeginArray();
  for (const Silence& s : silences) {
    w.BeginObject();
    w.Key("id").String(s.id);
    w.Key("status").BeginObject().Key("state").String(SilenceStateName(StateAt(s, now_ms))).EndObject();
    w.Key("updatedAt").String(FormatRfc3339Millis(s.updated_at_ms));
    w.Key("matchers").BeginArray();
    for (const SilenceMatcher& m : s.matchers) {
      w.BeginObject();
      w.Key("name").String(m.name);
      w.Key("value").String(m.value);
      w.Key("isRegex").Bool(m.is_regex);
      w.Key("isEqual").Bool(m.is_equal);
      w.EndObject();
    }
    w.EndArray();
    w.Key("startsAt").String(FormatRfc3339Millis(s.starts_at_ms));
    w.Key("endsAt").String(FormatRfc3339Millis(s.ends_at_ms));
    w.Key("createdBy").String(s.created_by);
    w.Key("comment").String(s.comment);
    w.EndObject();
  }
  w.EndArray();
  return out;
}

ApiReply HandleHistory(const TransitionLog& log, std::string_view query) {
  size_t limit = kDefaultHistoryLimit;
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view param = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    const size_t eq = param.find('=');
    if (param.substr(0, eq) != "limit") continue;
    const std::string_view v = eq == std::string_view::npos ? std::string_view() : param.substr(eq + 1);
    uint64_t n = 0;
    auto r = std::from_chars(v.data(), v.data() + v.size(), n);
    if (v.empty() || r.ec != std::errc() || r.ptr != v.data() + v.size() || n == 0) {
      return ErrorReply(InvalidArgument("limit must be a positive integer, got \"" + std::string(v) + "\""));
    }
    limit = static_cast<size_t>(std::min<uint64_t>(n, log.capacity()));
  }
  return {200, RenderHistory(log.Recent(limit))};
}

ApiReply HandlePostSilence(SilenceStore& silences, std::string_view body, int64_t now_ms) {
  simdjson::dom::parser parser;
  simdjson::dom::object obj;
  if (parser.parse(body.data(), body.size()).get_object().get(obj) != simdjson::SUCCESS) {
    return ErrorReply(InvalidArgument("the body must be a JSON object (an Alertmanager postableSilence)"));
  }
  Silence s;
  s.starts_at_ms = now_ms;
  bool have_end = false;
  for (auto field : obj) {
    const std::string_view key = field.key;
    std::string_view text;
    if (key == "matchers") {
      simdjson::dom::array arr;
      if (field.value.get_array().get(arr) != simdjson::SUCCESS) {
        return ErrorReply(InvalidArgument("\"matchers\" must be a list of {name, value, isRegex, isEqual}"));
      }
      for (auto m : arr) {
        SilenceMatcher sm;
        simdjson::dom::object mo;
        if (m.get_object().get(mo) != simdjson::SUCCESS) return ErrorReply(InvalidArgument("a matcher must be an object"));
        std::string_view name, value;
        if (mo["name"].get_string().get(name) != simdjson::SUCCESS ||
            mo["value"].get_string().get(value) != simdjson::SUCCESS) {
          return ErrorReply(InvalidArgument("a matcher needs string \"name\" and \"value\""));
        }
        sm.name = std::string(name);
        sm.value = std::string(value);
        bool b;
        if (mo["isRegex"].get_bool().get(b) == simdjson::SUCCESS) sm.is_regex = b;
        if (mo["isEqual"].get_bool().get(b) == simdjson::SUCCESS) sm.is_equal = b;
        s.matchers.push_back(std::move(sm));
      }
    } else if (key == "startsAt" || key == "endsAt") {
      if (field.value.get_string().get(text) != simdjson::SUCCESS) {
        return ErrorReply(InvalidArgument(Quoted(key) + " must be an RFC 3339 time string"));
      }
      auto t = feedback::ParseRfc3339Millis(text);
      if (!t) return ErrorReply(InvalidArgument(Quoted(key) + " is not an RFC 3339 time: " + std::string(text)));
      if (key == "startsAt") {
        s.starts_at_ms = *t;
      } else {
        s.ends_at_ms = *t;
        have_end = true;
      }
    } else if (key == "createdBy" || key == "comment" || key == "id") {
      if (field.value.get_string().get(text) != simdjson::SUCCESS) {
        return ErrorReply(InvalidArgument(Quoted(key) + " must be a string"));
      }
      (key == "createdBy" ? s.created_by : key == "comment" ? s.comment : s.id) = std::string(text);
    } else {
      return ErrorReply(InvalidArgument("unknown field \"" + std::string(key) +
                                        "\" (known: id, matchers, startsAt, endsAt, createdBy, comment)"));
    }
  }
  if (!have_end) return ErrorReply(InvalidArgument("\"endsAt\" is required"));
  auto id = silences.Add(std::move(s), now_ms);
  if (!id.ok()) return ErrorReply(id.status());
  ApiReply r;
  JsonWriter w(&r.body);
  w.BeginObject().Key("silenceID").String(*id).EndObject();
  return r;
}

ApiReply HandleDeleteSilence(SilenceStore& silences, std::string_view id, int64_t now_ms) {
  const Status s = silences.Expire(id, now_ms);
  if (!s.ok()) return ErrorReply(s);
  ApiReply r;
  JsonWriter w(&r.body);
  w.BeginObject().Key("silenceID").String(id).Key("status").BeginObject().Key("state").String("expired").EndObject().EndObject();
  return r;
}

}  // namespace shelfwatch::alert
