// The recommendation route of the API and the feedback path into the recommenders.
#include <charconv>
#include <unordered_set>

#include "common/json_writer.h"
#include "common/request_id.h"
#include "server/api.h"

namespace shelfwatch::server {

namespace {

// "a,b,c" -> {"a","b","c"}; empty parts are skipped.
std::vector<std::string> SplitList(std::string_view text) {
  std::vector<std::string> out;
  while (!text.empty()) {
    size_t comma = text.find(',');
    std::string_view part = text.substr(0, comma);
    if (!part.empty()) out.emplace_back(part);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return out;
}

}  // namespace

void Api::FeedRecommenders(const std::vector<feedback::Event>& events) {
  if (!recommenders_) return;
  for (const auto& e : events) {
    if (!e.attributed) continue;
    recommend::RecommendService* service = recommenders_->Get(e.catalog);
    if (!service) continue;
    auto behavior = recommend::ParseBehavior(feedback::EventTypeName(e.type));
    if (!behavior) continue;  // impressions are not interactions
    // A malformed id was already refused by the event parser's own checks or is ignored here:
    // the event is stored either way.
    (void)service->OnEvent(e.user_id, e.session_id, e.item_id, *behavior, e.timestamp_ms / 1000);
  }
}

void Api::Recommend(std::string_view catalog, const HttpRequest& request, HttpResponse& response) {
  auto snap = catalogs_->Get(catalog);
  if (!snap.ok()) return SetError(response, snap.status());
  if (!recommenders_ || !recommenders_->Declared(catalog)) {
    return SetError(response, NotFound("catalog '" + std::string(catalog) +
                                       "' has no recommender (serve it with --recommender " + std::string(catalog) +
                                       "=EVENTS.csv)"));
  }
  recommend::RecommendService* service = recommenders_->Get(catalog);
  if (!service) return SetError(response, Status(ErrorCode::kUnavailable, "the recommender is still loading"));

  thread_local std::vector<std::pair<std::string, std::string>> params;
  std::string error;
  if (!ParseQueryString(request.query, &params, &error)) return SetError(response, InvalidArgument(error));
  recommend::RecommendRequest rq;
  for (const auto& [key, value] : params) {
    if (key == "user") {
      rq.user_id = value;
    } else if (key == "session") {
      rq.session_id = value;
    } else if (key == "item") {
      rq.item_id = value;
    } else if (key == "items") {
      rq.session_items = SplitList(value);
    } else if (key == "k") {
      uint64_t k = 0;
      auto r = std::from_chars(value.data(), value.data() + value.size(), k);
      if (r.ec != std::errc() || r.ptr != value.data() + value.size() || k < 1 || k > options_.max_k) {
        return SetError(response, InvalidArgument("k must be an integer between 1 and " + std::to_string(options_.max_k) +
                                                  " (got '" + value + "')"));
      }
      rq.k = k;
    } else if (key == "exclude") {
      auto ex = recommend::ParseExclude(value);
      if (!ex.ok()) return SetError(response, ex.status());
      rq.exclude = *ex;
    }
  }
  auto recs = service->Recommend(rq);
  if (!recs.ok()) return SetError(response, recs.status());

  const catalog::Catalog& cat = *(*snap)->catalog;
  std::string request_id = NewRequestId();
  thread_local std::vector<uint32_t> docs;
  docs.clear();
  std::unordered_set<std::string_view> categories;
  JsonWriter w(&response.body);
  w.BeginObject().Key("request_id").String(request_id).Key("catalog").String(catalog);
  w.Key("variant").String("default").Key("model_versions").String(*recs->model_versions);
  w.Key("personalised").Bool(recs->personalised);
  if (recs->unknown_user) w.Key("unknown_user").Bool(true);
  if (recs->unknown_item) w.Key("unknown_item").Bool(true);
  w.Key("results").BeginArray();
  for (const auto& r : recs->results) {
    w.BeginObject().Key("id").String(r.item_id).Key("score").Float(r.score).Key("reason").String(r.reason);
    if (auto doc = cat.Find(r.item_id)) {
      docs.push_back(*doc);
      const catalog::Product& p = cat.product(*doc);
      if (!p.title.empty()) w.Key("title").String(p.title);
      if (!p.category_path.empty()) {
        w.Key("category").String(p.category_path.back());
        categories.insert(p.category_path.back());
      }
    }
    w.EndObject();
  }
  w.EndArray().EndObject();
  response.headers.emplace_back("X-Request-Id", request_id);

  if (monitoring_) {
    RecommendObservation o;
    o.catalog = catalog;
    o.model_versions = *recs->model_versions;  // recs holds them to the end of this handler
    o.request_id = std::move(request_id);
    if (!rq.user_id.empty()) o.context += "user=" + rq.user_id;
    if (!rq.session_id.empty()) o.context += (o.context.empty() ? "" : " ") + std::string("session=") + rq.session_id;
    if (!rq.item_id.empty()) o.context += (o.context.empty() ? "" : " ") + std::string("item=") + rq.item_id;
    for (const auto& r : recs->results) {
      o.item_ids.push_back(r.item_id);
      o.scores.push_back(r.score);
    }
    if (!recs->results.empty()) o.top_reason = recs->results.front().reason;
    o.personalised = recs->personalised;
    o.docs = docs;
    o.distinct_categories = categories.size();
    monitoring_->RecordRecommend(std::move(o));
  }
}

}  // namespace shelfwatch::server
