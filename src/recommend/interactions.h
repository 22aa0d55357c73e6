// Interactions: the user-item events recommendation models learn from, with the id
// dictionaries that turn external ids into dense indices, and the sessionisation of a
// user's events by time gap (Taobao UserBehavior has no session ids).
//
// Input format (the Tianchi "UserBehavior" CSV, ../shared/data/taobao/README.md):
//   user_id,item_id,category_id,behavior_type,timestamp
// with behavior_type pv|fav|cart|buy and Unix seconds; a header row is optional. Feedback
// event names (click|add_to_cart|purchase) are accepted too, so exports of /v1/events train
// the same models.
//
// Thread-safety: a built InteractionLog is immutable and safe for concurrent reads.
// Cost: loading is one pass over the file, ~30 ns per byte; memory ~24 bytes per event plus
// the id dictionaries.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/status.h"

namespace shelfwatch::recommend {

// Behaviour types ordered by intent: a purchase says more than a view.
enum class Behavior : uint8_t { kView = 0, kFav = 1, kCart = 2, kBuy = 3 };
inline constexpr int kBehaviorCount = 4;

// "pv"/"view"/"click" -> kView, "fav" -> kFav, "cart"/"add_to_cart" -> kCart,
// "buy"/"purchase" -> kBuy; nullopt otherwise (impressions are not interactions).
std::optional<Behavior> ParseBehavior(std::string_view name);
std::string_view BehaviorName(Behavior b);  // "pv" | "fav" | "cart" | "buy"

// Dense ids for external string ids, in first-seen order. Not thread-safe for Intern.
class Vocabulary {
 public:
  static constexpr uint32_t kUnknown = UINT32_MAX;
  uint32_t Intern(std::string_view id);
  uint32_t Find(std::string_view id) const;  // kUnknown when absent
  const std::string& Name(uint32_t index) const { return names_[index]; }
  const std::vector<std::string>& names() const { return names_; }
  size_t size() const { return names_.size(); }

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };
  std::unordered_map<std::string, uint32_t, Hash, std::equal_to<>> index_;
  std::vector<std::string> names_;
};

struct Interaction {
  uint32_t user = 0;
  uint32_t item = 0;
  int64_t timestamp = 0;  // Unix seconds
  Behavior behavior = Behavior::kView;
};

// All events, sorted by (user, timestamp), with each item's category.
struct InteractionLog {
  Vocabulary users;
  Vocabulary items;
  Vocabulary categories;
  std::vector<uint32_t> item_category;  // by item; Vocabulary::kUnknown when none
  std::vector<Interaction> events;      // sorted by user, then timestamp (stable)
  std::vector<uint32_t> user_begin;     // events of user u: [user_begin[u], user_begin[u+1])

  std::span<const Interaction> EventsOf(uint32_t user) const {
    return {events.data() + user_begin[user], events.data() + user_begin[user + 1]};
  }
  int64_t MaxTimestamp() const;
  // Sorts events and builds user_begin; call after appending events.
  void Finish();
  // The events with timestamp < cutoff (before) or >= cutoff (after), same dictionaries.
  InteractionLog Before(int64_t cutoff) const;
};

struct LoadStats {
  uint64_t rows = 0;
  uint64_t rejected = 0;    // malformed rows, skipped
  std::string first_error;  // "file:line: reason" of the first rejected row
};

// Reads a UserBehavior-style CSV. Errors: kNotFound/kIoError for the file, kInvalidArgument
// when no row is usable (the message quotes the first bad row).
Result<InteractionLog> LoadInteractions(const std::string& path, LoadStats* stats = nullptr);
// The same from text already in memory (tests, stdin).
Result<InteractionLog> ParseInteractions(std::string_view text, const std::string& name,
                                         LoadStats* stats = nullptr);

// Splits a user's chronological events into sessions: a new session starts when the gap to
// the previous event exceeds `gap_seconds` (30 min is the usual web-analytics convention).
// Returns the start offsets into `events` plus events.size() at the end.
std::vector<uint32_t> SessionBreaks(std::span<const Interaction> events, int64_t gap_seconds);

}  // namespace shelfwatch::recommend
