// Durable before acknowledged, proven with a real crash: a child process appends batches as
// fast as it can and reports each acknowledgement through a pipe; the parent SIGKILLs it in
// the middle of ingest, reopens the file (SQLite's WAL recovery) and finds every acknowledged
// event. Three rounds crash the same file repeatedly, each on top of the previous recovery.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <future>

#include "feedback/event_store.h"
#include "feedback/tests/fixtures.h"

namespace shelfwatch::feedback {
namespace {

constexpr size_t kBatch = 250;

// The child: appends batches whose item ids count up from 0 under request_id `round`, and after
// each durable callback writes the number of events acknowledged so far (a uint64) to `fd`.
[[noreturn]] void AppendUntilKilled(const std::string& path, const std::string& round, int fd) {
  auto store = EventStore::Open({.path = path, .max_queued_events = 20000});
  if (!store.ok()) _exit(2);
  uint64_t next = 0;
  for (;;) {
    std::vector<Event> batch;
    batch.reserve(kBatch);
    for (size_t i = 0; i < kBatch; ++i) batch.push_back(MakeEvent(EventType::kClick, round, std::to_string(next + i)));
    const uint64_t end = next + kBatch;
    Status s = (*store)->Append(std::move(batch), [fd, end](Status st) {
      if (!st.ok()) _exit(3);
      if (::write(fd, &end, sizeof end) != sizeof end) _exit(4);
    });
    if (s.ok()) {
      next = end;  // callbacks run in append order, so acknowledgements arrive in order
    } else {
      ::usleep(500);  // queue full: retry the same ids
    }
  }
}

// Reads acknowledgements until `want` or the child's end; returns the highest.
uint64_t ReadAcks(int fd, uint64_t want, int timeout_ms) {
  uint64_t last = 0;
  const auto deadline = SteadyClock::now() + std::chrono::milliseconds(timeout_ms);
  while (last < want && SteadyClock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    uint64_t value;
    const ssize_t n = ::read(fd, &value, sizeof value);
    if (n != sizeof value) break;  // EOF: the child died
    last = value;
  }
  return last;
}

// After the child is dead: whatever it wrote before dying is still in the pipe.
uint64_t DrainAcks(int fd, uint64_t last) {
  uint64_t value;
  while (::read(fd, &value, sizeof value) == sizeof value) last = value;
  return last;
}

TEST(EventStoreCrashTest, EveryAcknowledgedEventSurvivesSigkill) {
  TempDir dir;
  const std::string path = dir.File("events.db");
  uint64_t stored_before = 0;
  for (uint64_t round = 0; round < 3; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    const std::string round_id = "crash-round-" + std::to_string(round);
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(fds[0]);
      AppendUntilKilled(path, round_id, fds[1]);
    }
    ::close(fds[1]);
    // Kill at a different depth each round, while the child keeps appending.
    const uint64_t kill_after = 5000 + round * 15000;
    uint64_t acked = ReadAcks(fds[0], kill_after, 60000);
    ASSERT_GE(acked, kill_after) << "the child stopped acknowledging";
    ASSERT_EQ(::kill(pid, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "child exited by itself: " << status;
    acked = DrainAcks(fds[0], acked);
    ::close(fds[0]);

    auto store = EventStore::Open({.path = path});
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    std::vector<bool> present(acked + 100000, false);
    uint64_t in_round = 0;
    ASSERT_TRUE((*store)
                    ->ForEach({},
                              [&](const StoredEvent& e) {
                                if (e.event.request_id != round_id) return true;
                                const uint64_t n = std::stoull(e.event.item_id);
                                if (n < present.size()) present[n] = true;
                                ++in_round;
                                return true;
                              })
                    .ok());
    uint64_t missing = 0;
    for (uint64_t i = 0; i < acked; ++i) missing += !present[i];
    EXPECT_EQ(missing, 0u) << "of " << acked << " acknowledged events";
    // Committed but not yet acknowledged when the kill came is allowed; more than the child could
    // have queued is not.
    EXPECT_GE(in_round, acked);
    EXPECT_LE(in_round, acked + 20000 + kBatch);
    // Earlier rounds' events are all still there, and the recovered store takes new appends.
    const uint64_t total = (*store)->Count()->total;
    EXPECT_EQ(total, stored_before + in_round);
    stored_before = total;
    std::promise<Status> done;
    ASSERT_TRUE((*store)
                    ->Append({MakeEvent(EventType::kClick, "after-crash", "x")}, [&](Status s) { done.set_value(s); })
                    .ok());
    EXPECT_TRUE(done.get_future().get().ok());
    ++stored_before;
  }
}

}  // namespace
}  // namespace shelfwatch::feedback
