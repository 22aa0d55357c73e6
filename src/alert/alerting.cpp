#include "alert/alerting.h"

#include "common/clock.h"
#include "common/log.h"

namespace shelfwatch::alert {

Alerting::Alerting(const monitor::SeriesStore& store, monitor::Registry& registry, AlertingOptions options)
    : options_(std::move(options)), history_(options_.history_capacity), dispatcher_(registry) {
  evaluator_ = std::make_unique<RuleEvaluator>(store, registry, options_.evaluator, &dispatcher_, &silences_, &history_);
}

Alerting::~Alerting() { Stop(); }

Status Alerting::Open() {
  if (options_.state_path.empty()) return Status::Ok();
  SW_RETURN_IF_ERROR(history_.Open(options_.state_path));
  return silences_.Open(options_.state_path);
}

Status Alerting::Reload(const AlertingConfig& config) {
  auto rules = LoadRuleFiles(config.rule_files, config.load);
  if (!rules.ok()) return rules.status();
  return Reload(std::move(rules).value(), config.notifiers);
}

Status Alerting::Reload(RuleSet rules, std::vector<NotifierConfig> notifiers) {
  SW_RETURN_IF_ERROR(dispatcher_.Configure(std::move(notifiers)));  // validates before changing
  evaluator_->Reload(std::move(rules));
  return Status::Ok();
}

void Alerting::Start() {
  if (!options_.state_path.empty() && !restored_) {
    restored_ = true;
    const size_t n = evaluator_->RestoreState(history_.Recent(history_.capacity()), UnixMillis());
    if (n > 0) log::Info("alert states restored from the transition history", {{"alerts", std::to_string(n)}});
  }
  evaluator_->Start();
}

void Alerting::Stop() {
  evaluator_->Stop();
  dispatcher_.Stop();
}

ApiReply Alerting::Handle(std::string_view method, std::string_view path, std::string_view query,
                          std::string_view body, int64_t now_ms) {
  auto not_allowed = [&] {
    return ErrorReply(Status(ErrorCode::kMethodNotAllowed, std::string(method) + " is not allowed on " + std::string(path)));
  };
  if (path == "/v1/alerts") {
    if (method != "GET") return not_allowed();
    return {200, RenderAlerts(evaluator_->ActiveAlerts())};
  }
  if (path == "/v1/alerts/rules") {
    if (method != "GET") return not_allowed();
    return {200, RenderRules(evaluator_->Groups())};
  }
  if (path == "/v1/alerts/history") {
    if (method != "GET") return not_allowed();
    return HandleHistory(history_, query);
  }
  if (path == "/v1/alerts/silences") {
    if (method == "GET") return {200, RenderSilences(silences_.List(now_ms), now_ms)};
    if (method == "POST") return HandlePostSilence(silences_, body, now_ms);
    return not_allowed();
  }
  constexpr std::string_view kSilence = "/v1/alerts/silences/";
  if (path.substr(0, kSilence.size()) == kSilence && path.size() > kSilence.size()) {
    if (method != "DELETE") return not_allowed();
    return HandleDeleteSilence(silences_, path.substr(kSilence.size()), now_ms);
  }
  return ErrorReply(NotFound("no alert endpoint " + std::string(path)));
}

}  // namespace shelfwatch::alert
