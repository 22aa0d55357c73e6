// ProductTerms: the analysed terms of every product, field by field and in text order (a
// forward index), with the per-field statistics BM25 needs and each term's character trigrams.
//
// The inverted index answers "which products contain this term"; ranking features ask the
// opposite, "where in this title are the query terms", for a hundred candidates per query.
// Analysing a title costs about 2 us (text/analyzer.h), 200 us for 100 candidates, so the
// terms are analysed once, when the catalog loads, with the same analyzer options as the
// index, so both agree on every term.
//
// Thread-safety: immutable after Build; safe for concurrent reads.
// Cost: Build is O(total tokens) (about 0.2 s for the Home Depot titles). Memory: 4 bytes
// per token, about 30 bytes per distinct term plus its trigrams (about 3 MB for Home Depot).
// Lookups are O(1) (term) and O(terms of the field) (a product's terms).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "catalog/catalog.h"
#include "common/status.h"
#include "retrieval/term_dictionary.h"
#include "text/analyzer.h"

namespace shelfwatch::ranking {

// The product fields features are computed over. Category levels are read as one text, and
// attribute values as another.
enum class Field : uint8_t { kTitle = 0, kBrand, kDescription, kCategory, kCount };
inline constexpr size_t kNumFields = static_cast<size_t>(Field::kCount);
std::string_view FieldName(Field field);

// Hash of a character trigram of a term padded with one boundary mark on each side
// ("^dr", "dri", ..., "ll$"), so short words and word edges count too.
uint32_t TrigramHash(std::string_view trigram);
// Appends the trigram hashes of `term` (its bytes; UTF-8 multi-byte characters are split,
// which is harmless for overlap counting).
void AppendTrigrams(std::string_view term, std::vector<uint32_t>* out);

class ProductTerms {
 public:
  static constexpr uint32_t kUnknownTerm = retrieval::TermDictionary::kNotFound;

  // Analyses every product's fields. Errors: kInvalidArgument for bad analyzer options,
  // kResourceExhausted when the catalog holds more than 2^32 tokens.
  static Result<std::shared_ptr<const ProductTerms>> Build(const catalog::Catalog& catalog,
                                                           const text::AnalyzerOptions& analyzer);

  const text::AnalyzerOptions& analyzer_options() const { return analyzer_; }
  uint32_t num_docs() const { return num_docs_; }

  // Term id of an analysed term, or kUnknownTerm.
  uint32_t Find(std::string_view term) const { return dictionary_.Find(term); }
  std::string_view term(uint32_t id) const { return dictionary_.term(id); }
  // The product's terms in `field`, in text order.
  std::span<const uint32_t> Terms(uint32_t doc, Field field) const {
    const FieldTerms& f = fields_[static_cast<size_t>(field)];
    return {f.terms.data() + f.offsets[doc], f.terms.data() + f.offsets[doc + 1]};
  }
  // Cache hints for a batch of candidates: their rows are scattered over memory, so asking for
  // every candidate's offsets first (then its terms) overlaps the misses instead of paying one
  // memory latency per candidate and field.
  void PrefetchOffsets(uint32_t doc) const {
    for (const FieldTerms& f : fields_) __builtin_prefetch(f.offsets.data() + doc);
  }
  void PrefetchTerms(uint32_t doc) const {
    for (const FieldTerms& f : fields_) __builtin_prefetch(f.terms.data() + f.offsets[doc]);
  }
  // Products whose `field` contains term `id` (document frequency), and the number of
  // products with a non-empty field and their mean length: BM25's df, N and avglen.
  uint32_t DocFrequency(uint32_t id, Field field) const { return fields_[static_cast<size_t>(field)].df[id]; }
  uint32_t FieldDocs(Field field) const { return fields_[static_cast<size_t>(field)].non_empty; }
  double AverageLength(Field field) const { return fields_[static_cast<size_t>(field)].avg_length; }
  // Whether the term is a number ("2", "3/4", "1.5"): numbers and the unit after them are
  // what shoppers use to pick a size.
  bool IsNumber(uint32_t id) const { return is_number_[id] != 0; }
  std::span<const uint32_t> Trigrams(uint32_t id) const {
    return {trigrams_.data() + trigram_offsets_[id], trigrams_.data() + trigram_offsets_[id + 1]};
  }

 private:
  struct FieldTerms {
    std::vector<uint32_t> offsets;  // doc -> first token; one extra end entry
    std::vector<uint32_t> terms;
    std::vector<uint32_t> df;       // term id -> document frequency in this field
    uint32_t non_empty = 0;
    double avg_length = 0;
  };
  text::AnalyzerOptions analyzer_;
  uint32_t num_docs_ = 0;
  retrieval::TermDictionary dictionary_;
  std::array<FieldTerms, kNumFields> fields_;
  std::vector<uint8_t> is_number_;
  std::vector<uint32_t> trigram_offsets_;
  std::vector<uint32_t> trigrams_;
};

// True when an analysed term reads as a number: digits with at most '.', '/' between them.
bool IsNumberTerm(std::string_view term);

}  // namespace shelfwatch::ranking
