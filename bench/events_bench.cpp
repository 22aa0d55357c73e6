// Feedback ingest benchmark: the feedback module's path (parse -> attribute -> durable store)
// beside its peer, raw SQLite doing the same inserts, in one run on the same disk.
//
//   (a) raw SQLite: the event table's schema and indexes, WAL, synchronous=FULL, 1,000-row
//       transactions of bound inserts -- the ceiling for any SQLite-backed store here;
//   (b) ParseEvents on realistic 500-event JSON bodies (ids and behaviour mix from
//       taobao/user_behavior.csv when present);
//   (c) EventStore::Append of 500-event batches, timed until the last batch is durable, with
//       1 and 4 producer threads;
//   (d) the whole library path the HTTP route runs per body (parse + attribute + append),
//       1 and 4 producers;
//   (e) ServedRequestLog::Record and Lookup (index hit, fresh unknown id), ns per call.
// MB/s is JSON body bytes per second (the events' size on the wire).
//
//   build-dir/bench/events_bench [--events N] [--dir DIR] [--data DIR]
#include <sqlite3.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <cinttypes>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/json_writer.h"
#include "common/request_id.h"
#include "feedback/attribution.h"
#include "feedback/event_store.h"
#include "feedback/events.h"
#include "feedback/served_log.h"

namespace {

using namespace shelfwatch;
using namespace shelfwatch::feedback;

constexpr size_t kBodyEvents = 500;
constexpr size_t kItemsPerResponse = 20;

struct Options {
  size_t events = 300000;
  std::string dir = std::filesystem::temp_directory_path().string();
  std::string data = SHELFWATCH_DATA_DIR;
};

[[noreturn]] void Die(const std::string& message) {
  std::fprintf(stderr, "events_bench: %s\n", message.c_str());
  std::exit(1);
}

double Seconds(int64_t start_ns) { return static_cast<double>(MonotonicNanos() - start_ns) / 1e9; }

// CPU seconds of the whole process (all threads, user + system): on a shared machine the CPU
// cost per event is steadier than the wall-clock rate.
double CpuSeconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

struct Row {
  std::string name;
  uint64_t events = 0;
  double seconds = 0;
  double bytes = 0;        // JSON bytes those events take on the wire
  double cpu_seconds = 0;  // process CPU time spent in the case
};

void Print(const std::vector<Row>& rows) {
  std::printf("\n%-58s %8s %7s %10s %7s %9s\n", "case", "events", "seconds", "events/s", "MB/s", "cpu_us/ev");
  for (const Row& r : rows) {
    std::printf("%-58s %8" PRIu64 " %7.3f %10.0f %7.1f %9.2f\n", r.name.c_str(), r.events, r.seconds,
                static_cast<double>(r.events) / r.seconds, r.bytes / r.seconds / 1e6,
                r.cpu_seconds * 1e6 / static_cast<double>(r.events));
  }
  for (const Row& r : rows) {
    std::printf("BENCH events case=\"%s\" events=%" PRIu64
                " seconds=%.4f events_per_s=%.0f mb_per_s=%.2f "
                "cpu_us_per_event=%.3f\n",
                r.name.c_str(), r.events, r.seconds, static_cast<double>(r.events) / r.seconds,
                r.bytes / r.seconds / 1e6, r.cpu_seconds * 1e6 / static_cast<double>(r.events));
  }
}

// ---------------------------------------------------------------------------------------------
// Workload: bodies of 500 events as a storefront sends them. Each served response (a UUIDv7
// request_id, 20 items) gets impressions for the items shown, and clicks / carts / purchases
// in the proportions of the Taobao behaviour log (pv 90%, cart 5%, fav 3%, buy 2%).

struct Behaviour {
  std::string user_id, item_id, type;  // pv | cart | fav | buy
};

std::vector<Behaviour> LoadBehaviour(const std::string& data_dir) {
  std::vector<Behaviour> rows;
  std::ifstream in(data_dir + "/taobao/user_behavior.csv");
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::vector<std::string> f;
    size_t start = 0;
    for (size_t i = 0; i <= line.size(); ++i) {
      if (i == line.size() || line[i] == ',') {
        f.push_back(line.substr(start, i - start));
        start = i + 1;
      }
    }
    if (f.size() >= 4) rows.push_back({f[0], f[1], f[3]});
  }
  if (rows.empty()) {  // no dataset: the same mix with synthetic ids
    for (int i = 0; i < 10000; ++i) {
      const int r = i % 100;
      rows.push_back({std::to_string(1000 + i % 800), std::to_string(2000000 + i * 37 % 55000),
                      r < 90   ? "pv"
                      : r < 95 ? "cart"
                      : r < 98 ? "fav"
                               : "buy"});
    }
  }
  return rows;
}

struct Workload {
  std::vector<std::string> bodies;    // JSON arrays of kBodyEvents events
  std::vector<ServedRequest> served;  // the responses the events refer to
  double bytes_per_event = 0;
};

Workload MakeWorkload(const std::vector<Behaviour>& behaviour, size_t events) {
  Workload w;
  const int64_t now = UnixMillis();
  size_t b = 0;
  size_t made = 0;
  uint64_t bytes = 0;
  while (made < events) {
    std::string body;
    JsonWriter json(&body);
    json.BeginArray();
    size_t in_body = 0;
    while (in_body < kBodyEvents) {
      // One response: its items are the next behaviour rows' items.
      ServedRequest r;
      r.request_id = NewRequestId();
      r.time_ms = now - 5000;
      r.catalog = "taobao";
      r.endpoint = "recommend";
      r.variant = w.served.size() % 10 == 0 ? "canary" : "control";
      r.model_versions = "itemknn:v3";
      const std::string user = behaviour[b % behaviour.size()].user_id;
      for (size_t i = 0; i < kItemsPerResponse; ++i) {
        r.item_ids.push_back(behaviour[(b + i) % behaviour.size()].item_id);
        r.scores.push_back(1.0f / static_cast<float>(i + 1));
      }
      for (size_t i = 0; i < kItemsPerResponse && in_body < kBodyEvents; ++i, ++b) {
        const Behaviour& row = behaviour[b % behaviour.size()];
        const bool impression = i % 2 == 0;  // half the events are impressions of shown items
        const std::string type = impression           ? "impression"
                                 : row.type == "buy"  ? "purchase"
                                 : row.type == "cart" ? "add_to_cart"
                                                      : "click";
        json.BeginObject();
        json.Key("type").String(type);
        json.Key("request_id").String(r.request_id);
        json.Key("item_id").String(r.item_ids[i]);
        json.Key("user_id").String(user);
        json.Key("session_id").String("s-" + user);
        if (impression || i % 4 == 1) json.Key("position").Int(static_cast<int64_t>(i + 1));
        if (i % 3 == 0) {
          json.Key("timestamp").String(FormatRfc3339Millis(now - 4000 + static_cast<int64_t>(i)));
        } else {
          json.Key("timestamp").Int(now - 4000 + static_cast<int64_t>(i));
        }
        if (type == "purchase" || type == "add_to_cart") {
          json.Key("value").Double(19.99 * static_cast<double>(1 + i % 3));
          json.Key("currency").String("CNY");
          json.Key("quantity").Int(static_cast<int64_t>(1 + i % 3));
        }
        json.EndObject();
        ++in_body;
      }
      w.served.push_back(std::move(r));
    }
    json.EndArray();
    bytes += body.size();
    made += in_body;
    w.bodies.push_back(std::move(body));
  }
  w.bytes_per_event = static_cast<double>(bytes) / static_cast<double>(made);
  return w;
}

std::vector<std::vector<Event>> ParseAll(const Workload& w) {
  std::vector<std::vector<Event>> batches;
  for (const auto& body : w.bodies) {
    auto parsed = ParseEvents(body, EventFormat::kJsonArray, {});
    if (!parsed.ok()) Die("workload does not parse: " + parsed.status().ToString());
    if (!parsed->rejections.empty()) Die("workload has rejections: " + parsed->rejections[0].message);
    batches.push_back(std::move(parsed->events));
  }
  return batches;
}

std::string FreshPath(const std::string& dir, const std::string& name) {
  const std::string path = dir + "/events_bench_" + std::to_string(::getpid()) + "_" + name + ".db";
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
  return path;
}

void RemoveDb(const std::string& path) {
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
}

// ---------------------------------------------------------------------------------------------
// (a) The peer: the same table and indexes as EventStore (feedback/event_store.h), written with
// the SQLite C API directly.

void Check(int rc, sqlite3* db, const char* what) {
  if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) Die(std::string(what) + ": " + sqlite3_errmsg(db));
}

Row RawSqlite(const std::string& dir, const std::vector<std::vector<Event>>& batches, double bytes_per_event) {
  const std::string path = FreshPath(dir, "raw");
  sqlite3* db = nullptr;
  Check(sqlite3_open(path.c_str(), &db), db, "open");
  Check(sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", nullptr, nullptr, nullptr), db, "pragma");
  Check(sqlite3_exec(db,
                     "CREATE TABLE events (id INTEGER PRIMARY KEY, received_ms INTEGER NOT NULL, ts_ms INTEGER NOT "
                     "NULL, type TEXT NOT NULL, request_id TEXT NOT NULL, item_id TEXT NOT NULL, user_id TEXT NOT "
                     "NULL, session_id TEXT, position INTEGER, value REAL, currency TEXT, quantity INTEGER, "
                     "attributed INTEGER NOT NULL, catalog TEXT, endpoint TEXT, variant TEXT);"
                     "CREATE INDEX events_request_id ON events(request_id);"
                     "CREATE INDEX events_ts ON events(ts_ms);",
                     nullptr, nullptr, nullptr),
        db, "schema");
  sqlite3_stmt* insert = nullptr;
  Check(sqlite3_prepare_v2(db,
                           "INSERT INTO events (received_ms, ts_ms, type, request_id, item_id, user_id, session_id, "
                           "position, value, currency, quantity, attributed, catalog, endpoint, variant) VALUES "
                           "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                           -1, &insert, nullptr),
        db, "prepare");
  auto text = [&](int i, const std::string& s) {
    if (s.empty()) {
      sqlite3_bind_null(insert, i);
    } else {
      sqlite3_bind_text(insert, i, s.data(), static_cast<int>(s.size()), SQLITE_STATIC);
    }
  };
  auto positive = [&](int i, int64_t v) {
    if (v > 0) {
      sqlite3_bind_int64(insert, i, v);
    } else {
      sqlite3_bind_null(insert, i);
    }
  };
  uint64_t n = 0;
  const double cpu = CpuSeconds();
  const int64_t start = MonotonicNanos();
  Check(sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr), db, "begin");
  for (const auto& batch : batches) {
    for (const Event& e : batch) {
      sqlite3_bind_int64(insert, 1, e.received_ms);
      sqlite3_bind_int64(insert, 2, e.timestamp_ms);
      const std::string_view type = EventTypeName(e.type);
      sqlite3_bind_text(insert, 3, type.data(), static_cast<int>(type.size()), SQLITE_STATIC);
      text(4, e.request_id);
      text(5, e.item_id);
      text(6, e.user_id);
      text(7, e.session_id);
      positive(8, e.position);
      if (e.value) {
        sqlite3_bind_double(insert, 9, *e.value);
      } else {
        sqlite3_bind_null(insert, 9);
      }
      text(10, e.currency);
      positive(11, e.quantity);
      sqlite3_bind_int(insert, 12, 1);
      sqlite3_bind_text(insert, 13, "taobao", 6, SQLITE_STATIC);
      sqlite3_bind_text(insert, 14, "recommend", 9, SQLITE_STATIC);
      sqlite3_bind_text(insert, 15, "control", 7, SQLITE_STATIC);
      Check(sqlite3_step(insert), db, "insert");
      sqlite3_reset(insert);
      if (++n % 1000 == 0) {
        Check(sqlite3_exec(db, "COMMIT; BEGIN", nullptr, nullptr, nullptr), db, "commit");
      }
    }
  }
  Check(sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr), db, "commit");
  const double seconds = Seconds(start);
  const double cpu_seconds = CpuSeconds() - cpu;
  sqlite3_finalize(insert);
  sqlite3_close(db);
  RemoveDb(path);
  return {"(a) peer: raw SQLite, WAL, sync=FULL, 1000 rows/txn", n, seconds, static_cast<double>(n) * bytes_per_event,
          cpu_seconds};
}

// (b)
Row Parse(const Workload& w) {
  uint64_t events = 0;
  double bytes = 0;
  const double cpu = CpuSeconds();
  const int64_t start = MonotonicNanos();
  int rounds = 0;
  while (rounds < 3 || Seconds(start) < 1.0) {
    for (const auto& body : w.bodies) {
      auto parsed = ParseEvents(body, EventFormat::kAuto, {});
      events += parsed->events.size();
      bytes += static_cast<double>(body.size());
    }
    ++rounds;
  }
  return {"(b) ParseEvents, 500-event JSON bodies, 1 thread", events, Seconds(start), bytes, CpuSeconds() - cpu};
}

// Waits until `expected` events were acknowledged.
struct Acks {
  std::mutex mu;
  std::condition_variable cv;
  uint64_t events = 0;
  uint64_t failures = 0;
  void Add(uint64_t n, const Status& s) {
    std::lock_guard lk(mu);
    if (s.ok()) {
      events += n;
    } else {
      ++failures;
    }
    cv.notify_all();
  }
  void WaitFor(uint64_t expected) {
    std::unique_lock lk(mu);
    cv.wait(lk, [&] { return events + failures >= expected || failures > 0; });
    if (failures > 0) Die("a batch failed to commit");
  }
};

// Appends, retrying on a full queue (what a client does after a 429).
void AppendWithRetry(EventStore& store, std::vector<Event>&& batch, Acks& acks) {
  const uint64_t n = batch.size();
  for (;;) {
    Status s = store.Append(std::move(batch), [&acks, n](Status st) { acks.Add(n, st); });
    if (s.ok()) return;
    if (s.code() != ErrorCode::kResourceExhausted) Die(s.ToString());
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
}

// (c) and (d): `producers` threads split the bodies; each body is either a parsed batch
// appended as it is (c) or parsed, attributed and appended (d).
Row Ingest(const std::string& dir, const Workload& w, const std::vector<std::vector<Event>>& batches, int producers,
           bool full_path) {
  const std::string path = FreshPath(dir, full_path ? "pipeline" : "store");
  auto store = EventStore::Open({.path = path});
  if (!store.ok()) Die(store.status().ToString());
  std::unique_ptr<ServedRequestLog> log;
  if (full_path) {
    auto opened = ServedRequestLog::Open({});  // index only: attribution, not the served-log writer
    if (!opened.ok()) Die(opened.status().ToString());
    log = std::move(opened).value();
    for (const auto& r : w.served) log->Record(ServedRequest(r));
  }
  Acks acks;
  uint64_t total = 0;
  for (const auto& b : batches) total += b.size();
  // (c) appends batches as ParseEvents made them: copies made before the clock starts.
  std::vector<std::vector<Event>> copies;
  if (!full_path) copies = batches;
  const double cpu = CpuSeconds();
  const int64_t start = MonotonicNanos();
  std::vector<std::thread> threads;
  for (int t = 0; t < producers; ++t) {
    threads.emplace_back([&, t] {
      for (size_t i = static_cast<size_t>(t); i < batches.size(); i += static_cast<size_t>(producers)) {
        if (full_path) {
          auto parsed = ParseEvents(w.bodies[i], EventFormat::kAuto, {});
          if (!parsed.ok()) Die(parsed.status().ToString());
          Attribute(*log, parsed->events);
          AppendWithRetry(**store, std::move(parsed->events), acks);
        } else {
          AppendWithRetry(**store, std::move(copies[i]), acks);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  acks.WaitFor(total);
  const double seconds = Seconds(start);
  const double cpu_seconds = CpuSeconds() - cpu;
  const auto stats = (*store)->stats();
  store->reset();
  RemoveDb(path);
  char name[128];
  std::snprintf(
      name, sizeof name, "%s, %d producer%s (%.0f events/commit)",
      full_path ? "(d) parse+attribute+Append" : "(c) EventStore::Append 500/batch", producers,
      producers == 1 ? "" : "s",
      static_cast<double>(stats.durable_events) / static_cast<double>(std::max<uint64_t>(1, stats.transactions)));
  return {name, total, seconds, static_cast<double>(total) * w.bytes_per_event, cpu_seconds};
}

// (e)
void ServedLogCosts(const std::string& dir, const Workload& w) {
  const std::string path = FreshPath(dir, "served");
  auto log = ServedRequestLog::Open({.path = path});
  if (!log.ok()) Die(log.status().ToString());
  std::vector<ServedRequest> copies;
  const size_t n = std::min<size_t>(w.served.size(), 9000);  // below the default queue bound
  for (size_t i = 0; i < n; ++i) copies.push_back(w.served[i]);
  int64_t start = MonotonicNanos();
  for (auto& r : copies) (*log)->Record(std::move(r));
  const double record_ns = static_cast<double>(MonotonicNanos() - start) / static_cast<double>(n);
  (*log)->Flush();
  start = MonotonicNanos();
  size_t hits = 0;
  constexpr int kRounds = 20;
  for (int round = 0; round < kRounds; ++round) {
    for (size_t i = 0; i < n; ++i) hits += (*log)->Lookup(w.served[i].request_id) != nullptr;
  }
  const double hit_ns = static_cast<double>(MonotonicNanos() - start) / static_cast<double>(n * kRounds);
  std::vector<std::string> unknown;
  for (size_t i = 0; i < n; ++i) unknown.push_back(NewRequestId());
  start = MonotonicNanos();
  for (const auto& id : unknown) hits += (*log)->Lookup(id) != nullptr;
  const double miss_ns = static_cast<double>(MonotonicNanos() - start) / static_cast<double>(n);
  const auto stats = (*log)->stats();
  std::printf(
      "\n(e) ServedRequestLog, %zu responses of %zu items: Record %.0f ns, Lookup hit %.0f ns, "
      "Lookup unknown UUIDv7 %.0f ns; written %" PRIu64 ", dropped %" PRIu64 ", file + WAL %.1f MB\n",
      n, kItemsPerResponse, record_ns, hit_ns, miss_ns, stats.written, stats.dropped,
      static_cast<double>(std::filesystem::file_size(path) + std::filesystem::file_size(path + "-wal")) / 1e6);
  std::printf("BENCH served_log record_ns=%.0f lookup_hit_ns=%.0f lookup_unknown_ns=%.0f\n", record_ns, hit_ns,
              miss_ns);
  if (hits != n * kRounds) Die("lookups missed recorded requests");
  log->reset();
  RemoveDb(path);
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) Die(arg + " needs a value");
      return argv[++i];
    };
    if (arg == "--events") {
      opt.events = std::strtoull(value().c_str(), nullptr, 10);
    } else if (arg == "--dir") {
      opt.dir = value();
    } else if (arg == "--data") {
      opt.data = value();
    } else {
      Die("usage: events_bench [--events N] [--dir DIR] [--data DIR]");
    }
  }
  if (opt.events < kBodyEvents) opt.events = kBodyEvents;

  const auto behaviour = LoadBehaviour(opt.data);
  const Workload w = MakeWorkload(behaviour, opt.events);
  const auto batches = ParseAll(w);
  std::printf(
      "workload: %zu bodies of %zu events, %.0f JSON bytes/event, %zu responses; "
      "database files in %s (%u cores)\n",
      w.bodies.size(), kBodyEvents, w.bytes_per_event, w.served.size(), opt.dir.c_str(),
      std::thread::hardware_concurrency());

  std::vector<Row> rows;
  rows.push_back(RawSqlite(opt.dir, batches, w.bytes_per_event));
  rows.push_back(Parse(w));
  for (bool full_path : {false, true}) {
    for (int producers : {1, 4}) rows.push_back(Ingest(opt.dir, w, batches, producers, full_path));
  }
  Print(rows);
  ServedLogCosts(opt.dir, w);
  return 0;
}
