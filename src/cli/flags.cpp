#include "cli/flags.h"

#include <yaml-cpp/yaml.h>

#include <cstdio>
#include <cstdlib>

namespace shelfwatch::cli {

Flags::Flags(std::string command, std::string summary, std::vector<Spec> specs)
    : command_(std::move(command)), summary_(std::move(summary)), specs_(std::move(specs)) {
  specs_.push_back({"help", "", "show this help", "", false});
}

const Flags::Spec* Flags::Find(const std::string& name) const {
  for (const auto& s : specs_) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

Status Flags::Parse(int argc, char** argv) {
  for (int i = 0; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--", 0) != 0 || arg.size() == 2) {
      positional_.push_back(arg);
      continue;
    }
    std::string name = arg.substr(2), value;
    bool has_value = false;
    size_t eq = name.find('=');
    if (eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    const Spec* spec = Find(name);
    if (!spec) return InvalidArgument("unknown flag --" + name + " for '" + command_ + "' (see --help)");
    if (spec->value_name.empty()) {
      if (has_value && value != "true" && value != "false") {
        return InvalidArgument("--" + name + " is a switch; it takes no value");
      }
      values_[name] = {has_value ? value : "true"};
      continue;
    }
    if (!has_value) {
      if (i + 1 >= argc) return InvalidArgument("--" + name + " needs a value (" + spec->value_name + ")");
      value = argv[++i];
    }
    if (spec->repeated) {
      values_[name].push_back(value);
    } else {
      values_[name] = {value};
    }
  }
  return Status::Ok();
}

std::optional<int> Flags::ParseCommandLine(int argc, char** argv) {
  if (Status st = Parse(argc, argv); !st.ok()) {
    std::fprintf(stderr, "shelfwatch %s: %s\n", command_.c_str(), st.message().c_str());
    return 2;
  }
  if (GetBool("help")) {
    std::fputs(Help().c_str(), stdout);
    return 0;
  }
  return std::nullopt;
}

namespace {

std::string Where(const std::string& path, const YAML::Mark& mark) {
  return path + ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
}

// A list item written as a mapping: {name: x, path: p, k1: 0.2} -> "x=p,k1=0.2".
bool SpecFromMapping(const YAML::Node& item, std::string* out, std::string* error) {
  std::string name, path, rest;
  for (const auto& kv : item) {
    if (!kv.second.IsScalar()) {
      *error = "'" + kv.first.as<std::string>() + "' must be a plain value";
      return false;
    }
    std::string k = kv.first.as<std::string>(), v = kv.second.as<std::string>();
    if (k == "name") {
      name = v;
    } else if (k == "path") {
      path = v;
    } else {
      rest += "," + k + "=" + v;
    }
  }
  if (name.empty() || path.empty()) {
    *error = "a mapping item needs name and path";
    return false;
  }
  *out = name + "=" + path + rest;
  return true;
}

}  // namespace

bool Flags::MergeYaml(const std::string& path, std::vector<std::string>* errors) {
  size_t before = errors->size();
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    errors->push_back(path + ": cannot read the file");
    return false;
  } catch (const YAML::Exception& e) {
    errors->push_back(Where(path, e.mark) + ": " + e.msg);
    return false;
  }
  if (root.IsNull()) return true;  // an empty file sets nothing
  if (!root.IsMap()) {
    errors->push_back(Where(path, root.Mark()) + ": the file must be a mapping of setting: value");
    return false;
  }
  std::map<std::string, std::vector<std::string>> read;
  for (const auto& kv : root) {
    std::string where = Where(path, kv.first.Mark());
    std::string name = kv.first.IsScalar() ? kv.first.as<std::string>() : "";
    for (char& c : name) c = c == '_' ? '-' : c;
    const Spec* spec = Find(name);
    if (!spec || name == "help" || name == "config") {
      errors->push_back(where + ": unknown setting '" + name + "' (settings are the flags of --help)");
      continue;
    }
    if (read.count(name)) {
      errors->push_back(where + ": '" + name + "' is set twice");
      continue;
    }
    const YAML::Node& v = kv.second;
    std::vector<std::string> values;
    if (v.IsSequence()) {
      if (!spec->repeated) {
        errors->push_back(where + ": '" + name + "' takes one value, not a list");
        continue;
      }
      for (const auto& item : v) {
        std::string text, error;
        if (item.IsScalar()) {
          values.push_back(item.as<std::string>());
        } else if (item.IsMap() && SpecFromMapping(item, &text, &error)) {
          values.push_back(text);
        } else {
          errors->push_back(Where(path, item.Mark()) + ": " + (error.empty() ? "a list item must be a value" : error));
        }
      }
    } else if (v.IsScalar()) {
      std::string text = v.as<std::string>();
      if (spec->value_name.empty() && text != "true" && text != "false") {
        errors->push_back(Where(path, v.Mark()) + ": '" + name + "' is a switch: true or false");
        continue;
      }
      values.push_back(text);
    } else if (v.IsMap() && spec->repeated) {
      std::string text, error;
      if (!SpecFromMapping(v, &text, &error)) {
        errors->push_back(Where(path, v.Mark()) + ": " + error);
        continue;
      }
      values.push_back(text);
    } else {
      errors->push_back(Where(path, v.Mark()) + ": '" + name + "' needs a value");
      continue;
    }
    read[name] = std::move(values);
    origins_[name] = Where(path, v.Mark());
  }
  // The good settings are kept even when others are wrong, so that a check can go on to
  // report the mistakes in their values too.
  for (auto& [name, values] : read) {
    if (values_.count(name)) {
      origins_.erase(name);  // the command line wins
      continue;
    }
    values_[name] = std::move(values);
  }
  return errors->size() == before;
}

std::string Flags::Origin(const std::string& name) const {
  auto it = origins_.find(name);
  return it == origins_.end() ? "--" + name + ": " : it->second + ": ";
}

bool Flags::Has(const std::string& name) const { return values_.count(name) > 0; }

Status Flags::Require(std::initializer_list<const char*> names) const {
  for (const char* name : names) {
    if (Get(name).empty()) return InvalidArgument(std::string("--") + name + " is required");
  }
  return Status::Ok();
}

std::string Flags::Get(const std::string& name) const {
  auto it = values_.find(name);
  if (it != values_.end() && !it->second.empty()) return it->second.back();
  const Spec* s = Find(name);
  return s ? s->default_value : "";
}

std::vector<std::string> Flags::GetAll(const std::string& name) const {
  auto it = values_.find(name);
  return it == values_.end() ? std::vector<std::string>() : it->second;
}

bool Flags::GetBool(const std::string& name) const { return Get(name) == "true"; }

Result<double> Flags::GetDouble(const std::string& name) const {
  std::string v = Get(name);
  char* end = nullptr;
  double d = std::strtod(v.c_str(), &end);
  if (v.empty() || *end != 0) return InvalidArgument("--" + name + " must be a number (got '" + v + "')");
  return d;
}

Result<long long> Flags::GetInt(const std::string& name, long long min, long long max) const {
  std::string v = Get(name);
  char* end = nullptr;
  long long x = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || *end != 0 || x < min || x > max) {
    return InvalidArgument("--" + name + " must be an integer between " + std::to_string(min) + " and " +
                           std::to_string(max) + " (got '" + v + "')");
  }
  return x;
}

std::string Flags::Help() const {
  std::string out = "usage: shelfwatch " + command_ + " [flags]\n\n" + summary_ + "\n\nflags:\n";
  for (const auto& s : specs_) {
    std::string left = "  --" + s.name + (s.value_name.empty() ? "" : " " + s.value_name);
    if (left.size() < 30) left.resize(30, ' ');
    else left += "\n" + std::string(30, ' ');
    out += left + s.help;
    if (!s.default_value.empty()) out += " (default: " + s.default_value + ")";
    if (s.repeated) out += " [repeatable]";
    out += "\n";
  }
  return out;
}

void PrintProgressLine(std::string_view line) {
  std::printf("%.*s\n", static_cast<int>(line.size()), line.data());
  std::fflush(stdout);
}

}  // namespace shelfwatch::cli
