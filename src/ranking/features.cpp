#include "ranking/features.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <fstream>
#include <string>

namespace shelfwatch::ranking {
namespace {

constexpr std::string_view kNames[kNumFeatures] = {
    "bm25",           "bm25_ratio",       "lexical_rank",      "bm25_title",         "bm25_brand",
    "bm25_description", "bm25_category",  "query_terms",       "title_terms",        "coverage",
    "coverage_vs_best", "fuzzy_coverage", "idf_coverage",      "all_terms",          "bigram_match",
    "phrase_match",   "longest_run",      "ordered_pairs",     "proximity",          "first_match_position",
    "title_match_share", "query_numbers", "number_match",      "number_unit_match",  "brand_match",
    "first_word_match", "last_term_match", "title_last_term_match", "unknown_terms", "trigram_coverage",
    "trigram_dice",   "trigram_vs_best",  "popularity",        "vector_similarity",  "vector_sim_vs_best",
    "vector_rank",    "fused_score",      "lexical_retrieved",
};

// Position features look at the first kMaxQueryTerms analysed terms; real queries have 1-10.
constexpr size_t kMaxQueryTerms = 32;

constexpr size_t kNoTerm = SIZE_MAX;

}  // namespace

std::span<const std::string_view> FeatureNames() { return {kNames, kNumFeatures}; }

// Per-thread working memory: sized by the largest query and title seen, then reused.
struct FeatureExtractor::Scratch {
  // Query side, filled once per query.
  size_t m = 0;                                  // positions considered (<= kMaxQueryTerms)
  std::array<uint32_t, kMaxQueryTerms> qid{};    // term id per position (kUnknownTerm)
  std::array<size_t, kMaxQueryTerms> qdistinct{};  // position -> distinct index
  std::array<bool, kMaxQueryTerms> qnumber{};
  size_t distinct = 0;
  std::array<uint32_t, kMaxQueryTerms> did{};    // distinct index -> term id
  std::array<float, kMaxQueryTerms> qtf{};
  std::array<std::array<float, kMaxQueryTerms>, kNumFields> idf{};
  std::vector<uint32_t> qtrigrams;               // sorted, distinct
  std::vector<uint32_t> term_trigrams;           // each distinct term's sorted trigrams, back to back
  std::array<uint32_t, kMaxQueryTerms + 1> term_trigram_offsets{};
  std::vector<uint32_t> trigram_stamp;           // per query trigram: last candidate that matched it
  uint32_t stamp = 0;
  // Candidate side, reset per candidate.
  std::vector<size_t> title_distinct;            // title position -> distinct index or kNoTerm
  std::array<int, kMaxQueryTerms> run_prev{}, run_cur{};
  std::array<bool, kMaxQueryTerms> bigram{};
  std::array<int, kMaxQueryTerms> window_count{};
  std::array<std::array<float, kMaxQueryTerms>, kNumFields> tf{};
};

FeatureExtractor::FeatureExtractor(std::shared_ptr<const ProductTerms> terms, retrieval::Bm25Params bm25,
                                   std::array<float, kNumFields> field_weights, CandidateDepths depths)
    : terms_(std::move(terms)), bm25_(bm25), field_weights_(field_weights), depths_(depths) {}

std::array<float, kNumFields> FieldWeights(const retrieval::IndexOptions& options) {
  std::array<float, kNumFields> w{};
  for (const auto& f : options.fields) {
    for (size_t i = 0; i < kNumFields; ++i) {
      if (f.name == FieldName(static_cast<Field>(i))) w[i] += f.weight;
    }
  }
  return w;
}

void FeatureExtractor::Extract(std::string_view query, std::span<const Candidate> candidates,
                               std::span<const float> popularity, float* out) const {
  thread_local std::vector<std::string> query_terms;
  query_terms.clear();
  text::ThreadLocalAnalyzer(terms_->analyzer_options()).Analyze(query, &query_terms);
  ExtractTerms(query_terms, candidates, popularity, out);
}

void FeatureExtractor::ExtractTerms(std::span<const std::string> query_terms, std::span<const Candidate> candidates,
                                    std::span<const float> popularity, float* out) const {
  thread_local Scratch s;
  const ProductTerms& pt = *terms_;

  // --- the query: term ids, distinct terms, idf per field, trigrams ---
  s.m = std::min(query_terms.size(), kMaxQueryTerms);
  s.distinct = 0;
  s.qtrigrams.clear();
  s.term_trigrams.clear();
  s.term_trigram_offsets[0] = 0;
  float unknown = 0;
  for (size_t k = 0; k < s.m; ++k) {
    const std::string& t = query_terms[k];
    s.qid[k] = pt.Find(t);
    s.qnumber[k] = IsNumberTerm(t);
    if (s.qid[k] == ProductTerms::kUnknownTerm) unknown += 1;
    size_t d = s.distinct;
    for (size_t j = 0; j < k; ++j) {
      if (query_terms[j] == t) {
        d = s.qdistinct[j];
        break;
      }
    }
    if (d == s.distinct) {
      s.did[d] = s.qid[k];
      s.qtf[d] = 0;
      ++s.distinct;
      const size_t start = s.term_trigrams.size();
      AppendTrigrams(t, &s.term_trigrams);
      std::sort(s.term_trigrams.begin() + static_cast<std::ptrdiff_t>(start), s.term_trigrams.end());
      s.term_trigrams.erase(std::unique(s.term_trigrams.begin() + static_cast<std::ptrdiff_t>(start), s.term_trigrams.end()),
                            s.term_trigrams.end());
      s.term_trigram_offsets[s.distinct] = static_cast<uint32_t>(s.term_trigrams.size());
    }
    s.qtf[d] += 1;
    s.qdistinct[k] = d;
  }
  for (size_t k = s.m; k < query_terms.size(); ++k) {
    if (pt.Find(query_terms[k]) == ProductTerms::kUnknownTerm) unknown += 1;
  }
  s.qtrigrams.assign(s.term_trigrams.begin(), s.term_trigrams.end());
  std::sort(s.qtrigrams.begin(), s.qtrigrams.end());
  s.qtrigrams.erase(std::unique(s.qtrigrams.begin(), s.qtrigrams.end()), s.qtrigrams.end());
  s.trigram_stamp.assign(s.qtrigrams.size(), 0);
  s.stamp = 0;
  float idf_total = 0;
  for (size_t f = 0; f < kNumFields; ++f) {
    const double n = pt.FieldDocs(static_cast<Field>(f));
    for (size_t d = 0; d < s.distinct; ++d) {
      const double df = s.did[d] == ProductTerms::kUnknownTerm ? 0.0 : pt.DocFrequency(s.did[d], static_cast<Field>(f));
      // Lucene's non-negative BM25 idf, as in retrieval/index.h; 0 for a field no product has.
      s.idf[f][d] = n > 0 ? static_cast<float>(std::log(1.0 + (n - df + 0.5) / (df + 0.5))) : 0.0f;
    }
  }
  for (size_t d = 0; d < s.distinct; ++d) idf_total += s.idf[0][d];
  const float k1 = bm25_.k1, b = bm25_.b;
  float best_score = 0;
  for (const Candidate& c : candidates) {
    if (c.lexical_rank != kNotRetrieved) best_score = std::max(best_score, c.score);
  }

  for (const Candidate& c : candidates) pt.PrefetchOffsets(c.doc);
  for (const Candidate& c : candidates) pt.PrefetchTerms(c.doc);

  // --- each candidate ---
  for (size_t c = 0; c < candidates.size(); ++c) {
    float* x = out + c * kNumFeatures;
    const uint32_t doc = candidates[c].doc;
    const Candidate& cand = candidates[c];
    const bool lexical = cand.lexical_rank != kNotRetrieved;
    x[kLexicalRank] = static_cast<float>(lexical ? cand.lexical_rank : depths_.lexical);
    x[kLexicalRetrieved] = lexical ? 1.0f : 0.0f;
    x[kVectorRank] = static_cast<float>(cand.vector_rank != kNotRetrieved ? cand.vector_rank : depths_.vector);
    x[kVectorSimilarity] = cand.vector_similarity;
    x[kFusedScore] = cand.fused;
    x[kQueryTerms] = static_cast<float>(query_terms.size());
    x[kUnknownTerms] = unknown;
    x[kPopularity] = popularity.empty() ? 0.0f : popularity[c];

    // Term frequencies per field and per-field BM25.
    for (size_t f = 0; f < kNumFields; ++f) {
      std::fill_n(s.tf[f].begin(), s.distinct, 0.0f);
      const auto field_terms = pt.Terms(doc, static_cast<Field>(f));
      if (f == 0) s.title_distinct.assign(field_terms.size(), kNoTerm);
      for (size_t i = 0; i < field_terms.size(); ++i) {
        for (size_t d = 0; d < s.distinct; ++d) {
          if (field_terms[i] == s.did[d]) {
            s.tf[f][d] += 1;
            if (f == 0) s.title_distinct[i] = d;
            break;
          }
        }
      }
      float score = 0;
      const double avg = pt.AverageLength(static_cast<Field>(f));
      if (avg > 0 && !field_terms.empty()) {
        const float norm = k1 * (1.0f - b + b * static_cast<float>(field_terms.size() / avg));
        for (size_t d = 0; d < s.distinct; ++d) {
          const float tf = s.tf[f][d];
          if (tf > 0) score += s.qtf[d] * s.idf[f][d] * tf * (k1 + 1.0f) / (tf + norm);
        }
      }
      x[kBm25Title + f] = score;
    }
    // The index scores sum_f w_f * BM25_f (retrieval/index.h); a product BM25 did not return
    // gets that sum, so the model sees one scale whichever list found it.
    float bm25 = cand.score;
    if (!lexical) {
      bm25 = 0;
      for (size_t f = 0; f < kNumFields; ++f) bm25 += field_weights_[f] * x[kBm25Title + f];
    }
    x[kBm25] = bm25;
    x[kBm25Ratio] = best_score > 0 ? std::min(bm25 / best_score, 1.0f) : 0.0f;

    const auto title = pt.Terms(doc, Field::kTitle);
    const size_t n = title.size();
    x[kTitleTerms] = static_cast<float>(n);

    // Coverage of distinct query terms.
    size_t matched = 0;
    float idf_matched = 0;
    for (size_t d = 0; d < s.distinct; ++d) {
      if (s.tf[0][d] > 0) {
        ++matched;
        idf_matched += s.idf[0][d];
      }
    }
    x[kCoverage] = s.distinct ? static_cast<float>(matched) / static_cast<float>(s.distinct) : 0.0f;
    x[kIdfCoverage] = idf_total > 0 ? idf_matched / idf_total : 0.0f;
    // A missed query term counts by its closest title term (trigram Jaccard, both sorted).
    float fuzzy = static_cast<float>(matched);
    for (size_t d = 0; d < s.distinct; ++d) {
      if (s.tf[0][d] > 0) continue;
      const uint32_t* qa = s.term_trigrams.data() + s.term_trigram_offsets[d];
      const size_t qn = s.term_trigram_offsets[d + 1] - s.term_trigram_offsets[d];
      float best = 0;
      for (uint32_t t : pt.Terms(doc, Field::kTitle)) {
        const auto tg = pt.Trigrams(t);
        size_t i = 0, j = 0, common = 0;
        while (i < qn && j < tg.size()) {
          if (qa[i] < tg[j]) {
            ++i;
          } else if (tg[j] < qa[i]) {
            ++j;
          } else {
            ++common, ++i, ++j;
          }
        }
        if (common) best = std::max(best, static_cast<float>(common) / static_cast<float>(qn + tg.size() - common));
      }
      fuzzy += best;
    }
    x[kFuzzyCoverage] = s.distinct ? fuzzy / static_cast<float>(s.distinct) : 0.0f;
    x[kAllTerms] = (s.distinct > 0 && matched == s.distinct) ? 1.0f : 0.0f;

    // Ordered adjacency: run[k] = length of the run of query terms ending at query position k
    // that matches the title ending at position i (longest common substring, row by row).
    std::fill_n(s.run_prev.begin(), s.m, 0);
    std::fill_n(s.bigram.begin(), s.m, false);
    int longest = 0;
    size_t first_match = n, on_topic = 0;
    for (size_t i = 0; i < n; ++i) {
      if (s.title_distinct[i] != kNoTerm) {
        ++on_topic;
        if (first_match == n) first_match = i;
      }
      for (size_t k = 0; k < s.m; ++k) {
        const bool same = s.qid[k] != ProductTerms::kUnknownTerm && title[i] == s.qid[k];
        s.run_cur[k] = same ? (k > 0 ? s.run_prev[k - 1] : 0) + 1 : 0;
        if (s.run_cur[k] >= 2) s.bigram[k - 1] = true;
        longest = std::max(longest, s.run_cur[k]);
      }
      std::swap(s.run_prev, s.run_cur);
    }
    size_t pairs = 0, pairs_found = 0, ordered = 0;
    for (size_t k = 0; k + 1 < s.m; ++k) {
      ++pairs;
      if (s.bigram[k]) ++pairs_found;
      // In order, not necessarily adjacent: some occurrence of term k before some of k + 1.
      const size_t a = s.qdistinct[k], b2 = s.qdistinct[k + 1];
      if (s.tf[0][a] > 0 && s.tf[0][b2] > 0) {
        size_t first_a = n, last_b = 0;
        bool seen_b = false;
        for (size_t i = 0; i < n; ++i) {
          if (s.title_distinct[i] == a && first_a == n) first_a = i;
          if (s.title_distinct[i] == b2) last_b = i, seen_b = true;
        }
        if (seen_b && first_a < last_b) ++ordered;
      }
    }
    x[kOrderedPairs] = pairs ? static_cast<float>(ordered) / static_cast<float>(pairs) : 0.0f;
    x[kBigramMatch] = pairs ? static_cast<float>(pairs_found) / static_cast<float>(pairs) : 0.0f;
    x[kPhraseMatch] = (s.m > 0 && static_cast<size_t>(longest) >= s.m) ? 1.0f : 0.0f;
    x[kLongestRun] = s.m ? static_cast<float>(longest) / static_cast<float>(s.m) : 0.0f;
    x[kFirstMatchPosition] = n ? static_cast<float>(first_match) / static_cast<float>(n) : 1.0f;
    x[kTitleMatchShare] = n ? static_cast<float>(on_topic) / static_cast<float>(n) : 0.0f;

    // Shortest title window holding every matched distinct term (two pointers).
    float proximity = 0;
    if (matched > 0) {
      std::fill_n(s.window_count.begin(), s.distinct, 0);
      size_t have = 0, best = n, lo = 0;
      for (size_t hi = 0; hi < n; ++hi) {
        const size_t d = s.title_distinct[hi];
        if (d == kNoTerm) continue;
        if (s.window_count[d]++ == 0) ++have;
        while (have == matched) {
          best = std::min(best, hi - lo + 1);
          const size_t dl = s.title_distinct[lo];
          if (dl != kNoTerm && --s.window_count[dl] == 0) --have;
          ++lo;
        }
      }
      proximity = static_cast<float>(matched) / static_cast<float>(std::max<size_t>(best, 1));
    }
    x[kProximity] = proximity;

    // Numbers and number+unit pairs.
    size_t numbers = 0, numbers_found = 0, units = 0, units_found = 0;
    for (size_t k = 0; k < s.m; ++k) {
      if (!s.qnumber[k]) continue;
      ++numbers;
      if (s.tf[0][s.qdistinct[k]] > 0) ++numbers_found;
      if (k + 1 < s.m && !s.qnumber[k + 1]) {
        ++units;
        if (s.bigram[k]) ++units_found;
      }
    }
    x[kQueryNumbers] = static_cast<float>(numbers);
    x[kNumberMatch] = numbers ? static_cast<float>(numbers_found) / static_cast<float>(numbers) : 0.0f;
    x[kNumberUnitMatch] = units ? static_cast<float>(units_found) / static_cast<float>(units) : 0.0f;

    // Brand, first title word, last query term.
    const auto brand = pt.Terms(doc, Field::kBrand);
    bool brand_in_query = !brand.empty();
    for (uint32_t t : brand) {
      brand_in_query = brand_in_query && std::find(s.did.begin(), s.did.begin() + s.distinct, t) != s.did.begin() + s.distinct;
    }
    x[kBrandMatch] = brand_in_query ? 1.0f : 0.0f;
    x[kFirstWordMatch] = (n > 0 && s.title_distinct[0] != kNoTerm) ? 1.0f : 0.0f;
    x[kLastTermMatch] = (s.m > 0 && s.tf[0][s.qdistinct[s.m - 1]] > 0) ? 1.0f : 0.0f;
    x[kTitleLastTermMatch] = (n > 0 && s.title_distinct[n - 1] != kNoTerm) ? 1.0f : 0.0f;

    // Character trigrams: typo-tolerant overlap ("vynal" meets "vinyl" on "^vi", "l$"...).
    ++s.stamp;
    size_t tri_found = 0, tri_title = 0;
    for (uint32_t t : title) {
      const auto grams = pt.Trigrams(t);
      tri_title += grams.size();
      for (uint32_t g : grams) {
        auto it = std::lower_bound(s.qtrigrams.begin(), s.qtrigrams.end(), g);
        if (it != s.qtrigrams.end() && *it == g) {
          uint32_t& st = s.trigram_stamp[static_cast<size_t>(it - s.qtrigrams.begin())];
          if (st != s.stamp) {
            st = s.stamp;
            ++tri_found;
          }
        }
      }
    }
    const size_t tri_query = s.qtrigrams.size();
    x[kTrigramCoverage] = tri_query ? static_cast<float>(tri_found) / static_cast<float>(tri_query) : 0.0f;
    // The title side counts each term's distinct trigrams (a trigram shared by two title
    // terms counts twice: rare, and cheaper than a set per candidate).
    x[kTrigramDice] = (tri_query + tri_title) ? 2.0f * static_cast<float>(tri_found) / static_cast<float>(tri_query + tri_title) : 0.0f;
  }

  // Query-relative columns: trees compare a row with constants, never with its neighbours, so
  // "as good as the best candidate" has to be a feature of its own.
  float best_coverage = 0, best_trigram = 0, best_similarity = 0;
  for (size_t c = 0; c < candidates.size(); ++c) {
    best_coverage = std::max(best_coverage, out[c * kNumFeatures + kCoverage]);
    best_trigram = std::max(best_trigram, out[c * kNumFeatures + kTrigramCoverage]);
    best_similarity = std::max(best_similarity, out[c * kNumFeatures + kVectorSimilarity]);
  }
  for (size_t c = 0; c < candidates.size(); ++c) {
    float* x = out + c * kNumFeatures;
    x[kCoverageVsBest] = x[kCoverage] - best_coverage;
    x[kTrigramVsBest] = x[kTrigramCoverage] - best_trigram;
    x[kVectorSimVsBest] = x[kVectorSimilarity] - best_similarity;
  }
}

Status CheckFeatureNames(const std::string& path) {
  std::ifstream in(path);
  if (!in) return NotFound("missing " + path + " (the feature names the model was trained on)");
  std::vector<std::string> names;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty()) names.push_back(line);
  }
  const auto expected = FeatureNames();
  for (size_t i = 0; i < std::max(names.size(), expected.size()); ++i) {
    const std::string_view have = i < names.size() ? std::string_view(names[i]) : "(none)";
    const std::string_view want = i < expected.size() ? expected[i] : "(none)";
    if (have != want) {
      return FailedPrecondition(path + ": feature " + std::to_string(i) + " is '" + std::string(have) +
                                "' but this build computes '" + std::string(want) +
                                "': the model was trained on another feature set; retrain it");
    }
  }
  return Status::Ok();
}


}  // namespace shelfwatch::ranking
