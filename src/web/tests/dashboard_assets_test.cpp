#include "web/dashboard_assets.h"

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <set>
#include <string>

namespace shelfwatch::web {
namespace {

TEST(DashboardAssets, RootServesThePageThatLoadsTheBundle) {
  const Asset* root = FindAsset("/");
  ASSERT_NE(root, nullptr);
  EXPECT_EQ(root, FindAsset("/index.html"));
  EXPECT_EQ(root->content_type, "text/html; charset=utf-8");
  EXPECT_NE(root->body.find("<!doctype html>"), std::string_view::npos);
  // The page names its script and stylesheet with a content hash as the query string, and
  // each of them is embedded at the path it names.
  for (std::string_view asset : {"/assets/app.js", "/assets/app.css"}) {
    const size_t at = root->body.find(std::string(asset) + "?v=");
    EXPECT_NE(at, std::string_view::npos) << asset;
    const Asset* found = FindAsset(asset);
    ASSERT_NE(found, nullptr) << asset;
    EXPECT_GT(found->body.size(), 1000u) << asset;
  }
  EXPECT_EQ(FindAsset("/assets/app.js")->content_type, "text/javascript; charset=utf-8");
  EXPECT_EQ(FindAsset("/assets/app.css")->content_type, "text/css; charset=utf-8");
}

TEST(DashboardAssets, EmbeddedBytesAreTheBundlersOutput) {
  // The generated C++ escapes every byte; any slip would corrupt the script in the browser.
  size_t checked = 0;
  for (const Asset& asset : AllAssets()) {
    std::ifstream in(std::string(SHELFWATCH_DASHBOARD_DIST) + std::string(asset.path), std::ios::binary);
    ASSERT_TRUE(in) << asset.path;
    const std::string file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(asset.body.size(), file.size()) << asset.path;
    EXPECT_TRUE(asset.body == file) << asset.path;
    ++checked;
  }
  EXPECT_EQ(checked, 4u);
}

TEST(DashboardAssets, NoNetworkAtRunTime) {
  // No CDN, no external font: nothing the page loads may name another origin.
  for (const Asset& asset : AllAssets()) {
    if (asset.path == "/assets/licenses.txt") continue;  // cites the projects' home pages
    for (std::string_view needle : {"src=\"http", "href=\"http", "url(http", "@import"}) {
      EXPECT_EQ(asset.body.find(needle), std::string_view::npos) << asset.path << " holds " << needle;
    }
  }
}

TEST(DashboardAssets, BundledLicencesShip) {
  const Asset* licences = FindAsset("/assets/licenses.txt");
  ASSERT_NE(licences, nullptr);
  EXPECT_NE(licences->body.find("uplot"), std::string_view::npos);
  EXPECT_NE(licences->body.find("MIT"), std::string_view::npos);
}

TEST(DashboardAssets, UnknownPathsAreNotFound) {
  EXPECT_EQ(FindAsset("/assets/missing.js"), nullptr);
  EXPECT_EQ(FindAsset("/assets/"), nullptr);
  EXPECT_EQ(FindAsset("/v1/catalogs"), nullptr);
  EXPECT_EQ(FindAsset("/index.html/"), nullptr);
}

TEST(DashboardAssets, EachAssetHasItsOwnStrongEtag) {
  std::set<std::string_view> etags;
  std::string_view previous;
  for (const Asset& asset : AllAssets()) {
    EXPECT_GT(asset.path, previous) << "sorted by path";
    previous = asset.path;
    ASSERT_GE(asset.etag.size(), 3u);
    EXPECT_EQ(asset.etag.front(), '"');
    EXPECT_EQ(asset.etag.back(), '"');
    EXPECT_TRUE(etags.insert(asset.etag).second) << asset.path;
  }
  EXPECT_GE(etags.size(), 4u);
}

TEST(DashboardAssets, IfNoneMatchRevalidation) {
  const std::string_view etag = FindAsset("/")->etag;
  const std::string weak = "W/" + std::string(etag);
  EXPECT_TRUE(IfNoneMatchHits(etag, etag));
  EXPECT_TRUE(IfNoneMatchHits(weak, etag));
  EXPECT_TRUE(IfNoneMatchHits("*", etag));
  EXPECT_TRUE(IfNoneMatchHits("\"other\", " + std::string(etag), etag));
  EXPECT_TRUE(IfNoneMatchHits("\"a,b\"," + weak, etag));  // a comma inside a tag
  EXPECT_FALSE(IfNoneMatchHits("", etag));
  EXPECT_FALSE(IfNoneMatchHits("\"other\"", etag));
  EXPECT_FALSE(IfNoneMatchHits(etag.substr(1, etag.size() - 2), etag));  // unquoted
  EXPECT_FALSE(IfNoneMatchHits("\"unterminated", "\"unterminated\""));
}

}  // namespace
}  // namespace shelfwatch::web
