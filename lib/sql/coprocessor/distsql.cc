#include "sql/coprocessor/distsql.h"

#include <algorithm>
#include <atomic>
#include <deque>
#include <utility>

#include "absl/strings/str_cat.h"
#include "sql/chunk/chunk_codec.h"
#include "sql/coprocessor/dag.h"
#include "txn/errors.h"
#include "txn/types.h"
#include "util/memcomparable.h"
#include "util/sync.h"

namespace rutile::sql::coprocessor {

namespace pb = ::rutile::coprocessor;

namespace {

std::atomic<uint64_t> total_region_requests{0};

// Retries after lock resolution made without a backoff in a row (Client::RetryPause).
constexpr int kImmediateRetries = 3;

// True when raw key `raw` sorts before the encoded region end `end` (empty: no end).
bool BeforeEnd(const std::string& raw, const std::string& end) {
  return end.empty() || txn::EncodeKey(raw) < end;
}

// Splits `ranges` at the encoded region end `end`: the part before it into `*in`, the rest
// into `*rest`.
absl::Status SplitAtEnd(const std::vector<KeyRange>& ranges, const std::string& end,
                        std::vector<KeyRange>* in, std::vector<KeyRange>* rest) {
  in->clear();
  rest->clear();
  std::string raw_end;
  bool have_raw = false;
  for (const KeyRange& r : ranges) {
    if (!rest->empty() || !BeforeEnd(r.start, end)) {
      rest->push_back(r);
    } else if (BeforeEnd(r.end, end) || txn::EncodeKey(r.end) == end) {
      in->push_back(r);
    } else {
      if (!have_raw) {
        // The user key the region ends at. A boundary made before split keys were cut
        // to user keys may carry a timestamp after it: the user key still bounds the
        // ranges.
        std::string_view in = end;
        if (!memcomparable::DecodeBytes(&in, &raw_end).ok()) {
          return absl::DataLossError("region end key is not an encoded user key");
        }
        have_raw = true;
      }
      in->push_back(KeyRange{r.start, raw_end});
      rest->push_back(KeyRange{raw_end, r.end});
    }
  }
  return absl::OkStatus();
}

}  // namespace

uint64_t TotalRegionRequests() { return total_region_requests.load(std::memory_order_relaxed); }

struct DistSqlStream::State {
  txn::client::Client* client = nullptr;
  DistSqlRequest req;
  std::vector<FieldType> types;

  struct Task {
    std::vector<KeyRange> ranges;
    bool done = false;
    absl::Status status;
    std::deque<Chunk> chunks;
    // The regions' warnings, handed to the reader when it reaches this task (so they
    // arrive in key order and only for the tasks it read).
    std::vector<SqlWarning> warnings;
  };

  Mutex mu;
  CondVar cv;
  std::vector<Task> tasks;           // Guarded by mu.
  size_t next_task = 0;              // Guarded by mu: the next one a worker takes.
  size_t consumed = 0;               // Guarded by mu: tasks the reader has finished.
  bool cancelled = false;            // Guarded by mu.
  std::vector<SqlWarning> warnings;  // Guarded by mu: of the tasks the reader reached.
  DistSqlStats stats;                // Guarded by mu.
  // Notified with `cancelled`: wakes workers backing off (a live lock, a region error).
  Notification cancel;

  // Stops the workers: none starts a task, running ones stop soon.
  void Cancel() {  // mu held.
    cancelled = true;
    cv.NotifyAll();
    cancel.Notify();
  }

  bool Cancelled() {
    MutexLock l(mu);
    return cancelled;
  }

  // Before retrying after resolving locks (Client::RetryPause's policy): backs off when
  // `must_wait` or after a few immediate retries in a row, waking early when the stream
  // is cancelled. False when cancelled or past `deadline`.
  bool RetryPause(bool must_wait, uint64_t* backoff, int* immediate, uint64_t deadline) {
    Env* env = client->env();
    if (!must_wait && ++*immediate > kImmediateRetries) must_wait = true;
    if (must_wait) {
      *immediate = 0;
      const uint64_t now = env->NowMicros();
      if (now >= deadline) return false;
      if (cancel.WaitFor(env, std::min(*backoff, deadline - now))) return false;
      *backoff = std::min(*backoff * 2, client->options().backoff_max_micros);
    }
    return !Cancelled() && env->NowMicros() < deadline;
  }

  // Runs one task; fills `*chunks` and `*warns`. Stops (Cancelled) soon after the stream is
  // cancelled: between region attempts and out of every backoff.
  absl::Status RunTask(std::vector<KeyRange> remaining, std::deque<Chunk>* chunks,
                       std::vector<SqlWarning>* warns) {
    const uint64_t deadline = client->Deadline();
    uint64_t backoff = client->options().backoff_first_micros;
    int immediate = 0;  // Retries in a row without a backoff.
    std::vector<txn::TimeStamp> bypass;
    std::vector<KeyRange> sent, rest;
    const absl::Status kCancelled = absl::CancelledError("coprocessor request cancelled");
    while (!remaining.empty()) {
      if (Cancelled()) return kCancelled;
      absl::StatusOr<pb::Response> resp = absl::UnknownError("no attempt");
      absl::Status s = client->WithRegion(txn::EncodeKey(remaining.front().start), deadline,
                                          [&](const txn::RegionContext& ctx, txn::TxnService* svc,
                                              const metapb::Region& region) -> absl::Status {
                                            // Not a region error: WithRegion stops retrying.
                                            if (Cancelled()) return kCancelled;
                                            absl::Status split = SplitAtEnd(
                                                remaining, region.end_key(), &sent, &rest);
                                            if (!split.ok()) return split;
                                            pb::Request r;
                                            r.set_start_ts(req.read_ts);
                                            r.set_read_committed(req.read_committed);
                                            for (txn::TimeStamp t : bypass) r.add_bypass_locks(t);
                                            for (const KeyRange& k : sent) {
                                              pb::KeyRange* kr = r.add_ranges();
                                              kr->set_start(k.start);
                                              kr->set_end(k.end);
                                            }
                                            *r.mutable_dag() = req.dag;
                                            resp = svc->Coprocessor(ctx, r);
                                            return resp.status();
                                          });
      if (std::optional<txn::KeyIsLocked> kl = txn::GetTxnErrorAs<txn::KeyIsLocked>(s)) {
        {
          MutexLock l(mu);
          ++stats.retries;
        }
        absl::StatusOr<bool> resolved =
            client->ResolveLocks(kl->locks, req.read_ts, deadline, &bypass);
        if (!resolved.ok()) return resolved.status();
        if (!RetryPause(!*resolved, &backoff, &immediate, deadline)) {
          if (Cancelled()) return kCancelled;
          return absl::DeadlineExceededError("coprocessor read blocked by live locks");
        }
        continue;
      }
      if (!s.ok()) return s;
      for (const pb::Chunk& c : resp->chunks()) {
        absl::StatusOr<Chunk> chunk = DecodeChunk(c.data(), types);
        if (!chunk.ok()) return chunk.status();
        chunks->push_back(*std::move(chunk));
      }
      {
        MutexLock l(mu);
        // An answer that arrives after the reader stopped is dropped, uncounted.
        if (cancelled) return kCancelled;
        ++stats.region_requests;
        total_region_requests.fetch_add(1, std::memory_order_relaxed);
        stats.scanned_rows += resp->scanned_rows();
        stats.selected_rows += resp->selected_rows();
      }
      for (const pb::Warning& w : resp->warnings()) {
        SqlWarning sw;
        sw.level = w.note() ? WarnLevel::kNote : WarnLevel::kWarning;
        sw.error = MySqlError{static_cast<uint16_t>(w.code()), w.sqlstate(), w.message()};
        warns->push_back(std::move(sw));
      }
      remaining = rest;
    }
    return absl::OkStatus();
  }

  void Worker() {
    while (true) {
      size_t i = 0;
      std::vector<KeyRange> ranges;
      {
        MutexLock l(mu);
        // Run at most `concurrency` tasks ahead of the reader, so memory stays bounded.
        cv.Wait(l, [&] {
          return cancelled || next_task >= tasks.size() ||
                 next_task < consumed + 2 * std::max<size_t>(req.concurrency, 1);
        });
        if (cancelled || next_task >= tasks.size()) return;
        i = next_task++;
        ranges = tasks[i].ranges;
      }
      std::deque<Chunk> chunks;
      std::vector<SqlWarning> warns;
      absl::Status s = RunTask(std::move(ranges), &chunks, &warns);
      MutexLock l(mu);
      tasks[i].status = s;
      tasks[i].chunks = std::move(chunks);
      tasks[i].warnings = std::move(warns);
      tasks[i].done = true;
      cv.NotifyAll();
    }
  }
};

absl::StatusOr<std::unique_ptr<DistSqlStream>> DistSqlStream::Start(txn::client::Client* client,
                                                                    DistSqlRequest req) {
  absl::StatusOr<std::vector<FieldType>> types = OutputTypes(req.dag);
  if (!types.ok()) return types.status();
  for (size_t i = 0; i < req.ranges.size(); ++i) {
    if (req.ranges[i].end.empty() || req.ranges[i].start >= req.ranges[i].end ||
        (i > 0 && req.ranges[i].start < req.ranges[i - 1].end)) {
      return absl::InvalidArgumentError("coprocessor ranges must be bounded, ascending, disjoint");
    }
  }
  auto st = std::make_shared<State>();
  st->client = client;
  st->types = *std::move(types);
  // One task per region the ranges touch now (the region cache's view; a task re-splits
  // itself when its region changed by the time it runs).
  std::vector<KeyRange> remaining = req.ranges;
  const uint64_t deadline = client->Deadline();
  while (!remaining.empty()) {
    std::string region_end;
    absl::Status s = client->WithRegion(
        txn::EncodeKey(remaining.front().start), deadline,
        [&](const txn::RegionContext&, txn::TxnService*, const metapb::Region& r) {
          region_end = r.end_key();
          return absl::OkStatus();
        });
    if (!s.ok()) return s;
    State::Task t;
    std::vector<KeyRange> rest;
    s = SplitAtEnd(remaining, region_end, &t.ranges, &rest);
    if (!s.ok()) return s;
    if (t.ranges.empty()) return absl::InternalError("region split made no progress");
    st->tasks.push_back(std::move(t));
    remaining = std::move(rest);
  }
  st->req = std::move(req);
  const size_t n = std::min(std::max<size_t>(st->req.concurrency, 1), st->tasks.size());
  // The client's background fibers: a stream stopped early does not wait for them, the
  // client's destructor does (they use it).
  for (size_t i = 0; i < n; ++i) client->Background([st] { st->Worker(); });
  return std::unique_ptr<DistSqlStream>(new DistSqlStream(std::move(st)));
}

DistSqlStream::~DistSqlStream() {
  // The reader stopped (the end, a satisfied LIMIT, an error): workers still running
  // finish or abandon their region requests on their own; nobody waits for them here.
  MutexLock l(state_->mu);
  state_->Cancel();
}

absl::Status DistSqlStream::Next(Chunk* out) {
  State& st = *state_;
  MutexLock l(st.mu);
  while (st.consumed < st.tasks.size()) {
    State::Task& t = st.tasks[st.consumed];
    st.cv.Wait(l, [&] { return t.done; });
    for (SqlWarning& w : t.warnings) st.warnings.push_back(std::move(w));
    t.warnings.clear();
    if (!t.status.ok()) {
      absl::Status s = t.status;
      st.consumed = st.tasks.size();
      st.Cancel();
      return s;
    }
    if (!t.chunks.empty()) {
      *out = std::move(t.chunks.front());
      t.chunks.pop_front();
      return absl::OkStatus();
    }
    ++st.consumed;
    st.cv.NotifyAll();
  }
  *out = Chunk(st.types, 1);
  return absl::OkStatus();
}

std::vector<SqlWarning> DistSqlStream::TakeWarnings() {
  MutexLock l(state_->mu);
  return std::move(state_->warnings);
}

DistSqlStats DistSqlStream::stats() const {
  MutexLock l(state_->mu);
  return state_->stats;
}

const std::vector<FieldType>& DistSqlStream::types() const { return state_->types; }

}  // namespace rutile::sql::coprocessor
