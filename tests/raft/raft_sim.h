// A randomized simulation of one Raft group of five nodes replicating a key-value state
// machine, under SimEnv (virtual time, one thread, seeded). Shared by raft_sim_test.cc
// (the fast suite) and raft_sim_slow_test.cc (the soak).
//
// What runs, per seed:
//   - Five nodes, each a RawNode on an EngineLogStorage over its own MemEngine (its
//     "disk"). Every Ready is persisted with one WriteBatch, synced when Ready::must_sync;
//     snapshots and compaction are written unsynced, so a crash can lose them too.
//   - transport::SimTransport between them: every message is a frame (a serialized
//     raft.Message) with a random latency, reordering, and, as the nemesis sets them, loss,
//     duplication, partitions, clogged nodes, and crashes that drop what is in flight. The
//     application tells a leader how its snapshots fared (ReportSnapshot): finished when
//     the MsgSnap arrived, failed when it did not within a timeout.
//   - Clients (fibers) issuing get / put / cas on three keys, each to a random live node
//     (proposal forwarding on or off per seed); an op returns when the node it was
//     proposed to applies it, or times out with an unknown outcome.
//   - A nemesis (a fiber) that partitions and heals, changes loss and duplication, crashes
//     nodes (MemEngine::SimulateCrash: unsynced writes are lost; the state machine is
//     rebuilt from the persisted snapshot and the log) and restarts them, proposes random
//     simple and joint configuration changes (auto and explicit leave, learners,
//     promotions, demotions, v1 changes) and leader transfers.
//   - Per seed also: PreVote, CheckQuorum, inflight limits, message size, the uncommitted
//     limit and step-down-on-removal are drawn at random, and so are:
//   - how gets are served: through the log, or as client reads with RawNode::ReadIndex
//     (ReadOnlySafe: a heartbeat round confirms leadership; or ReadOnlyLeaseBased, with
//     CheckQuorum) answered from the node's state machine once it applied the read index;
//     these reads enter the linearizability check like every other op;
//   - synchronous storage writes, or asynchronous ones (Config::async_storage_writes): a
//     node's Readys are persisted later by a simulated disk, several at a time, and a crash
//     loses every write still pending.
// Then the network heals, every node restarts, and the run waits for the group to
// converge.
//
// Checks:
//   1. At most one leader per term (§5.2 Election Safety), over all incarnations.
//   2. Every node applies index i+1 after i, and every applied entry (term, type, data) at
//      index i equals what every other node applied at i: the applied sequences are
//      prefixes of one history (State Machine Safety). A snapshot installed at index i must
//      hold exactly the state that history produces at i.
//   3. After healing, the group converges, and every acknowledged write is in the history.
//   4. The clients' history is linearizable (checkers::KvModel, P-compositional by key).
//
// The state machine deduplicates by (client, op id), as any application must: a forwarded
// proposal may be duplicated by the network and appended twice.

#ifndef RUTILE_TESTS_RAFT_RAFT_SIM_H_
#define RUTILE_TESTS_RAFT_RAFT_SIM_H_

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/hash/hash.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "checkers/linearizability.h"
#include "checkers/models.h"
#include "raft/describe.h"
#include "raft/engine_log_storage.h"
#include "raft/errors.h"
#include "raft/raw_node.h"
#include "rutile/env.h"
#include "storage/mem_engine.h"
#include "transport/sim_transport.h"
#include "util/sync.h"

namespace rutile::raft::sim {

// ---- The replicated state machine ---------------------------------------------------

// A client command as carried in an entry's data.
struct Command {
  uint64_t client = 0;
  uint64_t op = 0;
  checkers::KvInput input;
};

inline std::string EncodeCommand(const Command& c) {
  const char* kind = "g";
  switch (c.input.kind) {
    case checkers::KvInput::Kind::kGet:
      kind = "g";
      break;
    case checkers::KvInput::Kind::kPut:
      kind = "p";
      break;
    case checkers::KvInput::Kind::kCas:
      kind = "c";
      break;
    case checkers::KvInput::Kind::kAppend:
      kind = "a";
      break;
  }
  return absl::StrCat(c.client, "|", c.op, "|", kind, "|", c.input.key, "|", c.input.value, "|",
                      c.input.expected.has_value() ? "1" : "0", "|", c.input.expected.value_or(""));
}

inline bool DecodeCommand(const std::string& s, Command* c) {
  std::vector<std::string> f = absl::StrSplit(s, '|');
  if (f.size() != 7) return false;
  if (!absl::SimpleAtoi(f[0], &c->client) || !absl::SimpleAtoi(f[1], &c->op)) return false;
  if (f[2] == "g") {
    c->input.kind = checkers::KvInput::Kind::kGet;
  } else if (f[2] == "p") {
    c->input.kind = checkers::KvInput::Kind::kPut;
  } else if (f[2] == "c") {
    c->input.kind = checkers::KvInput::Kind::kCas;
  } else {
    return false;
  }
  c->input.key = f[3];
  c->input.value = f[4];
  if (f[5] == "1") c->input.expected = f[6];
  return true;
}

// Keys and values are short alphanumeric strings.
struct KvState {
  std::map<std::string, std::string> data;
  // Per client: the last op applied and its result, for deduplication.
  struct Session {
    uint64_t op = 0;
    checkers::KvOutput result;
  };
  std::map<uint64_t, Session> sessions;

  // Applies `c` unless it is a duplicate; returns the op's result either way (nullopt for
  // an op older than the session's, whose result is gone).
  std::optional<checkers::KvOutput> Apply(const Command& c) {
    Session& s = sessions[c.client];
    if (c.op < s.op) return std::nullopt;
    if (c.op == s.op) return s.result;
    checkers::KvOutput out;
    auto it = data.find(c.input.key);
    switch (c.input.kind) {
      case checkers::KvInput::Kind::kGet:
        if (it != data.end()) out.value = it->second;
        break;
      case checkers::KvInput::Kind::kPut:
        data[c.input.key] = c.input.value;
        break;
      case checkers::KvInput::Kind::kCas: {
        std::optional<std::string> cur;
        if (it != data.end()) cur = it->second;
        out.ok = cur == c.input.expected;
        if (out.ok) data[c.input.key] = c.input.value;
        break;
      }
      case checkers::KvInput::Kind::kAppend:
        break;
    }
    s.op = c.op;
    s.result = out;
    return out;
  }

  std::string Serialize() const {
    std::string out;
    for (const auto& [k, v] : data) absl::StrAppend(&out, "k ", k, " ", v, "\n");
    for (const auto& [c, s] : sessions) {
      absl::StrAppend(&out, "s ", c, " ", s.op, " ", s.result.ok ? 1 : 0, " ",
                      s.result.value.has_value() ? 1 : 0, " ", s.result.value.value_or("-"), "\n");
    }
    return out;
  }

  static bool Parse(const std::string& text, KvState* st) {
    *st = KvState();
    for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
      std::vector<std::string> f = absl::StrSplit(line, ' ');
      if (f.size() == 3 && f[0] == "k") {
        st->data[f[1]] = f[2];
      } else if (f.size() == 6 && f[0] == "s") {
        uint64_t c = 0;
        Session s;
        if (!absl::SimpleAtoi(f[1], &c) || !absl::SimpleAtoi(f[2], &s.op)) return false;
        s.result.ok = f[3] == "1";
        if (f[4] == "1") s.result.value = f[5];
        st->sessions[c] = s;
      } else {
        return false;
      }
    }
    return true;
  }
};

// ---- Options and results --------------------------------------------------------------

struct SimOptions {
  int num_nodes = 5;
  int num_clients = 4;
  // Virtual time of the faulty phase, and the most the final convergence may take.
  uint64_t workload_micros = 800'000;
  uint64_t settle_micros = 10'000'000;
  uint64_t tick_micros = 10'000;
  // Mean pause between nemesis actions.
  uint64_t nemesis_interval_micros = 150'000;
  uint64_t client_timeout_micros = 400'000;
  // Applied entries between snapshots (with compaction); 0 turns them off.
  uint64_t snapshot_every = 40;
  bool verbose = false;
};

struct SimResult {
  std::vector<std::string> failures;
  uint64_t trace_hash = 0;
  // Statistics, for sizing and for tests that the nemesis did something.
  uint64_t acked_ops = 0;
  uint64_t unknown_ops = 0;
  uint64_t applied_entries = 0;
  uint64_t crashes = 0;
  uint64_t conf_changes_applied = 0;
  uint64_t snapshots_installed = 0;
  uint64_t leader_changes = 0;
  uint64_t messages = 0;
  // Gets served by ReadIndex (safe or lease-based) rather than through the log.
  uint64_t index_reads = 0;
  // Of those, the ones answered: by a ReadOnlySafe heartbeat round, and in seeds with
  // ReadOnlyLeaseBased (served under the leader lease, or by the round it falls back to).
  uint64_t safe_reads_served = 0;
  uint64_t lease_reads_served = 0;
  // Digest of the committed history, to compare two runs of one seed.
  uint64_t history_digest = 0;

  bool ok() const { return failures.empty(); }
};

// ---- The simulation -------------------------------------------------------------------

class Simulation {
 public:
  Simulation(uint64_t seed, const SimOptions& options) : seed_(seed), opt_(options) {
    SimEnvOptions eo;
    eo.seed = seed;
    env_ = std::make_unique<SimEnv>(eo);
    env_raw_ = env_.get();
    transport::SimTransportOptions to;
    to.min_latency_micros = 500;
    to.max_latency_micros = 8'000;
    to.reorder_probability = 0.1;
    to.tail_probability = 0.02;
    net_ = std::make_unique<transport::SimTransport>(env_.get(), to);
  }

  ~Simulation() {
    // The transport goes before the Env it runs on; the Env (unwinding fibers, cancelling
    // timers) before the nodes they point at.
    for (auto& n : nodes_) {
      if (n->up) net_->Unregister(n->id);
    }
    net_.reset();
    env_.reset();
  }

  SimResult Run() {
    Setup();
    env_->Spawn([this] { NemesisLoop(); });
    for (int c = 1; c <= opt_.num_clients; ++c) {
      env_->Spawn([this, c] { ClientLoop(static_cast<uint64_t>(c)); });
    }
    ScheduleTick();
    env_->RunFor(opt_.workload_micros);
    // Heal everything and restart every node; clients stop issuing.
    stop_clients_ = true;
    stop_nemesis_ = true;
    HealNetwork();
    for (auto& n : nodes_) {
      if (!n->up) Restart(*n);
    }
    env_->Spawn([this] { SettleLoop(); });
    bool converged = env_->RunUntil([this] { return Converged(); }, opt_.settle_micros);
    if (!converged) Fail(absl::StrCat("no convergence after healing: ", DescribeNodes()));
    // Let waiting clients see their results or time out.
    env_->RunUntil([this] { return clients_running_ == 0; },
                   opt_.client_timeout_micros + opt_.tick_micros);
    stop_ticks_ = true;
    FinalChecks();
    result_.trace_hash = env_->TraceHash();
    result_.history_digest = HistoryDigest();
    return std::move(result_);
  }

 private:
  struct Node;
  // Hands a node's frames to the simulation.
  struct Receiver : FrameReceiver {
    Simulation* sim = nullptr;
    Node* node = nullptr;
    void OnFrame(NodeId from, std::string frame) override { sim->OnFrame(*node, from, frame); }
  };

  struct Node {
    uint64_t id = 0;
    Receiver receiver;
    std::unique_ptr<storage::MemEngine> engine;
    std::unique_ptr<EngineLogStorage> log;
    std::unique_ptr<RawNode> raw;
    bool up = false;
    uint64_t incarnation = 0;
    // Volatile state machine.
    KvState kv;
    uint64_t applied = 0;
    ConfState conf_state;
    // Clients waiting for an op proposed here: (client, op) -> promise.
    std::map<std::pair<uint64_t, uint64_t>, Promise<checkers::KvOutput>> waiters;
    // Client reads by ReadIndex: ctx -> (key, promise); and those whose read index is
    // known, waiting for the state machine to reach it: (index, ctx).
    std::map<std::string, std::pair<std::string, Promise<checkers::KvOutput>>> read_waiters;
    std::vector<std::pair<uint64_t, std::string>> ready_reads;
    // Asynchronous storage writes: Readys handed to the "disk" and not yet persisted.
    struct PendingWrite {
      std::optional<HardState> hard_state;
      std::vector<Entry> entries;
      std::optional<Snapshot> snapshot;
      bool must_sync = false;
      std::vector<Message> after;
      AppendAck ack;
    };
    std::deque<PendingWrite> writes;
    bool flush_scheduled = false;
  };

  // Entry identity in the global history.
  struct HistEntry {
    uint64_t term = 0;
    int type = 0;
    std::string data;
  };

  uint64_t Rand(uint64_t n) { return n == 0 ? 0 : env_->Uniform(n); }
  bool Chance(double p) { return env_->OneIn(p); }

  void Fail(const std::string& what) {
    if (result_.failures.size() < 20) {
      result_.failures.push_back(absl::StrCat("t=", env_->NowMicros(), "us: ", what));
    }
  }

  void Log(const std::string& what) {
    if (opt_.verbose)
      std::fprintf(stderr, "[%llu] %s\n", (unsigned long long)env_->NowMicros(), what.c_str());
  }

  // ---- Setup ----

  void Setup() {
    pre_vote_ = Chance(0.7);
    check_quorum_ = Chance(0.7);
    forwarding_ = Chance(0.8);
    step_down_on_removal_ = Chance(0.5);
    max_inflight_ = Chance(0.3) ? 2 : 64;
    max_size_per_msg_ = Chance(0.3) ? 0 : (1 << 20);
    max_uncommitted_ = Chance(0.2) ? 2000 : 0;
    read_index_reads_ = Chance(0.6);
    lease_reads_ = read_index_reads_ && check_quorum_ && Chance(0.5);
    async_writes_ = Chance(0.5);
    // Initial membership: 3 to 5 voters; maybe a learner.
    int voters = 3 + static_cast<int>(Rand(3));
    ConfState cs;
    for (int i = 1; i <= voters; ++i) cs.add_voters(i);
    if (voters < opt_.num_nodes && Chance(0.5)) cs.add_learners(voters + 1);
    Snapshot boot;
    boot.mutable_metadata()->set_index(1);
    boot.mutable_metadata()->set_term(1);
    *boot.mutable_metadata()->mutable_conf_state() = cs;
    boot.set_data(KvState().Serialize());
    state_hash_.push_back(0);  // Index 0: unused.
    state_hash_.push_back(absl::HashOf(boot.data()));
    for (int i = 1; i <= opt_.num_nodes; ++i) {
      auto n = std::make_unique<Node>();
      n->id = static_cast<uint64_t>(i);
      n->receiver.sim = this;
      n->receiver.node = n.get();
      n->engine = std::make_unique<storage::MemEngine>();
      {
        auto log = EngineLogStorage::Open(n->engine.get(), kGroup, LogOptions());
        if (!log.ok() || !(*log)->ApplySnapshot(boot).ok()) {
          Fail("bootstrap failed");
          return;
        }
      }
      // The bootstrap is durable.
      (void)n->engine->SyncWAL();
      nodes_.push_back(std::move(n));
    }
    for (auto& n : nodes_) Start(*n);
    Log(absl::StrCat("seed ", seed_, " prevote=", pre_vote_, " checkquorum=", check_quorum_,
                     " forwarding=", forwarding_, " voters=", voters, " readindex=",
                     read_index_reads_, " lease=", lease_reads_, " async=", async_writes_));
  }

  static constexpr uint64_t kGroup = 1;

  EngineLogStorageOptions LogOptions() const {
    EngineLogStorageOptions o;
    o.sync = false;  // Snapshots and compaction unsynced; Readys synced per must_sync.
    o.cache_entries = 16;
    return o;
  }

  // Opens the node's storage (after a crash: what survived) and creates its RawNode.
  void Start(Node& n) {
    auto log = EngineLogStorage::Open(n.engine.get(), kGroup, LogOptions());
    if (!log.ok()) {
      Fail(absl::StrCat("node ", n.id, " storage: ", log.status().ToString()));
      return;
    }
    n.log = *std::move(log);
    Snapshot snap = *n.log->GetSnapshot();
    Node* np = &n;
    n.log->SetSnapshotBuilder([np]() -> absl::StatusOr<Snapshot> {
      Snapshot s;
      s.mutable_metadata()->set_index(np->applied);
      *s.mutable_metadata()->mutable_conf_state() = np->conf_state;
      s.set_data(np->kv.Serialize());
      return s;
    });
    if (!KvState::Parse(snap.data(), &n.kv)) Fail(absl::StrCat("node ", n.id, " bad snapshot"));
    n.applied = snap.metadata().index();
    n.conf_state = snap.metadata().conf_state();
    CheckSnapshotState(n.id, snap);
    Config c;
    c.id = n.id;
    // Election timeout 100-200 ms of virtual time, heartbeats every 30 ms.
    c.election_tick = 10;
    c.heartbeat_tick = 3;
    c.storage = n.log.get();
    c.applied = n.applied;
    c.max_size_per_msg = max_size_per_msg_;
    c.max_inflight_msgs = max_inflight_;
    c.max_uncommitted_entries_size = max_uncommitted_;
    c.check_quorum = check_quorum_;
    c.pre_vote = pre_vote_;
    c.disable_proposal_forwarding = !forwarding_;
    c.step_down_on_removal = step_down_on_removal_;
    c.read_only_option = lease_reads_ ? ReadOnlyOption::kLeaseBased : ReadOnlyOption::kSafe;
    c.async_storage_writes = async_writes_;
    c.random_seed = env_->Random64();
    if (opt_.verbose) c.logger = &logger_;
    auto raw = RawNode::Create(c);
    if (!raw.ok()) {
      Fail(absl::StrCat("node ", n.id, " create: ", raw.status().ToString()));
      return;
    }
    n.raw = *std::move(raw);
    n.up = true;
    ++n.incarnation;
    if (net_->IsCrashed(n.id)) net_->Restart(n.id);
    absl::Status reg = net_->Register(n.id, &n.receiver);
    if (!reg.ok()) Fail(absl::StrCat("node ", n.id, " register: ", reg.ToString()));
  }

  void Crash(Node& n) {
    Log(absl::StrCat("crash ", n.id));
    n.up = false;
    net_->Crash(n.id);  // Drops what is in flight to it and unregisters it.
    n.raw.reset();
    n.log.reset();
    n.waiters.clear();
    n.read_waiters.clear();
    n.ready_reads.clear();
    n.writes.clear();  // Never reached the disk.
    n.flush_scheduled = false;
    n.kv = KvState();
    n.engine->SimulateCrash();
    ++result_.crashes;
  }

  void Restart(Node& n) {
    Log(absl::StrCat("restart ", n.id));
    Start(n);
    if (n.up) ProcessReady(n);
  }

  // ---- Ticks and the network ----

  void ScheduleTick() {
    env_->ScheduleCallback(opt_.tick_micros, [this] {
      if (stop_ticks_) return;
      for (auto& n : nodes_) {
        if (!n->up) continue;
        n->raw->Tick();
        ProcessReady(*n);
      }
      ScheduleTick();
    });
  }

  void Send(Message m) {
    ++result_.messages;
    uint64_t from = m.from();
    uint64_t to = m.to();
    if (to == 0 || to > nodes_.size()) return;
    if (m.type() == MSG_SNAP) {
      // The application's snapshot sender: failed unless the MsgSnap arrives in time.
      uint64_t seq = ++snap_seq_;
      pending_snaps_[{from, to}] = seq;
      uint64_t incarnation = nodes_[from - 1]->incarnation;
      env_->ScheduleCallback(kSnapshotTimeoutMicros, [this, from, to, seq, incarnation] {
        auto it = pending_snaps_.find({from, to});
        if (it == pending_snaps_.end() || it->second != seq) return;
        pending_snaps_.erase(it);
        ReportSnapshot(from, incarnation, to, SnapshotStatus::kFailure);
      });
    }
    net_->Send(from, to, m.SerializeAsString());
  }

  void OnFrame(Node& n, NodeId from, const std::string& frame) {
    if (!n.up) return;
    Message m;
    if (!m.ParseFromString(frame)) {
      Fail("unparseable frame");
      return;
    }
    bool snap = m.type() == MSG_SNAP;
    (void)n.raw->Step(std::move(m));
    ProcessReady(n);
    if (snap) {
      auto it = pending_snaps_.find({from, n.id});
      if (it != pending_snaps_.end()) {
        pending_snaps_.erase(it);
        ReportSnapshot(from, nodes_[from - 1]->incarnation, n.id, SnapshotStatus::kFinish);
      }
    }
  }

  void ReportSnapshot(uint64_t from, uint64_t from_incarnation, uint64_t to,
                      SnapshotStatus status) {
    Node& n = *nodes_[from - 1];
    if (!n.up || n.incarnation != from_incarnation) return;
    n.raw->ReportSnapshot(to, status);
    ProcessReady(n);
  }

  void HealNetwork() {
    net_->Heal();
    net_->SetLoss(0);
    net_->SetDuplication(0);
  }

  // ---- The Ready loop ----

  void ProcessReady(Node& n) {
    while (n.up && n.raw->HasReady()) {
      Ready rd = n.raw->GetReady();
      if (rd.soft_state.has_value()) {
        if (rd.soft_state->raft_state == StateType::kLeader) {
          uint64_t term = n.raw->raft()->term();
          auto [it, inserted] = leader_of_term_.insert({term, n.id});
          if (it->second != n.id) {
            Fail(absl::StrCat("two leaders in term ", term, ": ", it->second, " and ", n.id));
          }
          if (inserted) ++result_.leader_changes;
        }
      }
      if (async_writes_) {
        // The disk gets it later; only what promises nothing about it goes out now.
        if (rd.snapshot.has_value()) InstallSnapshot(n, *rd.snapshot);
        Node::PendingWrite w;
        w.hard_state = std::move(rd.hard_state);
        w.entries = std::move(rd.entries);
        w.snapshot = std::move(rd.snapshot);
        w.must_sync = rd.must_sync;
        w.after = std::move(rd.messages_after_append);
        w.ack = std::move(rd.append_ack);
        n.writes.push_back(std::move(w));
        ScheduleFlush(n);
      } else {
        absl::Status st = n.log->SaveReady(rd.hard_state, rd.entries, rd.snapshot, rd.must_sync);
        if (!st.ok()) {
          Fail(absl::StrCat("node ", n.id, " persist: ", st.ToString()));
          return;
        }
        if (rd.snapshot.has_value()) InstallSnapshot(n, *rd.snapshot);
      }
      for (Message& m : rd.messages) Send(std::move(m));
      for (const Entry& e : rd.committed_entries) Apply(n, e);
      for (ReadState& rs : rd.read_states) {
        n.ready_reads.emplace_back(rs.index, std::move(rs.request_ctx));
      }
      ServeReads(n);
      n.raw->Advance(rd);
      MaybeSnapshot(n);
    }
  }

  // The simulated disk of asynchronous writes: after a random delay, persists every
  // pending Ready of the node (several in one go: group commit), then releases their
  // acknowledgements.
  void ScheduleFlush(Node& n) {
    if (n.flush_scheduled) return;
    n.flush_scheduled = true;
    Node* np = &n;
    uint64_t incarnation = n.incarnation;
    env_->ScheduleCallback(Rand(3'000), [this, np, incarnation] {
      Node& n = *np;
      if (!n.up || n.incarnation != incarnation) return;
      n.flush_scheduled = false;
      std::deque<Node::PendingWrite> writes;
      writes.swap(n.writes);
      for (Node::PendingWrite& w : writes) {
        absl::Status st = n.log->SaveReady(w.hard_state, w.entries, w.snapshot, w.must_sync);
        if (!st.ok()) {
          Fail(absl::StrCat("node ", n.id, " persist: ", st.ToString()));
          return;
        }
      }
      for (Node::PendingWrite& w : writes) {
        for (Message& m : w.after) Send(std::move(m));
        n.raw->AdvanceAppend(std::move(w.ack));
      }
      ProcessReady(n);
    });
  }

  // Answers the client reads whose read index this node's state machine has reached.
  void ServeReads(Node& n) {
    std::vector<std::pair<uint64_t, std::string>> waiting;
    for (auto& [index, ctx] : n.ready_reads) {
      if (index > n.applied) {
        waiting.emplace_back(index, std::move(ctx));
        continue;
      }
      auto it = n.read_waiters.find(ctx);
      if (it == n.read_waiters.end()) continue;
      checkers::KvOutput out;
      auto v = n.kv.data.find(it->second.first);
      if (v != n.kv.data.end()) out.value = v->second;
      it->second.second.Set(out);
      n.read_waiters.erase(it);
      ++(lease_reads_ ? result_.lease_reads_served : result_.safe_reads_served);
    }
    n.ready_reads = std::move(waiting);
  }

  void InstallSnapshot(Node& n, const Snapshot& snap) {
    ++result_.snapshots_installed;
    if (!KvState::Parse(snap.data(), &n.kv)) Fail(absl::StrCat("node ", n.id, " bad snapshot"));
    n.applied = snap.metadata().index();
    n.conf_state = snap.metadata().conf_state();
    CheckSnapshotState(n.id, snap);
    Log(absl::StrCat("node ", n.id, " installed snapshot ", n.applied));
  }

  void CheckSnapshotState(uint64_t id, const Snapshot& snap) {
    uint64_t i = snap.metadata().index();
    if (i >= state_hash_.size()) {
      Fail(absl::StrCat("node ", id, " has a snapshot at ", i, " past the history (",
                        state_hash_.size() - 1, ")"));
    } else if (state_hash_[i] != absl::HashOf(snap.data())) {
      Fail(absl::StrCat("node ", id, " snapshot at ", i, " differs from the history's state"));
    }
  }

  void Apply(Node& n, const Entry& e) {
    if (e.index() != n.applied + 1) {
      Fail(absl::StrCat("node ", n.id, " applied ", e.index(), " after ", n.applied));
    }
    n.applied = e.index();
    ++result_.applied_entries;
    // State machine safety: one history.
    if (e.index() < history_.size()) {
      const HistEntry& h = history_[e.index()];
      if (h.term != e.term() || h.type != e.type() || h.data != e.data()) {
        Fail(absl::StrCat("node ", n.id, " applied at ", e.index(), " term ", e.term(), " '",
                          e.data(), "' but the history has term ", h.term, " '", h.data, "'"));
      }
    } else if (e.index() == history_.size() || (history_.empty() && e.index() == 2)) {
      if (history_.empty()) history_.resize(2);  // Indexes 0 and 1 precede the log.
      history_.push_back({e.term(), static_cast<int>(e.type()), e.data()});
      ExtendReference(e);
    } else {
      Fail(absl::StrCat("node ", n.id, " applied ", e.index(), " past the history end ",
                        history_.size()));
    }
    if (e.type() == ENTRY_NORMAL) {
      if (e.data().empty()) return;
      Command c;
      if (!DecodeCommand(e.data(), &c)) {
        Fail("undecodable command");
        return;
      }
      std::optional<checkers::KvOutput> out = n.kv.Apply(c);
      auto w = n.waiters.find({c.client, c.op});
      if (w != n.waiters.end() && out.has_value()) {
        w->second.Set(*out);
        n.waiters.erase(w);
      }
      return;
    }
    ConfChangeV2 cc;
    if (e.type() == ENTRY_CONF_CHANGE) {
      ConfChange v1;
      v1.ParseFromString(e.data());
      cc = ConfChangeAsV2(v1);
    } else {
      cc.ParseFromString(e.data());
    }
    n.conf_state = n.raw->ApplyConfChange(cc);
    ++result_.conf_changes_applied;
    Log(absl::StrCat("node ", n.id, " applied conf change at ", e.index(), ": ",
                     DescribeConfState(n.conf_state)));
  }

  // The reference state machine follows the global history.
  void ExtendReference(const Entry& e) {
    if (e.type() == ENTRY_NORMAL && !e.data().empty()) {
      Command c;
      if (DecodeCommand(e.data(), &c)) {
        reference_.Apply(c);
        applied_ops_.insert({c.client, c.op});
      }
    }
    state_hash_.push_back(absl::HashOf(reference_.Serialize()));
  }

  // Every snapshot_every applied entries past the compaction point: snapshot at the applied
  // index and compact the log (keeping a few entries, or none).
  void MaybeSnapshot(Node& n) {
    if (opt_.snapshot_every == 0 || !n.up) return;
    // With asynchronous writes the storage may still lack what the state machine has: an
    // installed snapshot on its way to the disk. (Applied entries are always persisted.)
    for (const Node::PendingWrite& w : n.writes) {
      if (w.snapshot.has_value()) return;
    }
    uint64_t first = *n.log->FirstIndex();
    if (n.applied < first - 1 + opt_.snapshot_every) return;
    auto snap = n.log->CreateSnapshot(n.applied, &n.conf_state, n.kv.Serialize());
    if (!snap.ok() && !IsRaftError(snap.status(), RaftError::kSnapshotOutOfDate)) {
      Fail(absl::StrCat("node ", n.id, " snapshot: ", snap.status().ToString()));
      return;
    }
    uint64_t keep = Rand(3) == 0 ? 0 : 5;
    if (n.applied > keep && n.applied - keep >= first) (void)n.log->Compact(n.applied - keep);
  }

  // ---- Clients ----

  void ClientLoop(uint64_t client) {
    ++clients_running_;
    ClientOps(client);
    --clients_running_;
  }

  void ClientOps(uint64_t client) {
    uint64_t op = 0;
    while (!stop_clients_) {
      env_->SleepForMicros(Rand(20'000));
      if (stop_clients_) break;
      ++op;
      Command c;
      c.client = client;
      c.op = op;
      static const char* kKeys[] = {"a", "b", "c"};
      c.input.key = kKeys[Rand(3)];
      uint64_t r = Rand(10);
      if (r < 4) {
        c.input.kind = checkers::KvInput::Kind::kGet;
      } else if (r < 8) {
        c.input.kind = checkers::KvInput::Kind::kPut;
        c.input.value = absl::StrCat("c", client, "o", op);
      } else {
        c.input.kind = checkers::KvInput::Kind::kCas;
        c.input.value = absl::StrCat("c", client, "o", op);
        // Expect a value some client wrote recently, or absence.
        if (!last_written_[c.input.key].empty() && Rand(4) != 0) {
          c.input.expected = last_written_[c.input.key];
        }
      }
      Node& n = *nodes_[Rand(nodes_.size())];
      if (!n.up) continue;
      Promise<checkers::KvOutput> promise;
      Future<checkers::KvOutput> future = promise.GetFuture();
      checkers::KvOp hop;
      hop.client_id = static_cast<int64_t>(client);
      hop.input = c.input;
      hop.call = static_cast<int64_t>(env_->NowMicros());
      const std::string read_ctx = absl::StrCat("r", client, "-", op);
      if (c.input.kind == checkers::KvInput::Kind::kGet && read_index_reads_ && Chance(0.7)) {
        // A client read: no log entry; the node asks for a read index (forwarded to the
        // leader if it is a follower) and answers from its state machine once applied up
        // to it. Dropped requests (no leader known) simply time out.
        n.read_waiters[read_ctx] = {c.input.key, promise};
        n.raw->ReadIndex(read_ctx);
        ++result_.index_reads;
      } else {
        n.waiters[{client, op}] = promise;
        absl::Status st = n.raw->Propose(EncodeCommand(c));
        if (!st.ok()) {
          // Not accepted anywhere: the op never happened.
          n.waiters.erase({client, op});
          continue;
        }
      }
      ProcessReady(n);
      if (future.WaitFor(env_.get(), opt_.client_timeout_micros)) {
        hop.output = future.Get();
        hop.ret = static_cast<int64_t>(env_->NowMicros());
        ++result_.acked_ops;
        if (c.input.kind != checkers::KvInput::Kind::kGet) acked_writes_.insert({client, op});
        if (c.input.kind == checkers::KvInput::Kind::kPut ||
            (c.input.kind == checkers::KvInput::Kind::kCas && hop.output->ok)) {
          last_written_[c.input.key] = c.input.value;
        }
        history_ops_.push_back(std::move(hop));
      } else {
        ++result_.unknown_ops;
        // A read with an unknown outcome changes nothing: leave it out. A write may have
        // happened at any time after its call.
        if (c.input.kind != checkers::KvInput::Kind::kGet) {
          hop.output.reset();
          hop.ret = checkers::kInfiniteTime;
          history_ops_.push_back(std::move(hop));
        }
        // Whatever happens later must not complete this op.
        if (n.up) {
          n.waiters.erase({client, op});
          n.read_waiters.erase(read_ctx);
        }
      }
    }
  }

  // ---- Nemesis ----

  Node* Leader() {
    Node* best = nullptr;
    for (auto& n : nodes_) {
      if (n->up && n->raw->raft()->state() == StateType::kLeader) {
        if (best == nullptr || n->raw->raft()->term() > best->raw->raft()->term()) best = n.get();
      }
    }
    return best;
  }

  void NemesisLoop() {
    while (!stop_nemesis_) {
      env_->SleepForMicros(opt_.nemesis_interval_micros / 2 + Rand(opt_.nemesis_interval_micros));
      if (stop_nemesis_) break;
      switch (Rand(10)) {
        case 0: {  // Partition: a random bipartition, or one node isolated.
          net_->ClearFilters();
          if (Chance(0.5)) {
            net_->Isolate(1 + Rand(nodes_.size()));
          } else {
            std::vector<std::vector<NodeId>> groups(2);
            for (auto& n : nodes_) groups[Rand(2)].push_back(n->id);
            net_->Partition(groups);
          }
          Log("partition");
          break;
        }
        case 1:
          if (Chance(0.5)) {
            net_->Heal();
            Log("heal");
          } else {
            net_->Clog(1 + Rand(nodes_.size()), Rand(150'000));
            Log("clog");
          }
          break;
        case 2: {
          static const double kLoss[] = {0, 0, 0.05, 0.2};
          static const double kDup[] = {0, 0, 0.05, 0.2};
          net_->SetLoss(kLoss[Rand(4)]);
          net_->SetDuplication(kDup[Rand(4)]);
          break;
        }
        case 3:
        case 4: {  // Crash a node (at most two down), or restart one.
          std::vector<Node*> up, down;
          for (auto& n : nodes_) (n->up ? up : down).push_back(n.get());
          if (!down.empty() && (down.size() >= 2 || Chance(0.5))) {
            Restart(*down[Rand(down.size())]);
          } else if (!up.empty()) {
            Crash(*up[Rand(up.size())]);
          }
          break;
        }
        case 5:
        case 6:
          ProposeConfChange();
          break;
        case 7: {
          Node* l = Leader();
          if (l != nullptr) {
            uint64_t to = 1 + Rand(nodes_.size());
            Log(absl::StrCat("transfer leadership ", l->id, " -> ", to));
            l->raw->TransferLeader(to);
            ProcessReady(*l);
          }
          break;
        }
        default:
          break;  // Quiet spell.
      }
    }
  }

  void ProposeConfChange() {
    Node* l = Leader();
    if (l == nullptr) return;
    const tracker::Config& cfg = l->raw->raft()->tracker().config();
    ConfState cs = l->conf_state;
    std::set<uint64_t> voters(cs.voters().begin(), cs.voters().end());
    std::set<uint64_t> learners(cs.learners().begin(), cs.learners().end());
    ConfChangeV2 cc;
    if (cfg.voters.joint()) {
      // Leave explicitly when the joint config does not leave by itself.
      if (!cfg.auto_leave) {
        Log("propose leave joint");
        (void)l->raw->ProposeConfChangeV2(cc);
        ProcessReady(*l);
      }
      return;
    }
    std::vector<uint64_t> non_voters;
    for (auto& n : nodes_) {
      if (!voters.count(n->id)) non_voters.push_back(n->id);
    }
    auto add = [&](ConfChangeType t, uint64_t id) {
      ConfChangeSingle* s = cc.add_changes();
      s->set_type(t);
      s->set_node_id(id);
    };
    std::vector<uint64_t> vv(voters.begin(), voters.end());
    switch (Rand(5)) {
      case 0:  // Add (or promote) a voter.
        if (non_voters.empty() || voters.size() >= 5) return;
        add(CONF_CHANGE_ADD_NODE, non_voters[Rand(non_voters.size())]);
        break;
      case 1:  // Remove a voter (keep three), sometimes the leader itself.
        if (voters.size() <= 3) return;
        add(CONF_CHANGE_REMOVE_NODE, Chance(0.3) ? l->id : vv[Rand(vv.size())]);
        break;
      case 2:  // Add a learner, or demote a voter to one.
        if (!non_voters.empty() && Chance(0.6)) {
          uint64_t id = non_voters[Rand(non_voters.size())];
          if (learners.count(id)) return;
          add(CONF_CHANGE_ADD_LEARNER_NODE, id);
        } else {
          if (voters.size() <= 3) return;
          add(CONF_CHANGE_ADD_LEARNER_NODE, vv[Rand(vv.size())]);
        }
        break;
      case 3: {  // Replace a voter (joint: two changes), maybe the leader.
        if (non_voters.empty()) return;
        uint64_t out = Chance(0.3) ? l->id : vv[Rand(vv.size())];
        add(CONF_CHANGE_ADD_NODE, non_voters[Rand(non_voters.size())]);
        add(CONF_CHANGE_REMOVE_NODE, out);
        break;
      }
      default: {  // Remove a learner.
        if (learners.empty()) return;
        std::vector<uint64_t> ll(learners.begin(), learners.end());
        add(CONF_CHANGE_REMOVE_NODE, ll[Rand(ll.size())]);
        break;
      }
    }
    static const ConfChangeTransition kTransitions[] = {CONF_CHANGE_TRANSITION_AUTO,
                                                        CONF_CHANGE_TRANSITION_JOINT_IMPLICIT,
                                                        CONF_CHANGE_TRANSITION_JOINT_EXPLICIT};
    cc.set_transition(kTransitions[Rand(3)]);
    absl::Status st;
    if (cc.changes_size() == 1 && cc.transition() == CONF_CHANGE_TRANSITION_AUTO && Chance(0.3)) {
      // The legacy single-change form.
      ConfChange v1;
      v1.set_type(cc.changes(0).type());
      v1.set_node_id(cc.changes(0).node_id());
      st = l->raw->ProposeConfChange(v1);
    } else {
      st = l->raw->ProposeConfChangeV2(cc);
    }
    Log(absl::StrCat("propose conf change at ", l->id, ": ",
                     DescribeConfChanges({cc.changes().begin(), cc.changes().end()}), " -> ",
                     st.ToString()));
    ProcessReady(*l);
  }

  // ---- The end ----

  // While settling: leave a joint configuration entered with an explicit transition.
  void SettleLoop() {
    while (!stop_ticks_) {
      env_->SleepForMicros(100'000);
      Node* l = Leader();
      if (l == nullptr) continue;
      const tracker::Config& cfg = l->raw->raft()->tracker().config();
      std::set<uint64_t> voters = cfg.voters.IDs();
      if (!voters.count(l->id)) {
        // A leader removed (or demoted) without step_down_on_removal keeps leading but
        // cannot propose, not even the leave of a joint config: the application hands
        // leadership over, as etcd's documentation asks.
        std::vector<uint64_t> v(voters.begin(), voters.end());
        l->raw->TransferLeader(v[Rand(v.size())]);
        ProcessReady(*l);
      } else if (cfg.voters.joint() && !cfg.auto_leave) {
        (void)l->raw->ProposeConfChangeV2(ConfChangeV2());
        ProcessReady(*l);
      }
    }
  }

  // A leader whose configuration is not joint, and every member of it up and applied to
  // the leader's commit index, which includes an entry of the leader's term.
  bool Converged() {
    Node* l = Leader();
    if (l == nullptr) return false;
    const Raft& r = *l->raw->raft();
    if (r.tracker().config().voters.joint()) return false;
    uint64_t commit = r.log().committed();
    if (r.log().ZeroTermOnError(commit) != r.term()) return false;
    if (l->applied != commit) return false;
    bool all = true;
    for (uint64_t id : r.tracker().config().voters.IDs()) {
      if (nodes_[id - 1]->applied != commit) all = false;
    }
    for (uint64_t id : r.tracker().config().learners) {
      if (nodes_[id - 1]->applied != commit) all = false;
    }
    return all;
  }

  std::string DescribeNodes() const {
    std::string s;
    for (const auto& n : nodes_) {
      if (!n->up) {
        absl::StrAppend(&s, "\n  node ", n->id, " down");
        continue;
      }
      absl::StrAppend(&s, "\n  ", n->raw->Status().String(), " applied=", n->applied);
    }
    return s;
  }

  void FinalChecks() {
    // Every acknowledged write is in the committed history.
    for (const auto& op : acked_writes_) {
      if (!applied_ops_.count(op)) {
        Fail(absl::StrCat("acknowledged write client ", op.first, " op ", op.second,
                          " is missing from the history"));
      }
    }
    // Every member ended in the same state (the reference's).
    std::string ref = reference_.Serialize();
    for (const auto& n : nodes_) {
      if (n->up && n->applied + 1 == history_.size() && n->kv.Serialize() != ref) {
        Fail(absl::StrCat("node ", n->id, " state differs from the history's"));
      }
    }
    checkers::LinearizabilityOptions lo;
    lo.max_steps = 20'000'000;
    checkers::LinearizabilityReport rep =
        checkers::CheckLinearizable(checkers::KvModel(), history_ops_, lo);
    if (rep.result != checkers::CheckResult::kOk) {
      Fail(absl::StrCat("history of ", history_ops_.size(), " ops is ",
                        checkers::CheckResultName(rep.result), ": ", rep.explanation));
    }
  }

  uint64_t HistoryDigest() const {
    uint64_t h = 0;
    for (const HistEntry& e : history_) h = absl::HashOf(h, e.term, e.type, e.data);
    return h;
  }

  class StderrLogger : public Logger {
   public:
    explicit StderrLogger(SimEnv** env) : env_(env) {}
    void Log(LogLevel level, const std::string& msg) override {
      std::fprintf(stderr, "[%llu] raft: %s\n", (unsigned long long)(*env_)->NowMicros(),
                   msg.c_str());
    }

   private:
    SimEnv** env_;
  };

  const uint64_t seed_;
  const SimOptions opt_;
  SimEnv* env_raw_ = nullptr;
  StderrLogger logger_{&env_raw_};
  SimResult result_;

  std::vector<std::unique_ptr<Node>> nodes_;
  static constexpr uint64_t kSnapshotTimeoutMicros = 300'000;
  // MsgSnap sent and not yet known to have arrived, per (from, to): a sequence number.
  std::map<std::pair<uint64_t, uint64_t>, uint64_t> pending_snaps_;
  uint64_t snap_seq_ = 0;

  bool pre_vote_ = false;
  bool check_quorum_ = false;
  bool forwarding_ = true;
  bool step_down_on_removal_ = false;
  size_t max_inflight_ = 64;
  uint64_t max_size_per_msg_ = 1 << 20;
  uint64_t max_uncommitted_ = 0;
  bool read_index_reads_ = false;
  bool lease_reads_ = false;
  bool async_writes_ = false;

  bool stop_clients_ = false;
  int clients_running_ = 0;
  bool stop_nemesis_ = false;
  bool stop_ticks_ = false;

  std::map<uint64_t, uint64_t> leader_of_term_;
  // The one history every node's applied sequence must be a prefix of (by index).
  std::vector<HistEntry> history_;
  KvState reference_;
  // state_hash_[i]: hash of the serialized state after applying the history up to i.
  std::vector<uint64_t> state_hash_;
  std::set<std::pair<uint64_t, uint64_t>> applied_ops_;
  std::set<std::pair<uint64_t, uint64_t>> acked_writes_;
  std::map<std::string, std::string> last_written_;
  std::vector<checkers::KvOp> history_ops_;

  // Destroyed explicitly in the destructor: the transport, then the Env.
  std::unique_ptr<SimEnv> env_;
  std::unique_ptr<transport::SimTransport> net_;
};

inline SimResult RunSimulation(uint64_t seed, const SimOptions& options = SimOptions()) {
  Simulation sim(seed, options);
  return sim.Run();
}

// The seed being run, printed if the process dies (a RAFT_CHECK abort) so it can be replayed.
inline volatile uint64_t g_current_seed = 0;

inline void PrintSeedOnAbort(int sig) {
  char buf[64];
  uint64_t s = g_current_seed;
  char digits[24];
  int n = 0;
  do {
    digits[n++] = static_cast<char>('0' + s % 10);
    s /= 10;
  } while (s != 0);
  int len = 0;
  const char* prefix = "\nseed=";
  for (const char* p = prefix; *p; ++p) buf[len++] = *p;
  while (n > 0) buf[len++] = digits[--n];
  buf[len++] = '\n';
  (void)!write(2, buf, static_cast<size_t>(len));
  signal(sig, SIG_DFL);
  raise(sig);
}

inline void InstallSeedReporter() {
  signal(SIGABRT, PrintSeedOnAbort);
  signal(SIGSEGV, PrintSeedOnAbort);
}

}  // namespace rutile::raft::sim

#endif  // RUTILE_TESTS_RAFT_RAFT_SIM_H_
