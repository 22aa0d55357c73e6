#include "retrieval/term_dictionary.h"

#include <gtest/gtest.h>

#include <string>

namespace shelfwatch::retrieval {
namespace {

TEST(TermDictionaryTest, AssignsDenseIdsInInsertionOrderAndFindsThem) {
  TermDictionary dict;
  EXPECT_EQ(dict.Find("drill"), TermDictionary::kNotFound);
  EXPECT_EQ(dict.Insert("drill"), 0u);
  EXPECT_EQ(dict.Insert("saw"), 1u);
  EXPECT_EQ(dict.Insert("drill"), 0u);  // existing term keeps its id
  EXPECT_EQ(dict.size(), 2u);
  EXPECT_EQ(dict.Find("saw"), 1u);
  EXPECT_EQ(dict.Find("sa"), TermDictionary::kNotFound);
  EXPECT_EQ(dict.Find("saws"), TermDictionary::kNotFound);
  EXPECT_EQ(dict.term(0), "drill");
  EXPECT_EQ(dict.Find(""), TermDictionary::kNotFound);
  EXPECT_EQ(dict.Insert(""), 2u);  // the empty string is a term like any other
  EXPECT_EQ(dict.Find(""), 2u);
}

// "t<i>" (appended, not operator+: GCC 12 -O3 warns falsely on Term(i)).
std::string Term(uint32_t i) {
  std::string term = "t";
  term += std::to_string(i);
  return term;
}

TEST(TermDictionaryTest, KeepsEveryTermAcrossGrowth) {
  TermDictionary dict;
  constexpr uint32_t kTerms = 100000;
  for (uint32_t i = 0; i < kTerms; ++i) ASSERT_EQ(dict.Insert(Term(i)), i);
  dict.ShrinkToFit();
  for (uint32_t i = 0; i < kTerms; ++i) {
    ASSERT_EQ(dict.Find(Term(i)), i);
    ASSERT_EQ(dict.term(i), Term(i));
  }
  EXPECT_EQ(dict.Find("t100000"), TermDictionary::kNotFound);
  EXPECT_EQ(dict.Find("x1"), TermDictionary::kNotFound);
  // Compact: well under the ~100 bytes per term a node-based hash map of strings costs.
  EXPECT_LT(dict.MemoryBytes(), kTerms * 32);
}

}  // namespace
}  // namespace shelfwatch::retrieval
