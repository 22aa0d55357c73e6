#include "ranking/product_terms.h"

#include <algorithm>

namespace shelfwatch::ranking {

std::string_view FieldName(Field field) {
  switch (field) {
    case Field::kTitle: return "title";
    case Field::kBrand: return "brand";
    case Field::kDescription: return "description";
    case Field::kCategory: return "category";
    case Field::kCount: break;
  }
  return "unknown";
}

uint32_t TrigramHash(std::string_view trigram) {
  // FNV-1a (Fowler, Noll, Vo), 32 bits: trigrams are 3 bytes, any decent mix will do.
  uint32_t h = 2166136261u;
  for (char c : trigram) {
    h ^= static_cast<uint8_t>(c);
    h *= 16777619u;
  }
  return h;
}

void AppendTrigrams(std::string_view term, std::vector<uint32_t>* out) {
  char buf[64];
  if (term.empty()) return;
  // Terms longer than the buffer keep their first 62 bytes: trigrams of the tail add nothing
  // a shopper's typo could be matched with that the head does not already give.
  const size_t n = std::min(term.size(), sizeof buf - 2);
  buf[0] = '^';
  std::copy_n(term.data(), n, buf + 1);
  buf[n + 1] = '$';
  const size_t len = n + 2;
  for (size_t i = 0; i + 3 <= len; ++i) out->push_back(TrigramHash(std::string_view(buf + i, 3)));
}

bool IsNumberTerm(std::string_view term) {
  if (term.empty() || term.front() < '0' || term.front() > '9') return false;
  for (char c : term) {
    if (!((c >= '0' && c <= '9') || c == '.' || c == '/')) return false;
  }
  return true;
}

Result<std::shared_ptr<const ProductTerms>> ProductTerms::Build(const catalog::Catalog& catalog,
                                                                const text::AnalyzerOptions& analyzer) {
  auto an = text::Analyzer::Create(analyzer);
  if (!an.ok()) return an.status();
  auto pt = std::shared_ptr<ProductTerms>(new ProductTerms());
  pt->analyzer_ = analyzer;
  pt->num_docs_ = static_cast<uint32_t>(catalog.size());
  std::vector<std::string> tokens;
  std::string text;
  for (FieldTerms& f : pt->fields_) {
    f.offsets.reserve(catalog.size() + 1);
    f.offsets.push_back(0);
  }
  std::vector<uint32_t> last_doc;  // term id -> last doc counted in df (per field pass below)
  for (uint32_t doc = 0; doc < catalog.size(); ++doc) {
    const catalog::Product& p = catalog.product(doc);
    for (size_t fi = 0; fi < kNumFields; ++fi) {
      tokens.clear();
      switch (static_cast<Field>(fi)) {
        case Field::kTitle: (*an)->Analyze(p.title, &tokens); break;
        case Field::kBrand: (*an)->Analyze(p.brand, &tokens); break;
        case Field::kDescription: (*an)->Analyze(p.description, &tokens); break;
        case Field::kCategory:
          for (const std::string& level : p.category_path) (*an)->Analyze(level, &tokens);
          break;
        case Field::kCount: break;
      }
      FieldTerms& f = pt->fields_[fi];
      if (f.terms.size() + tokens.size() > UINT32_MAX) {
        return Status(ErrorCode::kResourceExhausted, "catalog too large for ranking features");
      }
      for (const std::string& t : tokens) f.terms.push_back(pt->dictionary_.Insert(t));
      f.offsets.push_back(static_cast<uint32_t>(f.terms.size()));
      if (!tokens.empty()) ++f.non_empty;
    }
  }
  const size_t num_terms = pt->dictionary_.size();
  for (FieldTerms& f : pt->fields_) {
    f.df.assign(num_terms, 0);
    last_doc.assign(num_terms, UINT32_MAX);
    for (uint32_t doc = 0; doc < pt->num_docs_; ++doc) {
      for (uint32_t i = f.offsets[doc]; i < f.offsets[doc + 1]; ++i) {
        const uint32_t t = f.terms[i];
        if (last_doc[t] != doc) {
          last_doc[t] = doc;
          ++f.df[t];
        }
      }
    }
    f.avg_length = f.non_empty ? static_cast<double>(f.terms.size()) / f.non_empty : 0.0;
    f.terms.shrink_to_fit();
  }
  pt->is_number_.resize(num_terms);
  pt->trigram_offsets_.reserve(num_terms + 1);
  pt->trigram_offsets_.push_back(0);
  for (uint32_t id = 0; id < num_terms; ++id) {
    const std::string_view t = pt->dictionary_.term(id);
    pt->is_number_[id] = IsNumberTerm(t) ? 1 : 0;
    const size_t start = pt->trigrams_.size();
    AppendTrigrams(t, &pt->trigrams_);
    // Distinct trigrams of the term, so a repeated trigram ("aaa") counts once.
    std::sort(pt->trigrams_.begin() + static_cast<std::ptrdiff_t>(start), pt->trigrams_.end());
    pt->trigrams_.erase(std::unique(pt->trigrams_.begin() + static_cast<std::ptrdiff_t>(start), pt->trigrams_.end()),
                        pt->trigrams_.end());
    pt->trigram_offsets_.push_back(static_cast<uint32_t>(pt->trigrams_.size()));
  }
  pt->dictionary_.ShrinkToFit();
  return std::shared_ptr<const ProductTerms>(std::move(pt));
}

}  // namespace shelfwatch::ranking
