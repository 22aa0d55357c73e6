#include "eval/relevance.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>

#include "catalog/csv_reader.h"

namespace shelfwatch::eval {

Result<Split> ParseSplit(std::string_view text) {
  if (text == "train") return Split::kTrain;
  if (text == "test") return Split::kTest;
  if (text == "all") return Split::kAll;
  return InvalidArgument("split must be train, test or all (got '" + std::string(text) + "')");
}

bool InSplit(int64_t query_id, Split split) {
  switch (split) {
    case Split::kTest: return query_id % 5 == 0;
    case Split::kTrain: return query_id % 5 != 0;
    case Split::kAll: return true;
  }
  return true;
}

namespace {

Result<int64_t> ParseId(const std::string& s, const std::string& file, uint64_t line) {
  char* end = nullptr;
  long long v = std::strtoll(s.c_str(), &end, 10);
  if (s.empty() || *end != 0) {
    return InvalidArgument(file + ":" + std::to_string(line) + ": query_id '" + s + "' is not an integer");
  }
  return static_cast<int64_t>(v);
}

}  // namespace

Result<std::vector<JudgedQuery>> LoadQueries(const std::string& queries_path, Split split) {
  std::vector<JudgedQuery> out;
  {
    auto reader = catalog::CsvReader::Open(queries_path);
    if (!reader.ok()) return reader.status();
    auto& r = **reader;
    std::vector<std::string> row;
    if (!r.Next(&row)) return InvalidArgument(queries_path + ": empty file");
    int id_col = -1, text_col = -1;
    for (size_t i = 0; i < row.size(); ++i) {
      if (row[i] == "query_id") id_col = static_cast<int>(i);
      if (row[i] == "query" || row[i] == "search_term") text_col = static_cast<int>(i);
    }
    if (id_col < 0 || text_col < 0) return InvalidArgument(queries_path + ": needs columns query_id,query");
    while (r.Next(&row)) {
      if (row.size() <= static_cast<size_t>(std::max(id_col, text_col))) continue;
      auto id = ParseId(row[id_col], queries_path, r.row_line());
      if (!id.ok()) return id.status();
      if (!InSplit(*id, split)) continue;
      out.push_back(JudgedQuery{*id, row[text_col], {}});
    }
    if (!r.error().empty()) return InvalidArgument(r.error());
  }
  return out;
}

Result<std::vector<JudgedQuery>> LoadJudgedQueries(const std::string& queries_path,
                                                   const std::string& qrels_path, Split split) {
  auto loaded = LoadQueries(queries_path, split);
  if (!loaded.ok()) return loaded.status();
  std::vector<JudgedQuery> out = std::move(loaded).value();
  std::unordered_map<int64_t, size_t> pos;
  for (size_t i = 0; i < out.size(); ++i) pos[out[i].id] = i;
  {
    auto reader = catalog::CsvReader::Open(qrels_path);
    if (!reader.ok()) return reader.status();
    auto& r = **reader;
    std::vector<std::string> row;
    if (!r.Next(&row)) return InvalidArgument(qrels_path + ": empty file");
    int q_col = -1, p_col = -1, rel_col = -1;
    for (size_t i = 0; i < row.size(); ++i) {
      if (row[i] == "query_id") q_col = static_cast<int>(i);
      if (row[i] == "product_id" || row[i] == "product_uid") p_col = static_cast<int>(i);
      if (row[i] == "relevance") rel_col = static_cast<int>(i);
    }
    if (q_col < 0 || p_col < 0 || rel_col < 0) {
      return InvalidArgument(qrels_path + ": needs columns query_id,product_id,relevance");
    }
    while (r.Next(&row)) {
      if (row.size() <= static_cast<size_t>(std::max({q_col, p_col, rel_col}))) continue;
      auto id = ParseId(row[q_col], qrels_path, r.row_line());
      if (!id.ok()) return id.status();
      auto it = pos.find(*id);
      if (it == pos.end()) continue;
      char* end = nullptr;
      double rel = std::strtod(row[rel_col].c_str(), &end);
      if (row[rel_col].empty() || *end != 0) {
        return InvalidArgument(qrels_path + ":" + std::to_string(r.row_line()) + ": relevance '" +
                               row[rel_col] + "' is not a number");
      }
      out[it->second].gains[row[p_col]] = rel - 1.0;
    }
    if (!r.error().empty()) return InvalidArgument(r.error());
  }
  return out;
}

double DcgAt(const std::vector<std::string>& ranked_ids, const JudgedQuery& q, size_t k) {
  double dcg = 0;
  size_t n = std::min(k, ranked_ids.size());
  for (size_t i = 0; i < n; ++i) {
    auto it = q.gains.find(ranked_ids[i]);
    if (it == q.gains.end() || it->second <= 0) continue;
    dcg += it->second / std::log2(static_cast<double>(i) + 2.0);
  }
  return dcg;
}

double NdcgAt(const std::vector<std::string>& ranked_ids, const JudgedQuery& q, size_t k) {
  std::vector<double> ideal;
  for (const auto& [id, g] : q.gains) {
    if (g > 0) ideal.push_back(g);
  }
  if (ideal.empty()) return 0;
  std::sort(ideal.begin(), ideal.end(), std::greater<double>());
  double idcg = 0;
  for (size_t i = 0; i < std::min(k, ideal.size()); ++i) idcg += ideal[i] / std::log2(static_cast<double>(i) + 2.0);
  return DcgAt(ranked_ids, q, k) / idcg;
}

double ReciprocalRankAt(const std::vector<std::string>& ranked_ids, const JudgedQuery& q, size_t k,
                        double relevant_gain) {
  size_t n = std::min(k, ranked_ids.size());
  for (size_t i = 0; i < n; ++i) {
    auto it = q.gains.find(ranked_ids[i]);
    if (it != q.gains.end() && it->second >= relevant_gain) return 1.0 / static_cast<double>(i + 1);
  }
  return 0;
}

double RecallAt(const std::vector<std::string>& ranked_ids, const JudgedQuery& q, size_t k,
                double relevant_gain) {
  size_t relevant = 0;
  for (const auto& [id, g] : q.gains) relevant += g >= relevant_gain;
  if (relevant == 0) return 0;
  size_t found = 0;
  size_t n = std::min(k, ranked_ids.size());
  for (size_t i = 0; i < n; ++i) {
    auto it = q.gains.find(ranked_ids[i]);
    if (it != q.gains.end() && it->second >= relevant_gain) ++found;
  }
  return static_cast<double>(found) / static_cast<double>(relevant);
}

void RelevanceAccumulator::Add(const JudgedQuery& q, const std::vector<std::string>& ranked_ids,
                               uint64_t total_hits) {
  ++sums_.queries;
  if (total_hits == 0) sums_.zero_result_rate += 1;
  bool has_gain = false, has_relevant = false;
  for (const auto& [id, g] : q.gains) {
    has_gain |= g > 0;
    has_relevant |= g >= 1.0;
  }
  if (has_gain) {
    ++sums_.queries_with_gain;
    sums_.ndcg_at_10 += NdcgAt(ranked_ids, q, 10);
  }
  if (has_relevant) {
    ++sums_.queries_with_relevant;
    sums_.mrr_at_10 += ReciprocalRankAt(ranked_ids, q, 10);
    sums_.recall_at_100 += RecallAt(ranked_ids, q, 100);
  }
}

RelevanceSummary RelevanceAccumulator::Summary() const {
  RelevanceSummary s = sums_;
  if (s.queries_with_gain) s.ndcg_at_10 /= static_cast<double>(s.queries_with_gain);
  if (s.queries_with_relevant) {
    s.mrr_at_10 /= static_cast<double>(s.queries_with_relevant);
    s.recall_at_100 /= static_cast<double>(s.queries_with_relevant);
  }
  if (s.queries) s.zero_result_rate /= static_cast<double>(s.queries);
  return s;
}

std::string RelevanceSummary::ToLine() const {
  char buf[160];
  std::snprintf(buf, sizeof buf, "ndcg@10=%.4f mrr@10=%.4f recall@100=%.4f zero_result_rate=%.4f",
                ndcg_at_10, mrr_at_10, recall_at_100, zero_result_rate);
  return buf;
}

}  // namespace shelfwatch::eval
