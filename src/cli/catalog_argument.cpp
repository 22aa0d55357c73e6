#include "cli/catalog_argument.h"

namespace shelfwatch::cli {

Result<std::shared_ptr<const pipeline::CatalogSnapshot>> LoadCatalogArgument(std::string text,
                                                                              const std::string& default_name) {
  // A bare path, with or without options after it, gets a catalog name.
  if (text.substr(0, text.find(',')).find('=') == std::string::npos) text = default_name + "=" + text;
  auto spec = pipeline::ParseCatalogSpec(text);
  if (!spec.ok()) return spec.status();
  pipeline::CatalogRegistry catalogs;
  const std::string name = spec->name;
  SW_RETURN_IF_ERROR(catalogs.Declare(std::move(spec).value()));
  if (Status st = catalogs.Load(name); !st.ok()) {
    // A file that cannot be loaded is not a usage error.
    return st.code() == ErrorCode::kInvalidArgument ? Status(ErrorCode::kFailedPrecondition, st.message()) : st;
  }
  return catalogs.Get(name);
}

}  // namespace shelfwatch::cli
