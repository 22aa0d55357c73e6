// The format-specific halves of LoadCatalog: each walks a file's text and hands rows to a
// CatalogBuilder. Internal to the catalog module. Not thread-safe; one call per load.
#pragma once

#include <string>
#include <string_view>

#include "catalog/catalog.h"
#include "catalog/catalog_builder.h"
#include "common/progress.h"
#include "common/status.h"

namespace shelfwatch::catalog {

// CSV with a header row. Errors: kInvalidArgument for an unusable header or mapping, or the
// first bad row in strict mode.
Status LoadCsvRows(std::string_view text, const std::string& path, const LoadOptions& options,
                   CatalogBuilder& builder, ProgressBar& progress);

// One JSON object per line. Errors: kInvalidArgument for a mapping naming keys that no object
// has, or the first bad row in strict mode.
Status LoadJsonlRows(std::string_view text, const std::string& path, const LoadOptions& options,
                     CatalogBuilder& builder, ProgressBar& progress);

// An interaction log as a catalog: each distinct item_id (first appearance) with its
// category_id. Errors: kInvalidArgument without an item id column.
Status LoadEventRows(std::string_view text, const std::string& path, const LoadOptions& options,
                     CatalogBuilder& builder, ProgressBar& progress);

}  // namespace shelfwatch::catalog
