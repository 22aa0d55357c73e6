// Command-line flags for the shelfwatch subcommands: --name value, --name=value, repeated
// flags, boolean switches, and generated help. Not thread-safe (used once, in main).
#pragma once

#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace shelfwatch::cli {

class Flags {
 public:
  struct Spec {
    Spec(std::string n, std::string v, std::string h, std::string d = "", bool r = false)
        : name(std::move(n)), value_name(std::move(v)), help(std::move(h)), default_value(std::move(d)), repeated(r) {}
    std::string name;        // without dashes
    std::string value_name;  // "" for a boolean switch
    std::string help;
    std::string default_value;
    bool repeated = false;
  };

  Flags(std::string command, std::string summary, std::vector<Spec> specs);

  // Parses argv after the subcommand. Unknown flags and missing values are errors.
  Status Parse(int argc, char** argv);
  // Reads settings from a YAML file whose keys are flag names (--drift-window is
  // `drift-window:` or `drift_window:`): scalars for single flags, true/false for switches,
  // lists for repeated flags; a list item may be a mapping {name, path, key: value...}, read
  // as "name=path,key=value,...". Settings given on the command line win. Every mistake is
  // appended to *errors as "FILE:LINE:COL: message"; returns false when there was any (the
  // valid settings are merged all the same).
  bool MergeYaml(const std::string& path, std::vector<std::string>* errors);
  // Where a flag's value came from, for messages: "FILE:LINE:COL: " for one read from YAML,
  // "--name: " otherwise.
  std::string Origin(const std::string& name) const;
  // The values as parsed (flags given; not defaults), for GET /v1/admin/config.
  const std::map<std::string, std::vector<std::string>>& values() const { return values_; }
  const std::vector<Spec>& specs() const { return specs_; }
  // Parse() for a subcommand's main: prints help (exit code 0) or the usage error (exit
  // code 2) and returns the code when the command should end now; nullopt to go on.
  std::optional<int> ParseCommandLine(int argc, char** argv);

  bool Has(const std::string& name) const;
  // kInvalidArgument "--NAME is required" for the first of `names` with no value.
  Status Require(std::initializer_list<const char*> names) const;
  std::string Get(const std::string& name) const;  // value or default
  std::vector<std::string> GetAll(const std::string& name) const;
  bool GetBool(const std::string& name) const;
  Result<double> GetDouble(const std::string& name) const;
  Result<long long> GetInt(const std::string& name, long long min, long long max) const;
  const std::vector<std::string>& positional() const { return positional_; }

  std::string Help() const;

 private:
  const Spec* Find(const std::string& name) const;
  std::string command_, summary_;
  std::vector<Spec> specs_;
  std::map<std::string, std::vector<std::string>> values_;
  std::map<std::string, std::string> origins_;  // flag -> "FILE:LINE:COL" for YAML values
  std::vector<std::string> positional_;
};

// The exit status of a command that failed with `st`: 2 for a usage error (kInvalidArgument),
// 1 for anything else.
inline int ExitCodeFor(const Status& st) { return st.code() == ErrorCode::kInvalidArgument ? 2 : 1; }

// Writes a progress line of a long command (training) to standard output at once.
void PrintProgressLine(std::string_view line);

}  // namespace shelfwatch::cli
