#include "text/analyzer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <latch>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "text/analyzer_testing.h"
#include "text/tests/allocation_counter.h"

namespace shelfwatch::text {
namespace {

using Terms = std::vector<std::string>;

std::unique_ptr<Analyzer> Make(const AnalyzerOptions& options = {}) {
  auto created = Analyzer::Create(options);
  EXPECT_TRUE(created.ok()) << created.status().ToString();
  return std::move(created).value();
}

Terms Analyze(Analyzer& analyzer, std::string_view text) {
  Terms terms;
  analyzer.Analyze(text, &terms);
  return terms;
}

Terms Analyze(std::string_view text) {
  static std::unique_ptr<Analyzer> analyzer = Make();
  return Analyze(*analyzer, text);
}

bool Contains(const Terms& terms, std::string_view term) {
  return std::find(terms.begin(), terms.end(), term) != terms.end();
}

// Column `column` of each row of a CSV file with a header row (RFC 4180 quoting).
std::vector<std::string> ReadCsvColumn(const std::string& path, size_t column) {
  std::ifstream in(path, std::ios::binary);
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::string> values;
  std::string field;
  size_t col = 0;
  bool header = true, quoted = false;
  for (size_t i = 0; i < data.size(); ++i) {
    char c = data[i];
    if (quoted) {
      if (c == '"' && i + 1 < data.size() && data[i + 1] == '"') {
        field.push_back('"');
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        field.push_back(c);
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',' || c == '\n') {
      if (col == column && !header) values.push_back(field);
      field.clear();
      ++col;
      if (c == '\n') {
        col = 0;
        header = false;
      }
    } else if (c != '\r') {
      field.push_back(c);
    }
  }
  return values;
}

std::string DataPath(const char* file) {
  return std::string(SHELFWATCH_DATA_DIR) + "/homedepot/" + file;
}

// --- English ---------------------------------------------------------------------------

TEST(AnalyzerTest, LowercasesStemsAndDropsPunctuation) {
  EXPECT_EQ(Analyze("Cordless Drills!"), (Terms{"cordless", "drill"}));
  EXPECT_EQ(Analyze("Drills"), Analyze("drill"));
  EXPECT_EQ(Analyze("Coating, (Valve Not Included)"), (Terms{"coat", "valv", "not", "includ"}));
  EXPECT_EQ(Analyze("Men's Boots"), Analyze("mens boot"));
}

TEST(AnalyzerTest, HyphenatedWordsSplitIntoParts) {
  EXPECT_EQ(Analyze("Simpson Strong-Tie 12-Gauge Angle"),
            (Terms{"simpson", "strong", "tie", "12", "gaug", "angl"}));
}

TEST(AnalyzerTest, StemmingCanBeTurnedOff) {
  auto plain = Make({.stem_language = "none"});
  EXPECT_EQ(Analyze(*plain, "Cordless Drills"), (Terms{"cordless", "drills"}));
}

TEST(AnalyzerTest, OtherSnowballLanguagesWork) {
  auto german = Make({.stem_language = "german"});
  EXPECT_EQ(Analyze(*german, "Häuser"), (Terms{"haus"}));
}

TEST(AnalyzerTest, UnknownStemmingLanguageIsInvalidArgument) {
  auto created = Analyzer::Create({.stem_language = "klingon"});
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(created.status().message().find("english"), std::string::npos);
}

// --- Units and numbers ------------------------------------------------------------------

TEST(AnalyzerTest, UnitSpellingsAfterANumberMeet) {
  // Each pair: how a title writes it, how a shopper types it.
  EXPECT_EQ(Analyze("3/4 in."), Analyze("3/4 inch"));
  EXPECT_EQ(Analyze("3/4 in."), Analyze("3/4\""));
  EXPECT_EQ(Analyze("3/4 in."), Analyze("3/4 inches"));
  EXPECT_EQ(Analyze("3/4 in."), (Terms{"3/4", "inch"}));
  EXPECT_EQ(Analyze("6 in."), Analyze("6''"));
  EXPECT_EQ(Analyze("8 ft."), Analyze("8'"));
  EXPECT_EQ(Analyze("8 ft."), Analyze("8 feet"));
  EXPECT_EQ(Analyze("8 ft."), Analyze("8-foot"));
  EXPECT_EQ(Analyze("1-gal."), Analyze("1 gallon"));
  EXPECT_EQ(Analyze("5 gal"), Analyze("5 gallons"));
  EXPECT_EQ(Analyze("12-Gauge"), Analyze("12 gauge"));
  EXPECT_EQ(Analyze("12-Gauge"), Analyze("12 ga"));
  EXPECT_EQ(Analyze("12-Gauge"), Analyze("12 awg"));
  EXPECT_EQ(Analyze("80 lb."), Analyze("80 pounds"));
  EXPECT_EQ(Analyze("80 lb."), Analyze("80lbs"));
  EXPECT_EQ(Analyze("16 oz."), Analyze("16 ounce"));
  EXPECT_EQ(Analyze("18-Volt"), Analyze("18v"));
  EXPECT_EQ(Analyze("100-Watt"), Analyze("100W"));
  EXPECT_EQ(Analyze("20-Amp"), Analyze("20a"));
  EXPECT_EQ(Analyze("4-Pack"), Analyze("4 pk"));
  EXPECT_EQ(Analyze("2 qt."), Analyze("2 quarts"));
  EXPECT_EQ(Analyze("10 yds."), Analyze("10 yards"));
  EXPECT_EQ(Analyze("90mm"), Analyze("90 mm"));
  EXPECT_EQ(Analyze("100 sq. ft."), Analyze("100 square feet"));
  EXPECT_EQ(Analyze("100 sq. ft."), Analyze("100 sqft"));
  EXPECT_EQ(Analyze("1.9 cu. ft."), Analyze("1.9 cubic feet"));
  EXPECT_EQ(Analyze("1.9 cu. ft."), (Terms{"1.9", "cu", "ft"}));
}

TEST(AnalyzerTest, UnitWordsWithOtherSensesStayWords) {
  // "in", "a", "square" are only units after a number.
  EXPECT_EQ(Analyze("Faucet Trim Kit in Chrome"), (Terms{"faucet", "trim", "kit", "in", "chrome"}));
  EXPECT_FALSE(Contains(Analyze("Pack of 2 a day"), "amp"));
  EXPECT_EQ(Analyze("2 square planters"), (Terms{"2", "squar", "planter"}));
  // "3-in-1" is a product type, not three inches.
  EXPECT_EQ(Analyze("3-in-1 Trimmer"), (Terms{"3", "in", "1", "trimmer"}));
  EXPECT_EQ(Analyze("2 in 1 toilet seat"), (Terms{"2", "in", "1", "toilet", "seat"}));
  EXPECT_EQ(Analyze("2 in 1 ft"), (Terms{"2", "inch", "1", "ft"}));
  // "Foot" alone is a foot rest, not a length.
  EXPECT_EQ(Analyze("Foot Rest"), (Terms{"foot", "rest"}));
  // Quotes around words are not inches.
  EXPECT_EQ(Analyze("2 in. \"Water Lilies\" Canvas"),
            (Terms{"2", "inch", "water", "lili", "canva"}));
}

TEST(AnalyzerTest, UnambiguousAbbreviationsMeetWithoutANumber) {
  EXPECT_EQ(Analyze("oz"), Analyze("ounces"));
  EXPECT_EQ(Analyze("gal paint"), Analyze("gallon paint"));
}

TEST(AnalyzerTest, DimensionsSplitIntoNumbers) {
  // The "x" between dimensions is a separator, not a term.
  EXPECT_EQ(Analyze("2x4"), (Terms{"2", "4"}));
  EXPECT_EQ(Analyze("4x8wood"), (Terms{"4", "8", "wood"}));
  EXPECT_EQ(Analyze("2inx4in"), (Terms{"2", "inch", "4", "inch"}));
  EXPECT_EQ(Analyze("Backyard X-Scapes"), (Terms{"backyard", "x", "scape"}));
  EXPECT_EQ(Analyze("10ft"), (Terms{"10", "ft"}));
  EXPECT_EQ(Analyze("4in"), (Terms{"4", "inch"}));
  // Every term of the query "2x4" is in the title of a 2 in. x 4 in. board.
  Terms title = Analyze("2 in. x 4 in. x 8 ft. Pine Stud");
  for (const std::string& t : Analyze("2x4")) EXPECT_TRUE(Contains(title, t)) << t;
  auto unsplit = Make({.split_alphanumeric = false});
  EXPECT_EQ(Analyze(*unsplit, "2x4 10ft"), (Terms{"2x4", "10ft"}));
  EXPECT_EQ(Analyze("2 in. x 4 in. x 8 ft."), (Terms{"2", "inch", "4", "inch", "8", "ft"}));
}

TEST(AnalyzerTest, FractionsStayWhole) {
  EXPECT_EQ(Analyze("3/4"), (Terms{"3/4"}));
  EXPECT_EQ(Analyze("1-1/2 in."), (Terms{"1", "1/2", "inch"}));
  EXPECT_EQ(Analyze("1-1/2 in."), Analyze("1 1/2 inch"));
  EXPECT_EQ(Analyze("1\u00BD in."), Analyze("1-1/2 in."));
  EXPECT_EQ(Analyze("3 / 4"), (Terms{"3", "4"}));  // spaced: not a fraction
  EXPECT_EQ(Analyze("3/4'"), (Terms{"3/4", "inch"}));  // shoppers type ' for inches after fractions
}

TEST(AnalyzerTest, NumbersKeepTheirValue) {
  EXPECT_EQ(Analyze("1.9"), (Terms{"1.9"}));
  EXPECT_EQ(Analyze("2,000-Pack"), (Terms{"2000", "pack"}));
  EXPECT_EQ(Analyze("12,500.50"), (Terms{"12500.5"}));
  EXPECT_EQ(Analyze("2.50 in."), Analyze("2.5 in."));
  EXPECT_EQ(Analyze("3.0"), (Terms{"3"}));
  EXPECT_EQ(Analyze("3,4"), (Terms{"3", "4"}));
  EXPECT_EQ(Analyze("#SC-141"), (Terms{"sc", "141"}));
}

TEST(AnalyzerTest, UnitsCanBeLeftAlone) {
  auto raw = Make({.canonicalize_units = false});
  EXPECT_EQ(Analyze(*raw, "3/4 in. 1-gal."), (Terms{"3/4", "in", "1", "gal"}));
}

TEST(AnalyzerTest, HtmlEntitiesInTitlesAreDecoded) {
  EXPECT_EQ(Analyze("Briggs &amp; Stratton"), Analyze("Briggs & Stratton"));
  EXPECT_EQ(Analyze("Baker&#39;s Rack"), Analyze("Baker's Rack"));
  EXPECT_EQ(Analyze("10&quot; x 10 ft."), (Terms{"10", "inch", "10", "ft"}));
}

// --- Other scripts, normalisation, robustness --------------------------------------------

TEST(AnalyzerTest, ChineseSegmentsIntoDictionaryWords) {
  Terms terms = Analyze("无线鼠标");
  EXPECT_GT(terms.size(), 1u);
  EXPECT_EQ(terms.front(), "无线");
  EXPECT_EQ(Analyze("蓝牙耳机"), (Terms{"蓝牙", "耳机"}));
}

TEST(AnalyzerTest, JapaneseSegmentsIntoWordsAndIsNotStemmed) {
  EXPECT_EQ(Analyze("電動ドリル"), (Terms{"電動", "ドリル"}));
  EXPECT_EQ(Analyze("ワイヤレスマウス"), (Terms{"ワイヤレス", "マウス"}));
}

TEST(AnalyzerTest, FullWidthAndCompatibilityCharactersNormalise) {
  EXPECT_EQ(Analyze("ＡＢＣ"), (Terms{"abc"}));
  EXPECT_EQ(Analyze("１２ｖ"), Analyze("12v"));
  EXPECT_EQ(Analyze("ﬁlter"), Analyze("filter"));  // ligature fi
  EXPECT_EQ(Analyze("STRASSE"), Analyze("straße"));
  EXPECT_EQ(Analyze("6\u2032 x 8\u2032"), Analyze("6' x 8'"));
}

TEST(AnalyzerTest, AccentedLatinIsStemmedButKeepsItsLetters) {
  EXPECT_EQ(Analyze("Cafés"), (Terms{"café"}));
}

TEST(AnalyzerTest, HangulIsSplitAtSpacesAndNotStemmed) {
  EXPECT_EQ(Analyze("무선 마우스"), (Terms{"무선", "마우스"}));
}

TEST(AnalyzerTest, TrademarkSignsDoNotGlueOntoWords) {
  EXPECT_EQ(Analyze("Roundup\u2122 Weed Killer"), Analyze("Roundup Weed Killer"));
  EXPECT_EQ(Analyze("Roundup\u00AE Weed Killer"), Analyze("Roundup Weed Killer"));
}

TEST(AnalyzerTest, IllFormedUtf8DoesNotCrash) {
  EXPECT_EQ(Analyze("bad \xff\xfe bytes"), (Terms{"bad", "byte"}));
  EXPECT_EQ(Analyze("truncated caf\xc3"), (Terms{"truncat", "caf"}));
  EXPECT_EQ(Analyze("\xed\xa0\x80 surrogate"), (Terms{"surrog"}));
  std::mt19937 rng(7);
  for (int i = 0; i < 2000; ++i) {
    std::string s(rng() % 40, '\0');
    for (char& c : s) c = static_cast<char>(rng());
    Terms terms = Analyze(s);
    for (const std::string& t : terms) EXPECT_FALSE(t.empty());
  }
}

TEST(AnalyzerTest, EmptyAndBlankInputGiveNoTerms) {
  EXPECT_TRUE(Analyze("").empty());
  EXPECT_TRUE(Analyze("   \t\n").empty());
  EXPECT_TRUE(Analyze("-- / ,.;!").empty());
}

TEST(AnalyzerTest, AppendsToExistingTerms) {
  auto analyzer = Make();
  Terms terms = {"keep"};
  analyzer->Analyze("Drills", &terms);
  EXPECT_EQ(terms, (Terms{"keep", "drill"}));
}

TEST(AnalyzerTest, AsciiQueriesDoNotAllocateAfterWarmUp) {
  auto analyzer = Make();
  Terms terms;
  terms.reserve(64);
  const char* queries[] = {"3/4 inch pvc", "Cordless Drills 18v", "2x4 10ft", "12 gauge wire"};
  for (const char* q : queries) analyzer->Analyze(q, &terms);  // warm-up
  size_t allocations = testing_support::CountAllocations([&] {
    for (int round = 0; round < 100; ++round) {
      for (const char* q : queries) {
        terms.clear();
        analyzer->Analyze(q, &terms);
      }
    }
  });
  EXPECT_EQ(allocations, 0u);
  EXPECT_EQ(terms, (Terms{"12", "gaug", "wire"}));
  // The counter does see allocations: a term longer than the inline buffer needs one.
  EXPECT_GT(testing_support::CountAllocations([&] {
              analyzer->Analyze("Superextraordinarilylongword", &terms);
            }),
            0u);
}

// --- The ASCII fast path ----------------------------------------------------------------

void ExpectFastPathEqualsIcu(const std::vector<std::string>& texts,
                             const AnalyzerOptions& options) {
  auto fast = Make(options);
  auto icu = Make(options);
  AnalyzerTestAccess::SetAsciiFastPath(*icu, false);
  size_t mismatches = 0;
  for (const std::string& text : texts) {
    Terms a = Analyze(*fast, text), b = Analyze(*icu, text);
    if (a != b && ++mismatches <= 5) {
      ADD_FAILURE() << "fast path differs from ICU for: " << text;
    }
  }
  EXPECT_EQ(mismatches, 0u) << options.Fingerprint();
}

TEST(AnalyzerTest, AsciiFastPathEqualsIcuOnRealData) {
  std::vector<std::string> texts = ReadCsvColumn(DataPath("products.csv"), 1);
  ASSERT_EQ(texts.size(), 54667u);
  std::vector<std::string> queries = ReadCsvColumn(DataPath("queries.csv"), 1);
  ASSERT_EQ(queries.size(), 11795u);
  texts.insert(texts.end(), queries.begin(), queries.end());
  ExpectFastPathEqualsIcu(texts, {});
  ExpectFastPathEqualsIcu(texts, {.stem_language = "none", .split_alphanumeric = false,
                                  .canonicalize_units = false});
}

TEST(AnalyzerTest, AsciiFastPathEqualsIcuOnRandomText) {
  // Dense in the characters whose word-break handling is subtle: apostrophes, periods and
  // commas between letters or digits, '_', ':', quotes, slashes, hyphens, '&' entities.
  static constexpr std::string_view kAlphabet = "aZx1 9.,'\"/-_:;&#\t\nin ft";
  std::mt19937 rng(42);
  std::vector<std::string> texts;
  for (int i = 0; i < 20000; ++i) {
    std::string s(rng() % 24, ' ');
    for (char& c : s) c = kAlphabet[rng() % kAlphabet.size()];
    texts.push_back(s);
  }
  ExpectFastPathEqualsIcu(texts, {});
  ExpectFastPathEqualsIcu(texts, {.split_alphanumeric = false});
}

// --- Threads ----------------------------------------------------------------------------

TEST(AnalyzerTest, ThreadLocalAnalyzerServesEachThreadItsOwn) {
  const Terms expected = Analyze("Cordless 18-Volt Drills 1/2 in.");
  std::vector<std::thread> threads;
  std::vector<int> ok(4, 0);
  std::vector<const Analyzer*> seen(4, nullptr);
  std::latch all_alive(4);  // threads overlap, so their analyzers cannot share an address
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      Analyzer& mine = ThreadLocalAnalyzer();
      seen[t] = &mine;
      for (int i = 0; i < 500; ++i) {
        Terms terms;
        ThreadLocalAnalyzer().Analyze("Cordless 18-Volt Drills 1/2 in.", &terms);
        ok[t] += terms == expected;
      }
      // A different configuration is a different analyzer on the same thread.
      Analyzer& unstemmed = ThreadLocalAnalyzer({.stem_language = "none"});
      EXPECT_NE(&unstemmed, &mine);
      EXPECT_EQ(&ThreadLocalAnalyzer(), &mine);
      all_alive.arrive_and_wait();
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < 4; ++t) EXPECT_EQ(ok[t], 500);
  for (int t = 1; t < 4; ++t) EXPECT_NE(seen[t], seen[0]);
}

TEST(AnalyzerTest, ThreadLocalAnalyzerAbortsOnAnUnknownLanguage) {
  // The documented contract: reject bad options with Analyzer::Create before this point.
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(ThreadLocalAnalyzer({.stem_language = "klingon"}), "unknown stemming language");
}

TEST(AnalyzerTest, FingerprintTellsConfigurationsApart) {
  AnalyzerOptions a, b;
  EXPECT_EQ(a.Fingerprint(), b.Fingerprint());
  b.stem_language = "porter";
  EXPECT_NE(a.Fingerprint(), b.Fingerprint());
  b = a;
  b.canonicalize_units = false;
  EXPECT_NE(a.Fingerprint(), b.Fingerprint());
  b = a;
  b.split_alphanumeric = false;
  EXPECT_NE(a.Fingerprint(), b.Fingerprint());
}

// --- Throughput (run with --gtest_also_run_disabled_tests) -------------------------------

TEST(AnalyzerTest, DISABLED_Throughput) {
  std::vector<std::string> titles = ReadCsvColumn(DataPath("products.csv"), 1);
  std::vector<std::string> queries = ReadCsvColumn(DataPath("queries.csv"), 1);
  for (bool fast : {true, false}) {
    auto analyzer = Make();
    AnalyzerTestAccess::SetAsciiFastPath(*analyzer, fast);
    Terms terms;
    auto time_ns = [&](const std::vector<std::string>& texts, int rounds) {
      auto start = std::chrono::steady_clock::now();
      size_t n = 0;
      for (int r = 0; r < rounds; ++r) {
        for (const std::string& t : texts) {
          terms.clear();
          analyzer->Analyze(t, &terms);
          n += terms.size();
        }
      }
      auto ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start);
      EXPECT_GT(n, 0u);
      return ns.count() / (static_cast<double>(texts.size()) * rounds);
    };
    time_ns(queries, 1);  // warm-up
    double per_query = time_ns(queries, 20);
    double per_title = time_ns(titles, 3);
    std::printf("%s: %.0f ns/query over %zu queries, %.0f ns/title over %zu titles\n",
                fast ? "ascii fast path" : "icu only", per_query, queries.size(), per_title,
                titles.size());
  }
}

}  // namespace
}  // namespace shelfwatch::text
