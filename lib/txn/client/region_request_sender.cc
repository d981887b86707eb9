#include "txn/client/region_request_sender.h"

#include <algorithm>
#include <map>
#include <memory>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
#include "util/sync.h"

namespace rutile::txn::client {
namespace {

// raftstore's region errors (raftstore/errors.h) travel as this payload; the client reads
// the proto directly, since txn may not include raftstore.
constexpr char kRegionErrorPayloadUrl[] = "type.rutile.dev/rutile.raft_cmdpb.Error";
constexpr char kUnreachablePayloadUrl[] = "type.rutile.dev/rutile.client.StoreUnreachable";

std::string Where(const metapb::Region& r, uint64_t store) {
  return absl::StrCat(" (region ", r.id(), " version ", r.region_epoch().version(), " at store ",
                      store, ")");
}

}  // namespace

std::optional<raft_cmdpb::Error> RegionErrorOf(const absl::Status& s) {
  if (s.ok()) return std::nullopt;
  auto p = s.GetPayload(kRegionErrorPayloadUrl);
  if (!p.has_value()) return std::nullopt;
  raft_cmdpb::Error e;
  if (!e.ParseFromString(std::string(*p))) return std::nullopt;
  return e;
}

absl::Status StoreUnreachable(uint64_t store) {
  absl::Status s = absl::UnavailableError(absl::StrCat("store ", store, " not reachable"));
  s.SetPayload(kUnreachablePayloadUrl, absl::Cord());
  return s;
}

bool IsStoreUnreachable(const absl::Status& s) {
  return !s.ok() && s.GetPayload(kUnreachablePayloadUrl).has_value();
}

bool IsStoreError(const absl::Status& s) {
  return absl::IsDeadlineExceeded(s) || absl::IsUnavailable(s) || absl::IsAborted(s);
}

// The backoff of one call: sleeps double from backoff_first_micros up to
// backoff_max_micros; immediate retries are counted so that they never run many in a row.
struct RegionRequestSender::Backoff {
  uint64_t next;
  int immediate = 0;

  // Waits before the next round (unless `now_ok` and few immediate retries ran in a row).
  void Pause(RegionRequestSender& s, bool need_backoff, uint64_t deadline) {
    if (!need_backoff && ++immediate <= s.options_.max_immediate_retries) return;
    immediate = 0;
    uint64_t now = s.env_->NowMicros();
    if (now >= deadline) return;
    s.env_->SleepForMicros(std::min(next, deadline - now));
    next = std::min(next * 2, s.options_.backoff_max_micros);
  }
};

namespace {

// A zero first backoff would retry without virtual time passing (a spin whose deadline
// never comes under SimEnv): at least 1 us, and the max at least the first.
SenderOptions Sane(SenderOptions o) {
  o.backoff_first_micros = std::max<uint64_t>(o.backoff_first_micros, 1);
  o.backoff_max_micros = std::max(o.backoff_max_micros, o.backoff_first_micros);
  o.max_immediate_retries = std::max(o.max_immediate_retries, 0);
  return o;
}

}  // namespace

RegionRequestSender::RegionRequestSender(Env* env, RegionCache* cache, SenderOptions options)
    : env_(env), cache_(cache), options_(Sane(std::move(options))) {}

bool RegionRequestSender::StoreError(const absl::Status& s) const {
  if (IsStoreUnreachable(s)) return true;
  return options_.is_store_error ? options_.is_store_error(s) : IsStoreError(s);
}

absl::Status RegionRequestSender::TimedOut(const absl::Status& last,
                                           const std::string& where) const {
  return absl::DeadlineExceededError(
      absl::StrCat(options_.what, " not done in time; last error", where, ": ",
                   last.ok() ? std::string("no attempt") : last.ToString()));
}

uint64_t RegionRequestSender::PickStore(const RegionCache::Entry& e, uint64_t attempt,
                                        bool avoid_leader) {
  const uint64_t leader = e.leader();
  if (leader != 0 && !avoid_leader) return leader;
  const auto& peers = e.region.peers();
  const uint64_t n = static_cast<uint64_t>(peers.size());
  for (uint64_t k = 0; k < n; ++k) {
    const uint64_t store = peers[static_cast<int>((attempt + k) % n)].store_id();
    if (!avoid_leader || store != leader) return store;
  }
  return 0;
}

absl::Status RegionRequestSender::Try(const RegionCache::Entry& e, uint64_t attempt_no,
                                      uint64_t deadline,
                                      absl::FunctionRef<absl::Status(const SendTarget&)> attempt,
                                      uint64_t* store) {
  uint64_t s = PickStore(e, attempt_no, false);
  *store = s;
  if (s == 0) return StoreUnreachable(0);
  absl::Status r = attempt(SendTarget{e.region, s, deadline});
  if (IsStoreUnreachable(r) && s == e.leader()) {
    // The cached leader's store is down: a replica in turn, in this round.
    s = PickStore(e, attempt_no, true);
    *store = s;
    if (s != 0) r = attempt(SendTarget{e.region, s, deadline});
  }
  return r;
}

RegionRequestSender::Outcome RegionRequestSender::OnFailure(const absl::Status& s,
                                                            const RegionCache::Entry& e,
                                                            uint64_t store, int* store_errors) {
  std::optional<raft_cmdpb::Error> err = RegionErrorOf(s);
  if (err.has_value()) {
    *store_errors = 0;
    switch (err->kind_case()) {
      case raft_cmdpb::Error::kNotLeader: {
        const uint64_t hint = err->not_leader().leader().store_id();
        if (hint != 0 && hint != store) {
          // A hint naming a store without a peer of the cached region means the cached
          // peers are stale (a conf change the cache missed): UpdateLeader drops the region
          // and the retry asks PD again (client-go's UpdateLeader) instead of sending to a
          // store that cannot serve the region as cached.
          cache_->UpdateLeader(e, hint);
          return Outcome::kRetryNow;
        }
        cache_->UpdateLeader(e, 0);
        return Outcome::kRetry;
      }
      case raft_cmdpb::Error::kEpochNotMatch: {
        const auto& current = err->epoch_not_match().current_regions();
        if (current.empty()) {
          cache_->Invalidate(e);
        } else {
          // The store that answered leads the region it knows; it is the best hint for the
          // regions split off it too.
          cache_->InsertAll(current, store);
        }
        return Outcome::kRetryNow;
      }
      case raft_cmdpb::Error::kKeyNotInRegion:
      case raft_cmdpb::Error::kRegionNotFound:
      case raft_cmdpb::Error::kProposalInMergingMode:
        // The cached range is stale (the store no longer has the region: moved or merged
        // away; or it is merging away): ask PD again.
        cache_->Invalidate(e);
        return Outcome::kRetry;
      default:  // ServerIsBusy, StaleCommand.
        return Outcome::kRetry;
    }
  }
  if (!StoreError(s)) return Outcome::kFail;
  // The store did not answer (the outcome is unknown; requests sent here are idempotent),
  // is shutting down or cannot be reached: try the next replica. When every replica failed
  // so in a row, the cached peers may be gone: ask PD again.
  cache_->UpdateLeader(e, 0);
  if (++*store_errors >= std::max(1, e.region.peers_size())) {
    *store_errors = 0;
    cache_->Invalidate(e);
  }
  return Outcome::kRetry;
}

absl::Status RegionRequestSender::Send(const std::string& key, uint64_t deadline, Attempt attempt) {
  Backoff backoff{options_.backoff_first_micros};
  uint64_t attempt_no = 0;
  int store_errors = 0;
  absl::Status last;  // OK until an attempt fails (no allocation on the fast path).
  std::string where;  // The last region and store tried, for the error message.
  while (true) {
    bool need_backoff = true;
    absl::StatusOr<RegionCache::EntryPtr> located = cache_->Locate(key);
    if (!located.ok()) {
      last = located.status();
    } else {
      const RegionCache::Entry& e = **located;
      const uint64_t cached_leader = e.leader();
      uint64_t store = 0;
      last = Try(e, attempt_no++, deadline, attempt, &store);
      if (last.ok()) {
        if (cached_leader != store) cache_->UpdateLeader(e, store);
        return last;
      }
      where = Where(e.region, store);
      Outcome o = OnFailure(last, e, store, &store_errors);
      if (o == Outcome::kFail) return last;
      need_backoff = o == Outcome::kRetry;
    }
    if (env_->NowMicros() >= deadline) return TimedOut(last, where);
    backoff.Pause(*this, need_backoff, deadline);
  }
}

absl::Status RegionRequestSender::SendGrouped(const std::vector<std::string>& keys,
                                              uint64_t deadline, bool parallel,
                                              const GroupAttempt& attempt) {
  std::vector<size_t> pending(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) pending[i] = i;
  Backoff backoff{options_.backoff_first_micros};
  uint64_t attempt_no = 0;
  std::map<uint64_t, int> store_errors;  // By region id.
  absl::Status last = absl::DeadlineExceededError("no attempt");
  std::string where;
  while (!pending.empty()) {
    struct Group {
      RegionCache::EntryPtr entry;
      std::vector<size_t> indices;
      absl::Status status;
      uint64_t store = 0;
      Outcome outcome = Outcome::kDone;
    };
    // Group by the cached regions, in region id order. Keyed by epoch too: while a region
    // changes, keys of one id may be located in entries of different epochs (one cached,
    // one PD's older answer the cache refused), each sent with its own epoch.
    std::map<std::tuple<uint64_t, uint64_t, uint64_t>, Group> by_region;
    std::vector<size_t> unlocated;
    for (size_t i : pending) {
      absl::StatusOr<RegionCache::EntryPtr> e = cache_->Locate(keys[i]);
      if (!e.ok()) {
        last = e.status();
        unlocated.push_back(i);
        continue;
      }
      const metapb::Region& r = (*e)->region;
      Group& g = by_region[{r.id(), r.region_epoch().version(), r.region_epoch().conf_ver()}];
      if (g.entry == nullptr) g.entry = *std::move(e);
      g.indices.push_back(i);
    }
    std::vector<Group*> groups;
    groups.reserve(by_region.size());
    for (auto& [id, g] : by_region) groups.push_back(&g);
    const uint64_t this_attempt = attempt_no++;
    auto run = [&](Group& g) {
      const RegionCache::Entry& e = *g.entry;
      const uint64_t cached_leader = e.leader();
      g.status = Try(
          e, this_attempt, deadline, [&](const SendTarget& t) { return attempt(t, g.indices); },
          &g.store);
      if (g.status.ok()) {
        if (cached_leader != g.store) cache_->UpdateLeader(e, g.store);
        g.outcome = Outcome::kDone;
      }
    };
    auto classify = [&](Group& g) {
      if (g.status.ok()) return;
      g.outcome = OnFailure(g.status, *g.entry, g.store, &store_errors[g.entry->region.id()]);
    };
    if (parallel && groups.size() > 1) {
      WaitGroup wg;
      wg.Add(static_cast<int>(groups.size()) - 1);
      for (size_t i = 1; i < groups.size(); ++i) {
        env_->Spawn([&, i] {
          run(*groups[i]);
          wg.Done();
        });
      }
      run(*groups[0]);
      wg.Wait();
      for (Group* g : groups) classify(*g);
    } else {
      for (Group* g : groups) {
        run(*g);
        classify(*g);
        if (g->outcome == Outcome::kFail) return g->status;
      }
    }
    pending = std::move(unlocated);
    bool need_backoff = !pending.empty();
    for (Group* g : groups) {
      if (g->outcome == Outcome::kFail) return g->status;
      if (g->outcome == Outcome::kDone) continue;
      last = g->status;
      where = Where(g->entry->region, g->store);
      if (g->outcome == Outcome::kRetry) need_backoff = true;
      pending.insert(pending.end(), g->indices.begin(), g->indices.end());
    }
    if (pending.empty()) return absl::OkStatus();
    if (env_->NowMicros() >= deadline) return TimedOut(last, where);
    backoff.Pause(*this, need_backoff, deadline);
  }
  return absl::OkStatus();
}

}  // namespace rutile::txn::client
