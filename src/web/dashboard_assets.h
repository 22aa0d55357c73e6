// The dashboard's files (web/), built with npm and esbuild at build time and embedded in the
// binary, so `shelfwatch serve` shows the dashboard with nothing else installed and no network.
//
// The page reads only the server's own JSON APIs (same origin); routes are in the URL's hash
// (#/overview, #/business?catalog=...), so the server answers every page with index.html.
// Serving: answer GET/HEAD with `body` and `content_type`, send `ETag: <etag>` and
// `Cache-Control: no-cache` (revalidate each time: index.html names each asset with its content
// hash as a query string, so an old script never runs with a new page), and answer 304 with an
// empty body when IfNoneMatchHits(request's If-None-Match, etag).
//
// Thread-safety: immutable static data; every call is safe from any thread.
// Cost: FindAsset is a scan of a handful of entries (O(assets)), no allocation; the bodies are
// static storage (a little over 100 KiB in all).
#pragma once

#include <span>
#include <string_view>

namespace shelfwatch::web {

struct Asset {
  std::string_view path;          // "/index.html", "/assets/app.js", "/assets/app.css", ...
  std::string_view content_type;  // "text/html; charset=utf-8", ...
  std::string_view body;
  std::string_view etag;          // a strong validator, quoted: "\"3f2a...\""
};

// The asset served at a request path (without its query string). "/" and "/index.html" give
// the page; nullptr for anything else.
const Asset* FindAsset(std::string_view path);

// Every embedded asset, index.html included, sorted by path.
std::span<const Asset> AllAssets();

// Whether an If-None-Match header value matches `etag` (RFC 9110 13.1.2: "*", or a
// comma-separated list of entity tags compared weakly, so W/"x" matches "x"). False for "".
bool IfNoneMatchHits(std::string_view if_none_match, std::string_view etag);

}  // namespace shelfwatch::web
