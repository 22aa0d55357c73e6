#include "web/dashboard_assets.h"

namespace shelfwatch::web {

const Asset* FindAsset(std::string_view path) {
  if (path == "/" || path.empty()) path = "/index.html";
  for (const Asset& asset : AllAssets()) {
    if (asset.path == path) return &asset;
  }
  return nullptr;
}

namespace {

// The opaque part of an entity tag, quotes included, without a W/ prefix: the weak
// comparison of RFC 9110 8.8.3.2 compares only that.
std::string_view Opaque(std::string_view tag) {
  if (tag.substr(0, 2) == "W/") tag.remove_prefix(2);
  return tag;
}

}  // namespace

bool IfNoneMatchHits(std::string_view if_none_match, std::string_view etag) {
  // If-None-Match = "*" / #entity-tag; entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE, where etagc
  // may itself be a comma: walk the quoted strings rather than split on commas.
  const std::string_view v = if_none_match;
  size_t i = 0;
  const auto skip_separators = [&] {
    while (i < v.size() && (v[i] == ' ' || v[i] == '\t' || v[i] == ',')) ++i;
  };
  skip_separators();
  if (v.substr(i, 1) == "*") return true;
  while (i < v.size()) {
    const size_t start = i;
    if (v.substr(i, 2) == "W/") i += 2;
    if (i >= v.size() || v[i] != '"') return false;  // malformed: no tag matches
    const size_t close = v.find('"', i + 1);
    if (close == std::string_view::npos) return false;
    i = close + 1;
    if (Opaque(v.substr(start, i - start)) == Opaque(etag)) return true;
    skip_separators();
  }
  return false;
}

}  // namespace shelfwatch::web
