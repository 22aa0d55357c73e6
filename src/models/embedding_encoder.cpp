#include "models/embedding_encoder.h"

#include <cmath>
#include <string>

namespace shelfwatch::models {
namespace {

bool IsWordByte(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c >= 0x80;
}

}  // namespace

uint64_t Fnv1a64(char prefix, std::string_view bytes) {
  // FNV-1a 64: offset basis 14695981039346656037, prime 1099511628211.
  uint64_t h = 14695981039346656037ull;
  h = (h ^ static_cast<unsigned char>(prefix)) * 1099511628211ull;
  for (char c : bytes) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  return h;
}

std::vector<std::string_view> EncoderTokens(std::string_view text, std::vector<char>* lowered) {
  lowered->assign(text.begin(), text.end());
  for (char& c : *lowered) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  std::vector<std::string_view> tokens;
  const char* base = lowered->data();
  size_t i = 0;
  const size_t n = lowered->size();
  while (i < n) {
    while (i < n && !IsWordByte(static_cast<unsigned char>(base[i]))) ++i;
    const size_t start = i;
    while (i < n && IsWordByte(static_cast<unsigned char>(base[i]))) ++i;
    if (i > start) tokens.emplace_back(base + start, i - start);
  }
  return tokens;
}

std::vector<uint32_t> EncoderFeatures(const EncoderSpec& spec, std::string_view text) {
  std::vector<char> lowered;
  const std::vector<std::string_view> tokens = EncoderTokens(text, &lowered);
  std::vector<uint32_t> features;
  const uint64_t buckets = spec.buckets == 0 ? 1 : spec.buckets;
  auto add = [&](char prefix, std::string_view gram) {
    features.push_back(static_cast<uint32_t>(Fnv1a64(prefix, gram) % buckets));
  };
  std::string gram;
  for (int n = 1; n <= spec.word_ngrams; ++n) {
    for (size_t i = 0; i + static_cast<size_t>(n) <= tokens.size(); ++i) {
      gram.clear();
      for (int j = 0; j < n; ++j) {
        if (j) gram += ' ';
        gram += tokens[i + static_cast<size_t>(j)];
      }
      add('w', gram);
    }
  }
  if (spec.char_ngram_min > 0) {
    for (std::string_view token : tokens) {
      gram.clear();  // (not assign("<"): GCC 12 reports a false -Wrestrict on it)
      gram.push_back('<');
      gram.append(token.data(), token.size());
      gram += '>';
      const size_t len = gram.size();
      const size_t lo = static_cast<size_t>(spec.char_ngram_min);
      const size_t hi = static_cast<size_t>(spec.char_ngram_max);
      if (len < lo) {
        add('c', gram);
        continue;
      }
      for (size_t k = lo; k <= hi && k <= len; ++k) {
        for (size_t s = 0; s + k <= len; ++s) add('c', std::string_view(gram).substr(s, k));
      }
    }
  }
  return features;
}

void EncodeFeatures(const EncoderSpec& spec, std::span<const float> table,
                    std::span<const uint32_t> features, std::span<float> out) {
  const size_t dim = static_cast<size_t>(spec.dim);
  for (float& v : out) v = 0;
  for (uint32_t f : features) {
    const size_t row = static_cast<size_t>(f) * dim;
    if (row + dim > table.size()) continue;  // a table smaller than `buckets`: caller's mistake
    const float* src = table.data() + row;
    for (size_t d = 0; d < dim; ++d) out[d] += src[d];
  }
  double norm = 0;
  for (float v : out) norm += static_cast<double>(v) * v;
  if (norm > 0) {
    const float inv = static_cast<float>(1.0 / std::sqrt(norm));
    for (float& v : out) v *= inv;
  }
}

std::vector<float> EncodeText(const EncoderSpec& spec, std::span<const float> table,
                              std::string_view text) {
  std::vector<float> out(static_cast<size_t>(spec.dim));
  const std::vector<uint32_t> features = EncoderFeatures(spec, text);
  EncodeFeatures(spec, table, features, out);
  return out;
}

}  // namespace shelfwatch::models
