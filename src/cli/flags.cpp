#include "cli/flags.h"

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

bool Flags::Has(const std::string& name) const { return values_.count(name) > 0; }

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

}  // namespace shelfwatch::cli
