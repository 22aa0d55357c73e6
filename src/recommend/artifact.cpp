#include "recommend/artifact.h"

#include <simdjson.h>
#include <unistd.h>

#include <filesystem>

#include "common/clock.h"
#include "common/json_writer.h"

namespace shelfwatch::recommend {
namespace {
constexpr char kMagic[] = "SWREC";
constexpr uint32_t kFormatVersion = 1;
}  // namespace

ArtifactWriter::ArtifactWriter(std::string_view kind) {
  out_.append(kMagic, 5);
  Put<uint32_t>(kFormatVersion);
  PutString(kind);
}

void ArtifactWriter::PutString(std::string_view s) {
  Put<uint32_t>(static_cast<uint32_t>(s.size()));
  out_.append(s);
}

void ArtifactWriter::PutStrings(const std::vector<std::string>& v) {
  Put<uint64_t>(v.size());
  for (const auto& s : v) PutString(s);
}

Result<ArtifactReader> ArtifactReader::Open(std::string bytes, std::string_view expected_kind) {
  ArtifactReader r;
  r.bytes_ = std::move(bytes);
  if (r.bytes_.size() < 5 || r.bytes_.compare(0, 5, kMagic) != 0) {
    return Status(ErrorCode::kDataLoss, "not a shelfwatch recommender artifact (bad magic)");
  }
  r.pos_ = 5;
  uint32_t version = 0;
  SW_RETURN_IF_ERROR(r.Get(&version));
  if (version != kFormatVersion) {
    return Status(ErrorCode::kDataLoss, "artifact format version " + std::to_string(version) + " is not supported");
  }
  std::string kind;
  SW_RETURN_IF_ERROR(r.GetString(&kind));
  if (kind != expected_kind) {
    return Status(ErrorCode::kDataLoss, "artifact holds a '" + kind + "' model, expected '" + std::string(expected_kind) + "'");
  }
  return r;
}

Status ArtifactReader::GetString(std::string* s) {
  uint32_t n = 0;
  SW_RETURN_IF_ERROR(Get(&n));
  if (n > bytes_.size() - pos_) return Truncated();
  s->assign(bytes_.data() + pos_, n);
  pos_ += n;
  return Status::Ok();
}

Status ArtifactReader::GetStrings(std::vector<std::string>* v) {
  uint64_t n = 0;
  SW_RETURN_IF_ERROR(Get(&n));
  if (n > (bytes_.size() - pos_) / 4) return Truncated();
  v->resize(n);
  for (auto& s : *v) SW_RETURN_IF_ERROR(GetString(&s));
  return Status::Ok();
}

Status ArtifactReader::Truncated() const {
  return Status(ErrorCode::kDataLoss, "artifact truncated at byte " + std::to_string(pos_));
}

uint32_t LatestVersion(const std::string& repo_dir, const std::string& model) {
  std::error_code ec;
  uint32_t best = 0;
  for (const auto& entry : std::filesystem::directory_iterator(repo_dir + "/" + model, ec)) {
    std::string name = entry.path().filename().string();
    if (name.empty() || name.size() > 9 || name.find_first_not_of("0123456789") != std::string::npos) continue;
    if (!std::filesystem::exists(entry.path() / "model.bin")) continue;
    best = std::max(best, static_cast<uint32_t>(std::stoul(name)));
  }
  return best;
}

Result<std::string> CreateNextVersionDir(const std::string& repo_dir, const std::string& model) {
  std::error_code ec;
  std::filesystem::create_directories(repo_dir + "/" + model, ec);
  if (ec) return IoError(repo_dir + "/" + model + ": " + ec.message());
  // Count directories too (a version being written has no model.bin yet).
  uint32_t next = 1;
  for (const auto& entry : std::filesystem::directory_iterator(repo_dir + "/" + model, ec)) {
    std::string name = entry.path().filename().string();
    if (name.empty() || name.size() > 9 || name.find_first_not_of("0123456789") != std::string::npos) continue;
    next = std::max(next, static_cast<uint32_t>(std::stoul(name)) + 1);
  }
  std::string dir = repo_dir + "/" + model + "/" + std::to_string(next);
  if (!std::filesystem::create_directory(dir, ec) || ec) return IoError(dir + ": cannot create");
  return dir;
}

Status WriteConfig(const std::string& version_dir, const ArtifactConfig& config) {
  std::string out;
  JsonWriter w(&out);
  w.BeginObject().Key("kind").String(config.kind).Key("trained_on").String(config.trained_on);
  w.Key("trained_at").String(FormatRfc3339Millis(config.trained_at_ms));
  w.Key("params").BeginObject();
  for (const auto& [k, v] : config.params) w.Key(k).Double(v);
  w.EndObject().Key("metrics").BeginObject();
  for (const auto& [k, v] : config.metrics) w.Key(k).Double(v);
  w.EndObject().EndObject();
  out.push_back('\n');
  return WriteFileAtomically(version_dir + "/config.json", out);
}

Result<ArtifactConfig> ReadConfig(const std::string& version_dir) {
  auto text = ReadWholeFile(version_dir + "/config.json");
  if (!text.ok()) return text.status();
  ArtifactConfig config;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(*text).get(doc) != simdjson::SUCCESS || !doc.is_object()) {
    return Status(ErrorCode::kDataLoss, version_dir + "/config.json: not a JSON object");
  }
  std::string_view kind;
  if (doc["kind"].get(kind) != simdjson::SUCCESS) {
    return Status(ErrorCode::kDataLoss, version_dir + "/config.json: no \"kind\"");
  }
  config.kind = std::string(kind);
  std::string_view on;
  if (doc["trained_on"].get(on) == simdjson::SUCCESS) config.trained_on = std::string(on);
  std::string_view at;
  if (doc["trained_at"].get(at) == simdjson::SUCCESS) config.trained_at = std::string(at);
  for (const char* section : {"params", "metrics"}) {
    simdjson::dom::object obj;
    if (doc[section].get(obj) != simdjson::SUCCESS) continue;
    auto& dest = std::string_view(section) == "params" ? config.params : config.metrics;
    for (auto field : obj) {
      double v = 0;
      if (field.value.get(v) == simdjson::SUCCESS) dest.emplace_back(std::string(field.key), v);
    }
  }
  return config;
}

}  // namespace shelfwatch::recommend
