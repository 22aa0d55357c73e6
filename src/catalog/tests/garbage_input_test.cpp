// Loading never crashes and keeps its promises on any input: random bytes, mutated valid
// files, and inputs built to be slow or deep.
#include <gtest/gtest.h>

#include <chrono>
#include <random>
#include <set>
#include <string>

#include "catalog/catalog.h"
#include "catalog/tests/fixtures.h"
#include "common/utf8.h"

namespace shelfwatch::catalog {
namespace {

// Whatever the input, a load either fails with a status or yields a consistent catalog:
// counts add up and every product has a unique, findable, well-formed id.
void LoadAndCheckInvariants(const std::string& path, Format format, bool strict) {
  LoadOptions options;
  options.progress = false;
  options.format = format;
  options.strict = strict;
  options.max_reported_errors = 10;
  LoadReport report;
  auto loaded = LoadCatalog("garbage", path, options, &report);
  ASSERT_EQ(report.rows_loaded + report.rows_rejected, report.rows_read);
  ASSERT_LE(report.errors.size(), 10u);
  for (const RowError& e : report.errors) {
    ASSERT_GE(e.line, 1u);
    ASSERT_TRUE(IsValidUtf8(e.message)) << e.message;  // safe to log and to put in JSON
  }
  if (!loaded.ok()) {
    ASSERT_NE(loaded.status().code(), ErrorCode::kInternal) << loaded.status().ToString();
    ASSERT_TRUE(IsValidUtf8(loaded.status().message()));
    return;
  }
  const Catalog& catalog = *loaded;
  ASSERT_EQ(catalog.size(), report.rows_loaded);
  std::set<std::string> ids;
  for (uint32_t doc = 0; doc < catalog.size(); ++doc) {
    const Product& p = catalog.product(doc);
    ASSERT_FALSE(p.id.empty());
    ASSERT_TRUE(IsValidUtf8(p.id) && IsValidUtf8(p.title) && IsValidUtf8(p.description));
    ASSERT_TRUE(ids.insert(p.id).second) << "duplicate id " << p.id;
    ASSERT_EQ(catalog.Find(p.id), doc);
    ASSERT_TRUE(!p.price || *p.price >= 0);
    ASSERT_TRUE(!p.rating || (*p.rating >= 0 && *p.rating <= 10));
  }
}

std::string RandomBytes(std::mt19937_64& rng, size_t n, std::string_view alphabet) {
  std::string out(n, '\0');
  for (char& c : out) {
    c = alphabet.empty() ? static_cast<char>(rng() & 0xFF) : alphabet[rng() % alphabet.size()];
  }
  return out;
}

TEST(GarbageInputTest, RandomBytesNeverCrash) {
  TempDir dir;
  std::mt19937_64 rng(20261129);
  // Raw bytes, and bytes biased toward the characters parsers care about.
  static constexpr char kBiased[] = "\",\n\r\"a1 {}[]:\\\xC3\xA9\xFF\x00";
  const std::string_view alphabets[] = {"", std::string_view(kBiased, sizeof kBiased - 1)};
  for (int round = 0; round < 300; ++round) {
    std::string_view alphabet = alphabets[round % 2];
    std::string text = RandomBytes(rng, rng() % 3000, alphabet);
    if (round % 3 == 0) text = "id,title,price,rating,category\n" + text;
    if (round % 3 == 1) text = "{\"id\": 1}\n" + text;
    std::string path = dir.Write("g.bin", text);
    for (Format format : {Format::kAuto, Format::kCsv, Format::kJsonl}) {
      LoadAndCheckInvariants(path, format, round % 5 == 0);
    }
  }
}

TEST(GarbageInputTest, MutatedValidFilesNeverCrash) {
  TempDir dir;
  std::mt19937_64 rng(7);
  const std::string csv =
      "id,title,description,brand,category,price,rating,color\n"
      "1,\"Drill, cordless\",\"Two\nlines \"\"quoted\"\"\",DeWalt,Tools > Drills,\"$1,299.00\",4.5,yellow\n"
      "2,Hammer,,Estwing,Tools|Hand,19.99,,\n"
      "3,Saw,Sharp,Bosch,Tools/Saws,5,3,red\n";
  const std::string jsonl =
      "{\"id\": 1, \"title\": \"Drill\", \"category\": [\"Tools\"], \"price\": 5, \"attributes\": {\"a\": [1, 2]}}\n"
      "{\"id\": \"2\", \"title\": \"Saw\", \"rating\": 3.5, \"extra\": {\"x\": null}}\n";
  const char kInteresting[] = {'"', ',', '\n', '\r', '{', '}', '[', ']', ':', '\\', '\xFF', '\xC3', '\0', '>'};
  for (int round = 0; round < 400; ++round) {
    std::string text = round % 2 ? csv : jsonl;
    int edits = 1 + static_cast<int>(rng() % 6);
    for (int e = 0; e < edits && !text.empty(); ++e) {
      size_t at = rng() % text.size();
      switch (rng() % 3) {
        case 0: text[at] = kInteresting[rng() % sizeof kInteresting]; break;
        case 1: text.insert(at, 1, kInteresting[rng() % sizeof kInteresting]); break;
        default: text.erase(at, 1 + rng() % 5); break;
      }
    }
    std::string path = dir.Write(round % 2 ? "m.csv" : "m.jsonl", text);
    LoadAndCheckInvariants(path, Format::kAuto, false);
    LoadAndCheckInvariants(path, Format::kAuto, true);
  }
}

TEST(GarbageInputTest, AdversarialShapesStayFastAndSafe) {
  TempDir dir;
  std::vector<std::string> inputs = {
      std::string(200'000, '"'),
      "id,title\n" + std::string(200'000, '\n'),
      "id,title\n" + std::string(1'000'000, 'x'),  // one huge field, wrong column count
      std::string(100'000, '[') ,                  // deep JSON
      "id\n" + std::string(100'000, ','),
  };
  std::string quotes = "id,title\n";
  for (int i = 0; i < 30'000; ++i) quotes += i % 2 ? "\"\"\"\n" : "1,\"a\n";  // quotes everywhere
  inputs.push_back(quotes);
  std::string strays = "id,title\n";
  for (int i = 0; i < 2'000; ++i) {  // each stray quote followed by quote-free lines
    strays += std::to_string(i) + ",\"stray\n";
    for (int k = 0; k < 20; ++k) strays += std::to_string(i) + "-" + std::to_string(k) + ",x\n";
  }
  inputs.push_back(strays);

  auto start = std::chrono::steady_clock::now();
  for (size_t i = 0; i < inputs.size(); ++i) {
    std::string path = dir.Write("adversarial_" + std::to_string(i), inputs[i]);
    for (Format format : {Format::kCsv, Format::kJsonl}) LoadAndCheckInvariants(path, format, false);
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(seconds, 20.0) << "adversarial inputs took " << seconds << " s";
}

}  // namespace
}  // namespace shelfwatch::catalog
