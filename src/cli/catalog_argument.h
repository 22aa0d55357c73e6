// The --catalog argument of the offline commands (train embeddings, train ranker): a catalog
// spec ("NAME=PATH[,opts]", pipeline/catalog_registry.h) or a bare path, which gets the name
// `default_name`.
// Thread-safety: none needed (called once per command). Cost: the catalog load and index build.
#pragma once

#include <memory>
#include <string>

#include "common/status.h"
#include "pipeline/catalog_registry.h"

namespace shelfwatch::cli {

// The loaded catalog. kInvalidArgument for a spec that does not parse (a usage error); other
// codes when the file cannot be loaded or indexed.
Result<std::shared_ptr<const pipeline::CatalogSnapshot>> LoadCatalogArgument(std::string text,
                                                                              const std::string& default_name);

}  // namespace shelfwatch::cli
