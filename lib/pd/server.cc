#include "pd/server.h"

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <variant>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "pd/id_allocator.h"
#include "pdpb.pb.h"
#include "raft/engine_log_storage.h"
#include "raft/raw_node.h"
#include "util/failpoint.h"
#include "util/logging.h"
#include "util/sync.h"

namespace rutile::pd {
namespace {

// The index and term of the snapshot every member's log starts from.
constexpr uint64_t kInitIndex = 5;
constexpr uint64_t kInitTerm = 5;
// How long a "Pd.Raft" call may wait for its (empty) answer; nobody waits for it.
constexpr uint64_t kRaftSendTimeoutMicros = 1'000'000;

// True for the pd-ctl lines whose effect is replicated: they change the configuration or
// the set of schedulers.
bool ReplicatedAdminCommand(std::string_view line) {
  std::vector<std::string> w = absl::StrSplit(std::string(line), ' ', absl::SkipEmpty());
  if (w.size() < 3) return false;
  return (w[0] == "config" && w[1] == "set") ||
         (w[0] == "scheduler" && (w[1] == "add" || w[1] == "remove"));
}

// The store of a pd-ctl "store delete <id>" line.
std::optional<uint64_t> StoreDeleteTarget(std::string_view line) {
  // Split as Admin::Execute splits, so both read the same words.
  std::vector<std::string> w = absl::StrSplit(std::string(line), ' ', absl::SkipWhitespace());
  uint64_t id = 0;
  if (w.size() != 3 || w[0] != "store" || w[1] != "delete" || !absl::SimpleAtoi(w[2], &id)) {
    return std::nullopt;
  }
  return id;
}

// What a replicated admin line sets: "config set <name>" or "scheduler <name>" (a later
// line with the same key supersedes an earlier one).
std::string AdminCommandKey(std::string_view line) {
  std::vector<std::string> w = absl::StrSplit(std::string(line), ' ', absl::SkipEmpty());
  if (w.size() >= 3 && w[0] == "config") return absl::StrCat("config ", w[2]);
  if (w.size() >= 3 && w[0] == "scheduler") return absl::StrCat("scheduler ", w[2]);
  return std::string(line);
}

struct Event {
  enum class Kind { kMessage, kPropose, kReadIndex };
  Kind kind = Kind::kMessage;
  raft::Message message;
  std::string data;  // kPropose: a serialized Command; kReadIndex: the request context.
  uint64_t waiter = 0;
};

}  // namespace

// The replicated allocator limits: loads read the applied state, saves go through Raft.
class ReplicatedAllocatorStorage final : public AllocatorStorage {
 public:
  explicit ReplicatedAllocatorStorage(PdServer::Core* core) : core_(core) {}
  absl::StatusOr<uint64_t> LoadTimestampLimit() override;
  absl::Status SaveTimestampLimit(uint64_t limit_ms) override;
  absl::StatusOr<uint64_t> LoadIdLimit() override;
  absl::Status SaveIdLimit(uint64_t limit) override;

 private:
  PdServer::Core* core_;
};

struct PdServer::Core : std::enable_shared_from_this<PdServer::Core> {
  explicit Core(const PdServerOptions& o)
      : options(o),
        env(o.env),
        lease_micros(o.lease_micros != 0 ? o.lease_micros : MaxSafePdLeaseMicros(o)),
        alloc_storage(this),
        ids(&alloc_storage),
        tso(o.env, &alloc_storage, o.tso) {}

  const PdServerOptions options;
  Env* const env;
  const uint64_t lease_micros;

  // Driver-fiber only.
  // Ticks since start, and how many of the first ones (pre-)votes are ignored for (a
  // restarted member may have acknowledged a leader lease and forgotten it).
  uint64_t ticks = 0;
  uint64_t ignore_votes_ticks = 0;
  std::unique_ptr<raft::EngineLogStorage> log;
  std::unique_ptr<raft::RawNode> raw;
  uint64_t term_start_index = 0;
  uint64_t applied_index = 0;
  bool ready_started = false;

  Channel<Event> inbox;
  WaitGroup fibers;
  std::atomic<bool> stopped{false};
  // For tests, updated by the driver fiber.
  std::atomic<uint64_t> first_index_stat{0};
  std::atomic<uint64_t> applied_stat{0};

  // Everything below under mu.
  mutable Mutex mu;
  // The replicated state.
  uint64_t cluster_id = 0;
  uint64_t tso_limit_ms = 0;
  uint64_t id_limit = 0;
  uint64_t gc_safe_point = 0;
  std::map<uint64_t, metapb::Store> stores;
  // Replicated configuration changes in log order, and scheduling on/off (0: as the
  // options say; 1 on, 2 off).
  std::vector<std::string> admin_commands;
  uint32_t scheduling = 0;
  // Role.
  bool is_leader = false;
  uint64_t term = 0;
  uint64_t lead = 0;
  bool serving = false;
  uint64_t serving_term = 0;
  // The leader lease: this member's monotonic clock may not reach it before a successor
  // could be elected (see server.h). 0: none. Only ever set for the current term.
  uint64_t lease_expire_micros = 0;
  // Waiters of proposals and ReadIndex requests, by id.
  std::map<uint64_t, Promise<absl::Status>> waiters;
  uint64_t next_waiter = 1;
  // The leader's scheduling view. Handlers take a reference under `mu`, then work under
  // the box's own lock, which the driver fiber never takes (scheduling may wait for a
  // proposal: new peer ids).
  struct SchedBox {
    SchedBox(const SchedulingOptions& o, IdAllocFn alloc, uint64_t now) : s(o, alloc, now) {}
    Mutex mu;
    Scheduling s;
  };
  std::shared_ptr<SchedBox> sched;
  std::shared_ptr<SchedBox> Sched() const {
    MutexLock l(mu);
    return serving && !stopped ? sched : nullptr;
  }
  // Store states committed while `sched` exists, for the view to take on (CatchUpView):
  // the driver fiber applies entries but never takes the box's lock. A handler normally
  // applies the state it proposed itself once committed; one whose wait timed out while
  // the entry still committed leaves it to this.
  std::vector<std::pair<uint64_t, metapb::StoreState>> view_store_states;
  std::atomic<bool> view_behind{false};
  // Applies view_store_states to the view (under box.mu).
  void CatchUpView(SchedBox& box);

  ReplicatedAllocatorStorage alloc_storage;
  IdAllocator ids;
  TsoAllocator tso;

  // ---- Driver.
  void Run();
  void HandleReady();
  void Apply(const raft::Entry& e);
  // The state machine as a snapshot's data, and back (under mu).
  pdpb::State StateLocked() const;
  void RestoreLocked(const pdpb::State& st);
  // Snapshots the state machine and compacts the log when enough entries applied.
  void MaybeCompact();
  void OnRoleChange(const raft::SoftState& ss);
  void SendMessages(std::vector<raft::Message> msgs);
  void Resolve(uint64_t waiter, absl::Status s);
  void FailAllWaiters(const absl::Status& s);
  // Makes this member serve (on its own fiber) once everything before its term applied.
  void BecomeReady(uint64_t term);

  // ---- From any fiber.
  absl::Status ProposeAndWait(pdpb::Command cmd);
  // A ReadIndex round: OK once a quorum acknowledged this leader after the call (and the
  // lease is renewed from the call's start).
  absl::Status ConfirmLeadership();
  // OK at once while the lease holds, else ConfirmLeadership.
  absl::Status LeaseOrConfirm();
  bool HoldsLease() const;
  // Extends the lease to `from_micros` + lease_micros if this member still leads `term`.
  void RenewLease(uint64_t from_micros, uint64_t term);
  // Renews the lease when less than half of it remains (the lease keeper fiber).
  void KeepLease();
  absl::Status WaitFor(Event ev);
  // Fills `h`; returns false (and sets not_leader) unless this member serves.
  bool CheckServing(pdpb::ResponseHeader* h) const;
  void RegisterService();
};

absl::StatusOr<uint64_t> ReplicatedAllocatorStorage::LoadTimestampLimit() {
  MutexLock l(core_->mu);
  return core_->tso_limit_ms;
}
absl::StatusOr<uint64_t> ReplicatedAllocatorStorage::LoadIdLimit() {
  MutexLock l(core_->mu);
  return std::max(core_->id_limit, core_->options.id_floor);
}
absl::Status ReplicatedAllocatorStorage::SaveTimestampLimit(uint64_t limit_ms) {
  pdpb::Command c;
  c.set_tso_limit_ms(limit_ms);
  return core_->ProposeAndWait(std::move(c));
}
absl::Status ReplicatedAllocatorStorage::SaveIdLimit(uint64_t limit) {
  pdpb::Command c;
  c.set_id_limit(limit);
  return core_->ProposeAndWait(std::move(c));
}

void PdServer::Core::Resolve(uint64_t waiter, absl::Status s) {
  MutexLock l(mu);
  auto it = waiters.find(waiter);
  if (it == waiters.end()) return;
  it->second.Set(std::move(s));
  waiters.erase(it);
}

void PdServer::Core::FailAllWaiters(const absl::Status& s) {
  MutexLock l(mu);
  for (auto& [id, p] : waiters) p.Set(s);
  waiters.clear();
}

void PdServer::Core::CatchUpView(SchedBox& box) {
  if (!view_behind.exchange(false)) return;
  std::vector<std::pair<uint64_t, metapb::StoreState>> states;
  {
    MutexLock l(mu);
    states.swap(view_store_states);
  }
  for (const auto& [id, state] : states) {
    const StoreInfo* s = box.s.cluster().GetStore(id);
    if (s == nullptr || s->meta.state() == state || s->IsTombstone()) continue;
    absl::Status st;
    if (state == metapb::OFFLINE) {
      // As `store delete` does: operators adding to the store are canceled too.
      st = box.s.admin().DeleteStore(id);
    } else {
      st = box.s.cluster().SetStoreState(id, state);
    }
    if (!st.ok()) {
      RUTILE_LOG_WARN("pd {}: committed state {} of store {} refused by the view: {}",
                      options.member_id, metapb::StoreState_Name(state), id, st.ToString());
    }
  }
}

absl::Status PdServer::Core::WaitFor(Event ev) {
  Promise<absl::Status> p;
  Future<absl::Status> f = p.GetFuture();
  // Whatever the quorum acknowledges for this request was sent after this instant.
  const uint64_t issued = env->NowMicros();
  uint64_t issue_term = 0;
  {
    MutexLock l(mu);
    if (!is_leader || stopped) return absl::UnavailableError("pd: not leader");
    ev.waiter = (options.member_id << 48) | next_waiter++;
    waiters.emplace(ev.waiter, p);
    issue_term = term;
  }
  const uint64_t id = ev.waiter;
  if (ev.kind == Event::Kind::kPropose) {
    pdpb::Command cmd;
    cmd.ParseFromString(ev.data);
    cmd.set_proposal_id(id);
    ev.data = cmd.SerializeAsString();
  }
  if (!inbox.Push(std::move(ev))) {
    Resolve(id, absl::UnavailableError("pd: stopped"));
  }
  if (!f.WaitFor(env, options.propose_timeout_micros)) {
    MutexLock l(mu);
    waiters.erase(id);
    return absl::UnavailableError("pd: proposal timed out");
  }
  absl::Status s = f.Get();
  // A committed proposal of this term or a confirmed ReadIndex: a quorum heard from this
  // leader after `issued`.
  if (s.ok()) RenewLease(issued, issue_term);
  return s;
}

void PdServer::Core::RenewLease(uint64_t from_micros, uint64_t t) {
  MutexLock l(mu);
  if (!is_leader || stopped || term != t || t == 0) return;
  lease_expire_micros = std::max(lease_expire_micros, from_micros + lease_micros);
}

bool PdServer::Core::HoldsLease() const {
  const uint64_t now = env->NowMicros();
  MutexLock l(mu);
  return serving && !stopped && is_leader && term == serving_term && now < lease_expire_micros;
}

absl::Status PdServer::Core::LeaseOrConfirm() {
  if (HoldsLease()) return absl::OkStatus();
  return ConfirmLeadership();
}

void PdServer::Core::KeepLease() {
  uint64_t expire;
  {
    MutexLock l(mu);
    if (!serving || stopped) return;
    expire = lease_expire_micros;
  }
  const uint64_t now = env->NowMicros();
  if (expire > now && expire - now > lease_micros / 2) return;
  (void)ConfirmLeadership();
}

absl::Status PdServer::Core::ProposeAndWait(pdpb::Command cmd) {
  Event ev;
  ev.kind = Event::Kind::kPropose;
  ev.data = cmd.SerializeAsString();
  return WaitFor(std::move(ev));
}

absl::Status PdServer::Core::ConfirmLeadership() {
  Event ev;
  ev.kind = Event::Kind::kReadIndex;
  return WaitFor(std::move(ev));
}

void PdServer::Core::Run() {
  uint64_t next_tick = env->NowMicros() + options.tick_micros;
  while (!stopped) {
    uint64_t now = env->NowMicros();
    uint64_t wait = next_tick > now ? next_tick - now : 0;
    std::optional<Event> ev = wait == 0 ? inbox.TryPop() : inbox.PopFor(env, wait);
    int handled = 0;
    while (ev.has_value() && !stopped) {
      switch (ev->kind) {
        case Event::Kind::kMessage:
          if (ticks < ignore_votes_ticks &&
              (ev->message.type() == raft::MSG_VOTE || ev->message.type() == raft::MSG_PRE_VOTE)) {
            break;  // Restarted: a lease we acknowledged and forgot may still hold.
          }
          (void)raw->Step(std::move(ev->message));
          break;
        case Event::Kind::kPropose: {
          absl::Status s = raw->Propose(std::move(ev->data));
          if (!s.ok()) Resolve(ev->waiter, absl::UnavailableError(s.message()));
          break;
        }
        case Event::Kind::kReadIndex: {
          bool leader;
          {
            MutexLock l(mu);
            leader = is_leader;
          }
          if (!leader) {
            Resolve(ev->waiter, absl::UnavailableError("pd: not leader"));
          } else {
            raw->ReadIndex(std::to_string(ev->waiter));
          }
          break;
        }
      }
      if (++handled >= 256) break;
      ev = inbox.TryPop();
    }
    if (stopped) break;
    if (env->NowMicros() >= next_tick) {
      raw->Tick();
      ++ticks;
      next_tick = env->NowMicros() + options.tick_micros;
    }
    HandleReady();
  }
}

void PdServer::Core::HandleReady() {
  while (raw->HasReady() && !stopped) {
    raft::Ready rd = raw->GetReady();
    if (absl::Status s = log->SaveReady(rd.hard_state, rd.entries, rd.snapshot, rd.must_sync);
        !s.ok()) {
      RUTILE_LOG_WARN("pd {}: persisting raft state failed: {}", options.member_id, s.ToString());
      return;  // Retried with the next Ready; the RawNode did not advance.
    }
    if (rd.snapshot.has_value() && rd.snapshot->metadata().index() > applied_index) {
      // A snapshot from the leader (this member lagged behind its compacted log).
      pdpb::State st;
      if (!st.ParseFromString(rd.snapshot->data())) {
        RUTILE_LOG_WARN("pd {}: snapshot at {} does not parse", options.member_id,
                        rd.snapshot->metadata().index());
      } else {
        MutexLock l(mu);
        RestoreLocked(st);
      }
      applied_index = rd.snapshot->metadata().index();
    }
    if (rd.soft_state.has_value()) OnRoleChange(*rd.soft_state);
    if (rd.hard_state.has_value()) {
      MutexLock l(mu);
      term = rd.hard_state->term();
    }
    {
      MutexLock l(mu);
      if (is_leader && term_start_index == 0) {
        absl::StatusOr<uint64_t> last = log->LastIndex();
        if (last.ok()) term_start_index = *last;
      }
    }
    SendMessages(std::move(rd.messages));
    for (const raft::ReadState& rs : rd.read_states) {
      uint64_t id = 0;
      if (absl::SimpleAtoi(rs.request_ctx, &id)) Resolve(id, absl::OkStatus());
    }
    for (const raft::Entry& e : rd.committed_entries) {
      Apply(e);
      applied_index = e.index();
    }
    raw->Advance(rd);
    applied_stat = applied_index;
    MaybeCompact();
    bool start_ready = false;
    uint64_t t = 0;
    {
      MutexLock l(mu);
      if (is_leader && !ready_started && term_start_index != 0 &&
          applied_index >= term_start_index) {
        ready_started = true;
        start_ready = true;
        t = term;
      }
    }
    if (start_ready) {
      fibers.Add(1);
      auto self = shared_from_this();
      env->Spawn([self, t] {
        self->BecomeReady(t);
        self->fibers.Done();
      });
    }
  }
}

void PdServer::Core::OnRoleChange(const raft::SoftState& ss) {
  const bool now_leader = ss.raft_state == raft::StateType::kLeader;
  bool lost = false;
  {
    MutexLock l(mu);
    lead = ss.lead;
    if (now_leader && !is_leader) {
      term_start_index = 0;
      ready_started = false;
    }
    lost = is_leader && !now_leader;
    // A new term earns its own lease.
    if (lost || (now_leader && !is_leader)) lease_expire_micros = 0;
    is_leader = now_leader;
    if (lost) {
      serving = false;
      sched.reset();
      view_store_states.clear();
    }
  }
  if (lost) {
    RUTILE_LOG_INFO("pd {}: lost leadership", options.member_id);
    // Waiters first: a TSO window or id limit save may hold its allocator's lock while it
    // waits for its proposal, which would otherwise stall this (driver) fiber until the
    // proposal times out.
    FailAllWaiters(absl::UnavailableError("pd: leadership lost"));
    tso.Reset();
    ids.Reset();
  }
}

void PdServer::Core::BecomeReady(uint64_t t) {
  tso.Reset();
  ids.Reset();
  if (absl::Status s = tso.Initialize(); !s.ok()) {
    RUTILE_LOG_INFO("pd {}: TSO did not start: {}", options.member_id, s.ToString());
    // Leadership is probably gone; if not, step down so another member can try.
    MutexLock l(mu);
    if (is_leader && term == t) ready_started = false;  // Try again on the next Ready.
    return;
  }
  bool bootstrap = false;
  {
    MutexLock l(mu);
    if (!is_leader || term != t) return;
    auto sc = std::make_shared<SchedBox>(
        options.scheduling, [this] { return ids.Alloc(); }, env->NowMicros());
    for (const auto& [id, meta] : stores) (void)sc->s.PutStore(meta, env->NowMicros());
    // The replicated configuration (no id is allocated: nothing here waits on Raft).
    for (const std::string& line : admin_commands) (void)sc->s.admin().Execute(line);
    if (scheduling != 0) sc->s.SetSchedulingEnabled(scheduling == 1);
    sched = std::move(sc);
    view_store_states.clear();  // The view was built from `stores`: it has them.
    bootstrap = cluster_id == 0;
  }
  if (bootstrap) {
    pdpb::Command c;
    c.set_bootstrap_cluster_id((env->Random64() >> 1) | 1);
    if (!ProposeAndWait(std::move(c)).ok()) {
      MutexLock l(mu);
      if (is_leader && term == t) ready_started = false;  // Try again on the next Ready.
      return;
    }
  }
  MutexLock l(mu);
  if (!is_leader || term != t) return;
  serving = true;
  serving_term = t;
  RUTILE_LOG_INFO("pd {}: serving as leader in term {}", options.member_id, t);
}

void PdServer::Core::Apply(const raft::Entry& e) {
  if (e.type() != raft::ENTRY_NORMAL) {
    // Membership is fixed at bootstrap; conf changes are applied to keep Raft consistent.
    if (e.type() == raft::ENTRY_CONF_CHANGE_V2) {
      raft::ConfChangeV2 cc;
      if (cc.ParseFromString(e.data())) raw->ApplyConfChange(cc);
    } else if (e.type() == raft::ENTRY_CONF_CHANGE) {
      raft::ConfChange cc;
      if (cc.ParseFromString(e.data())) raw->ApplyConfChange(cc);
    }
    return;
  }
  if (e.data().empty()) return;
  pdpb::Command c;
  if (!c.ParseFromString(e.data())) {
    RUTILE_LOG_WARN("pd {}: entry {} does not parse", options.member_id, e.index());
    return;
  }
  {
    MutexLock l(mu);
    switch (c.cmd_case()) {
      case pdpb::Command::kTsoLimitMs:
        tso_limit_ms = std::max(tso_limit_ms, c.tso_limit_ms());
        break;
      case pdpb::Command::kIdLimit:
        id_limit = std::max(id_limit, c.id_limit());
        break;
      case pdpb::Command::kPutStore: {
        // A known store keeps its state (only store_state changes it).
        auto it = stores.find(c.put_store().id());
        const metapb::StoreState state =
            it != stores.end() ? it->second.state() : c.put_store().state();
        metapb::Store& meta = stores[c.put_store().id()];
        meta = c.put_store();
        meta.set_state(state);
        break;
      }
      case pdpb::Command::kStoreState: {
        auto it = stores.find(c.store_state().store_id());
        // A tombstone is final.
        if (it != stores.end() && it->second.state() != metapb::TOMBSTONE) {
          it->second.set_state(c.store_state().state());
          if (sched != nullptr) {
            view_store_states.emplace_back(it->first, it->second.state());
            view_behind.store(true);
          }
        }
        break;
      }
      case pdpb::Command::kGcSafePoint:
        gc_safe_point = std::max(gc_safe_point, c.gc_safe_point());
        break;
      case pdpb::Command::kBootstrapClusterId:
        if (cluster_id == 0) cluster_id = c.bootstrap_cluster_id();
        break;
      case pdpb::Command::kAdminCommand: {
        // Only the latest of the lines that set the same thing matters.
        const std::string key = AdminCommandKey(c.admin_command());
        std::erase_if(admin_commands,
                      [&](const std::string& line) { return AdminCommandKey(line) == key; });
        admin_commands.push_back(c.admin_command());
        break;
      }
      case pdpb::Command::kScheduling:
        scheduling = c.scheduling();
        break;
      case pdpb::Command::CMD_NOT_SET:
        break;
    }
  }
  if (c.proposal_id() != 0) Resolve(c.proposal_id(), absl::OkStatus());
}

pdpb::State PdServer::Core::StateLocked() const {
  pdpb::State st;
  st.set_cluster_id(cluster_id);
  st.set_tso_limit_ms(tso_limit_ms);
  st.set_id_limit(id_limit);
  st.set_gc_safe_point(gc_safe_point);
  for (const auto& [id, meta] : stores) *st.add_stores() = meta;
  for (const std::string& line : admin_commands) st.add_admin_commands(line);
  st.set_scheduling(scheduling);
  return st;
}

void PdServer::Core::RestoreLocked(const pdpb::State& st) {
  cluster_id = st.cluster_id();
  tso_limit_ms = std::max(tso_limit_ms, st.tso_limit_ms());
  id_limit = std::max(id_limit, st.id_limit());
  gc_safe_point = std::max(gc_safe_point, st.gc_safe_point());
  stores.clear();
  for (const metapb::Store& meta : st.stores()) stores[meta.id()] = meta;
  admin_commands.assign(st.admin_commands().begin(), st.admin_commands().end());
  scheduling = st.scheduling();
}

void PdServer::Core::MaybeCompact() {
  if (options.compact_log_entries == 0) return;
  absl::StatusOr<uint64_t> first = log->FirstIndex();
  if (!first.ok()) return;
  first_index_stat = *first;
  if (applied_index < *first + options.compact_log_entries) return;
  raft::ConfState cs;
  std::vector<uint64_t> members = options.members;
  std::sort(members.begin(), members.end());
  for (uint64_t m : members) cs.add_voters(m);
  std::string data;
  {
    MutexLock l(mu);
    data = StateLocked().SerializeAsString();
  }
  absl::StatusOr<raft::Snapshot> snap = log->CreateSnapshot(applied_index, &cs, std::move(data));
  if (!snap.ok()) {
    RUTILE_LOG_WARN("pd {}: snapshot at {} failed: {}", options.member_id, applied_index,
                    snap.status().ToString());
    return;
  }
  if (absl::Status s = log->Compact(applied_index); !s.ok()) {
    RUTILE_LOG_WARN("pd {}: compacting the log to {} failed: {}", options.member_id, applied_index,
                    s.ToString());
    return;
  }
  if (absl::StatusOr<uint64_t> f = log->FirstIndex(); f.ok()) first_index_stat = *f;
}

void PdServer::Core::SendMessages(std::vector<raft::Message> msgs) {
  std::map<uint64_t, pdpb::RaftBatch> by_to;
  for (raft::Message& m : msgs) {
    uint64_t to = m.to();
    *by_to[to].add_messages() = std::move(m);
  }
  for (auto& [to, batch] : by_to) {
    (void)options.endpoint->Call(to, "Pd.Raft", batch.SerializeAsString(), kRaftSendTimeoutMicros);
  }
}

bool PdServer::Core::CheckServing(pdpb::ResponseHeader* h) const {
  MutexLock l(mu);
  h->set_cluster_id(cluster_id);
  if (serving && !stopped) return true;
  h->set_not_leader(true);
  h->set_leader(is_leader ? 0 : lead);
  return false;
}

namespace {

template <typename Req, typename Resp>
absl::Status Register(const std::shared_ptr<PdServer::Core>& core, const std::string& method,
                      std::function<absl::Status(PdServer::Core&, const Req&, Resp*)> fn) {
  std::weak_ptr<PdServer::Core> weak = core;
  return transport::RegisterTypedMethod<Req, Resp>(
      *core->options.endpoint, "Pd." + method,
      [weak, fn = std::move(fn)](const transport::RpcContext&,
                                 const Req& req) -> absl::StatusOr<Resp> {
        std::shared_ptr<PdServer::Core> c = weak.lock();
        if (c == nullptr || c->stopped) return absl::UnavailableError("pd member stopped");
        Resp resp;
        if (!c->CheckServing(resp.mutable_header())) return resp;
        if (absl::Status s = fn(*c, req, &resp); !s.ok()) return s;
        return resp;
      });
}

absl::Status Unready(pdpb::ResponseHeader* h) {
  h->set_not_leader(true);
  return absl::OkStatus();
}

}  // namespace

void PdServer::Core::RegisterService() {
  auto self = shared_from_this();
  std::weak_ptr<Core> weak = self;
  (void)options.endpoint->RegisterMethod(
      "Pd.Raft",
      [weak](const transport::RpcContext&, std::string_view body) -> absl::StatusOr<std::string> {
        std::shared_ptr<Core> c = weak.lock();
        if (c == nullptr || c->stopped) return absl::UnavailableError("pd member stopped");
        pdpb::RaftBatch batch;
        if (!batch.ParseFromString(std::string(body))) {
          return absl::InvalidArgumentError("Pd.Raft: batch does not parse");
        }
        for (raft::Message& m : *batch.mutable_messages()) {
          if (m.to() != c->options.member_id) {
            return absl::InvalidArgumentError(absl::StrCat("Pd.Raft: message for member ", m.to(),
                                                           " sent to ", c->options.member_id));
          }
        }
        for (raft::Message& m : *batch.mutable_messages()) {
          Event ev;
          ev.kind = Event::Kind::kMessage;
          ev.message = std::move(m);
          c->inbox.TryPush(std::move(ev));
        }
        return std::string();
      });

  (void)Register<pdpb::TsoRequest, pdpb::TsoResponse>(
      self, "Tso", [](Core& c, const pdpb::TsoRequest& req, pdpb::TsoResponse* resp) {
        if (req.count() == 0 || req.count() >= kMaxLogical) {
          return absl::InvalidArgumentError(
              absl::StrCat("tso count ", req.count(), " not in [1, 2^18)"));
        }
        // Allocate only under the leader lease, checked after the request arrived: no
        // successor can have served yet (see server.h).
        if (!c.LeaseOrConfirm().ok()) return Unready(resp->mutable_header());
        absl::StatusOr<uint64_t> ts = c.tso.GetTimestamp(req.count());
        if (!ts.ok()) return Unready(resp->mutable_header());
        resp->set_timestamp(*ts);
        resp->set_count(req.count());
        return absl::OkStatus();
      });

  (void)Register<pdpb::AllocIdRequest, pdpb::AllocIdResponse>(
      self, "AllocId", [](Core& c, const pdpb::AllocIdRequest& req, pdpb::AllocIdResponse* resp) {
        if (req.count() == 0 || req.count() > 1'000'000) {
          return absl::InvalidArgumentError(
              absl::StrCat("id count ", req.count(), " not in [1, 1000000]"));
        }
        absl::StatusOr<uint64_t> first = c.ids.AllocRange(req.count());
        if (!first.ok()) return Unready(resp->mutable_header());
        resp->set_first_id(*first);
        return absl::OkStatus();
      });

  (void)Register<pdpb::PutStoreRequest, pdpb::PutStoreResponse>(
      self, "PutStore",
      [](Core& c, const pdpb::PutStoreRequest& req, pdpb::PutStoreResponse* resp) {
        if (req.store().id() == 0) return absl::InvalidArgumentError("store id 0");
        {
          MutexLock l(c.mu);
          auto it = c.stores.find(req.store().id());
          if (it != c.stores.end()) {
            if (it->second.state() == metapb::TOMBSTONE) {
              return absl::FailedPreconditionError(
                  absl::StrCat("store ", req.store().id(), " is a tombstone"));
            }
            metapb::Store same = req.store();
            same.set_state(it->second.state());  // Registration never changes the state.
            if (it->second.SerializeAsString() == same.SerializeAsString()) {
              return absl::OkStatus();
            }
          }
        }
        pdpb::Command cmd;
        *cmd.mutable_put_store() = req.store();
        if (!c.ProposeAndWait(std::move(cmd)).ok()) return Unready(resp->mutable_header());
        if (std::shared_ptr<Core::SchedBox> box = c.Sched(); box != nullptr) {
          MutexLock l(box->mu);
          (void)box->s.PutStore(req.store(), c.env->NowMicros());
        }
        return absl::OkStatus();
      });

  (void)Register<pdpb::StoreHeartbeatRequest, pdpb::StoreHeartbeatResponse>(
      self, "StoreHeartbeat",
      [](Core& c, const pdpb::StoreHeartbeatRequest& req, pdpb::StoreHeartbeatResponse* resp) {
        StoreStats s;
        s.region_count = req.region_count();
        s.leader_count = req.leader_count();
        s.used_size = req.used_bytes();
        if (req.store_id() == 0) return absl::InvalidArgumentError("store id 0");
        bool known;
        {
          MutexLock l(c.mu);
          known = c.stores.count(req.store_id()) != 0;
        }
        if (!known) {
          // A store PD has not heard of registers itself, as its first heartbeat.
          pdpb::Command cmd;
          cmd.mutable_put_store()->set_id(req.store_id());
          cmd.mutable_put_store()->set_node_id(req.store_id());
          if (!c.ProposeAndWait(cmd).ok()) return Unready(resp->mutable_header());
          if (std::shared_ptr<Core::SchedBox> box = c.Sched(); box != nullptr) {
            MutexLock l(box->mu);
            (void)box->s.PutStore(cmd.put_store(), c.env->NowMicros());
          }
        }
        std::shared_ptr<Core::SchedBox> box = c.Sched();
        if (box == nullptr) return Unready(resp->mutable_header());
        absl::Status st;
        // Deleted stores whose regions all moved away become tombstones: in the log
        // first, so every later leader knows (see pdpb.Command.store_state). The view's
        // lock is held from the decision until the view applies the committed state (as
        // PD holds its cluster lock across the etcd write; id allocation under this lock
        // proposes too): no region report or operator can slip in between and make the
        // view refuse a TOMBSTONE the log already has.
        MutexLock l(box->mu);
        c.CatchUpView(*box);
        st = box->s.StoreHeartbeat(req.store_id(), s, c.env->NowMicros());
        for (uint64_t id : box->s.StoresToBury(c.env->NowMicros())) {
          pdpb::Command cmd;
          cmd.mutable_store_state()->set_store_id(id);
          cmd.mutable_store_state()->set_state(metapb::TOMBSTONE);
          if (!c.ProposeAndWait(std::move(cmd)).ok()) break;
          if (absl::Status b = box->s.cluster().SetStoreState(id, metapb::TOMBSTONE); !b.ok()) {
            RUTILE_LOG_WARN("pd {}: committed tombstone of store {} refused by the view: {}",
                            c.options.member_id, id, b.ToString());
            continue;
          }
          RUTILE_LOG_INFO("pd {}: store {} is a tombstone", c.options.member_id, id);
        }
        return st;
      });

  (void)Register<pdpb::RegionHeartbeatRequest, pdpb::RegionHeartbeatResponse>(
      self, "RegionHeartbeat",
      [](Core& c, const pdpb::RegionHeartbeatRequest& req, pdpb::RegionHeartbeatResponse* resp) {
        RegionInfo info;
        info.meta = req.region();
        info.leader = req.leader();
        info.approximate_size = req.approximate_size();
        info.approximate_keys = req.approximate_keys();
        info.written_bytes = req.written_bytes();
        info.written_keys = req.written_keys();
        info.pending_peers.assign(req.pending_peers().begin(), req.pending_peers().end());
        std::shared_ptr<Core::SchedBox> box = c.Sched();
        if (box == nullptr) return Unready(resp->mutable_header());
        MutexLock l(box->mu);
        c.CatchUpView(*box);
        absl::StatusOr<std::optional<OpStep>> step =
            box->s.RegionHeartbeat(std::move(info), c.env->NowMicros());
        if (!step.ok()) return step.status();
        if (!step->has_value()) return absl::OkStatus();
        pdpb::RegionOperator* op = resp->mutable_operator_();
        auto change = [op](raft::ConfChangeType type, uint64_t peer, uint64_t store,
                           metapb::PeerRole role) {
          op->set_kind(pdpb::RegionOperator::CHANGE_PEER);
          raft_cmdpb::ChangePeerRequest* ch = op->add_changes();
          ch->set_change_type(type);
          ch->mutable_peer()->set_id(peer);
          ch->mutable_peer()->set_store_id(store);
          ch->mutable_peer()->set_role(role);
        };
        const OpStep& st = **step;
        if (const auto* s = std::get_if<TransferLeader>(&st)) {
          op->set_kind(pdpb::RegionOperator::TRANSFER_LEADER);
          op->mutable_target()->set_id(s->to_peer_id);
          op->mutable_target()->set_store_id(s->to_store);
        } else if (const auto* s = std::get_if<AddPeer>(&st)) {
          change(raft::CONF_CHANGE_ADD_NODE, s->peer_id, s->store_id, metapb::VOTER);
        } else if (const auto* s = std::get_if<AddLearner>(&st)) {
          change(raft::CONF_CHANGE_ADD_LEARNER_NODE, s->peer_id, s->store_id, metapb::LEARNER);
        } else if (const auto* s = std::get_if<PromoteLearner>(&st)) {
          change(raft::CONF_CHANGE_ADD_NODE, s->peer_id, s->store_id, metapb::VOTER);
        } else if (const auto* s = std::get_if<RemovePeer>(&st)) {
          change(raft::CONF_CHANGE_REMOVE_NODE, s->peer_id, s->store_id, metapb::VOTER);
        } else if (const auto* s = std::get_if<SplitRegion>(&st)) {
          op->set_kind(pdpb::RegionOperator::SPLIT);
          if (s->policy == SplitPolicy::kUseKey) {
            for (const std::string& k : s->keys) op->add_split_keys(k);
          }
        } else if (const auto* s = std::get_if<MergeRegion>(&st)) {
          const RegionInfo* target = box->s.cluster().GetRegion(s->to.id());
          if (s->is_passive || target == nullptr) {
            resp->clear_operator_();
            return absl::OkStatus();
          }
          op->set_kind(pdpb::RegionOperator::MERGE);
          *op->mutable_merge_target() = target->meta;
        } else {
          resp->clear_operator_();
          return absl::OkStatus();
        }
        resp->set_has_operator(true);
        return absl::OkStatus();
      });

  (void)Register<pdpb::ReportRegionsRequest, pdpb::ReportRegionsResponse>(
      self, "ReportRegions",
      [](Core& c, const pdpb::ReportRegionsRequest& req, pdpb::ReportRegionsResponse* resp) {
        std::shared_ptr<Core::SchedBox> box = c.Sched();
        if (box == nullptr) return Unready(resp->mutable_header());
        MutexLock l(box->mu);
        for (const metapb::Region& r : req.regions()) box->s.ReportRegion(r, c.env->NowMicros());
        return absl::OkStatus();
      });

  (void)Register<pdpb::GetRegionRequest, pdpb::GetRegionResponse>(
      self, "GetRegion",
      [](Core& c, const pdpb::GetRegionRequest& req, pdpb::GetRegionResponse* resp) {
        std::shared_ptr<Core::SchedBox> box = c.Sched();
        if (box == nullptr) return Unready(resp->mutable_header());
        MutexLock l(box->mu);
        const RegionInfo* r = box->s.cluster().GetRegionByKey(req.key());
        if (r == nullptr) return absl::OkStatus();
        resp->set_found(true);
        *resp->mutable_route()->mutable_region() = r->meta;
        *resp->mutable_route()->mutable_leader() = r->leader;
        return absl::OkStatus();
      });

  (void)Register<pdpb::ScanRegionsRequest, pdpb::ScanRegionsResponse>(
      self, "ScanRegions",
      [](Core& c, const pdpb::ScanRegionsRequest& req, pdpb::ScanRegionsResponse* resp) {
        std::shared_ptr<Core::SchedBox> box = c.Sched();
        if (box == nullptr) return Unready(resp->mutable_header());
        MutexLock l(box->mu);
        for (const RegionInfo* r :
             box->s.cluster().ScanRegions(req.start_key(), req.end_key(), req.limit())) {
          pdpb::RegionRoute* route = resp->add_routes();
          *route->mutable_region() = r->meta;
          *route->mutable_leader() = r->leader;
        }
        return absl::OkStatus();
      });

  (void)Register<pdpb::GetGcSafePointRequest, pdpb::GetGcSafePointResponse>(
      self, "GetGcSafePoint",
      [](Core& c, const pdpb::GetGcSafePointRequest&, pdpb::GetGcSafePointResponse* resp) {
        // A read of replicated state: under the lease (or confirmed) it is not stale.
        if (!c.LeaseOrConfirm().ok()) return Unready(resp->mutable_header());
        MutexLock l(c.mu);
        resp->set_safe_point(c.gc_safe_point);
        return absl::OkStatus();
      });

  (void)Register<pdpb::UpdateGcSafePointRequest, pdpb::UpdateGcSafePointResponse>(
      self, "UpdateGcSafePoint",
      [](Core& c, const pdpb::UpdateGcSafePointRequest& req,
         pdpb::UpdateGcSafePointResponse* resp) {
        bool higher;
        {
          MutexLock l(c.mu);
          higher = req.safe_point() > c.gc_safe_point;
        }
        if (higher) {
          pdpb::Command cmd;
          cmd.set_gc_safe_point(req.safe_point());
          if (!c.ProposeAndWait(std::move(cmd)).ok()) return Unready(resp->mutable_header());
        } else if (!c.LeaseOrConfirm().ok()) {
          return Unready(resp->mutable_header());
        }
        MutexLock l(c.mu);
        resp->set_safe_point(c.gc_safe_point);
        return absl::OkStatus();
      });

  (void)Register<pdpb::AdminRequest, pdpb::AdminResponse>(
      self, "Admin", [](Core& c, const pdpb::AdminRequest& req, pdpb::AdminResponse* resp) {
        std::shared_ptr<Core::SchedBox> box = c.Sched();
        if (box == nullptr) return Unready(resp->mutable_header());
        pdpb::Command cmd;
        if (req.set_scheduling()) {
          {
            MutexLock l(box->mu);
            box->s.SetSchedulingEnabled(req.scheduling_enabled());
          }
          cmd.set_scheduling(req.scheduling_enabled() ? 1 : 2);
        } else {
          if (std::optional<uint64_t> id = StoreDeleteTarget(req.command_line())) {
            // Checked, committed, then applied to the view: a proposal that fails leaves
            // the store as it was here; if it commits all the same (its wait timed out),
            // the view takes the state on with the next request (CatchUpView).
            {
              MutexLock l(box->mu);
              c.CatchUpView(*box);
              if (absl::Status st = box->s.admin().CheckDeleteStore(*id); !st.ok()) return st;
            }
            cmd.mutable_store_state()->set_store_id(*id);
            cmd.mutable_store_state()->set_state(metapb::OFFLINE);
            if (!c.ProposeAndWait(std::move(cmd)).ok()) return Unready(resp->mutable_header());
            // Tests: the wait ends as if timed out, though the proposal committed.
            if (RUTILE_FAIL_POINT_VALUE("pd_store_delete_wait_lost")) {
              return Unready(resp->mutable_header());
            }
            absl::StatusOr<std::string> out;
            {
              MutexLock l(box->mu);
              out = box->s.admin().Execute(req.command_line());
            }
            if (!out.ok()) return out.status();
            resp->set_output(*out);
            return absl::OkStatus();
          }
          absl::StatusOr<std::string> out;
          {
            MutexLock l(box->mu);
            c.CatchUpView(*box);
            out = box->s.admin().Execute(req.command_line());
          }
          if (!out.ok()) return out.status();
          resp->set_output(*out);
          if (!ReplicatedAdminCommand(req.command_line())) return absl::OkStatus();
          cmd.set_admin_command(req.command_line());
        }
        // Replicate it, so the next leader does the same (see the file comment).
        if (!c.ProposeAndWait(std::move(cmd)).ok()) return Unready(resp->mutable_header());
        return absl::OkStatus();
      });
}

PdServer::PdServer(std::shared_ptr<Core> core) : core_(std::move(core)) {}

PdServer::~PdServer() {
  // Without waiting: the fibers may belong to a crashed simulated node and never run again.
  // Nor may it take a lock such a fiber could hold forever: the TSO's and the id
  // allocator's are held across a proposal (their Reset would hang a crash hook, as seed
  // 2 of the cluster linearizability test did); `stopped` already keeps the service quiet.
  if (core_ == nullptr || core_->stopped.exchange(true)) return;
  core_->inbox.Close();
  core_->FailAllWaiters(absl::UnavailableError("pd: stopped"));
}

absl::StatusOr<std::unique_ptr<PdServer>> PdServer::Start(const PdServerOptions& options) {
  if (options.env == nullptr || options.engine == nullptr || options.endpoint == nullptr) {
    return absl::InvalidArgumentError("pd server: env, engine and endpoint are required");
  }
  if (options.member_id == 0 || std::find(options.members.begin(), options.members.end(),
                                          options.member_id) == options.members.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("pd server: member ", options.member_id, " not among the members"));
  }
  if (options.lease_micros > MaxSafePdLeaseMicros(options)) {
    return absl::InvalidArgumentError(absl::StrCat("pd server: lease_micros ", options.lease_micros,
                                                   " exceeds the safe bound ",
                                                   MaxSafePdLeaseMicros(options)));
  }
  auto core = std::make_shared<Core>(options);
  absl::StatusOr<std::unique_ptr<raft::EngineLogStorage>> log =
      raft::EngineLogStorage::Open(options.engine, kPdRaftGroupId);
  if (!log.ok()) return log.status();
  core->log = std::move(*log);
  absl::StatusOr<uint64_t> last = core->log->LastIndex();
  if (!last.ok()) return last.status();
  if (*last == 0) {
    // First start: every member bootstraps the same initial configuration.
    raft::Snapshot snap;
    snap.mutable_metadata()->set_index(kInitIndex);
    snap.mutable_metadata()->set_term(kInitTerm);
    std::vector<uint64_t> members = options.members;
    std::sort(members.begin(), members.end());
    for (uint64_t m : members) snap.mutable_metadata()->mutable_conf_state()->add_voters(m);
    if (absl::Status s = core->log->ApplySnapshot(snap); !s.ok()) return s;
  } else {
    // Restart: the state machine starts from the last snapshot; the entries after it are
    // applied again as they come out of the RawNode.
    absl::StatusOr<raft::Snapshot> snap = core->log->GetSnapshot();
    if (!snap.ok()) return snap.status();
    if (!snap->data().empty()) {
      pdpb::State st;
      if (!st.ParseFromString(snap->data())) {
        return absl::DataLossError("pd server: the log's snapshot does not parse");
      }
      MutexLock l(core->mu);
      core->RestoreLocked(st);
    }
    core->applied_index = snap->metadata().index();
    core->ignore_votes_ticks = static_cast<uint64_t>(options.election_tick);
  }
  raft::Config rc;
  rc.id = options.member_id;
  rc.election_tick = options.election_tick;
  rc.heartbeat_tick = options.heartbeat_tick;
  rc.storage = core->log.get();
  rc.check_quorum = true;
  rc.pre_vote = true;
  rc.random_seed = options.env->Random64();
  absl::StatusOr<std::unique_ptr<raft::RawNode>> raw = raft::RawNode::Create(rc);
  if (!raw.ok()) return raw.status();
  core->raw = std::move(*raw);
  core->RegisterService();

  core->fibers.Add(3);
  options.env->Spawn([core] {
    core->Run();
    core->fibers.Done();
  });
  // The lease keeper: checks every heartbeat interval, renews below half the lease.
  options.env->Spawn([core] {
    const uint64_t interval =
        std::max<uint64_t>(1, core->options.tick_micros *
                                  static_cast<uint64_t>(std::max(1, core->options.heartbeat_tick)));
    while (!core->stopped) {
      core->env->SleepForMicros(interval);
      if (!core->stopped) core->KeepLease();
    }
    core->fibers.Done();
  });
  options.env->Spawn([core] {
    while (!core->stopped) {
      core->env->SleepForMicros(core->options.tso_update_interval_micros);
      bool serving;
      {
        MutexLock l(core->mu);
        serving = core->serving;
      }
      if (serving && !core->stopped) (void)core->tso.UpdateTimestamp();
    }
    core->fibers.Done();
  });
  return std::unique_ptr<PdServer>(new PdServer(std::move(core)));
}

void PdServer::Stop() {
  if (core_ == nullptr || core_->stopped.exchange(true)) return;
  core_->inbox.Close();
  core_->FailAllWaiters(absl::UnavailableError("pd: stopped"));
  core_->tso.Reset();
  core_->fibers.Wait();
  MutexLock l(core_->mu);
  core_->serving = false;
  core_->sched.reset();
}

uint64_t PdServer::member_id() const { return core_->options.member_id; }

uint64_t PdServer::TEST_FirstLogIndex() const { return core_->first_index_stat; }
uint64_t PdServer::TEST_AppliedIndex() const { return core_->applied_stat; }

bool PdServer::TEST_HoldsLease() const { return core_->HoldsLease(); }

bool PdServer::IsServing() const {
  MutexLock l(core_->mu);
  return core_->serving && !core_->stopped;
}

uint64_t PdServer::leader() const {
  MutexLock l(core_->mu);
  return core_->is_leader ? core_->options.member_id : core_->lead;
}

}  // namespace rutile::pd
