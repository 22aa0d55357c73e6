// shelfwatch export training-data: served requests joined with their feedback, as labelled
// lists for learning to rank (one JSON object per request, or one CSV row per returned item).
#include <cstdio>
#include <fstream>
#include <iostream>

#include "cli/commands.h"
#include "cli/flags.h"
#include "common/clock.h"
#include "common/json_writer.h"
#include "feedback/training_export.h"
#include "monitor/history/query_api.h"

namespace shelfwatch::cli {
namespace {

Flags ExportFlags() {
  return Flags(
      "export training-data",
      "Writes the served requests of a server's data dir joined with the feedback events they\n"
      "received: each returned item labelled with its strongest event (purchase > add_to_cart >\n"
      "click > impression > none), with its rank, score and recorded features. Safe beside a\n"
      "running server (reads committed data only).\n"
      "\n"
      "jsonl: one object per request {request_id, time, catalog, endpoint, query, variant,\n"
      "  model_versions, total_hits, events, items:[{id, rank, score, label, grade, features}]}\n"
      "csv:   request_id,time,catalog,endpoint,variant,query,item_id,rank,score,label,grade",
      {
          {"data-dir", "DIR", "the server's --data-dir (reads served/ and events.db)", "", true},
          {"out", "FILE", "output file; - for standard output", "-"},
          {"format", "FORMAT", "jsonl or csv", "jsonl"},
          {"since", "TIME", "only requests served at or after this time (RFC 3339 or Unix seconds)", ""},
          {"until", "TIME", "only requests served before this time", ""},
          {"labelled-only", "", "skip requests that received no event"},
      });
}

std::string CsvField(std::string_view s) {
  if (s.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(s);
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

}  // namespace

int RunExport(int argc, char** argv) {
  if (argc < 1 || std::string(argv[0]) != "training-data") {
    std::fprintf(stderr, "usage: shelfwatch export training-data --data-dir DIR [--out FILE] [--format jsonl|csv]\n");
    return 2;
  }
  Flags flags = ExportFlags();
  if (auto code = flags.ParseCommandLine(argc - 1, argv + 1)) return *code;
  std::string format = flags.Get("format");
  if (format != "jsonl" && format != "csv") {
    std::fprintf(stderr, "shelfwatch export: --format must be jsonl or csv\n");
    return 2;
  }
  feedback::ExportRange range;
  for (const char* name : {"since", "until"}) {
    std::string text = flags.Get(name);
    if (text.empty()) continue;
    auto t = monitor::ParseApiTime(text);
    if (!t.ok()) {
      std::fprintf(stderr, "shelfwatch export: --%s: %s\n", name, t.status().message().c_str());
      return 2;
    }
    (std::string(name) == "since" ? range.since_ms : range.until_ms) = *t;
  }
  std::string dir = flags.Get("data-dir");
  std::string out_path = flags.Get("out");
  std::ofstream file;
  if (out_path != "-") {
    file.open(out_path, std::ios::trunc);
    if (!file) {
      std::fprintf(stderr, "shelfwatch export: cannot write %s\n", out_path.c_str());
      return 1;
    }
  }
  std::ostream& out = out_path == "-" ? std::cout : file;
  bool labelled_only = flags.GetBool("labelled-only");
  if (format == "csv") out << "request_id,time,catalog,endpoint,variant,query,item_id,rank,score,label,grade\n";

  uint64_t requests = 0, items = 0, labelled = 0;
  std::string line;
  Status st = feedback::ForEachLabeledRequest(
      dir + "/served", dir + "/events.db", range, [&](const feedback::LabeledRequest& r) {
        if (labelled_only && r.events == 0) return true;
        ++requests;
        line.clear();
        std::string time = FormatRfc3339Millis(r.time_ms);
        if (format == "jsonl") {
          JsonWriter w(&line);
          w.BeginObject().Key("request_id").String(r.request_id).Key("time").String(time);
          w.Key("catalog").String(r.catalog).Key("endpoint").String(r.endpoint).Key("query").String(r.query);
          w.Key("variant").String(r.variant).Key("model_versions").String(r.model_versions);
          w.Key("total_hits").Uint(r.total_hits).Key("events").Uint(r.events).Key("items").BeginArray();
          for (const auto& it : r.items) {
            w.BeginObject().Key("id").String(it.item_id).Key("rank").Int(it.rank);
            w.Key("score");
            if (it.score == it.score) {
              w.Float(it.score);
            } else {
              w.Null();
            }
            w.Key("label").String(feedback::LabelName(it.label)).Key("grade").Uint(static_cast<uint8_t>(it.label));
            if (!it.features.empty()) {
              w.Key("features").BeginArray();
              for (float f : it.features) w.Float(f);
              w.EndArray();
            }
            w.EndObject();
          }
          w.EndArray().EndObject();
          line += '\n';
        } else {
          for (const auto& it : r.items) {
            line += CsvField(r.request_id) + ',' + time + ',' + CsvField(r.catalog) + ',' + CsvField(r.endpoint) + ',' +
                    CsvField(r.variant) + ',' + CsvField(r.query) + ',' + CsvField(it.item_id) + ',' +
                    std::to_string(it.rank) + ',' + (it.score == it.score ? std::to_string(it.score) : "") + ',' +
                    std::string(feedback::LabelName(it.label)) + ',' + std::to_string(static_cast<int>(it.label)) + '\n';
          }
        }
        items += r.items.size();
        for (const auto& it : r.items) labelled += it.label != feedback::Label::kNone;
        out << line;
        return static_cast<bool>(out);
      });
  out.flush();
  if (!st.ok()) {
    std::fprintf(stderr, "shelfwatch export: %s\n", st.message().c_str());
    return 1;
  }
  if (!out) {
    std::fprintf(stderr, "shelfwatch export: write failed\n");
    return 1;
  }
  std::fprintf(stderr, "exported %llu requests, %llu items, %llu with a label\n",
               static_cast<unsigned long long>(requests), static_cast<unsigned long long>(items),
               static_cast<unsigned long long>(labelled));
  return 0;
}

}  // namespace shelfwatch::cli
