#include "raftstore/store.h"

#include <algorithm>
#include <cstdlib>
#include <utility>

#include "absl/strings/str_cat.h"
#include "raft/engine_log_storage.h"
#include "raftstore/errors.h"
#include "raftstore/keys.h"
#include "raftstore/peer_storage.h"
#include "util/logging.h"

namespace rutile::raftstore {
namespace {

bool IsInitialMessage(const raft::Message& m) {
  return m.type() == raft::MSG_VOTE || m.type() == raft::MSG_PRE_VOTE ||
         (m.type() == raft::MSG_HEARTBEAT && m.commit() == 0);
}

}  // namespace

// ---- Creation and loading ----

Store::Store(const Options& options)
    : config_(options.config),
      env_(options.env),
      engine_(options.engine),
      endpoint_(options.endpoint),
      pd_(options.pd) {}

Store::~Store() = default;

absl::StatusOr<std::shared_ptr<Store>> Store::Create(const Options& options) {
  if (options.env == nullptr || options.engine == nullptr || options.endpoint == nullptr ||
      options.config.store_id == 0) {
    return absl::InvalidArgumentError("a store needs an env, an engine, an endpoint and an id");
  }
  const StoreConfig& c = options.config;
  if (c.max_clock_drift < 0 || c.max_clock_drift >= 1 || c.election_tick < 2 ||
      c.tick_interval_micros == 0) {
    return absl::InvalidArgumentError(
        "max_clock_drift must be in [0, 1), election_tick at least 2, ticks non-zero");
  }
  if (c.max_lease_micros > MaxSafeLeaseMicros(c)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max_lease_micros ", c.max_lease_micros, " exceeds the safe bound ", MaxSafeLeaseMicros(c),
        " = (election_tick - 1) * tick * (1 - drift) / (1 + drift)"));
  }
  std::shared_ptr<Store> store(new Store(options));
  absl::Status s = store->LoadPeers();
  if (!s.ok()) return s;
  return store;
}

absl::Status Store::BootstrapRegion(storage::Engine* engine, const metapb::Region& region) {
  return PeerStorage::Bootstrap(engine, region);
}

absl::Status Store::LoadPeers() {
  std::map<uint64_t, raft_serverpb::RegionLocalState> regions;
  std::map<uint64_t, raft_serverpb::RaftApplyState> applies;
  storage::IterOptions io;
  io.lower_bound = RegionMetaMinKey();
  io.upper_bound = RegionMetaMaxKey();
  std::unique_ptr<storage::Iterator> it = engine_->NewIterator(storage::CF::kDefault, io);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    uint64_t id = 0;
    char kind = 0;
    if (!DecodeRegionMetaKey(it->key(), &id, &kind)) continue;
    if (kind == 's') {
      if (!regions[id].ParseFromString(std::string(it->value()))) {
        return absl::DataLossError(absl::StrCat("region state of ", id, " does not parse"));
      }
    } else if (kind == 'a') {
      if (!applies[id].ParseFromString(std::string(it->value()))) {
        return absl::DataLossError(absl::StrCat("apply state of ", id, " does not parse"));
      }
    }
  }
  if (!it->status().ok()) return it->status();
  it.reset();
  for (auto& [id, rs] : regions) {
    if (rs.state() == raft_serverpb::PEER_TOMBSTONE) {
      // Finish a destroy a crash may have interrupted.
      storage::WriteBatch rb;
      rb.DeleteRange(storage::CF::kRaft, raft::EngineLogStorage::GroupPrefix(id),
                     raft::EngineLogStorage::GroupPrefix(id + 1));
      storage::WriteOptions wo;
      wo.sync = true;
      if (absl::Status s = engine_->Write(rb, wo); !s.ok()) return s;
      continue;
    }
    const metapb::Peer* self = FindPeerOnStore(rs.region(), config_.store_id);
    if (self == nullptr) continue;
    std::optional<raft_serverpb::MergeState> ms;
    if (rs.state() == raft_serverpb::PEER_MERGING) ms = rs.merge_state();
    absl::StatusOr<FsmPtr> fsm = CreatePeer(rs.region(), *self, applies[id], std::move(ms));
    if (!fsm.ok()) return fsm.status();
    (*fsm)->peer->IgnoreVotesAfterRestart();
  }
  return absl::OkStatus();
}

absl::StatusOr<Store::FsmPtr> Store::CreatePeer(
    const metapb::Region& region, const metapb::Peer& self, raft_serverpb::RaftApplyState apply,
    std::optional<raft_serverpb::MergeState> merge_state) {
  absl::StatusOr<std::unique_ptr<Peer>> peer =
      Peer::Create(&config_, env_, engine_, &snaps_, region, self, std::move(apply));
  if (!peer.ok()) return peer.status();
  (*peer)->set_merge_state(std::move(merge_state));
  auto fsm = std::make_shared<PeerFsm>();
  fsm->peer = std::move(*peer);
  std::weak_ptr<Store> weak = weak_from_this();
  fsm->peer->set_region_lookup([weak](uint64_t id) -> std::optional<metapb::Region> {
    std::shared_ptr<Store> s = weak.lock();
    if (s == nullptr) return std::nullopt;
    return s->GetRegion(id);
  });
  RegisterFsm(fsm);
  return fsm;
}

void Store::RegisterFsm(const FsmPtr& fsm) {
  {
    absl::MutexLock fl(&fsm->mu);
    SetRegionLocked(fsm.get(), fsm->peer->region());
    fsm->applied_index = fsm->peer->AppliedIndex();
    fsm->self_peer_id = fsm->peer->self().id();
    fsm->local_lease = fsm->peer->local_lease();
    fsm->data_version = fsm->peer->data_version();
  }
  absl::MutexLock lock(&mu_);
  peers_[fsm->peer->region_id()] = fsm;
  ticking_[fsm->peer->region_id()] = fsm;
  if (fsm->peer->initialized()) ranges_[fsm->peer->region().start_key()] = fsm->peer->region_id();
}

Store::FsmPtr Store::Lookup(uint64_t region_id) {
  absl::ReaderMutexLock lock(&mu_);
  auto it = peers_.find(region_id);
  return it == peers_.end() ? nullptr : it->second;
}

bool Store::Send(const FsmPtr& fsm, PeerMsg msg) {
  bool push = false;
  {
    absl::MutexLock lock(&fsm->mu);
    if (fsm->stopped) return false;
    if (msg.kind == PeerMsg::Kind::kTick) {
      if (fsm->tick_queued) return true;
      fsm->tick_queued = true;
    } else if ((msg.kind == PeerMsg::Kind::kPropose || msg.kind == PeerMsg::Kind::kRead) &&
               fsm->mailbox.size() >= config_.max_mailbox_messages) {
      return false;
    }
    fsm->mailbox.push_back(std::move(msg));
    if (!fsm->scheduled) {
      fsm->scheduled = true;
      push = true;
    }
  }
  if (push) ready_.Push(fsm);
  return true;
}

// ---- Fibers ----

void Store::Start() {
  if (started_.exchange(true)) return;
  std::shared_ptr<Store> self = shared_from_this();
  endpoint_->SetRaftHandler([weak = weak_from_this()](NodeId from, uint64_t, std::string body) {
    if (std::shared_ptr<Store> s = weak.lock()) s->OnRaftBody(from, std::move(body));
  });
  auto spawn = [this, self](void (Store::*loop)()) {
    fibers_.Add(1);
    WaitGroup wg = fibers_;
    env_->Spawn([self, loop, wg]() mutable {
      ((*self).*loop)();
      wg.Done();
    });
  };
  for (size_t i = 0; i < std::max<size_t>(1, config_.poller_count); ++i) {
    spawn(&Store::PollerLoop);
  }
  for (size_t i = 0; i < std::max<size_t>(1, config_.apply_pool_size); ++i) {
    spawn(&Store::ApplyLoop);
  }
  spawn(&Store::ReceiveLoop);
  spawn(&Store::TickLoop);
  if (config_.split_check_interval_micros > 0) spawn(&Store::SplitCheckLoop);
  if (pd_ != nullptr) spawn(&Store::HeartbeatLoop);
  // Peers loaded with unfinished work (committed entries to apply) get a first round.
  std::vector<FsmPtr> all;
  {
    absl::MutexLock lock(&mu_);
    for (auto& [id, f] : peers_) all.push_back(f);
  }
  for (const FsmPtr& f : all) Send(f, PeerMsg{PeerMsg::Kind::kTick});
}

void Store::Stop() {
  if (stopped_.exchange(true)) return;
  endpoint_->SetRaftHandler(nullptr);
  stop_note_.Notify();
  ready_.Close();
  apply_tasks_.Close();
  inbox_.Close();
  // Whoever still waits for an unresolved proposal's outcome (ResolveAtStop) goes on now:
  // nothing reads through this store any more.
  std::vector<Promise<absl::Status>> late;
  {
    absl::MutexLock lock(&late_mu_);
    late.swap(late_);
  }
  for (Promise<absl::Status>& p : late) {
    p.Set(absl::UnavailableError("store stopped before the write's outcome was known"));
  }
}

void Store::ResolveAtStop(Promise<absl::Status> promise) {
  {
    absl::MutexLock lock(&late_mu_);
    if (!stopped_) {
      if (late_.size() >= 64 && late_.size() == late_.capacity()) {
        late_.erase(
            std::remove_if(late_.begin(), late_.end(),
                           [](const Promise<absl::Status>& p) { return p.GetFuture().Ready(); }),
            late_.end());
      }
      late_.push_back(std::move(promise));
      return;
    }
  }
  promise.Set(absl::UnavailableError("store stopped before the write's outcome was known"));
}

void Store::Shutdown() {
  Stop();
  if (started_) fibers_.Wait();
}

void Store::Fatal(const absl::Status& s, std::string_view what) {
  RUTILE_LOG_ERROR("store {}: fatal: {}: {}", config_.store_id, std::string(what), s.ToString());
  std::abort();
}

void Store::PollerLoop() {
  while (std::optional<FsmPtr> first = ready_.Pop()) {
    std::vector<FsmPtr> batch{std::move(*first)};
    while (batch.size() < config_.max_batch_size) {
      std::optional<FsmPtr> more = ready_.TryPop();
      if (!more.has_value()) break;
      batch.push_back(std::move(*more));
    }
    ProcessBatch(batch);
    if (stopped_) return;
  }
}

void Store::ApplyLoop() {
  while (std::optional<std::function<void()>> task = apply_tasks_.Pop()) (*task)();
}

void Store::ReceiveLoop() {
  while (std::optional<std::string> body = inbox_.Pop()) {
    raft_serverpb::RaftMessageBatch batch;
    if (!batch.ParseFromString(*body)) continue;
    for (raft_serverpb::RaftMessage& m : *batch.mutable_msgs()) HandleRaftMessage(std::move(m));
  }
}

void Store::OnRaftBody(uint64_t from_store, std::string body) {
  if (stopped_) return;
  {
    absl::MutexLock lock(&live_mu_);
    last_heard_[from_store] = ticks_.load(std::memory_order_relaxed);
  }
  if (body.empty()) return;  // A store ping (PingStores).
  inbox_.TryPush(std::move(body));
}

void Store::PingStores() {
  std::vector<uint64_t> to;
  {
    absl::MutexLock lock(&live_mu_);
    for (uint64_t s : known_stores_) {
      if (s != config_.store_id) to.push_back(s);
    }
    for (const auto& [s, t] : last_heard_) {
      if (s != config_.store_id && known_stores_.count(s) == 0) to.push_back(s);
    }
  }
  for (uint64_t s : to) endpoint_->SendRaft(s, 0, std::string());
  absl::MutexLock lock(&mu_);
  stats_.store_pings_sent += to.size();
}

void Store::CheckStoreLiveness() {
  // Counted in this store's ticks, as Raft counts election timeouts: a starved process
  // ticks late and does not take its own lateness for the other store's silence. Twice an
  // election timeout: a false alarm costs a wake-up cycle of every region it led.
  const uint64_t now = ticks_.load(std::memory_order_relaxed);
  const uint64_t timeout = 2 * static_cast<uint64_t>(std::max(1, config_.election_tick));
  std::set<uint64_t> newly_silent;
  {
    absl::MutexLock lock(&live_mu_);
    for (const auto& [s, t] : last_heard_) {
      if (s == config_.store_id) continue;
      if (now > t + timeout) {
        if (silent_stores_.insert(s).second) newly_silent.insert(s);
      } else {
        silent_stores_.erase(s);
      }
    }
  }
  if (newly_silent.empty()) return;
  // Rare (a store died or was cut off): a sweep over the peers is fine here.
  std::vector<FsmPtr> all;
  {
    absl::MutexLock lock(&mu_);
    for (auto& [id, f] : peers_) all.push_back(f);
  }
  uint64_t woken = 0;
  for (const FsmPtr& f : all) {
    bool wake = false;
    {
      absl::MutexLock fl(&f->mu);
      wake = f->asleep && f->leader.has_value() && newly_silent.count(f->leader->store_id()) > 0;
    }
    if (wake && Send(f, PeerMsg{PeerMsg::Kind::kWake})) ++woken;
  }
  if (woken > 0) {
    RUTILE_LOG_INFO("store {}: woke {} hibernating peers led from silent stores", config_.store_id,
                    woken);
  }
  absl::MutexLock lock(&mu_);
  stats_.liveness_wakeups += woken;
}

void Store::TickLoop() {
  uint64_t tick = 0;
  const auto ping_every = static_cast<uint64_t>(std::max(1, config_.heartbeat_tick));
  while (!stopped_) {
    if (stop_note_.WaitFor(env_, config_.tick_interval_micros)) return;
    ++tick;
    ticks_.store(tick, std::memory_order_relaxed);
    // Only the peers that are not asleep: an idle store with many hibernating regions
    // does work here in proportion to its awake ones.
    std::vector<FsmPtr> awake;
    {
      absl::MutexLock lock(&mu_);
      awake.reserve(ticking_.size());
      for (auto& [id, f] : ticking_) awake.push_back(f);
    }
    uint64_t sent = 0;
    for (const FsmPtr& f : awake) {
      if (Send(f, PeerMsg{PeerMsg::Kind::kTick})) ++sent;
    }
    if (config_.hibernate_regions) {
      if (tick % ping_every == 0) PingStores();
      CheckStoreLiveness();
    }
    absl::MutexLock lock(&mu_);
    stats_.ticks_sent += sent;
  }
}

// ---- The poll round ----

void Store::HandleMsg(const FsmPtr& fsm, PeerMsg& msg) {
  Peer* p = fsm->peer.get();
  switch (msg.kind) {
    case PeerMsg::Kind::kRaft: {
      const raft_serverpb::RaftMessage& m = msg.raft;
      if (m.is_tombstone()) {
        // The sender's region no longer has this peer: destroy it if the sender knows a
        // newer configuration.
        if (m.region_epoch().conf_ver() > p->region().region_epoch().conf_ver() &&
            m.to_peer().id() == p->self().id()) {
          DestroyPeer(fsm);
        }
        return;
      }
      if (m.to_peer().id() != p->self().id()) {
        if (m.to_peer().id() > p->self().id()) {
          // This peer was removed and the store re-added with a new peer: make way.
          DestroyPeer(fsm);
        }
        return;
      }
      if (p->initialized() && FindPeer(p->region(), m.from_peer().id()) == nullptr &&
          m.region_epoch().conf_ver() < p->region().region_epoch().conf_ver()) {
        // A peer removed from the region that missed its removal: tell it to go.
        raft_serverpb::RaftMessageBatch b;
        raft_serverpb::RaftMessage* t = b.add_msgs();
        t->set_region_id(p->region_id());
        *t->mutable_from_peer() = p->self();
        *t->mutable_to_peer() = m.from_peer();
        *t->mutable_region_epoch() = p->region().region_epoch();
        t->set_is_tombstone(true);
        endpoint_->SendRaft(m.from_peer().store_id(), p->region_id(), b.SerializeAsString());
        return;
      }
      if (m.has_message()) p->Step(m);
      return;
    }
    case PeerMsg::Kind::kTick: {
      absl::MutexLock lock(&fsm->mu);
      fsm->tick_queued = false;
    }
      p->Tick();
      return;
    case PeerMsg::Kind::kPropose:
      if (msg.cmd.admin_request().cmd_type() == raft_cmdpb::ADMIN_CHANGE_PEER_V2 && p->IsLeader()) {
        for (const raft_cmdpb::ChangePeerRequest& ch :
             msg.cmd.admin_request().change_peer_v2().changes()) {
          if (ch.change_type() == raft::CONF_CHANGE_REMOVE_NODE &&
              ch.peer().id() == p->self().id()) {
            msg.wcb.Set(absl::FailedPreconditionError(
                "the leader cannot remove itself; transfer leadership first"));
            return;
          }
        }
      }
      p->Propose(std::move(msg.cmd), std::move(msg.wcb));
      return;
    case PeerMsg::Kind::kRead:
      p->Read(msg.header, std::move(msg.rcb));
      return;
    case PeerMsg::Kind::kCampaign:
      p->Campaign();
      return;
    case PeerMsg::Kind::kDestroy:
      DestroyPeer(fsm);
      return;
    case PeerMsg::Kind::kCatchUpLogs:
      if (p->CatchUpLogs(msg.cmd.admin_request().commit_merge())) {
        // Applied far enough already: let the target retry now.
        if (FsmPtr t = Lookup(msg.cmd.header().region_id())) {
          Send(t, PeerMsg{PeerMsg::Kind::kApplyWake});
        }
      }
      return;
    case PeerMsg::Kind::kApplyWake:
      p->SetApplyDue();
      return;
    case PeerMsg::Kind::kDestroyMerged:
      DestroyPeer(fsm, /*keep_data=*/true);
      return;
    case PeerMsg::Kind::kWake:
      p->Wake();
      return;
  }
}

void Store::ProcessBatch(std::vector<FsmPtr>& batch) {
  struct Item {
    FsmPtr fsm;
    raft::Ready rd;
    bool has_ready = false;
    bool apply_due = false;  // Held-back entries to retry without a Ready.
    ApplyOutput out;
    bool has_apply = false;
  };
  std::vector<Item> items;
  storage::WriteBatch wb;
  bool sync = false;
  uint64_t readys_written = 0;
  for (FsmPtr& fsm : batch) {
    std::deque<PeerMsg> msgs;
    {
      absl::MutexLock lock(&fsm->mu);
      msgs.swap(fsm->mailbox);
    }
    for (PeerMsg& m : msgs) {
      if (fsm->peer == nullptr) {
        if (m.kind == PeerMsg::Kind::kPropose) m.wcb.Set(RegionNotFoundError(0));
        if (m.kind == PeerMsg::Kind::kRead) m.rcb.Set(RegionNotFoundError(0));
        continue;
      }
      HandleMsg(fsm, m);
    }
    Peer* p = fsm->peer.get();
    if (p == nullptr) continue;
    if (p->TakeMergeCheckDue()) ScheduleMerge(p);
    const bool apply_due = p->TakeApplyDue();
    if (!p->raft()->HasReady()) {
      if (apply_due) {
        Item item;
        item.fsm = fsm;
        item.apply_due = true;
        items.push_back(std::move(item));
      }
      continue;
    }
    Item item;
    item.fsm = fsm;
    item.has_ready = true;
    item.apply_due = apply_due;
    item.rd = p->raft()->GetReady();
    p->OnReady(item.rd);
    if (item.rd.snapshot.has_value()) {
      absl::Status s = p->ApplySnapshot(*item.rd.snapshot);
      if (!s.ok()) Fatal(s, "installing a snapshot");
      {
        absl::MutexLock lock(&mu_);
        for (auto it = ranges_.begin(); it != ranges_.end();) {
          it = it->second == p->region_id() ? ranges_.erase(it) : std::next(it);
        }
        ranges_[p->region().start_key()] = p->region_id();
        ++stats_.snapshots_applied;
      }
    }
    // A Ready whose only change to persist is a higher commit index (no entries, no
    // snapshot, term and vote as persisted: !must_sync) writes nothing in its round; the
    // peer's next synced write carries the newest hard state. Such a write used to be
    // unsynced and went in line on the poller's thread, where LevelDB queued it behind
    // the store's synced write in flight (a whole fdatasync with an Env worker blocked,
    // and the commit round's applies and callbacks behind it). The commit index is
    // volatile Raft state (a leader teaches it again); on restart the applied index bounds
    // it from below (Raft::Create raises it to Config::applied in memory, and
    // PeerStorage::Open does not write it), so an idle region's persisted commit may lag
    // its applied index indefinitely.
    std::optional<raft::HardState> hs = item.rd.hard_state;
    if (!item.rd.must_sync) {
      if (hs.has_value()) fsm->unsaved_hard_state = std::move(hs);
      hs.reset();
    } else {
      if (!hs.has_value()) hs = std::move(fsm->unsaved_hard_state);
      fsm->unsaved_hard_state.reset();
    }
    absl::Status s =
        p->storage()->log()->BuildReadyWrite(hs, item.rd.entries, item.rd.snapshot, &wb);
    if (!s.ok()) Fatal(s, "building a Ready write");
    if (hs.has_value() || !item.rd.entries.empty() || item.rd.snapshot.has_value()) {
      ++readys_written;
    }
    sync = sync || item.rd.must_sync;
    items.push_back(std::move(item));
  }
  // A leader's messages leave before its own append is durable, so that the followers'
  // fsyncs overlap the leader's instead of following it (Raft thesis §10.2.1; etcd's
  // server sends a leader's messages before saving its Ready). Only when this Ready keeps
  // the leader's role, term and vote (those were persisted by an earlier write; only the
  // commit index can be new, and that is already durable on a quorum).
  //
  // INVARIANT this depends on: the leader counts its own log toward a commit as soon as it
  // appends (raft.cc, Raft::AppendEntry without async_storage_writes), before the entries
  // are durable. That is safe only because this function writes the batch synchronously
  // (the engine_->Write below returns before any MsgAppResp for these entries is stepped,
  // in a later round of this poller), so no commit can rest on the leader's undurable log.
  // If the store ever writes Readys asynchronously it must switch to
  // Config::async_storage_writes (the leader's own ack then comes from AdvanceAppend).
  //
  // Not when the commit index is past the durable log: a leader that is a quorum by itself
  // (one voter, with learners) commits its entries as it appends them, and a learner must
  // not apply what a crash of the leader could still lose. Anything else (followers'
  // acknowledgements, votes, a new leader's first messages) waits for the write.
  std::vector<std::vector<std::pair<uint64_t, raft::SnapshotStatus>>> reports(items.size());
  std::vector<bool> sent(items.size(), false);
  for (size_t i = 0; i < items.size(); ++i) {
    Item& item = items[i];
    if (!item.has_ready || item.rd.messages.empty() || item.rd.soft_state.has_value() ||
        item.rd.snapshot.has_value() || !item.fsm->peer->IsLeader()) {
      continue;
    }
    // A MsgSnap builds its chunks by reading the engine (SendReadyMessages): done here it
    // would hold up the group write, and so the fsync of every region in this batch.
    if (std::any_of(item.rd.messages.begin(), item.rd.messages.end(),
                    [](const raft::Message& m) { return m.type() == raft::MSG_SNAP; })) {
      continue;
    }
    Peer* p = item.fsm->peer.get();
    // The log and hard state as durable before this round's write
    // (raft/engine_log_storage.h: the view changes in OnReadyWritten). A new term or vote
    // must be on disk before any message of that term leaves.
    if (item.rd.hard_state.has_value()) {
      const raft::HardState& durable_hs = p->storage()->log()->hard_state();
      if (item.rd.hard_state->term() != durable_hs.term() ||
          item.rd.hard_state->vote() != durable_hs.vote()) {
        continue;
      }
    }
    absl::StatusOr<uint64_t> durable = p->storage()->log()->LastIndex();
    if (!durable.ok() || p->raft()->raft()->log().committed() > *durable) continue;
    SendReadyMessages(item.fsm, std::move(item.rd.messages), &reports[i]);
    sent[i] = true;
  }
  if (!wb.Empty()) {
    absl::Status s;
    storage::WriteOptions wo;
    wo.sync = sync;
    // Not wrapped in Env::RunBlocking: an engine that fsyncs offloads the write to the
    // Env's I/O threads itself (LevelDbEngineOptions::io_env). Wrapping it here nested one
    // RunBlocking inside another: with every I/O thread running an outer write that waits
    // for its inner one queued behind them, the pollers of every store hung for good.
    s = engine_->Write(wb, wo);
    if (!s.ok()) Fatal(s, "persisting Readys");
  }
  for (Item& item : items) {
    if (item.has_ready) item.fsm->peer->storage()->log()->OnReadyWritten();
  }
  {
    absl::MutexLock lock(&mu_);
    ++stats_.polls;
    if (!wb.Empty()) {
      ++stats_.ready_writes;
      stats_.readys_persisted += readys_written;
    }
  }

  for (size_t i = 0; i < items.size(); ++i) {
    if (sent[i] || items[i].rd.messages.empty()) continue;
    SendReadyMessages(items[i].fsm, std::move(items[i].rd.messages), &reports[i]);
  }

  WaitGroup wg;
  for (Item& item : items) {
    if (item.rd.committed_entries.empty() && !item.apply_due &&
        !item.fsm->peer->HasPendingApply()) {
      continue;
    }
    item.has_apply = true;
    wg.Add(1);
    Peer* p = item.fsm->peer.get();
    ApplyOutput* out = &item.out;
    std::vector<raft::Entry> ents = std::move(item.rd.committed_entries);
    bool pushed = apply_tasks_.Push([p, out, wg, ents = std::move(ents)]() mutable {
      *out = p->ApplyEntries(std::move(ents));
      wg.Done();
    });
    if (!pushed) {
      // Stopping: apply inline so the Ready cycle stays whole.
      *out = p->ApplyEntries(std::move(ents));
      wg.Done();
    }
  }
  wg.Wait();

  for (size_t i = 0; i < items.size(); ++i) {
    Item& item = items[i];
    Peer* p = item.fsm->peer.get();
    if (!item.out.error.ok()) Fatal(item.out.error, "applying committed entries");
    // Also serves reads whose read index arrived in this Ready.
    p->PostApply(item.out);
    // The local reader sees the new region (a split's smaller range, a merge's lease
    // gone) before any peer the results create exists.
    if (!item.out.results.empty()) Publish(item.fsm);
    for (const ExecResult& r : item.out.results) {
      if (r.kind == ExecResult::Kind::kSplit) HandleSplit(p, r);
      if (r.kind == ExecResult::Kind::kCommitMerge) HandleCommitMerge(p, r);
    }
    Publish(item.fsm);
    for (auto& [cb, s] : item.out.callbacks) cb.Set(std::move(s));
    if (item.has_ready) {
      p->raft()->Advance(item.rd);
      for (auto& [to, status] : reports[i]) p->raft()->ReportSnapshot(to, status);
    }
    if (item.out.wait_merge.has_value()) {
      // Hand the source what it needs to catch up; it wakes this peer when it has.
      FsmPtr src = Lookup(item.out.wait_merge->source_id);
      if (src != nullptr) {
        PeerMsg m;
        m.kind = PeerMsg::Kind::kCatchUpLogs;
        m.cmd.mutable_header()->set_region_id(p->region_id());
        *m.cmd.mutable_admin_request()->mutable_commit_merge() =
            std::move(item.out.wait_merge->commit_merge);
        Send(src, std::move(m));
      } else {
        RUTILE_LOG_WARN("store {}: region {} waits to merge region {}, which is not here",
                        config_.store_id, p->region_id(), item.out.wait_merge->source_id);
      }
    }
    for (const ExecResult& r : item.out.results) {
      if (r.kind != ExecResult::Kind::kPrepareMerge || !p->merge_state().has_value()) continue;
      // A target held back on this source can go on; and push the merge at once.
      if (FsmPtr t = Lookup(p->merge_state()->target().id())) {
        Send(t, PeerMsg{PeerMsg::Kind::kApplyWake});
      }
      ScheduleMerge(p);
    }
    if (item.out.removed_self) DestroyPeer(item.fsm);
  }

  for (FsmPtr& fsm : batch) {
    bool again = false;
    if (fsm->peer != nullptr) {
      Publish(fsm);
      again = fsm->peer->raft()->HasReady();
    }
    if (fsm->peer != nullptr && fsm->peer->HasPendingApply()) {
      // Held-back entries whose retry became due during this round (catch-up queued).
      Peer* p = fsm->peer.get();
      if (p->TakeApplyDue()) {
        p->SetApplyDue();
        again = true;
      }
    }
    {
      absl::MutexLock lock(&fsm->mu);
      if (fsm->stopped) {
        fsm->scheduled = false;
        continue;
      }
      again = again || !fsm->mailbox.empty();
      if (!again) fsm->scheduled = false;
    }
    if (again) ready_.Push(fsm);
  }
}

void Store::SetLeadershipEndHook(const void* owner, LeadershipEndHook hook) {
  absl::MutexLock lock(&hook_mu_);
  hook_owner_ = owner;
  leadership_end_hook_ = std::move(hook);
}

void Store::ClearLeadershipEndHook(const void* owner) {
  absl::MutexLock lock(&hook_mu_);
  if (hook_owner_ != owner) return;
  hook_owner_ = nullptr;
  leadership_end_hook_ = nullptr;
}

void Store::LeadershipEnded(uint64_t region_id, uint64_t term, uint64_t version) {
  absl::MutexLock lock(&hook_mu_);
  if (leadership_end_hook_) leadership_end_hook_(region_id, term, version);
}

void Store::Publish(const FsmPtr& fsm) {
  Peer* p = fsm->peer.get();
  const bool asleep = p->asleep();
  bool moved = false;
  // A leadership that ended (stepped down, or a split or merge changed the epoch
  // version): the (term, version) at or below which every tag of it lies.
  std::optional<std::pair<uint64_t, uint64_t>> ended;
  {
    absl::MutexLock lock(&fsm->mu);
    const bool was_leader = fsm->is_leader;
    const uint64_t old_version = fsm->region.region_epoch().version();
    SetRegionLocked(fsm.get(), p->region());
    fsm->leader = p->Leader();
    fsm->is_leader = p->IsLeader();
    if (was_leader && !fsm->is_leader) {
      // A peer that steps down never leads again in this term.
      ended.emplace(p->Term(), fsm->region.region_epoch().version());
    } else if (was_leader && fsm->region.region_epoch().version() != old_version) {
      ended.emplace(p->Term(), old_version);
    }
    fsm->hibernating = p->hibernating();
    fsm->applied_index = p->AppliedIndex();
    p->PublishLocalLease();
    fsm->written_bytes += p->written_bytes();
    fsm->written_keys += p->written_keys();
    p->ResetWritten();
    if (fsm->asleep != asleep && !fsm->stopped) {
      fsm->asleep = asleep;
      moved = true;
    }
  }
  if (ended.has_value()) LeadershipEnded(p->region_id(), ended->first, ended->second);
  if (!moved) return;
  // Only the poller holding the peer publishes it, so transitions come in order.
  absl::MutexLock lock(&mu_);
  auto it = peers_.find(p->region_id());
  if (it == peers_.end() || it->second != fsm) return;
  if (asleep) {
    ticking_.erase(p->region_id());
  } else {
    ticking_[p->region_id()] = fsm;
  }
}

namespace {

bool SamePeers(const metapb::Region& a, const metapb::Region& b) {
  if (a.peers_size() != b.peers_size()) return false;
  for (int i = 0; i < a.peers_size(); ++i) {
    const metapb::Peer& x = a.peers(i);
    const metapb::Peer& y = b.peers(i);
    if (x.id() != y.id() || x.store_id() != y.store_id() || x.role() != y.role()) return false;
  }
  return true;
}

bool SameRegion(const metapb::Region& a, const metapb::Region& b) {
  return a.id() == b.id() && a.region_epoch().version() == b.region_epoch().version() &&
         a.region_epoch().conf_ver() == b.region_epoch().conf_ver() &&
         a.start_key() == b.start_key() && a.end_key() == b.end_key() && SamePeers(a, b);
}

}  // namespace

void Store::SetRegionLocked(PeerFsm* fsm, const metapb::Region& region) {
  // Publish runs several times per poll round: copy only what changed.
  if (fsm->read_region != nullptr && SameRegion(*fsm->read_region, region)) return;
  fsm->region = region;
  fsm->read_region = std::make_shared<const metapb::Region>(region);
  absl::MutexLock lock(&live_mu_);
  for (const metapb::Peer& p : region.peers()) known_stores_.insert(p.store_id());
}

void Store::SendReadyMessages(const FsmPtr& fsm, std::vector<raft::Message> msgs,
                              std::vector<std::pair<uint64_t, raft::SnapshotStatus>>* reports) {
  // Before the messages that may carry a new commit index to followers (which apply and
  // serve follower reads at once): the local reader stops serving lease reads until this
  // peer applied as far (Peer::RevealCommit).
  const uint64_t revealed = fsm->peer->RevealCommit();
  {
    absl::MutexLock lock(&fsm->mu);
    fsm->revealed_commit = revealed;
  }
  SendMessages(fsm->peer.get(), std::move(msgs), reports);
}

void Store::SendMessages(Peer* peer, std::vector<raft::Message> msgs,
                         std::vector<std::pair<uint64_t, raft::SnapshotStatus>>* snap_reports) {
  if (msgs.empty()) return;
  raft_messages_sent_.fetch_add(msgs.size(), std::memory_order_relaxed);
  std::map<uint64_t, raft_serverpb::RaftMessageBatch> by_store;
  for (raft_serverpb::RaftMessage& m : peer->WrapMessages(std::move(msgs))) {
    uint64_t to_store = m.to_peer().store_id();
    if (m.message().type() != raft::MSG_SNAP) {
      *by_store[to_store].add_msgs() = std::move(m);
      continue;
    }
    const uint64_t to_peer = m.to_peer().id();
    if (peer->merge_state().has_value()) {
      // The receiver would refuse it (Peer::Step); it catches up from the merge instead.
      snap_reports->emplace_back(to_peer, raft::SnapshotStatus::kFailure);
      continue;
    }
    std::optional<GeneratedSnapshot> gen = snaps_.GetGenerated(peer->region_id());
    const raft::SnapshotMetadata& meta = m.message().snapshot().metadata();
    if (!gen.has_value() || gen->index != meta.index() || gen->term != meta.term()) {
      snap_reports->emplace_back(to_peer, raft::SnapshotStatus::kFailure);
      continue;
    }
    absl::StatusOr<std::vector<std::string>> chunks =
        SnapManager::BuildChunks(engine_, *gen, config_.snapshot_chunk_bytes);
    if (!chunks.ok()) {
      RUTILE_LOG_WARN("store {}: building snapshot chunks of region {}: {}", config_.store_id,
                      peer->region_id(), chunks.status().ToString());
      snap_reports->emplace_back(to_peer, raft::SnapshotStatus::kFailure);
      continue;
    }
    const uint32_t total = static_cast<uint32_t>(chunks->size());
    for (uint32_t seq = 0; seq < total; ++seq) {
      raft_serverpb::RaftMessage cm;
      if (seq + 1 == total) {
        cm = m;
      } else {
        cm.set_region_id(m.region_id());
        *cm.mutable_from_peer() = m.from_peer();
        *cm.mutable_to_peer() = m.to_peer();
        *cm.mutable_region_epoch() = m.region_epoch();
      }
      raft_serverpb::SnapshotChunk* c = cm.mutable_chunk();
      c->set_index(meta.index());
      c->set_term(meta.term());
      c->set_seq(seq);
      c->set_total(total);
      c->set_data(std::move((*chunks)[seq]));
      raft_serverpb::RaftMessageBatch one;
      *one.add_msgs() = std::move(cm);
      endpoint_->SendRaft(to_store, peer->region_id(), one.SerializeAsString());
    }
    snap_reports->emplace_back(to_peer, raft::SnapshotStatus::kFinish);
    absl::MutexLock lock(&mu_);
    ++stats_.snapshots_sent;
  }
  for (auto& [store, b] : by_store) {
    endpoint_->SendRaft(store, peer->region_id(), b.SerializeAsString());
  }
}

void Store::HandleSplit(Peer* parent, const ExecResult& res) {
  {
    absl::MutexLock lock(&mu_);
    ranges_[res.region.start_key()] = res.region.id();
  }
  bool leader = parent->IsLeader();
  if (FsmPtr pf = Lookup(parent->region_id())) {
    absl::MutexLock fl(&pf->mu);
    pf->written_bytes = std::max<uint64_t>(pf->written_bytes, 1);
  }
  for (const metapb::Region& r : res.new_regions) {
    if (Lookup(r.id()) != nullptr) continue;
    const metapb::Peer* self = FindPeerOnStore(r, config_.store_id);
    if (self == nullptr) continue;
    absl::StatusOr<std::optional<std::string>> st =
        engine_->Get(storage::CF::kDefault, RegionStateKey(r.id()));
    if (!st.ok()) Fatal(st.status(), "reading a split region's state");
    raft_serverpb::RegionLocalState rs;
    if (!st->has_value() || !rs.ParseFromString(**st) || rs.state() != raft_serverpb::PEER_NORMAL) {
      continue;
    }
    absl::StatusOr<std::optional<std::string>> ap =
        engine_->Get(storage::CF::kDefault, ApplyStateKey(r.id()));
    raft_serverpb::RaftApplyState apply;
    if (ap.ok() && ap->has_value()) apply.ParseFromString(**ap);
    absl::StatusOr<FsmPtr> fsm = CreatePeer(rs.region(), *self, apply);
    if (!fsm.ok()) Fatal(fsm.status(), "creating a split peer");
    // The parent's leader campaigns at once so the new region does not wait for an
    // election timeout; the others wait for its messages.
    if (leader) Send(*fsm, PeerMsg{PeerMsg::Kind::kCampaign});
    {
      // Both halves may still be too big: check them again.
      absl::MutexLock fl(&(*fsm)->mu);
      (*fsm)->written_bytes = 1;
    }
  }
  if (leader && pd_ != nullptr) {
    std::vector<metapb::Region> all{res.region};
    all.insert(all.end(), res.new_regions.begin(), res.new_regions.end());
    PdClient* pd = pd_;
    env_->Spawn([pd, all] { (void)pd->ReportBatchSplit(all); });
  }
}

void Store::DestroyPeer(const FsmPtr& fsm, bool keep_data) {
  Peer* p = fsm->peer.get();
  if (p == nullptr) return;
  const uint64_t id = p->region_id();
  RUTILE_LOG_INFO("store {}: destroying peer {} of {}", config_.store_id, p->self().id(),
                  DescribeRegion(p->region()));
  p->DropLease();
  p->FailPending(RegionNotFoundError(id));
  // A later peer of the region here leads only in a later term.
  LeadershipEnded(id, p->Term(), p->region().region_epoch().version());
  if (!keep_data) {
    // A merged source is a tombstone already (written with the target's new range): its
    // range belongs to the target now, whatever asked for this destroy.
    absl::StatusOr<std::optional<std::string>> st =
        engine_->Get(storage::CF::kDefault, RegionStateKey(id));
    raft_serverpb::RegionLocalState rs;
    if (st.ok() && st->has_value() && rs.ParseFromString(**st) &&
        rs.state() == raft_serverpb::PEER_TOMBSTONE && rs.has_merge_state()) {
      keep_data = true;
    }
    if (p->merge_state().has_value()) keep_data = true;
  }
  p->data_version()->BeginWrite();
  absl::Status s = p->storage()->Destroy(p->initialized() && !keep_data);
  p->data_version()->EndWrite(p->region().region_epoch().version());
  if (!s.ok()) Fatal(s, "destroying a peer");
  snaps_.Forget(id);
  {
    absl::MutexLock lock(&mu_);
    auto it = peers_.find(id);
    if (it != peers_.end() && it->second == fsm) {
      peers_.erase(it);
      ticking_.erase(id);
    }
    for (auto r = ranges_.begin(); r != ranges_.end();) {
      r = r->second == id ? ranges_.erase(r) : std::next(r);
    }
  }
  std::deque<PeerMsg> rest;
  {
    absl::MutexLock lock(&fsm->mu);
    fsm->stopped = true;
    rest.swap(fsm->mailbox);
  }
  for (PeerMsg& m : rest) {
    if (m.kind == PeerMsg::Kind::kPropose) m.wcb.Set(RegionNotFoundError(id));
    if (m.kind == PeerMsg::Kind::kRead) m.rcb.Set(RegionNotFoundError(id));
  }
  fsm->peer.reset();
}

void Store::HandleCommitMerge(Peer* target, const ExecResult& res) {
  {
    absl::MutexLock lock(&mu_);
    for (auto it = ranges_.begin(); it != ranges_.end();) {
      it = it->second == target->region_id() || it->second == res.source.id() ? ranges_.erase(it)
                                                                              : std::next(it);
    }
    ranges_[res.region.start_key()] = target->region_id();
  }
  if (FsmPtr src = Lookup(res.source.id())) {
    {
      // Stop routing to it at once: the target serves the range now.
      absl::MutexLock fl(&src->mu);
      metapb::Region gone = res.source;
      gone.clear_peers();
      SetRegionLocked(src.get(), gone);
      src->is_leader = false;
    }
    Send(src, PeerMsg{PeerMsg::Kind::kDestroyMerged});
  }
  if (FsmPtr tf = Lookup(target->region_id())) {
    // The merged region may be big enough to split again.
    absl::MutexLock fl(&tf->mu);
    tf->written_bytes = std::max<uint64_t>(tf->written_bytes, 1);
  }
}

void Store::ScheduleMerge(Peer* source) {
  if (!source->merge_state().has_value()) return;
  const raft_serverpb::MergeState ms = *source->merge_state();
  const metapb::RegionEpoch& want = ms.target().region_epoch();
  FsmPtr t = Lookup(ms.target().id());
  if (t == nullptr) return;  // Not here yet (or gone): nothing to decide locally.
  metapb::Region tr;
  bool t_leader = false;
  {
    absl::MutexLock fl(&t->mu);
    tr = t->region;
    t_leader = t->is_leader;
  }
  const metapb::RegionEpoch& have = tr.region_epoch();
  if (have.version() > want.version() || have.conf_ver() > want.conf_ver()) {
    // The local target applied something newer than the merge expects. Had it applied our
    // CommitMerge, this source would be a tombstone already (same write): so the target
    // changed first and every CommitMerge for this merge fails its epoch check. Roll back.
    absl::StatusOr<std::optional<std::string>> st =
        engine_->Get(storage::CF::kDefault, RegionStateKey(source->region_id()));
    raft_serverpb::RegionLocalState rs;
    if (!st.ok() || !st->has_value() || !rs.ParseFromString(**st) ||
        rs.state() != raft_serverpb::PEER_MERGING) {
      return;
    }
    if (!source->IsLeader()) return;
    raft_cmdpb::RaftCmdRequest req;
    req.mutable_header()->set_region_id(source->region_id());
    *req.mutable_header()->mutable_region_epoch() = source->region().region_epoch();
    req.mutable_admin_request()->set_cmd_type(raft_cmdpb::ADMIN_ROLLBACK_MERGE);
    req.mutable_admin_request()->mutable_rollback_merge()->set_commit(ms.commit());
    RUTILE_LOG_INFO("store {}: rolling back merge of region {} (target {} is now {})",
                    config_.store_id, source->region_id(), tr.id(), DescribeRegion(tr));
    source->Propose(std::move(req), WriteCallback());
    return;
  }
  if (have.version() < want.version() || have.conf_ver() < want.conf_ver()) return;
  if (!t_leader) return;  // The store whose target peer leads proposes.
  absl::StatusOr<raft_cmdpb::RaftCmdRequest> req = source->BuildCommitMerge();
  if (!req.ok()) {
    RUTILE_LOG_INFO("store {}: cannot build CommitMerge for region {}: {}", config_.store_id,
                    source->region_id(), req.status().ToString());
    return;
  }
  // Not awaited: the outcome shows as this source being destroyed (merged) or rolled back.
  (void)Propose(std::move(*req));
}

// ---- Messages from other stores ----

bool Store::OverlapsLocked(std::string_view start, std::string_view end, uint64_t except) {
  for (auto& [s, id] : ranges_) {
    if (id == except) continue;
    auto it = peers_.find(id);
    if (it == peers_.end()) continue;
    metapb::Region r;
    {
      absl::MutexLock fl(&it->second->mu);
      r = it->second->region;
    }
    if (RangesOverlap(start, end, r.start_key(), r.end_key())) return true;
  }
  return false;
}

void Store::HandleRaftMessage(raft_serverpb::RaftMessage msg) {
  if (msg.to_peer().store_id() != config_.store_id) return;
  if (msg.has_chunk()) {
    std::optional<raft_serverpb::RaftMessage> full = snaps_.AddChunk(std::move(msg));
    if (!full.has_value()) return;
    msg = std::move(*full);
    raft_serverpb::SnapshotData data;
    if (!data.ParseFromString(msg.message().snapshot().data())) return;
    absl::MutexLock lock(&mu_);
    if (OverlapsLocked(data.region().start_key(), data.region().end_key(), msg.region_id())) {
      RUTILE_LOG_INFO("store {}: dropping snapshot of region {} overlapping a local region",
                      config_.store_id, msg.region_id());
      return;
    }
  }
  FsmPtr fsm = Lookup(msg.region_id());
  if (fsm == nullptr) {
    MaybeCreatePeer(std::move(msg));
    return;
  }
  PeerMsg pm;
  pm.kind = PeerMsg::Kind::kRaft;
  pm.raft = std::move(msg);
  Send(fsm, std::move(pm));
}

void Store::MaybeCreatePeer(raft_serverpb::RaftMessage msg) {
  if (msg.is_tombstone() || !msg.has_message() || !IsInitialMessage(msg.message())) return;
  absl::StatusOr<std::optional<std::string>> st =
      engine_->Get(storage::CF::kDefault, RegionStateKey(msg.region_id()));
  if (!st.ok()) return;
  bool was_tombstone = false;
  if (st->has_value()) {
    raft_serverpb::RegionLocalState rs;
    if (!rs.ParseFromString(**st)) return;
    if (rs.state() != raft_serverpb::PEER_TOMBSTONE) return;
    // A peer destroyed at a configuration at least as new as the sender's: stale message.
    if (rs.region().region_epoch().conf_ver() >= msg.region_epoch().conf_ver()) return;
    const metapb::Peer* old = FindPeer(rs.region(), msg.to_peer().id());
    if (old != nullptr) return;
    was_tombstone = true;
  }
  {
    absl::MutexLock lock(&mu_);
    if (peers_.count(msg.region_id()) > 0) return;
    if (OverlapsLocked(msg.start_key(), msg.end_key(), msg.region_id())) return;
  }
  if (was_tombstone) {
    storage::WriteBatch rb;
    rb.DeleteRange(storage::CF::kRaft, raft::EngineLogStorage::GroupPrefix(msg.region_id()),
                   raft::EngineLogStorage::GroupPrefix(msg.region_id() + 1));
    storage::WriteOptions wo;
    wo.sync = true;
    if (!engine_->Write(rb, wo).ok()) return;
  }
  metapb::Region region;
  region.set_id(msg.region_id());
  absl::StatusOr<FsmPtr> fsm = CreatePeer(region, msg.to_peer(), raft_serverpb::RaftApplyState());
  if (!fsm.ok()) {
    RUTILE_LOG_WARN("store {}: creating peer of region {}: {}", config_.store_id, msg.region_id(),
                    fsm.status().ToString());
    return;
  }
  {
    absl::MutexLock lock(&mu_);
    ++stats_.peers_created_by_message;
  }
  PeerMsg pm;
  pm.kind = PeerMsg::Kind::kRaft;
  pm.raft = std::move(msg);
  Send(*fsm, std::move(pm));
}

// ---- Requests ----

Future<absl::Status> Store::Propose(raft_cmdpb::RaftCmdRequest req) {
  return Propose(std::move(req), Promise<absl::Status>());
}

Future<absl::Status> Store::Propose(raft_cmdpb::RaftCmdRequest req, Promise<absl::Status> p) {
  Future<absl::Status> f = p.GetFuture();
  if (stopped_) {
    p.Set(ServerIsBusyError("store stopped"));
    return f;
  }
  FsmPtr fsm = Lookup(req.header().region_id());
  if (fsm == nullptr) {
    p.Set(RegionNotFoundError(req.header().region_id()));
    return f;
  }
  PeerMsg m;
  m.kind = PeerMsg::Kind::kPropose;
  m.cmd = std::move(req);
  m.wcb = p;
  if (!Send(fsm, std::move(m))) p.Set(ServerIsBusyError("mailbox full or peer gone"));
  return f;
}

Future<ReadResult> Store::Read(const raft_cmdpb::RaftRequestHeader& header) {
  Promise<ReadResult> p;
  Future<ReadResult> f = p.GetFuture();
  if (stopped_) {
    p.Set(ServerIsBusyError("store stopped"));
    return f;
  }
  if (std::optional<ReadResult> local = LocalRead(header)) {
    p.Set(std::move(*local));
    return f;
  }
  FsmPtr fsm = Lookup(header.region_id());
  if (fsm == nullptr) {
    p.Set(RegionNotFoundError(header.region_id()));
    return f;
  }
  PeerMsg m;
  m.kind = PeerMsg::Kind::kRead;
  m.header = header;
  m.rcb = p;
  if (!Send(fsm, std::move(m))) p.Set(ServerIsBusyError("mailbox full or peer gone"));
  return f;
}

std::optional<ReadResult> Store::LocalRead(const raft_cmdpb::RaftRequestHeader& header) {
  if (!config_.local_read || stopped_) return std::nullopt;
  FsmPtr fsm = Lookup(header.region_id());
  if (fsm == nullptr) return std::nullopt;
  std::shared_ptr<const metapb::Region> region;
  uint64_t applied = 0;
  uint64_t gen = 0;
  {
    absl::ReaderMutexLock lock(&fsm->mu);
    if (fsm->stopped || fsm->local_lease == nullptr || !fsm->local_lease->Begin(&gen)) {
      return std::nullopt;
    }
    if (header.peer().id() != 0 && header.peer().id() != fsm->self_peer_id) return std::nullopt;
    if (header.region_epoch().version() != fsm->read_region->region_epoch().version()) {
      return std::nullopt;
    }
    // A follower may already serve state this peer has not applied (revealed_commit).
    if (fsm->applied_index < fsm->revealed_commit) return std::nullopt;
    region = fsm->read_region;
    applied = fsm->applied_index;
  }
  // Read between Begin and HeldThroughout: the term of the lease that held (peer.h).
  const uint64_t term = fsm->local_lease->term.load(std::memory_order_acquire);
  // The snapshot first, then the lease check: the lease held when the view was taken.
  uint64_t version = 0;
  std::unique_ptr<storage::Snapshot> snap = fsm->data_version->Read(
      [&] { return engine_->GetSnapshot(); }, region->region_epoch().version(), &version);
  if (!fsm->local_lease->HeldThroughout(gen, env_)) return std::nullopt;
  local_reads_.fetch_add(1, std::memory_order_relaxed);
  auto view =
      std::make_shared<RegionSnapshot>(engine_, std::move(snap), std::move(region), applied);
  view->set_leader_term(term);
  view->set_data_version(version);
  return ReadResult(std::move(view));
}

// Performance-critical path.
std::optional<absl::Status> Store::ReadLatest(
    uint64_t region_id, uint64_t epoch_version, uint64_t peer_id,
    absl::FunctionRef<absl::Status(const RegionSnapshot&)> fn) {
  if (!config_.local_read || stopped_) return std::nullopt;
  FsmPtr fsm = Lookup(region_id);
  if (fsm == nullptr) return std::nullopt;
  std::shared_ptr<const metapb::Region> region;
  uint64_t applied = 0;
  uint64_t gen = 0;
  {
    absl::ReaderMutexLock lock(&fsm->mu);
    if (fsm->stopped || fsm->local_lease == nullptr || !fsm->local_lease->Begin(&gen)) {
      return std::nullopt;
    }
    if (peer_id != 0 && peer_id != fsm->self_peer_id) return std::nullopt;
    if (epoch_version != fsm->read_region->region_epoch().version()) return std::nullopt;
    // A follower may already serve state this peer has not applied (revealed_commit).
    if (fsm->applied_index < fsm->revealed_commit) return std::nullopt;
    region = fsm->read_region;
    applied = fsm->applied_index;
  }
  const RegionSnapshot view(engine_, nullptr, std::move(region), applied);
  absl::Status s = fn(view);
  // See the header: the reads above are linearizable iff one lease held throughout.
  if (!fsm->local_lease->HeldThroughout(gen, env_)) return std::nullopt;
  local_reads_.fetch_add(1, std::memory_order_relaxed);
  return s;
}

namespace {

absl::Status Await(Env* env, const Future<absl::Status>& f, uint64_t timeout) {
  if (!f.WaitFor(env, timeout)) return absl::DeadlineExceededError("request timed out");
  return f.Get();
}

}  // namespace

absl::Status Store::SplitRegion(uint64_t region_id, std::vector<std::string> split_keys) {
  if (pd_ == nullptr) return absl::FailedPreconditionError("no PD client");
  std::optional<metapb::Region> region = GetRegion(region_id);
  if (!region.has_value()) return RegionNotFoundError(region_id);
  std::sort(split_keys.begin(), split_keys.end());
  split_keys.erase(std::unique(split_keys.begin(), split_keys.end()), split_keys.end());
  for (const std::string& k : split_keys) {
    if (k.empty() || k == region->start_key() || !KeyInRegion(k, *region)) {
      return KeyNotInRegionError(k, *region);
    }
  }
  if (split_keys.empty()) return absl::InvalidArgumentError("no split keys");
  absl::StatusOr<std::vector<SplitIds>> ids = pd_->AskBatchSplit(*region, split_keys.size());
  if (!ids.ok()) return ids.status();
  if (ids->size() != split_keys.size()) return absl::InternalError("PD returned too few ids");
  raft_cmdpb::RaftCmdRequest req;
  req.mutable_header()->set_region_id(region_id);
  *req.mutable_header()->mutable_region_epoch() = region->region_epoch();
  req.mutable_admin_request()->set_cmd_type(raft_cmdpb::ADMIN_BATCH_SPLIT);
  for (size_t i = 0; i < split_keys.size(); ++i) {
    raft_cmdpb::SplitRequest* sr = req.mutable_admin_request()->mutable_splits()->add_requests();
    sr->set_split_key(split_keys[i]);
    sr->set_new_region_id((*ids)[i].new_region_id);
    for (uint64_t pid : (*ids)[i].new_peer_ids) sr->add_new_peer_ids(pid);
  }
  return Await(env_, Propose(std::move(req)), config_.request_timeout_micros);
}

absl::Status Store::TransferLeader(uint64_t region_id, const metapb::Peer& target) {
  std::optional<metapb::Region> region = GetRegion(region_id);
  if (!region.has_value()) return RegionNotFoundError(region_id);
  raft_cmdpb::RaftCmdRequest req;
  req.mutable_header()->set_region_id(region_id);
  *req.mutable_header()->mutable_region_epoch() = region->region_epoch();
  req.mutable_admin_request()->set_cmd_type(raft_cmdpb::ADMIN_TRANSFER_LEADER);
  *req.mutable_admin_request()->mutable_transfer_leader()->mutable_peer() = target;
  return Await(env_, Propose(std::move(req)), config_.request_timeout_micros);
}

absl::Status Store::MergeRegion(uint64_t source_id, const metapb::Region& target) {
  std::optional<metapb::Region> region = GetRegion(source_id);
  if (!region.has_value()) return RegionNotFoundError(source_id);
  if (target.id() == 0 || target.peers_size() == 0) {
    return absl::InvalidArgumentError("a merge needs the target region's descriptor");
  }
  raft_cmdpb::RaftCmdRequest req;
  req.mutable_header()->set_region_id(source_id);
  *req.mutable_header()->mutable_region_epoch() = region->region_epoch();
  req.mutable_admin_request()->set_cmd_type(raft_cmdpb::ADMIN_PREPARE_MERGE);
  *req.mutable_admin_request()->mutable_prepare_merge()->mutable_target() = target;
  return Await(env_, Propose(std::move(req)), config_.request_timeout_micros);
}

absl::Status Store::ChangePeers(uint64_t region_id,
                                std::vector<raft_cmdpb::ChangePeerRequest> changes) {
  std::optional<metapb::Region> region = GetRegion(region_id);
  if (!region.has_value()) return RegionNotFoundError(region_id);
  raft_cmdpb::RaftCmdRequest req;
  req.mutable_header()->set_region_id(region_id);
  *req.mutable_header()->mutable_region_epoch() = region->region_epoch();
  req.mutable_admin_request()->set_cmd_type(raft_cmdpb::ADMIN_CHANGE_PEER_V2);
  for (raft_cmdpb::ChangePeerRequest& c : changes) {
    *req.mutable_admin_request()->mutable_change_peer_v2()->add_changes() = std::move(c);
  }
  return Await(env_, Propose(std::move(req)), config_.request_timeout_micros);
}

// ---- Views ----

std::optional<metapb::Region> Store::GetRegion(uint64_t region_id) {
  FsmPtr fsm = Lookup(region_id);
  if (fsm == nullptr) return std::nullopt;
  absl::MutexLock lock(&fsm->mu);
  return fsm->region;
}

std::optional<metapb::Region> Store::FindRegionByKey(std::string_view key) {
  std::vector<FsmPtr> all;
  {
    absl::MutexLock lock(&mu_);
    for (auto& [id, f] : peers_) all.push_back(f);
  }
  for (const FsmPtr& f : all) {
    absl::MutexLock fl(&f->mu);
    if (f->region.peers_size() > 0 && KeyInRegion(key, f->region)) return f->region;
  }
  return std::nullopt;
}

std::vector<metapb::Region> Store::Regions() {
  std::vector<FsmPtr> all;
  {
    absl::MutexLock lock(&mu_);
    for (auto& [id, f] : peers_) all.push_back(f);
  }
  std::vector<metapb::Region> out;
  for (const FsmPtr& f : all) {
    absl::MutexLock fl(&f->mu);
    out.push_back(f->region);
  }
  return out;
}

bool Store::IsLeader(uint64_t region_id) {
  FsmPtr fsm = Lookup(region_id);
  if (fsm == nullptr) return false;
  absl::MutexLock lock(&fsm->mu);
  return fsm->is_leader;
}

std::optional<metapb::Peer> Store::GetLeader(uint64_t region_id) {
  FsmPtr fsm = Lookup(region_id);
  if (fsm == nullptr) return std::nullopt;
  absl::MutexLock lock(&fsm->mu);
  return fsm->leader;
}

uint64_t Store::AppliedIndex(uint64_t region_id) {
  FsmPtr fsm = Lookup(region_id);
  if (fsm == nullptr) return 0;
  absl::MutexLock lock(&fsm->mu);
  return fsm->applied_index;
}

bool Store::IsHibernating(uint64_t region_id) {
  FsmPtr fsm = Lookup(region_id);
  if (fsm == nullptr) return false;
  absl::MutexLock lock(&fsm->mu);
  return fsm->hibernating;
}

std::shared_ptr<const DataVersion> Store::TEST_DataVersion(uint64_t region_id) {
  FsmPtr fsm = Lookup(region_id);
  return fsm == nullptr ? nullptr : fsm->data_version;
}

size_t Store::PeerCount() {
  absl::MutexLock lock(&mu_);
  return peers_.size();
}

StoreCounters Store::stats() {
  absl::MutexLock lock(&mu_);
  StoreCounters c = stats_;
  c.hibernating_peers = 0;
  for (auto& [id, f] : peers_) {
    absl::MutexLock fl(&f->mu);
    if (f->hibernating) ++c.hibernating_peers;
  }
  c.asleep_peers = peers_.size() - ticking_.size();
  c.local_reads = local_reads_.load(std::memory_order_relaxed);
  c.raft_messages_sent = raft_messages_sent_.load(std::memory_order_relaxed);
  return c;
}

// ---- Split checking and PD ----

std::optional<std::string> Store::FindSplitKey(const metapb::Region& region, uint64_t* size,
                                               uint64_t* keys, bool force) {
  *size = 0;
  *keys = 0;
  storage::CF biggest = storage::CF::kDefault;
  uint64_t biggest_size = 0;
  for (storage::CF cf : {storage::CF::kDefault, storage::CF::kLock, storage::CF::kWrite}) {
    absl::StatusOr<uint64_t> s =
        engine_->ApproximateSize(cf, DataKey(region.start_key()), DataEndKey(region.end_key()));
    if (!s.ok()) continue;
    *size += *s;
    if (*s >= biggest_size) {
      biggest_size = *s;
      biggest = cf;
    }
  }
  std::unique_ptr<storage::Snapshot> snap = engine_->GetSnapshot();
  storage::IterOptions io;
  io.lower_bound = DataKey(region.start_key());
  io.upper_bound = DataEndKey(region.end_key());
  io.snapshot = snap.get();
  io.fill_cache = false;
  uint64_t biggest_keys = 0;
  uint64_t scanned_bytes = 0;
  {
    std::unique_ptr<storage::Iterator> it = engine_->NewIterator(biggest, io);
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      ++biggest_keys;
      scanned_bytes += it->key().size() + it->value().size();
    }
  }
  *keys = biggest_keys;
  // LevelDB counts only flushed data; fall back on what the scan saw.
  if (*size < scanned_bytes) *size = scanned_bytes;
  if (!force && *size < config_.region_split_size && *keys < config_.region_split_keys) {
    return std::nullopt;
  }
  if (biggest_keys < 2) return std::nullopt;
  // Split in the middle of the biggest column family, by bytes (or keys when only the key
  // count is over, or when forced).
  bool by_keys = force || *size < config_.region_split_size;
  uint64_t half = by_keys ? biggest_keys / 2 : scanned_bytes / 2;
  uint64_t acc = 0;
  std::unique_ptr<storage::Iterator> it = engine_->NewIterator(biggest, io);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    acc += by_keys ? 1 : it->key().size() + it->value().size();
    if (acc < half) continue;
    std::string key(UserKey(it->key()));
    if (config_.split_key_filter) key = config_.split_key_filter(key);
    if (!key.empty() && key > region.start_key() && KeyInRegion(key, region)) return key;
  }
  return std::nullopt;
}

void Store::CheckSplit(const FsmPtr& fsm) {
  metapb::Region region;
  {
    absl::MutexLock lock(&fsm->mu);
    if (!fsm->is_leader || fsm->written_bytes == 0) return;
    fsm->written_bytes = 0;
    fsm->written_keys = 0;
    region = fsm->region;
  }
  uint64_t size = 0, keys = 0;
  std::optional<std::string> key = FindSplitKey(region, &size, &keys);
  if (!key.has_value()) return;
  RUTILE_LOG_INFO("store {}: splitting {} ({} bytes, {} keys) at {}", config_.store_id,
                  DescribeRegion(region), size, keys, EscapeKey(*key));
  absl::Status s = SplitRegion(region.id(), {*key});
  if (!s.ok()) {
    RUTILE_LOG_INFO("store {}: split of region {} failed: {}", config_.store_id, region.id(),
                    s.ToString());
  }
}

void Store::TEST_CheckSplits() {
  std::vector<FsmPtr> all;
  {
    absl::MutexLock lock(&mu_);
    for (auto& [id, f] : peers_) all.push_back(f);
  }
  for (const FsmPtr& f : all) CheckSplit(f);
}

void Store::SplitCheckLoop() {
  while (!stopped_) {
    if (stop_note_.WaitFor(env_, config_.split_check_interval_micros) || pd_ == nullptr) return;
    TEST_CheckSplits();
  }
}

void Store::RunOperator(uint64_t region_id, const RegionOperator& op) {
  absl::Status s;
  switch (op.kind) {
    case RegionOperator::Kind::kChangePeer: {
      // A leader cannot remove itself: hand leadership to a voter that stays one first
      // (TiKV's PD does the same); PD repeats the operator to the new leader.
      std::optional<metapb::Region> r = GetRegion(region_id);
      if (!r.has_value()) return;
      const metapb::Peer* self = FindPeerOnStore(*r, config_.store_id);
      bool removes_self = false;
      for (const raft_cmdpb::ChangePeerRequest& c : op.changes) {
        if (self != nullptr && c.peer().id() == self->id() &&
            c.change_type() == raft::CONF_CHANGE_REMOVE_NODE) {
          removes_self = true;
        }
      }
      if (!removes_self) {
        s = ChangePeers(region_id, op.changes);
        break;
      }
      for (const metapb::Peer& p : r->peers()) {
        if (p.id() == self->id() || p.role() != metapb::VOTER) continue;
        bool touched = false;
        for (const raft_cmdpb::ChangePeerRequest& c : op.changes) {
          if (c.peer().id() == p.id()) touched = true;
        }
        if (touched) continue;
        s = TransferLeader(region_id, p);
        break;
      }
      break;
    }
    case RegionOperator::Kind::kTransferLeader:
      s = TransferLeader(region_id, op.target);
      break;
    case RegionOperator::Kind::kSplit: {
      std::vector<std::string> keys = op.split_keys;
      if (keys.empty()) {
        std::optional<metapb::Region> r = GetRegion(region_id);
        if (!r.has_value()) return;
        uint64_t size = 0, nkeys = 0;
        std::optional<std::string> k = FindSplitKey(*r, &size, &nkeys, /*force=*/true);
        if (!k.has_value()) return;
        keys.push_back(*k);
      }
      s = SplitRegion(region_id, keys);
      break;
    }
    case RegionOperator::Kind::kMerge:
      s = MergeRegion(region_id, op.merge_target);
      break;
  }
  if (!s.ok()) {
    RUTILE_LOG_INFO("store {}: operator on region {} failed: {}", config_.store_id, region_id,
                    s.ToString());
  }
}

void Store::HeartbeatLoop() {
  uint64_t next_store = 0;
  const uint64_t interval =
      std::min(config_.pd_heartbeat_interval_micros, config_.store_heartbeat_interval_micros);
  uint64_t since_region = 0;
  while (!stopped_) {
    if (stop_note_.WaitFor(env_, interval)) return;
    since_region += interval;
    next_store += interval;
    std::vector<FsmPtr> all;
    {
      absl::MutexLock lock(&mu_);
      for (auto& [id, f] : peers_) all.push_back(f);
    }
    if (next_store >= config_.store_heartbeat_interval_micros) {
      next_store = 0;
      StoreStats st;
      st.store_id = config_.store_id;
      st.region_count = all.size();
      for (const FsmPtr& f : all) {
        absl::MutexLock fl(&f->mu);
        if (f->is_leader) ++st.leader_count;
      }
      (void)pd_->StoreHeartbeat(st);
    }
    if (since_region < config_.pd_heartbeat_interval_micros) continue;
    since_region = 0;
    for (const FsmPtr& f : all) {
      metapb::Region region;
      std::optional<metapb::Peer> leader;
      {
        absl::MutexLock fl(&f->mu);
        if (!f->is_leader || f->stopped) continue;
        region = f->region;
        leader = f->leader;
      }
      if (!leader.has_value()) continue;
      RegionStats rs;
      for (storage::CF cf : {storage::CF::kDefault, storage::CF::kLock, storage::CF::kWrite}) {
        absl::StatusOr<uint64_t> sz =
            engine_->ApproximateSize(cf, DataKey(region.start_key()), DataEndKey(region.end_key()));
        if (sz.ok()) rs.approximate_size += *sz;
      }
      absl::StatusOr<std::optional<RegionOperator>> op = pd_->RegionHeartbeat(region, *leader, rs);
      if (op.ok() && op->has_value()) RunOperator(region.id(), **op);
    }
  }
}

}  // namespace rutile::raftstore
