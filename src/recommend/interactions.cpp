#include "recommend/interactions.h"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <sstream>
#include <sys/stat.h>

namespace shelfwatch::recommend {

std::optional<Behavior> ParseBehavior(std::string_view name) {
  if (name == "pv" || name == "view" || name == "click") return Behavior::kView;
  if (name == "fav") return Behavior::kFav;
  if (name == "cart" || name == "add_to_cart") return Behavior::kCart;
  if (name == "buy" || name == "purchase") return Behavior::kBuy;
  return std::nullopt;
}

std::string_view BehaviorName(Behavior b) {
  switch (b) {
    case Behavior::kView: return "pv";
    case Behavior::kFav: return "fav";
    case Behavior::kCart: return "cart";
    case Behavior::kBuy: return "buy";
  }
  return "pv";
}

uint32_t Vocabulary::Intern(std::string_view id) {
  auto it = index_.find(id);
  if (it != index_.end()) return it->second;
  uint32_t next = static_cast<uint32_t>(names_.size());
  names_.emplace_back(id);
  index_.emplace(names_.back(), next);
  return next;
}

uint32_t Vocabulary::Find(std::string_view id) const {
  auto it = index_.find(id);
  return it == index_.end() ? kUnknown : it->second;
}

int64_t InteractionLog::MaxTimestamp() const {
  int64_t m = 0;
  for (const auto& e : events) m = std::max(m, e.timestamp);
  return m;
}

void InteractionLog::Finish() {
  std::stable_sort(events.begin(), events.end(), [](const Interaction& a, const Interaction& b) {
    return a.user != b.user ? a.user < b.user : a.timestamp < b.timestamp;
  });
  user_begin.assign(users.size() + 1, 0);
  for (const auto& e : events) ++user_begin[e.user + 1];
  for (size_t u = 0; u < users.size(); ++u) user_begin[u + 1] += user_begin[u];
  item_category.resize(items.size(), Vocabulary::kUnknown);
}

InteractionLog InteractionLog::Before(int64_t cutoff) const {
  InteractionLog out;
  out.users = users;
  out.items = items;
  out.categories = categories;
  out.item_category = item_category;
  for (const auto& e : events) {
    if (e.timestamp < cutoff) out.events.push_back(e);
  }
  out.Finish();
  return out;
}

namespace {

// Ids are kept as text but must look like ids: printable ASCII without separators, so a
// stray quote or a binary blob is rejected instead of becoming an item.
bool IsValidId(std::string_view s) {
  if (s.empty() || s.size() > 128) return false;
  for (char c : s) {
    if (c <= ' ' || c > '~' || c == '"' || c == ',') return false;
  }
  return true;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

}  // namespace

Result<InteractionLog> ParseInteractions(std::string_view text, const std::string& name, LoadStats* stats) {
  InteractionLog log;
  LoadStats local;
  uint64_t line_no = 0;
  auto reject = [&](std::string_view why) {
    ++local.rejected;
    if (local.first_error.empty()) local.first_error = name + ":" + std::to_string(line_no) + ": " + std::string(why);
  };
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view line = Trim(text.substr(pos, nl - pos));
    pos = nl + 1;
    ++line_no;
    if (line.empty()) continue;
    std::string_view f[5];
    size_t n = 0, start = 0;
    for (size_t i = 0; i <= line.size() && n < 6; ++i) {
      if (i == line.size() || line[i] == ',') {
        if (n < 5) f[n] = Trim(line.substr(start, i - start));
        ++n;
        start = i + 1;
      }
    }
    if (line_no == 1 && f[0] == "user_id") continue;  // header
    ++local.rows;
    if (n != 5) {
      reject("expected 5 fields user_id,item_id,category_id,behavior_type,timestamp");
      continue;
    }
    auto behavior = ParseBehavior(f[3]);
    if (!behavior) {
      reject("unknown behavior_type '" + std::string(f[3].substr(0, 32)) + "'");
      continue;
    }
    int64_t ts = 0;
    auto [p, ec] = std::from_chars(f[4].data(), f[4].data() + f[4].size(), ts);
    if (ec != std::errc() || p != f[4].data() + f[4].size() || ts < 0 || ts > 32503680000) {
      reject("bad timestamp '" + std::string(f[4].substr(0, 32)) + "'");
      continue;
    }
    if (!IsValidId(f[0]) || !IsValidId(f[1]) || !(f[2].empty() || IsValidId(f[2]))) {
      reject("malformed id");
      continue;
    }
    Interaction e;
    e.user = log.users.Intern(f[0]);
    e.item = log.items.Intern(f[1]);
    e.timestamp = ts;
    e.behavior = *behavior;
    if (log.item_category.size() < log.items.size()) log.item_category.resize(log.items.size(), Vocabulary::kUnknown);
    if (!f[2].empty()) log.item_category[e.item] = log.categories.Intern(f[2]);
    log.events.push_back(e);
  }
  if (stats) *stats = local;
  if (log.events.empty()) {
    return InvalidArgument(name + ": no usable interaction rows" +
                           (local.first_error.empty() ? std::string() : " (first error: " + local.first_error + ")"));
  }
  log.Finish();
  return log;
}

Result<InteractionLog> LoadInteractions(const std::string& path, LoadStats* stats) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return NotFound(path + ": no such file");
  if (S_ISDIR(st.st_mode)) return IoError(path + ": is a directory");
  std::ifstream in(path, std::ios::binary);
  if (!in) return IoError(path + ": cannot open");
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad()) return IoError(path + ": read error");
  return ParseInteractions(buf.str(), path, stats);
}

std::vector<uint32_t> SessionBreaks(std::span<const Interaction> events, int64_t gap_seconds) {
  std::vector<uint32_t> breaks;
  for (size_t i = 0; i < events.size(); ++i) {
    if (i == 0 || events[i].timestamp - events[i - 1].timestamp > gap_seconds) {
      breaks.push_back(static_cast<uint32_t>(i));
    }
  }
  breaks.push_back(static_cast<uint32_t>(events.size()));
  return breaks;
}

}  // namespace shelfwatch::recommend
