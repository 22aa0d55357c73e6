#include <algorithm>
#include <cmath>
#include <string>

#include "common/clock.h"
#include "common/progress.h"
#include "retrieval/index.h"
#include "retrieval/index_impl.h"

namespace shelfwatch::retrieval {
namespace {

enum class FieldKind { kTitle, kDescription, kBrand, kCategory, kAttributes };

bool ParseFieldKind(const std::string& name, FieldKind* kind) {
  static constexpr std::pair<const char*, FieldKind> kNames[] = {
      {"title", FieldKind::kTitle},       {"description", FieldKind::kDescription},
      {"brand", FieldKind::kBrand},       {"category", FieldKind::kCategory},
      {"attributes", FieldKind::kAttributes}};
  for (const auto& [n, k] : kNames) {
    if (name == n) {
      *kind = k;
      return true;
    }
  }
  return false;
}

// Appends the terms of one field of `product`. A category path is analysed element by element
// and attributes by value only (an attribute name such as "color" is not a property of the
// product a shopper searches for).
void AnalyzeField(text::Analyzer& analyzer, const catalog::Product& product, FieldKind kind,
                  std::vector<std::string>* terms) {
  switch (kind) {
    case FieldKind::kTitle:
      analyzer.Analyze(product.title, terms);
      break;
    case FieldKind::kDescription:
      analyzer.Analyze(product.description, terms);
      break;
    case FieldKind::kBrand:
      analyzer.Analyze(product.brand, terms);
      break;
    case FieldKind::kCategory:
      for (const auto& level : product.category_path) analyzer.Analyze(level, terms);
      break;
    case FieldKind::kAttributes:
      for (const auto& attribute : product.attributes) analyzer.Analyze(attribute.second, terms);
      break;
  }
}

Status ValidateOptions(const IndexOptions& options, std::vector<FieldKind>* kinds) {
  if (options.fields.empty()) return InvalidArgument("index options name no fields to index");
  if (options.fields.size() > 255) return InvalidArgument("at most 255 indexed fields");
  for (size_t i = 0; i < options.fields.size(); ++i) {
    const FieldSpec& field = options.fields[i];
    FieldKind kind;
    if (!ParseFieldKind(field.name, &kind)) {
      return InvalidArgument("unknown field '" + field.name +
                             "'; expected title, description, brand, category or attributes");
    }
    for (size_t j = 0; j < i; ++j) {
      if (options.fields[j].name == field.name) {
        return InvalidArgument("field '" + field.name + "' is listed twice");
      }
    }
    if (!(field.weight >= 0.0f) || !std::isfinite(field.weight)) {
      return InvalidArgument("field '" + field.name + "' needs a finite weight >= 0");
    }
    kinds->push_back(kind);
  }
  const Bm25Params& p = options.bm25;
  if (!(p.k1 >= 0.0f) || !std::isfinite(p.k1)) return InvalidArgument("bm25 k1 must be >= 0");
  if (!(p.b >= 0.0f && p.b <= 1.0f)) return InvalidArgument("bm25 b must be in [0, 1]");
  return Status::Ok();
}

// BM25's term-frequency saturation with the length normaliser K = k1 (1 - b + b len / avglen).
float Saturation(uint32_t tf, float length_norm) {
  auto f = static_cast<float>(tf);
  return f / (f + length_norm);
}

// One (term, tf) pair of one document field, produced by the analysis pass.
struct FieldTerm {
  uint32_t term;
  uint16_t tf;
  uint8_t field;
};

// Largest saturation per list, and the dense per-range bounds of long lists (see index_impl.h).
void BuildRangeBounds(InvertedIndex::Impl* impl) {
  const uint32_t num_docs = impl->stats.docs;
  impl->num_ranges = (num_docs + kRangeSize - 1) >> kRangeShift;
  size_t dense_lists = 0;
  for (PostingList& list : impl->lists) {
    for (uint32_t p = list.begin; p < list.begin + list.length; ++p) {
      list.max_saturation = std::max(list.max_saturation, impl->saturation[p]);
    }
    if (static_cast<uint64_t>(list.length) * kDenseDivisor >= impl->num_ranges) ++dense_lists;
  }
  impl->range_max.assign(dense_lists * impl->num_ranges, 0);
  uint32_t next = 0;
  for (PostingList& list : impl->lists) {
    if (static_cast<uint64_t>(list.length) * kDenseDivisor < impl->num_ranges) continue;
    list.dense_ranges = next;
    next += impl->num_ranges;
    uint8_t* bytes = impl->range_max.data() + list.dense_ranges;
    const double max_saturation = list.max_saturation;
    for (uint32_t p = list.begin; p < list.begin + list.length; ++p) {
      const uint32_t doc = impl->docs[p];
      const double saturation = impl->saturation[p];
      // Smallest q with q * max / 255 >= saturation (checked in double, so it is a bound).
      auto q = static_cast<uint32_t>(std::ceil(saturation / max_saturation * 255.0));
      while (q < 255 && q * max_saturation / 255.0 < saturation) ++q;
      q = std::clamp<uint32_t>(q, 1, 255);
      uint8_t& slot = bytes[doc >> kRangeShift];
      slot = std::max<uint8_t>(slot, static_cast<uint8_t>(q));
    }
  }
}

}  // namespace

uint64_t InvertedIndex::Impl::MemoryBytes() const {
  uint64_t bytes = dictionary.MemoryBytes();
  bytes += term_first_list.capacity() * sizeof(uint32_t);
  bytes += lists.capacity() * sizeof(PostingList);
  bytes += docs.capacity() * sizeof(uint32_t) + saturation.capacity() * sizeof(float);
  bytes += block_last_doc.capacity() * sizeof(uint32_t);
  bytes += range_max.capacity();
  bytes += field_docs.capacity() * sizeof(uint32_t) + field_avg_length.capacity() * sizeof(double);
  return bytes;
}

Result<std::shared_ptr<const InvertedIndex>> InvertedIndex::Build(const catalog::Catalog& catalog,
                                                                  const IndexOptions& options) {
  const int64_t start_ns = MonotonicNanos();
  std::vector<FieldKind> kinds;
  SW_RETURN_IF_ERROR(ValidateOptions(options, &kinds));
  // Doc numbers, range ends (doc + kRangeSize) and kNoMoreDocs must all fit in 32 bits.
  if (catalog.size() > UINT32_MAX - 2 * kRangeSize) {
    return InvalidArgument("catalog too large to index: at most 2^32 - 65 products");
  }
  auto analyzer = text::Analyzer::Create(options.analyzer);
  if (!analyzer.ok()) return analyzer.status();

  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->stats.docs = static_cast<uint32_t>(catalog.size());
  const auto num_docs = static_cast<uint32_t>(catalog.size());
  const auto num_fields = static_cast<uint32_t>(kinds.size());

  // Pass 1: analyse every field of every doc once; keep (term, tf) per doc field and lengths.
  std::vector<FieldTerm> field_terms;
  std::vector<uint64_t> doc_first_term(num_docs + 1, 0);
  std::vector<std::vector<uint32_t>> lengths(num_fields, std::vector<uint32_t>(num_docs, 0));
  std::vector<uint32_t> slot_of_term;  // term id -> index in field_terms while its doc field is open
  std::vector<std::string> terms;
  ProgressBar progress("indexing " + catalog.name(), num_docs, options.progress);
  for (uint32_t doc = 0; doc < num_docs; ++doc) {
    const catalog::Product& product = catalog.product(doc);
    for (uint32_t f = 0; f < num_fields; ++f) {
      terms.clear();
      AnalyzeField(**analyzer, product, kinds[f], &terms);
      lengths[f][doc] = static_cast<uint32_t>(terms.size());
      const size_t open = field_terms.size();
      for (const std::string& term : terms) {
        uint32_t id = impl->dictionary.Insert(term);
        if (id >= slot_of_term.size()) slot_of_term.resize(id + 1, UINT32_MAX);
        uint32_t slot = slot_of_term[id];
        if (slot != UINT32_MAX && slot >= open && field_terms[slot].term == id) {
          if (field_terms[slot].tf < UINT16_MAX) ++field_terms[slot].tf;
        } else {
          slot_of_term[id] = static_cast<uint32_t>(field_terms.size());
          field_terms.push_back({id, 1, static_cast<uint8_t>(f)});
        }
      }
    }
    doc_first_term[doc + 1] = field_terms.size();
    progress.Update(doc + 1);
  }
  progress.Finish();
  if (field_terms.size() >= UINT32_MAX) return InvalidArgument("too many postings to index");
  slot_of_term = {};
  impl->dictionary.ShrinkToFit();
  const auto num_terms = static_cast<uint32_t>(impl->dictionary.size());

  // BM25 collection statistics per field: N = docs with the field non-empty, avglen over them.
  const Bm25Params& bm25 = options.bm25;
  impl->field_docs.assign(num_fields, 0);
  impl->field_avg_length.assign(num_fields, 0.0);
  std::vector<std::vector<float>> length_norm(num_fields);  // per field, per doc: BM25's K
  for (uint32_t f = 0; f < num_fields; ++f) {
    uint64_t total = 0;
    for (uint32_t len : lengths[f]) {
      total += len;
      impl->field_docs[f] += len > 0 ? 1 : 0;
    }
    double avg = impl->field_docs[f] > 0 ? static_cast<double>(total) / impl->field_docs[f] : 1.0;
    impl->field_avg_length[f] = avg;
    auto& norms = length_norm[f];
    norms.resize(num_docs);
    for (uint32_t doc = 0; doc < num_docs; ++doc) {
      norms[doc] = static_cast<float>(bm25.k1 * (1.0 - bm25.b + bm25.b * lengths[f][doc] / avg));
    }
  }
  lengths = {};

  // Document frequency per (term, field), then list ids in (term, field) order.
  std::vector<uint32_t> list_of(static_cast<size_t>(num_terms) * num_fields, 0);  // df, then id
  for (const FieldTerm& ft : field_terms) ++list_of[static_cast<size_t>(ft.term) * num_fields + ft.field];
  impl->term_first_list.resize(num_terms + 1);
  uint32_t next_posting = 0;
  uint32_t next_block = 0;
  for (uint32_t t = 0; t < num_terms; ++t) {
    impl->term_first_list[t] = static_cast<uint32_t>(impl->lists.size());
    for (uint32_t f = 0; f < num_fields; ++f) {
      uint32_t& slot = list_of[static_cast<size_t>(t) * num_fields + f];
      const uint32_t df = slot;
      if (df == 0) continue;
      PostingList list;
      list.begin = next_posting;
      list.length = df;
      list.first_block = next_block;
      list.field = f;
      // Lucene's non-negative BM25 idf (Robertson & Zaragoza 2009, eq. 3.3, plus one inside log).
      const double n = impl->field_docs[f];
      const double idf = std::log(1.0 + (n - df + 0.5) / (df + 0.5));
      list.weight = static_cast<float>(options.fields[f].weight * idf * (bm25.k1 + 1.0));
      next_posting += df;
      next_block += (df + kBlockSize - 1) >> kBlockShift;
      slot = static_cast<uint32_t>(impl->lists.size());
      impl->lists.push_back(list);
    }
  }
  impl->term_first_list[num_terms] = static_cast<uint32_t>(impl->lists.size());
  impl->lists.shrink_to_fit();

  // Pass 2: postings in doc order, so every list comes out sorted by doc id.
  impl->docs.resize(next_posting);
  impl->saturation.resize(next_posting);
  std::vector<uint32_t> fill(impl->lists.size());
  for (size_t l = 0; l < impl->lists.size(); ++l) fill[l] = impl->lists[l].begin;
  for (uint32_t doc = 0; doc < num_docs; ++doc) {
    for (uint64_t i = doc_first_term[doc]; i < doc_first_term[doc + 1]; ++i) {
      const FieldTerm& ft = field_terms[i];
      uint32_t pos = fill[list_of[static_cast<size_t>(ft.term) * num_fields + ft.field]]++;
      impl->docs[pos] = doc;
      impl->saturation[pos] = Saturation(ft.tf, length_norm[ft.field][doc]);
    }
  }
  field_terms = {};
  list_of = {};

  // Skip data: the last doc of every block of kBlockSize postings.
  impl->block_last_doc.resize(next_block);
  for (const PostingList& list : impl->lists) {
    for (uint32_t i = 0; i < list.length; i += kBlockSize) {
      uint32_t end = std::min(list.length, i + kBlockSize);
      impl->block_last_doc[list.first_block + (i >> kBlockShift)] = impl->docs[list.begin + end - 1];
    }
  }
  BuildRangeBounds(impl.get());

  impl->stats.terms = impl->lists.size();
  impl->stats.postings = impl->docs.size();
  impl->stats.memory_bytes = impl->MemoryBytes();
  impl->stats.build_seconds = static_cast<double>(MonotonicNanos() - start_ns) / 1e9;
  return std::shared_ptr<const InvertedIndex>(new InvertedIndex(std::move(impl)));
}

InvertedIndex::InvertedIndex(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
InvertedIndex::~InvertedIndex() = default;

const IndexOptions& InvertedIndex::options() const { return impl_->options; }
const IndexStats& InvertedIndex::stats() const { return impl_->stats; }
uint32_t InvertedIndex::num_docs() const { return impl_->stats.docs; }

}  // namespace shelfwatch::retrieval
