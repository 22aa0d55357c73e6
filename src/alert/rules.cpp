#include "alert/rules.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include "monitor/metrics.h"

namespace shelfwatch::alert {
namespace {

// Collects every problem of one file; the file is refused when any was found.
class Problems {
 public:
  explicit Problems(std::string_view file) : file_(file) {}
  void Add(const YAML::Mark& mark, const std::string& what) {
    std::string where = file_;
    if (mark.line >= 0) {
      where.append(":").append(std::to_string(mark.line + 1)).append(":").append(std::to_string(mark.column + 1));
    }
    lines_.push_back(where + ": " + what);
  }
  bool empty() const { return lines_.empty(); }
  Status ToStatus() const {
    std::string msg = "rule file refused (" + std::to_string(lines_.size()) + " problem" +
                      (lines_.size() == 1 ? "" : "s") + "):";
    for (const auto& l : lines_) msg += "\n  " + l;
    return InvalidArgument(msg);
  }

 private:
  std::string file_;
  std::vector<std::string> lines_;
};

bool IsScalar(const YAML::Node& n) { return n.IsDefined() && n.IsScalar(); }

// Where `key` itself stands in a map (node[key].Mark() is where its value starts).
YAML::Mark KeyMark(const YAML::Node& map, std::string_view key) {
  for (const auto& kv : map) {
    if (kv.first.IsScalar() && kv.first.Scalar() == key) return kv.first.Mark();
  }
  return map.Mark();
}

// A map's keys must all be known: Prometheus reads rule files strictly
// ("field x not found in type rulefmt.RuleGroup"), which catches typos like "anotations".
void CheckKeys(const YAML::Node& map, std::initializer_list<std::string_view> known, std::string_view what,
               Problems* problems) {
  for (const auto& kv : map) {
    const std::string key = kv.first.IsScalar() ? kv.first.Scalar() : "";
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      std::string list;
      for (auto k : known) list += (list.empty() ? "" : ", ") + std::string(k);
      problems->Add(kv.first.Mark(), "field \"" + key + "\" not allowed in " + std::string(what) + " (allowed: " + list + ")");
    }
  }
}

// Reads a duration field; 0 when absent.
int64_t ReadDuration(const YAML::Node& map, const char* key, Problems* problems) {
  const YAML::Node n = map[key];
  if (!n.IsDefined() || n.IsNull()) return 0;
  if (!n.IsScalar()) {
    problems->Add(n.Mark(), std::string("\"") + key + "\" must be a duration such as 5m");
    return 0;
  }
  auto d = ParseRuleDuration(n.Scalar());
  if (!d.ok()) {
    problems->Add(n.Mark(), std::string("\"") + key + "\": " + d.status().message());
    return 0;
  }
  return *d;
}

// labels / annotations: a map of string to string, names checked, values parsed as templates.
std::vector<std::pair<std::string, Template>> ReadTemplates(const YAML::Node& map, const char* key, bool templated,
                                                            Problems* problems) {
  std::vector<std::pair<std::string, Template>> out;
  const YAML::Node n = map[key];
  if (!n.IsDefined() || n.IsNull()) return out;
  if (!n.IsMap()) {
    problems->Add(n.Mark(), std::string("\"") + key + "\" must be a map of names to strings");
    return out;
  }
  for (const auto& kv : n) {
    const std::string name = kv.first.IsScalar() ? kv.first.Scalar() : "";
    if (!monitor::IsValidLabelName(name)) {
      problems->Add(kv.first.Mark(), std::string("invalid ") + (std::string_view(key) == "labels" ? "label" : "annotation") +
                                         " name \"" + name + "\"");
      continue;
    }
    if (!kv.second.IsScalar()) {
      problems->Add(kv.second.Mark(), std::string(key) + "." + name + " must be a string");
      continue;
    }
    if (!templated) {
      out.emplace_back(name, Template::Literal(kv.second.Scalar()));
      continue;
    }
    auto t = Template::Parse(kv.second.Scalar());
    if (!t.ok()) {
      problems->Add(kv.second.Mark(), std::string(key) + "." + name + ": " + t.status().message());
      continue;
    }
    out.emplace_back(name, std::move(t).value());
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  return out;
}

void ReadRule(const YAML::Node& node, const std::string& file, std::vector<Rule>* rules, Problems* problems) {
  if (!node.IsMap()) {
    problems->Add(node.Mark(), "a rule must be a map with \"alert\" or \"record\", and \"expr\"");
    return;
  }
  CheckKeys(node, {"alert", "record", "expr", "for", "keep_firing_for", "labels", "annotations"}, "a rule", problems);
  Rule rule;
  rule.file = file;
  rule.line = node.Mark().line + 1;
  const YAML::Node alert = node["alert"], record = node["record"], expr = node["expr"];
  if (alert.IsDefined() && record.IsDefined()) {
    problems->Add(node.Mark(), "only one of \"record\" and \"alert\" may be set");
    return;
  }
  if (!alert.IsDefined() && !record.IsDefined()) {
    problems->Add(node.Mark(), "one of \"record\" or \"alert\" must be set");
    return;
  }
  const YAML::Node& name = alert.IsDefined() ? alert : record;
  rule.kind = alert.IsDefined() ? RuleKind::kAlerting : RuleKind::kRecording;
  if (!IsScalar(name) || name.Scalar().empty()) {
    problems->Add(name.Mark(), std::string("\"") + (alert.IsDefined() ? "alert" : "record") + "\" must be a non-empty name");
    return;
  }
  rule.name = name.Scalar();
  if (rule.kind == RuleKind::kRecording && !monitor::IsValidMetricName(rule.name)) {
    problems->Add(name.Mark(), "invalid recording rule name \"" + rule.name + "\" (must be a metric name)");
  }
  if (!IsScalar(expr) || expr.Scalar().empty()) {
    problems->Add(expr.IsDefined() ? expr.Mark() : node.Mark(), "field \"expr\" must be set in rule " + rule.name);
  } else {
    rule.expr_text = expr.Scalar();
    auto parsed = monitor::ParsePromql(rule.expr_text);
    if (!parsed.ok()) {
      problems->Add(expr.Mark(), "rule " + rule.name + ": expr: " + parsed.status().message());
    } else if ((*parsed)->type() == monitor::ValueType::kMatrix) {
      problems->Add(expr.Mark(), "rule " + rule.name + ": expr must give an instant vector or a scalar, not a range vector");
    } else {
      rule.expr = std::move(parsed).value();
    }
  }
  if (rule.kind == RuleKind::kRecording) {
    for (const char* k : {"for", "keep_firing_for", "annotations"}) {
      if (node[k].IsDefined()) problems->Add(KeyMark(node, k), std::string("invalid field \"") + k + "\" in recording rule");
    }
  } else {
    rule.for_ms = ReadDuration(node, "for", problems);
    rule.keep_firing_for_ms = ReadDuration(node, "keep_firing_for", problems);
    rule.annotations = ReadTemplates(node, "annotations", true, problems);
  }
  rule.labels = ReadTemplates(node, "labels", rule.kind == RuleKind::kAlerting, problems);
  for (const auto& [k, v] : rule.labels) {
    if (k == "alertname" && rule.kind == RuleKind::kAlerting) {
      problems->Add(KeyMark(node, "labels"), "label \"alertname\" is set from the rule's name and may not be given");
    }
  }
  rules->push_back(std::move(rule));
}

}  // namespace

Result<int64_t> ParseRuleDuration(std::string_view text) {
  if (text == "0") return int64_t{0};
  auto d = monitor::ParsePromqlDuration(text);
  if (!d.ok()) return InvalidArgument("not a valid duration string: \"" + std::string(text) + "\"");
  return *d;
}

Result<RuleSet> ParseRules(std::string_view yaml_text, std::string_view file, const RuleLoadOptions& options) {
  Problems problems(file);
  RuleSet set;
  // yaml-cpp reports problems by exception; none leaves this function.
  try {
    const YAML::Node root = YAML::Load(std::string(yaml_text));
    if (!root.IsDefined() || root.IsNull()) return set;  // an empty file holds no groups
    if (!root.IsMap()) {
      problems.Add(root.Mark(), "a rule file must be a map with a \"groups\" list");
      return problems.ToStatus();
    }
    CheckKeys(root, {"groups"}, "a rule file", &problems);
    const YAML::Node groups = root["groups"];
    if (groups.IsDefined() && !groups.IsNull() && !groups.IsSequence()) {
      problems.Add(groups.Mark(), "\"groups\" must be a list");
    } else if (groups.IsDefined()) {
      std::set<std::string> names;
      for (const YAML::Node& g : groups) {
        if (!g.IsMap()) {
          problems.Add(g.Mark(), "a group must be a map with \"name\" and \"rules\"");
          continue;
        }
        CheckKeys(g, {"name", "interval", "rules"}, "a rule group", &problems);
        RuleGroup group;
        group.file = std::string(file);
        const YAML::Node name = g["name"];
        if (!IsScalar(name) || name.Scalar().empty()) {
          problems.Add(name.IsDefined() ? name.Mark() : g.Mark(), "group name must not be empty");
        } else {
          group.name = name.Scalar();
          if (!names.insert(group.name).second) {
            problems.Add(name.Mark(), "group name \"" + group.name + "\" is repeated in the same file");
          }
        }
        group.interval_ms = options.default_interval_ms;
        if (g["interval"].IsDefined()) {
          const int64_t interval = ReadDuration(g, "interval", &problems);
          if (interval > 0) {
            group.interval_ms = interval;
          } else if (IsScalar(g["interval"]) && ParseRuleDuration(g["interval"].Scalar()).ok()) {
            problems.Add(g["interval"].Mark(), "group interval must be greater than 0");
          }
        }
        const YAML::Node rules = g["rules"];
        if (rules.IsDefined() && !rules.IsNull()) {
          if (!rules.IsSequence()) {
            problems.Add(rules.Mark(), "\"rules\" must be a list");
          } else {
            for (const YAML::Node& r : rules) ReadRule(r, group.file, &group.rules, &problems);
          }
        }
        set.groups.push_back(std::move(group));
      }
    }
  } catch (const YAML::Exception& e) {
    problems.Add(e.mark, e.msg);
  }
  if (!problems.empty()) return problems.ToStatus();
  return set;
}

Result<RuleSet> LoadRuleFiles(const std::vector<std::string>& paths, const RuleLoadOptions& options) {
  RuleSet all;
  std::set<std::string> names;
  for (const std::string& path : paths) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return NotFound("cannot read rule file " + path);
    std::stringstream text;
    text << in.rdbuf();
    if (in.bad()) return IoError("cannot read rule file " + path);
    auto set = ParseRules(text.str(), path, options);
    if (!set.ok()) return set.status();
    for (RuleGroup& g : set->groups) {
      if (!names.insert(g.name).second) {
        return InvalidArgument("rule file refused: " + path + ": group name \"" + g.name +
                               "\" is already used by another rule file");
      }
      all.groups.push_back(std::move(g));
    }
  }
  return all;
}

}  // namespace shelfwatch::alert
