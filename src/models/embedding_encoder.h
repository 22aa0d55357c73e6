// The query (and item-title) encoder of `embedding` models: a sum of hashed word n-gram and
// character n-gram embeddings, L2-normalised. The training code (`shelfwatch train embeddings`)
// and the serving backend both call these functions, so a text maps to the same rows of the
// embedding table in both places (no train/serve skew).
//
// Features, in this order (fastText's subword scheme, Bojanowski et al. 2017, "Enriching Word
// Vectors with Subword Information", with hashing as in Weinberger et al. 2009):
//   1. tokens: the text lower-cased (ASCII only), split into maximal runs of [a-z0-9] and bytes
//      >= 0x80 (so UTF-8 letters stay inside words); every other byte separates tokens;
//   2. word n-grams for n = 1..word_ngrams: the tokens joined with one space, hashed with the
//      prefix byte 'w';
//   3. for every token, character n-grams of "<token>" (boundary markers '<' and '>') for
//      n = char_ngram_min..char_ngram_max, hashed with the prefix byte 'c'; a token shorter
//      than char_ngram_min yields its whole bracketed form once.
// hash = 64-bit FNV-1a (http://www.isthe.com/chongo/tech/comp/fnv/) of prefix byte + n-gram
// bytes; bucket = hash % buckets. The embedding of a text is sum over features of
// table[bucket] (duplicates count), divided by its L2 norm (all zeros stay zeros).
//
// Thread-safety: pure functions. Cost: O(text length x (char_ngram_max - char_ngram_min + 1))
// features, then O(features x dim) to sum.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace shelfwatch::models {

struct EncoderSpec {
  int dim = 64;                 // embedding width
  uint32_t buckets = 1u << 18;  // rows of the hashed embedding table
  int word_ngrams = 2;          // word unigrams .. n-grams
  int char_ngram_min = 3;       // character n-gram lengths, inclusive; 0 disables them
  int char_ngram_max = 5;
};

// 64-bit FNV-1a of `prefix` followed by `bytes`.
uint64_t Fnv1a64(char prefix, std::string_view bytes);

// The lower-cased tokens of `text` (rule 1 above).
std::vector<std::string_view> EncoderTokens(std::string_view text, std::vector<char>* lowered);

// Bucket ids of every feature of `text` (rules 2 and 3), duplicates kept.
std::vector<uint32_t> EncoderFeatures(const EncoderSpec& spec, std::string_view text);

// out = L2-normalised sum of table rows for `features`; table is buckets x dim, row-major;
// out.size() == dim.
void EncodeFeatures(const EncoderSpec& spec, std::span<const float> table,
                    std::span<const uint32_t> features, std::span<float> out);

// EncodeFeatures(EncoderFeatures(text)).
std::vector<float> EncodeText(const EncoderSpec& spec, std::span<const float> table,
                              std::string_view text);

}  // namespace shelfwatch::models
