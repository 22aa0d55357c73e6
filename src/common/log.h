// Structured logging in logfmt to stderr:
//   ts=2026-11-29T11:14:06.123Z level=info msg="listening" addr=127.0.0.1:8080
// Thread-safe: each line is formatted privately and written with a single write(2).
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace shelfwatch::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

void SetLevel(Level level);
Level GetLevel();
// "debug" | "info" | "warn" | "error"; returns false for anything else.
bool ParseLevel(std::string_view text, Level* level);

using Field = std::pair<std::string_view, std::string>;
void Write(Level level, std::string_view msg, std::initializer_list<Field> fields = {});

inline void Debug(std::string_view msg, std::initializer_list<Field> f = {}) { Write(Level::kDebug, msg, f); }
inline void Info(std::string_view msg, std::initializer_list<Field> f = {}) { Write(Level::kInfo, msg, f); }
inline void Warn(std::string_view msg, std::initializer_list<Field> f = {}) { Write(Level::kWarn, msg, f); }
inline void Error(std::string_view msg, std::initializer_list<Field> f = {}) { Write(Level::kError, msg, f); }

}  // namespace shelfwatch::log
