// shelfwatch check-config FILE: validates a serve configuration file the way `serve --config`
// and a reload would read it, and points at the line of each mistake.
#include <cstdio>

#include "cli/commands.h"
#include "cli/serve_config.h"

namespace shelfwatch::cli {

int RunCheckConfig(int argc, char** argv) {
  if (argc != 1 || std::string(argv[0]) == "--help") {
    std::fprintf(argc == 1 ? stdout : stderr,
                 "usage: shelfwatch check-config FILE\n"
                 "Validates a YAML file of serve settings (the flags of `shelfwatch serve --help` as keys)\n"
                 "and the alert rule files it names. Prints each mistake as FILE:LINE:COL: message.\n"
                 "Exit 0 when valid, 1 when not, 2 for usage errors.\n");
    return argc == 1 ? 0 : 2;
  }
  Flags flags = ServeFlags();
  std::vector<std::string> errors;
  std::string path = argv[0];
  ServeConfig config;
  flags.MergeYaml(path, &errors);
  BuildServeConfig(flags, &config, &errors);
  for (const auto& e : errors) std::printf("%s\n", e.c_str());
  if (!errors.empty()) {
    std::printf("%s: %zu mistake%s\n", path.c_str(), errors.size(), errors.size() == 1 ? "" : "s");
    return 1;
  }
  std::printf("%s: valid (%zu settings, %zu catalogs, %zu rule files)\n", path.c_str(), flags.values().size(),
              config.catalogs.size(), config.alerting.rule_files.size());
  return 0;
}

}  // namespace shelfwatch::cli
