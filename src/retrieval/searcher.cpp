#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>

#include "retrieval/index.h"
#include "retrieval/index_impl.h"

namespace shelfwatch::retrieval {
namespace {

// Ranking order: higher score first, then lower doc number. A function object, so heap and
// sort calls inline it.
struct BetterHit {
  bool operator()(const ScoredDoc& a, const ScoredDoc& b) const {
    return a.score > b.score || (a.score == b.score && a.doc < b.doc);
  }
};
constexpr BetterHit Better;

// One posting list of the query, in canonical order: distinct query terms by term id, then the
// term's lists in field order. A document's score is the float sum of its list contributions in
// this order, in both search paths, so the two agree bit for bit.
struct QueryList {
  uint32_t list;
  uint32_t term;  // index of the distinct query term, 0-based, canonical order
  float weight;   // qtf * w_f * idf * (k1 + 1)
};

// A forward-only position in one posting list.
struct Cursor {
  const uint32_t* docs;
  const float* saturation;
  const uint32_t* block_last;
  const uint8_t* range_max;  // dense per-range bounds (0: no posting in the range), or null
  uint32_t pos;
  uint32_t length;
  uint32_t num_blocks;
  uint32_t doc;  // docs[pos], or kNoMoreDocs
  float weight;
  uint32_t term;

  float Contribution() const { return weight * saturation[pos]; }

  void Next() {
    ++pos;
    doc = pos < length ? docs[pos] : kNoMoreDocs;
  }
  // Moves to the first posting with doc >= target: skips whole blocks by their last doc, then
  // scans forward (ranges are visited in doc order, so the target is usually a few postings
  // ahead; a linear scan beat a binary search of the block on the Home Depot queries).
  void AdvanceTo(uint32_t target) {
    if (doc >= target) return;
    uint32_t block = pos >> kBlockShift;
    if (block_last[block] < target) {
      do {
        ++block;
      } while (block < num_blocks && block_last[block] < target);
      if (block == num_blocks) {
        pos = length;
        doc = kNoMoreDocs;
        return;
      }
      pos = block << kBlockShift;
    }
    while (docs[pos] < target) ++pos;  // stops inside the block: its last doc >= target
    doc = docs[pos];
  }
};

}  // namespace

struct Searcher::Scratch {
  std::vector<uint32_t> term_ids;                     // known query terms, then distinct
  std::vector<uint32_t> term_qtf;                     // parallel to distinct term_ids
  std::vector<QueryList> lists;                       // canonical order
  std::vector<Cursor> cursors;                        // parallel to lists
  std::vector<float> range_bound;                     // per doc range: score bound
  std::vector<ScoredDoc> heap;                        // worst on top (std heap with Better)

  // Exhaustive path: per-doc accumulators, valid where stamp == epoch.
  std::vector<uint32_t> stamp;
  std::vector<float> score;
  std::vector<uint32_t> matched;
  std::vector<uint32_t> last_term;
  std::vector<uint32_t> touched;
  std::vector<ScoredDoc> candidates;
  uint32_t epoch = 0;
};

Searcher::Searcher(std::shared_ptr<const InvertedIndex> index)
    : index_(std::move(index)), scratch_(std::make_unique<Scratch>()) {}
Searcher::~Searcher() = default;

namespace {

// Resolves the query terms to canonical query lists. Returns the number of distinct query terms
// present in the index; unknown terms never match and are dropped.
uint32_t PrepareLists(const InvertedIndex::Impl& index, const Query& query,
                      std::vector<uint32_t>* ids, std::vector<uint32_t>* qtf,
                      std::vector<QueryList>* lists) {
  ids->clear();
  qtf->clear();
  lists->clear();
  for (const std::string& term : query.terms) {
    uint32_t id = index.dictionary.Find(term);
    if (id != TermDictionary::kNotFound) ids->push_back(id);
  }
  std::sort(ids->begin(), ids->end());
  size_t distinct = 0;
  for (size_t i = 0; i < ids->size(); ++i) {
    if (distinct > 0 && (*ids)[distinct - 1] == (*ids)[i]) {
      ++qtf->back();
    } else {
      (*ids)[distinct++] = (*ids)[i];
      qtf->push_back(1);
    }
  }
  ids->resize(distinct);
  for (uint32_t t = 0; t < distinct; ++t) {
    const uint32_t id = (*ids)[t];
    for (uint32_t l = index.term_first_list[id]; l < index.term_first_list[id + 1]; ++l) {
      lists->push_back({l, t, static_cast<float>((*qtf)[t]) * index.lists[l].weight});
    }
  }
  return static_cast<uint32_t>(distinct);
}

uint32_t EffectiveMinShouldMatch(const Query& query) {
  return std::max<uint32_t>(1, query.min_should_match);
}

uint64_t ResultWindow(const Query& query, uint32_t num_docs) {
  return std::min<uint64_t>(static_cast<uint64_t>(query.offset) + query.k, num_docs);
}

void EmitHits(std::vector<ScoredDoc>* ranked, const Query& query, SearchResult* result) {
  std::sort(ranked->begin(), ranked->end(), Better);
  if (ranked->size() > query.offset) {
    result->hits.assign(ranked->begin() + query.offset, ranked->end());
  }
}

}  // namespace

// Range-bounded search. Phase 1 bounds every doc range's score: the sum over query lists of
// the list's largest contribution in the range. Phase 2 walks the ranges in doc order and
// scores, exhaustively, only ranges whose bound can still beat the k-th best score so far.
SearchResult Searcher::Search(const Query& query) {
  const InvertedIndex::Impl& index = index_->impl();
  Scratch& s = *scratch_;
  SearchResult result;
  const uint32_t num_terms = PrepareLists(index, query, &s.term_ids, &s.term_qtf, &s.lists);
  const uint32_t msm = EffectiveMinShouldMatch(query);
  if (s.lists.empty() || msm > num_terms) return result;
  const uint64_t window = ResultWindow(query, index.stats.docs);
  const bool prune = !query.exact_total_hits;
  const auto m = static_cast<uint32_t>(s.lists.size());

  uint32_t largest_df = 0;
  for (const QueryList& q : s.lists) largest_df = std::max(largest_df, index.lists[q.list].length);
  if (window == 0 && prune) {
    // No ranks wanted: answer the count cheaply. One list is exact; several give a lower bound.
    result.total_hits = msm == 1 ? largest_df : 0;
    result.total_hits_exact = m == 1;
    return result;
  }

  // Phase 1: per-range bounds. Each list adds, per range holding any of its postings, at least
  // FLT_MIN, so a zero bound means "no posting here" even when a field weight is 0.
  const uint32_t num_ranges = index.num_ranges;
  s.range_bound.assign(num_ranges, 0.0f);
  float* const bound = s.range_bound.data();
  s.cursors.clear();
  for (const QueryList& q : s.lists) {
    const PostingList& list = index.lists[q.list];
    Cursor c;
    c.docs = index.docs.data() + list.begin;
    c.saturation = index.saturation.data() + list.begin;
    c.block_last = index.block_last_doc.data() + list.first_block;
    c.pos = 0;
    c.length = list.length;
    c.num_blocks = (list.length + kBlockSize - 1) >> kBlockShift;
    c.doc = c.docs[0];
    c.weight = q.weight;
    c.term = q.term;
    c.range_max = list.dense_ranges != kNoDenseRanges
                      ? index.range_max.data() + list.dense_ranges : nullptr;
    s.cursors.push_back(c);
    if (c.range_max != nullptr) {
      // q * max_saturation / 255 >= every saturation in the range (checked at build); the
      // factor 1 + 1e-6 absorbs the float rounding of this product and of weight * saturation.
      float scale = static_cast<float>(static_cast<double>(q.weight) * list.max_saturation /
                                       255.0 * (1.0 + 1e-6));
      scale = std::max(scale, std::numeric_limits<float>::min());
      for (uint32_t r = 0; r < num_ranges; ++r) bound[r] += scale * static_cast<float>(c.range_max[r]);
    } else {
      uint32_t range = c.doc >> kRangeShift;
      float range_max = std::numeric_limits<float>::min();
      for (uint32_t p = 0; p < c.length; ++p) {
        const uint32_t doc = c.docs[p];
        const float contribution = c.weight * c.saturation[p];
        if ((doc >> kRangeShift) != range) {
          bound[range] += range_max;
          range = doc >> kRangeShift;
          range_max = std::numeric_limits<float>::min();
        }
        range_max = std::max(range_max, contribution);
      }
      bound[range] += range_max;
    }
  }

  // A doc can enter the top-k only if it beats the worst kept doc (score, then doc number).
  // The float score sums m contributions in canonical order, the bound in list order; each
  // rounding is within a factor (1 + 2^-24), so slack * bound >= score (one spare 2^-23 covers
  // the double product below). A range is skipped only when slack * bound < threshold: then
  // every doc in it scores strictly below the worst kept doc and cannot enter.
  const double slack = 1.0 + (m + 2) * std::ldexp(1.0, -23);
  float cutoff = std::numeric_limits<float>::min();  // skip ranges with bound < cutoff
  s.heap.clear();
  uint64_t counted = 0;
  Cursor* const cur = s.cursors.data();

  // Scores every doc of range r exhaustively: lists in canonical order, so each doc's float
  // sum adds its contributions in the same order as SearchExhaustive.
  auto score_range = [&](uint32_t r) {
    const uint32_t base = r << kRangeShift;
    const uint32_t end = base + kRangeSize;
    float score[kRangeSize];
    uint32_t matched[kRangeSize];
    uint32_t last_term[kRangeSize];
    uint32_t present = 0;  // bit i: doc base + i has a posting
    for (uint32_t i = 0; i < m; ++i) {
      Cursor& c = cur[i];
      // A long list with nothing in this range stays where it is: no posting memory touched.
      if (c.range_max != nullptr && c.range_max[r] == 0) continue;
      c.AdvanceTo(base);
      while (c.doc < end) {
        const uint32_t slot = c.doc - base;
        const uint32_t bit = 1u << slot;
        if ((present & bit) == 0) {
          present |= bit;
          score[slot] = 0.0f;
          matched[slot] = 0;
          last_term[slot] = UINT32_MAX;
        }
        score[slot] += c.Contribution();
        if (last_term[slot] != c.term) {
          last_term[slot] = c.term;
          ++matched[slot];
        }
        c.Next();
      }
    }
    bool heap_changed = false;
    for (; present != 0; present &= present - 1) {
      const auto slot = static_cast<uint32_t>(std::countr_zero(present));
      if (matched[slot] < msm) continue;
      ++counted;
      const ScoredDoc hit{base + slot, score[slot]};
      if (s.heap.size() < window) {
        s.heap.push_back(hit);
        std::push_heap(s.heap.begin(), s.heap.end(), Better);
        heap_changed = s.heap.size() == window;
      } else if (window > 0 && Better(hit, s.heap.front())) {
        std::pop_heap(s.heap.begin(), s.heap.end(), Better);
        s.heap.back() = hit;
        std::push_heap(s.heap.begin(), s.heap.end(), Better);
        heap_changed = true;
      }
    }
    if (heap_changed && prune) {
      const double threshold = s.heap.front().score;
      float c = static_cast<float>(threshold / slack);
      while (c > 0 && static_cast<double>(c) * slack >= threshold) c = std::nextafter(c, 0.0f);
      cutoff = std::max(cutoff, c);
    }
  };

  // Phase 2: every range, in doc order, whose bound can still beat the threshold.
  bool skipped_matches = false;
  for (uint32_t r = 0; r < num_ranges; ++r) {
    if (bound[r] < cutoff) {
      skipped_matches |= bound[r] > 0;
      continue;
    }
    score_range(r);
  }

  EmitHits(&s.heap, query, &result);
  result.docs_scored = counted;
  if (!skipped_matches) {
    result.total_hits = counted;
  } else if (m == 1) {
    result.total_hits = largest_df;  // one list: every posting is a match
  } else {
    result.total_hits = std::max<uint64_t>(counted, msm == 1 ? largest_df : 0);
    result.total_hits_exact = false;
  }
  return result;
}

SearchResult Searcher::SearchExhaustive(const Query& query) {
  const InvertedIndex::Impl& index = index_->impl();
  Scratch& s = *scratch_;
  SearchResult result;
  const uint32_t num_terms = PrepareLists(index, query, &s.term_ids, &s.term_qtf, &s.lists);
  const uint32_t msm = EffectiveMinShouldMatch(query);
  if (s.lists.empty() || msm > num_terms) return result;

  const uint32_t num_docs = index.stats.docs;
  if (s.stamp.size() != num_docs) {
    s.stamp.assign(num_docs, 0);
    s.score.resize(num_docs);
    s.matched.resize(num_docs);
    s.last_term.resize(num_docs);
    s.epoch = 0;
  }
  if (++s.epoch == 0) {
    std::fill(s.stamp.begin(), s.stamp.end(), 0);
    s.epoch = 1;
  }
  s.touched.clear();
  // Lists in canonical order, so each doc's float sum adds its contributions in that order.
  for (const QueryList& q : s.lists) {
    const PostingList& list = index.lists[q.list];
    for (uint32_t p = list.begin; p < list.begin + list.length; ++p) {
      const uint32_t doc = index.docs[p];
      if (s.stamp[doc] != s.epoch) {
        s.stamp[doc] = s.epoch;
        s.score[doc] = 0.0f;
        s.matched[doc] = 0;
        s.last_term[doc] = UINT32_MAX;
        s.touched.push_back(doc);
      }
      s.score[doc] += q.weight * index.saturation[p];
      if (s.last_term[doc] != q.term) {
        s.last_term[doc] = q.term;
        ++s.matched[doc];
      }
    }
  }
  s.candidates.clear();
  for (uint32_t doc : s.touched) {
    if (s.matched[doc] >= msm) s.candidates.push_back({doc, s.score[doc]});
  }
  result.total_hits = s.candidates.size();
  result.docs_scored = s.candidates.size();
  const uint64_t window = ResultWindow(query, num_docs);
  if (window < s.candidates.size()) {
    std::nth_element(s.candidates.begin(), s.candidates.begin() + window, s.candidates.end(),
                     Better);
    s.candidates.resize(window);
  }
  EmitHits(&s.candidates, query, &result);
  return result;
}

Searcher& ThreadSearcher(const std::shared_ptr<const InvertedIndex>& index) {
  struct Entry {
    std::shared_ptr<const InvertedIndex> index;
    std::unique_ptr<Searcher> searcher;
  };
  thread_local std::vector<Entry> entries;
  for (auto& e : entries) {
    if (e.index == index) return *e.searcher;
  }
  // Only this entry and its searcher keep a replaced index alive: use_count 2.
  std::erase_if(entries, [](const Entry& e) { return e.index.use_count() <= 2; });
  entries.push_back(Entry{index, std::make_unique<Searcher>(index)});
  return *entries.back().searcher;
}

}  // namespace shelfwatch::retrieval
