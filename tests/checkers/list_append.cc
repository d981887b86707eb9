#include "checkers/list_append.h"

#include <algorithm>
#include <limits>
#include <tuple>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "checkers/edn.h"

namespace rutile::checkers {

// ---------------------------------------------------------------------------
// History construction.

void AppendHistory::Txn(int64_t process, OpType type, std::vector<Mop> mops) {
  std::vector<Mop> invoke = mops;
  for (Mop& m : invoke) {
    if (m.kind == Mop::Kind::kRead) m.read.reset();
  }
  Invoke(process, std::move(invoke));
  Complete(process, type, std::move(mops));
}

namespace {

absl::StatusOr<std::vector<Mop>> MopsFromEdn(const EdnValue& value) {
  if (!value.IsSequence()) {
    return absl::InvalidArgumentError(
        absl::StrCat("txn value is not a vector: ", value.ToString()));
  }
  std::vector<Mop> mops;
  for (const EdnValue& m : value.items) {
    auto bad = [&] {
      return absl::InvalidArgumentError(absl::StrCat("bad micro-op: ", m.ToString()));
    };
    if (!m.IsSequence() || m.items.size() < 2 || m.items[0].kind != EdnValue::Kind::kKeyword ||
        !m.items[1].IsInt()) {
      return bad();
    }
    const std::string& f = m.items[0].text;
    int64_t key = m.items[1].int_value;
    if (f == "append") {
      if (m.items.size() != 3 || !m.items[2].IsInt()) return bad();
      mops.push_back(Mop::Append(key, m.items[2].int_value));
    } else if (f == "r") {
      if (m.items.size() == 2 || m.items[2].IsNil()) {
        mops.push_back(Mop::Read(key));
      } else {
        if (!m.items[2].IsSequence()) return bad();
        std::vector<int64_t> values;
        for (const EdnValue& e : m.items[2].items) {
          if (!e.IsInt()) return bad();
          values.push_back(e.int_value);
        }
        mops.push_back(Mop::Read(key, std::move(values)));
      }
    } else {
      return bad();
    }
  }
  return mops;
}

}  // namespace

absl::StatusOr<AppendHistory> AppendHistory::FromEdn(absl::string_view text) {
  absl::StatusOr<std::vector<EdnValue>> values = ParseEdnAll(text);
  if (!values.ok()) return values.status();
  AppendHistory history;
  for (const EdnValue& v : *values) {
    const EdnValue* type = v.Find("type");
    const EdnValue* value = v.Find("value");
    if (type == nullptr || type->kind != EdnValue::Kind::kKeyword || value == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("bad history op: ", v.ToString()));
    }
    TxnOp op;
    if (type->text == "invoke") {
      op.type = OpType::kInvoke;
    } else if (type->text == "ok") {
      op.type = OpType::kOk;
    } else if (type->text == "fail") {
      op.type = OpType::kFail;
    } else if (type->text == "info") {
      op.type = OpType::kInfo;
    } else {
      return absl::InvalidArgumentError(absl::StrCat("bad :type: ", v.ToString()));
    }
    // Only client transactions: skip nemesis events and other functions.
    const EdnValue* process = v.Find("process");
    if (process != nullptr && !process->IsInt()) continue;
    const EdnValue* f = v.Find("f");
    if (f != nullptr && !f->IsKeyword("txn")) continue;
    op.process = process != nullptr ? process->int_value : -1;
    const EdnValue* index = v.Find("index");
    op.index = (index != nullptr && index->IsInt()) ? index->int_value : -1;
    absl::StatusOr<std::vector<Mop>> mops = MopsFromEdn(*value);
    if (!mops.ok()) return mops.status();
    op.mops = *std::move(mops);
    history.Add(std::move(op));
  }
  return history;
}

const char* AnomalyKindName(AnomalyKind kind) {
  switch (kind) {
    case AnomalyKind::kG0:
      return "G0";
    case AnomalyKind::kG1a:
      return "G1a";
    case AnomalyKind::kG1b:
      return "G1b";
    case AnomalyKind::kG1c:
      return "G1c";
    case AnomalyKind::kGSingle:
      return "G-single";
    case AnomalyKind::kGNonadjacent:
      return "G-nonadjacent";
    case AnomalyKind::kG2Item:
      return "G2-item";
    case AnomalyKind::kInternal:
      return "internal";
    case AnomalyKind::kIncompatibleOrder:
      return "incompatible-order";
    case AnomalyKind::kDuplicateElements:
      return "duplicate-elements";
    case AnomalyKind::kGarbageRead:
      return "garbage-read";
  }
  return "?";
}

namespace {

constexpr AnomalyKind kAlwaysForbidden[] = {AnomalyKind::kInternal, AnomalyKind::kIncompatibleOrder,
                                            AnomalyKind::kDuplicateElements,
                                            AnomalyKind::kGarbageRead};

ListAppendOptions WithForbidden(std::initializer_list<AnomalyKind> kinds, bool realtime) {
  ListAppendOptions o;
  o.forbidden.insert(kinds.begin(), kinds.end());
  o.forbidden.insert(std::begin(kAlwaysForbidden), std::end(kAlwaysForbidden));
  o.realtime_edges = realtime;
  o.process_edges = realtime;
  return o;
}

}  // namespace

ListAppendOptions ListAppendOptions::ReadCommitted() {
  return WithForbidden({AnomalyKind::kG0, AnomalyKind::kG1a, AnomalyKind::kG1b, AnomalyKind::kG1c},
                       false);
}

ListAppendOptions ListAppendOptions::SnapshotIsolation() {
  return WithForbidden({AnomalyKind::kG0, AnomalyKind::kG1a, AnomalyKind::kG1b, AnomalyKind::kG1c,
                        AnomalyKind::kGSingle, AnomalyKind::kGNonadjacent},
                       false);
}

ListAppendOptions ListAppendOptions::StrongSnapshotIsolation() {
  ListAppendOptions o = SnapshotIsolation();
  o.realtime_edges = true;
  o.process_edges = true;
  return o;
}

ListAppendOptions ListAppendOptions::Serializable() {
  ListAppendOptions o = SnapshotIsolation();
  o.forbidden.insert(AnomalyKind::kG2Item);
  return o;
}

ListAppendOptions ListAppendOptions::StrictSerializable() {
  ListAppendOptions o = Serializable();
  o.realtime_edges = true;
  o.process_edges = true;
  return o;
}

std::string ListAppendResult::Summary() const {
  std::string out =
      absl::StrCat(validity == Validity::kValid     ? "valid"
                   : validity == Validity::kInvalid ? "INVALID"
                                                    : "unknown",
                   ": ", num_txns, " txns, ", num_edges, " edges, largest SCC ", largest_scc, ", ",
                   search_steps, " search steps", search_incomplete ? " (incomplete)" : "",
                   "; anomalies: [", absl::StrJoin(names, " "), "]\n");
  for (const Anomaly& a : anomalies) absl::StrAppend(&out, a.explanation, "\n");
  return out;
}

uint8_t AppendGraph::Bits(int a, int b) const {
  if (a < 0 || b < 0 || a >= static_cast<int>(out.size())) return 0;
  for (const Edge& e : out[a]) {
    if (e.to == b) return e.bits;
  }
  return 0;
}

int AppendGraph::NodeOf(size_t pos) const {
  for (size_t i = 0; i < op.size(); ++i) {
    if (op[i] == pos) return static_cast<int>(i);
  }
  return -1;
}

namespace {

constexpr size_t kNoPos = std::numeric_limits<size_t>::max();

struct Txn {
  OpType type = OpType::kInfo;
  int64_t process = 0;
  size_t invoke_pos = 0;
  size_t complete_pos = kNoPos;
  int64_t display_index = 0;
  std::vector<Mop> mops;
  int node = -1;

  size_t report_pos() const { return complete_pos != kNoPos ? complete_pos : invoke_pos; }
};

struct Reason {
  int64_t key = 0;
  std::optional<int64_t> v1, v2;
};

uint64_t PairKey(int a, int b) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
}

std::string ShowList(const std::vector<int64_t>& v) {
  return absl::StrCat("[", absl::StrJoin(v, " "), "]");
}

std::string ShowMops(const std::vector<Mop>& mops) {
  std::vector<std::string> parts;
  for (const Mop& m : mops) {
    if (m.kind == Mop::Kind::kAppend) {
      parts.push_back(absl::StrCat("[:append ", m.key, " ", m.value, "]"));
    } else {
      parts.push_back(absl::StrCat("[:r ", m.key, " ", m.read ? ShowList(*m.read) : "nil", "]"));
    }
  }
  return absl::StrCat("[", absl::StrJoin(parts, " "), "]");
}

const char* TypeName(OpType t) {
  switch (t) {
    case OpType::kInvoke:
      return "invoke";
    case OpType::kOk:
      return "ok";
    case OpType::kFail:
      return "fail";
    case OpType::kInfo:
      return "info";
  }
  return "?";
}

// Everything inferred from a history: transactions, non-cycle anomalies and
// the dependency graph.
class Analysis {
 public:
  absl::Status Run(const AppendHistory& history, bool realtime, bool process) {
    PairTxns(history);
    absl::Status s = IndexWrites();
    if (!s.ok()) return s;
    CheckReads();
    CheckInternal();
    BuildVersionOrders();
    AddDependencyEdges();
    if (process) AddProcessEdges();
    if (realtime) AddRealtimeEdges();
    BuildAdjacency();
    return absl::OkStatus();
  }

  std::string DescribeTxn(int node) const {
    const Txn& t = txns_[node_txn_[node]];
    return absl::StrCat("T", node, " = {index ", t.display_index, ", process ", t.process, ", ",
                        TypeName(t.type), ", ", ShowMops(t.mops), "}");
  }

  std::string DescribeStep(int a, int b, uint8_t type) const {
    std::string head = absl::StrCat("T", a, " -", EdgeName(type), "-> T", b, ": ");
    auto it = reasons_.find(std::make_tuple(a, b, type));
    const Reason* r = it == reasons_.end() ? nullptr : &it->second;
    switch (type) {
      case kEdgeWW:
        return absl::StrCat(head, "T", b, " appended ", r ? *r->v2 : 0, " to key ", r ? r->key : 0,
                            " right after T", a, "'s ", r ? *r->v1 : 0);
      case kEdgeWR:
        return absl::StrCat(head, "T", b, " read key ", r ? r->key : 0, " ending in ",
                            r ? *r->v1 : 0, ", appended by T", a);
      case kEdgeRW:
        if (r == nullptr) return head;
        return absl::StrCat(head, "T", a, " read key ", r->key, " ",
                            r->v1 ? absl::StrCat("ending in ", *r->v1) : "empty", " but T", b,
                            " appended the next element ", *r->v2);
      case kEdgeProcess:
        return absl::StrCat(head, "T", b, " followed T", a, " in the same process");
      case kEdgeRealtime:
        return absl::StrCat(head, "T", a, " completed before T", b, " was invoked");
      default:
        return head;
    }
  }

  static const char* EdgeName(uint8_t type) {
    switch (type) {
      case kEdgeWW:
        return "ww";
      case kEdgeWR:
        return "wr";
      case kEdgeRW:
        return "rw";
      case kEdgeProcess:
        return "process";
      case kEdgeRealtime:
        return "realtime";
    }
    return "?";
  }

  size_t report_pos(int node) const { return txns_[node_txn_[node]].report_pos(); }

  std::vector<Txn> txns_;
  std::vector<int> node_txn_;
  std::vector<Anomaly> anomalies_;
  AppendGraph graph_;
  size_t num_edges_ = 0;

 private:
  void PairTxns(const AppendHistory& history) {
    absl::flat_hash_map<int64_t, size_t> pending;
    const std::vector<TxnOp>& ops = history.ops();
    for (size_t pos = 0; pos < ops.size(); ++pos) {
      const TxnOp& op = ops[pos];
      int64_t index = op.index >= 0 ? op.index : static_cast<int64_t>(pos);
      if (op.type == OpType::kInvoke) {
        Txn t;
        t.type = OpType::kInfo;  // Until it completes.
        t.process = op.process;
        t.invoke_pos = pos;
        t.display_index = index;
        t.mops = op.mops;
        pending[op.process] = txns_.size();
        txns_.push_back(std::move(t));
        continue;
      }
      auto it = pending.find(op.process);
      Txn* t;
      if (it != pending.end()) {
        t = &txns_[it->second];
        pending.erase(it);
      } else {
        txns_.emplace_back();
        t = &txns_.back();
        t->process = op.process;
        t->invoke_pos = pos;
      }
      t->type = op.type;
      t->complete_pos = pos;
      t->display_index = index;
      t->mops = op.mops;
    }
    for (Txn& t : txns_) {
      // A committed read of nil observed the initial, empty list.
      if (t.type == OpType::kOk) {
        for (Mop& m : t.mops) {
          if (m.kind == Mop::Kind::kRead && !m.read) m.read.emplace();
        }
      }
      // Reads of transactions with unknown outcome tell nothing.
      if (t.type == OpType::kInfo) {
        for (Mop& m : t.mops) {
          if (m.kind == Mop::Kind::kRead) m.read.reset();
        }
      }
      if (t.type == OpType::kOk || t.type == OpType::kInfo) {
        t.node = static_cast<int>(node_txn_.size());
        node_txn_.push_back(static_cast<int>(&t - txns_.data()));
      }
    }
    graph_.op.resize(node_txn_.size());
    for (size_t n = 0; n < node_txn_.size(); ++n) graph_.op[n] = txns_[node_txn_[n]].report_pos();
  }

  absl::Status IndexWrites() {
    for (size_t i = 0; i < txns_.size(); ++i) {
      for (const Mop& m : txns_[i].mops) {
        if (m.kind != Mop::Kind::kAppend) continue;
        auto [it, inserted] = writer_.emplace(std::make_pair(m.key, m.value), static_cast<int>(i));
        if (!inserted) {
          return absl::InvalidArgumentError(
              absl::StrCat("element ", m.value, " appended twice to key ", m.key,
                           " (history positions ", txns_[it->second].report_pos(), " and ",
                           txns_[i].report_pos(), "); list-append needs unique elements"));
        }
      }
    }
    return absl::OkStatus();
  }

  void AddAnomaly(AnomalyKind kind, std::vector<size_t> ops, std::string explanation) {
    Anomaly a;
    a.kind = kind;
    a.name = AnomalyKindName(kind);
    a.ops = std::move(ops);
    a.explanation = absl::StrCat(a.name, ": ", explanation);
    anomalies_.push_back(std::move(a));
  }

  // Duplicate elements, garbage reads, G1a and G1b.
  void CheckReads() {
    for (const Txn& t : txns_) {
      if (t.type != OpType::kOk) continue;
      for (const Mop& m : t.mops) {
        if (m.kind != Mop::Kind::kRead || !m.read) continue;
        const std::vector<int64_t>& r = *m.read;
        absl::flat_hash_set<int64_t> seen;
        std::vector<int64_t> dups;
        for (int64_t e : r) {
          if (!seen.insert(e).second) dups.push_back(e);
          auto w = writer_.find(std::make_pair(m.key, e));
          if (w == writer_.end()) {
            AddAnomaly(AnomalyKind::kGarbageRead, {t.report_pos()},
                       absl::StrCat("txn at ", t.display_index, " read key ", m.key, " = ",
                                    ShowList(r), ", but nobody appended ", e));
          } else if (txns_[w->second].type == OpType::kFail) {
            const Txn& writer = txns_[w->second];
            AddAnomaly(AnomalyKind::kG1a, {t.report_pos(), writer.report_pos()},
                       absl::StrCat("txn at ", t.display_index, " read key ", m.key, " = ",
                                    ShowList(r), ", including ", e,
                                    " appended by the failed txn at ", writer.display_index));
          }
        }
        if (!dups.empty()) {
          AddAnomaly(AnomalyKind::kDuplicateElements, {t.report_pos()},
                     absl::StrCat("txn at ", t.display_index, " read key ", m.key, " = ",
                                  ShowList(r), " with duplicates ", ShowList(dups)));
        }
        if (r.empty()) continue;
        auto w = writer_.find(std::make_pair(m.key, r.back()));
        if (w == writer_.end() || &txns_[w->second] == &t) continue;
        const Txn& writer = txns_[w->second];
        if (writer.type == OpType::kFail) continue;
        // Intermediate read: the writer appended to this key again afterwards.
        bool after = false;
        for (const Mop& wm : writer.mops) {
          if (wm.kind != Mop::Kind::kAppend || wm.key != m.key) continue;
          if (wm.value == r.back()) {
            after = true;
          } else if (after) {
            AddAnomaly(
                AnomalyKind::kG1b, {t.report_pos(), writer.report_pos()},
                absl::StrCat("txn at ", t.display_index, " read key ", m.key, " = ", ShowList(r),
                             ", ending in ", r.back(), ", an intermediate append of the txn at ",
                             writer.display_index, " which then appended ", wm.value));
            break;
          }
        }
      }
    }
  }

  // Each read in a transaction must agree with the transaction's earlier reads
  // and appends of the same key.
  void CheckInternal() {
    for (const Txn& t : txns_) {
      if (t.type != OpType::kOk) continue;
      // key -> (known prefix?, expected list or expected suffix)
      absl::flat_hash_map<int64_t, std::pair<bool, std::vector<int64_t>>> state;
      for (const Mop& m : t.mops) {
        auto it = state.find(m.key);
        if (m.kind == Mop::Kind::kAppend) {
          if (it == state.end()) {
            state[m.key] = {false, {m.value}};
          } else {
            it->second.second.push_back(m.value);
          }
          continue;
        }
        if (!m.read) continue;
        const std::vector<int64_t>& r = *m.read;
        if (it != state.end()) {
          const auto& [full, expected] = it->second;
          bool ok = full ? r == expected
                         : (r.size() >= expected.size() &&
                            std::equal(expected.begin(), expected.end(),
                                       r.end() - static_cast<std::ptrdiff_t>(expected.size())));
          if (!ok) {
            AddAnomaly(AnomalyKind::kInternal, {t.report_pos()},
                       absl::StrCat("txn at ", t.display_index, " read key ", m.key, " = ",
                                    ShowList(r), " but expected ", full ? "" : "[... ",
                                    full ? ShowList(expected)
                                         : absl::StrCat(absl::StrJoin(expected, " "), "]"),
                                    " from its own earlier operations"));
          }
        }
        state[m.key] = {true, r};
      }
    }
  }

  void BuildVersionOrders() {
    absl::flat_hash_map<int64_t, std::vector<const std::vector<int64_t>*>> reads;
    for (const Txn& t : txns_) {
      if (t.type != OpType::kOk) continue;
      for (const Mop& m : t.mops) {
        if (m.kind == Mop::Kind::kRead && m.read) reads[m.key].push_back(&*m.read);
      }
    }
    for (auto& [key, rs] : reads) {
      const std::vector<int64_t>* longest = rs[0];
      for (const auto* r : rs) {
        if (r->size() > longest->size()) longest = r;
      }
      for (const auto* r : rs) {
        if (!std::equal(r->begin(), r->end(), longest->begin())) {
          AddAnomaly(AnomalyKind::kIncompatibleOrder, {},
                     absl::StrCat("key ", key, " was read as ", ShowList(*r), " and as ",
                                  ShowList(*longest), ", which no single order explains"));
          break;
        }
      }
      VersionOrder& vo = orders_[key];
      vo.order = *longest;
      for (size_t i = 0; i < vo.order.size(); ++i) vo.position.emplace(vo.order[i], i);
    }
    // Committed appends that no read observed come after the longest read.
    for (const Txn& t : txns_) {
      if (t.type != OpType::kOk) continue;
      for (const Mop& m : t.mops) {
        if (m.kind != Mop::Kind::kAppend) continue;
        VersionOrder& vo = orders_[m.key];
        if (!vo.position.contains(m.value)) vo.unobserved.push_back(m.value);
      }
    }
  }

  int WriterNode(int64_t key, int64_t value) const {
    auto it = writer_.find(std::make_pair(key, value));
    return it == writer_.end() ? -1 : txns_[it->second].node;
  }

  void AddEdge(int a, int b, uint8_t type, Reason reason = {}) {
    if (a < 0 || b < 0 || a == b) return;
    edges_[PairKey(a, b)] |= type;
    if (type == kEdgeWW || type == kEdgeWR || type == kEdgeRW) {
      reasons_.emplace(std::make_tuple(a, b, type), reason);
    }
  }

  void AddDependencyEdges() {
    for (const auto& [key, vo] : orders_) {
      for (size_t i = 1; i < vo.order.size(); ++i) {
        AddEdge(WriterNode(key, vo.order[i - 1]), WriterNode(key, vo.order[i]), kEdgeWW,
                Reason{key, vo.order[i - 1], vo.order[i]});
      }
      if (!vo.order.empty()) {
        for (int64_t u : vo.unobserved) {
          AddEdge(WriterNode(key, vo.order.back()), WriterNode(key, u), kEdgeWW,
                  Reason{key, vo.order.back(), u});
        }
      }
    }
    for (const Txn& t : txns_) {
      if (t.type != OpType::kOk) continue;
      absl::flat_hash_set<int64_t> touched;
      for (const Mop& m : t.mops) {
        if (!touched.insert(m.key).second) continue;  // Only external reads.
        if (m.kind != Mop::Kind::kRead || !m.read) continue;
        const std::vector<int64_t>& r = *m.read;
        auto oit = orders_.find(m.key);
        if (oit == orders_.end()) continue;
        const VersionOrder& vo = oit->second;
        std::optional<int64_t> last;
        size_t next = 0;
        if (!r.empty()) {
          last = r.back();
          AddEdge(WriterNode(m.key, r.back()), t.node, kEdgeWR, Reason{m.key, r.back(), {}});
          auto p = vo.position.find(r.back());
          if (p == vo.position.end()) continue;
          next = p->second + 1;
        }
        if (next < vo.order.size()) {
          AddEdge(t.node, WriterNode(m.key, vo.order[next]), kEdgeRW,
                  Reason{m.key, last, vo.order[next]});
        } else {
          for (int64_t u : vo.unobserved) {
            AddEdge(t.node, WriterNode(m.key, u), kEdgeRW, Reason{m.key, last, u});
          }
        }
      }
    }
  }

  void AddProcessEdges() {
    absl::flat_hash_map<int64_t, std::vector<int>> by_process;
    for (int n = 0; n < static_cast<int>(node_txn_.size()); ++n) {
      by_process[txns_[node_txn_[n]].process].push_back(n);
    }
    for (auto& [p, nodes] : by_process) {
      std::sort(nodes.begin(), nodes.end(), [this](int a, int b) {
        return txns_[node_txn_[a]].invoke_pos < txns_[node_txn_[b]].invoke_pos;
      });
      for (size_t i = 1; i < nodes.size(); ++i) {
        if (txns_[node_txn_[nodes[i - 1]]].type == OpType::kOk) {
          AddEdge(nodes[i - 1], nodes[i], kEdgeProcess);
        }
      }
    }
  }

  // Realtime edges, transitively reduced: each invocation links from the
  // frontier of completed transactions no later completion has subsumed.
  void AddRealtimeEdges() {
    struct Event {
      size_t pos;
      int kind;  // 0 invoke, 1 complete
      int node;
    };
    std::vector<Event> events;
    for (int n = 0; n < static_cast<int>(node_txn_.size()); ++n) {
      const Txn& t = txns_[node_txn_[n]];
      events.push_back({t.invoke_pos, 0, n});
      if (t.type == OpType::kOk) events.push_back({t.complete_pos, 1, n});
    }
    std::sort(events.begin(), events.end(), [](const Event& a, const Event& b) {
      return std::tie(a.pos, a.kind, a.node) < std::tie(b.pos, b.kind, b.node);
    });
    std::vector<int> frontier;
    std::vector<bool> in_frontier(node_txn_.size(), false);
    std::vector<std::vector<int>> seen_at_invoke(node_txn_.size());
    for (const Event& e : events) {
      if (e.kind == 0) {
        for (int f : frontier) AddEdge(f, e.node, kEdgeRealtime);
        seen_at_invoke[e.node] = frontier;
      } else {
        for (int f : seen_at_invoke[e.node]) in_frontier[f] = false;
        seen_at_invoke[e.node].clear();
        seen_at_invoke[e.node].shrink_to_fit();
        frontier.erase(std::remove_if(frontier.begin(), frontier.end(),
                                      [&](int f) { return !in_frontier[f]; }),
                       frontier.end());
        frontier.push_back(e.node);
        in_frontier[e.node] = true;
      }
    }
  }

  void BuildAdjacency() {
    graph_.out.assign(node_txn_.size(), {});
    for (const auto& [k, bits] : edges_) {
      int a = static_cast<int>(k >> 32), b = static_cast<int>(k & 0xffffffffu);
      graph_.out[a].push_back({b, bits});
    }
    for (auto& out : graph_.out) {
      std::sort(out.begin(), out.end(),
                [](const AppendGraph::Edge& x, const AppendGraph::Edge& y) { return x.to < y.to; });
    }
    num_edges_ = edges_.size();
  }

  struct VersionOrder {
    std::vector<int64_t> order;
    absl::flat_hash_map<int64_t, size_t> position;
    std::vector<int64_t> unobserved;
  };

  absl::flat_hash_map<std::pair<int64_t, int64_t>, int> writer_;  // (key, value) -> txn
  absl::flat_hash_map<int64_t, VersionOrder> orders_;
  absl::flat_hash_map<uint64_t, uint8_t> edges_;
  absl::flat_hash_map<std::tuple<int, int, uint8_t>, Reason> reasons_;
};

// ---------------------------------------------------------------------------
// Graph algorithms on adjacency lists of ints.

using IntAdj = std::vector<std::vector<int>>;
// Adjacency with the edge type chosen for each step.
using TypedAdj = std::vector<std::vector<std::pair<int, uint8_t>>>;

// Iterative Tarjan. Returns the component of each node; components are
// numbered in reverse topological order (edges go from higher to lower ids or
// stay inside a component).
std::vector<int> Tarjan(const TypedAdj& adj, int* num_components, uint64_t* steps) {
  const int n = static_cast<int>(adj.size());
  std::vector<int> index(n, -1), low(n, 0), comp(n, -1);
  std::vector<int> stack;
  std::vector<bool> on_stack(n, false);
  std::vector<std::pair<int, size_t>> call;  // (node, next edge)
  int counter = 0, comps = 0;
  for (int root = 0; root < n; ++root) {
    if (index[root] >= 0) continue;
    call.emplace_back(root, 0);
    while (!call.empty()) {
      auto& [v, i] = call.back();
      if (i == 0 && index[v] < 0) {
        index[v] = low[v] = counter++;
        stack.push_back(v);
        on_stack[v] = true;
      }
      if (i < adj[v].size()) {
        int w = adj[v][i++].first;
        ++*steps;
        if (index[w] < 0) {
          call.emplace_back(w, 0);
        } else if (on_stack[w]) {
          low[v] = std::min(low[v], index[w]);
        }
        continue;
      }
      if (low[v] == index[v]) {
        int w;
        do {
          w = stack.back();
          stack.pop_back();
          on_stack[w] = false;
          comp[w] = comps;
        } while (w != v);
        ++comps;
      }
      int done = v;
      call.pop_back();
      if (!call.empty()) low[call.back().first] = std::min(low[call.back().first], low[done]);
    }
  }
  *num_components = comps;
  return comp;
}

// Shortest path from `src` to `dst` (src != dst): the nodes after src with the
// type of the edge entering each. Empty when unreachable or over budget.
std::vector<std::pair<int, uint8_t>> Bfs(const TypedAdj& adj, int src, int dst, uint64_t* steps,
                                         uint64_t budget) {
  std::vector<int> parent(adj.size(), -2);
  std::vector<uint8_t> via(adj.size(), 0);
  std::vector<int> queue = {src};
  parent[src] = -1;
  for (size_t head = 0; head < queue.size(); ++head) {
    int v = queue[head];
    for (const auto& [w, type] : adj[v]) {
      ++*steps;
      if (parent[w] != -2) continue;
      parent[w] = v;
      via[w] = type;
      if (w == dst) {
        std::vector<std::pair<int, uint8_t>> path;
        for (int x = dst; x != src; x = parent[x]) path.emplace_back(x, via[x]);
        std::reverse(path.begin(), path.end());
        return path;
      }
      queue.push_back(w);
    }
    if (budget != 0 && *steps > budget) break;
  }
  return {};
}

// Picks the type a step takes among `bits`, preferring the most informative.
uint8_t PickType(uint8_t bits) {
  for (uint8_t t : {kEdgeWW, kEdgeWR, kEdgeProcess, kEdgeRealtime, kEdgeRW}) {
    if (bits & t) return t;
  }
  return 0;
}

struct Step {
  int from, to;
  uint8_t type;
};

class CycleSearch {
 public:
  CycleSearch(const Analysis& analysis, const ListAppendOptions& options, ListAppendResult* result)
      : analysis_(analysis), options_(options), result_(result) {}

  void Run() {
    const AppendGraph& g = analysis_.graph_;
    std::vector<uint8_t> levels = {kEdgeWW | kEdgeWR | kEdgeRW};
    if (options_.process_edges) levels.push_back(levels.back() | kEdgeProcess);
    if (options_.realtime_edges) levels.push_back(levels.back() | kEdgeRealtime);
    for (uint8_t mask : levels) {
      TypedAdj full(g.out.size());
      for (size_t a = 0; a < g.out.size(); ++a) {
        for (const auto& e : g.out[a]) {
          if (e.bits & mask) full[a].emplace_back(e.to, e.bits & mask);
        }
      }
      int num = 0;
      std::vector<int> comp = Tarjan(full, &num, &result_->search_steps);
      std::vector<std::vector<int>> members(num);
      for (size_t v = 0; v < comp.size(); ++v) members[comp[v]].push_back(static_cast<int>(v));
      for (const std::vector<int>& scc : members) {
        if (scc.size() < 2) continue;
        result_->largest_scc = std::max(result_->largest_scc, scc.size());
        SearchScc(scc, mask);
        if (OverBudget()) return;
      }
    }
  }

 private:
  bool OverBudget() {
    if (options_.max_search_steps != 0 && result_->search_steps > options_.max_search_steps) {
      result_->search_incomplete = true;
      return true;
    }
    return false;
  }

  // Local adjacency of `scc` restricted to `allowed` bits. Each edge keeps the
  // bits it has among `allowed` (the caller picks types).
  TypedAdj Local(uint8_t allowed) const {
    TypedAdj adj(nodes_.size());
    for (size_t i = 0; i < nodes_.size(); ++i) {
      for (const auto& e : analysis_.graph_.out[nodes_[i]]) {
        int j = local_[e.to];
        if (j >= 0 && (e.bits & allowed)) adj[i].emplace_back(j, e.bits & allowed);
      }
    }
    return adj;
  }

  static TypedAdj Picked(const TypedAdj& adj) {
    TypedAdj out = adj;
    for (auto& edges : out) {
      for (auto& e : edges) e.second = PickType(e.second);
    }
    return out;
  }

  uint64_t Budget() const { return options_.max_search_steps; }

  // Closes the cycle start -first-> path... -> start, given in local ids.
  void ReportCycle(int start, int second, uint8_t first_type,
                   const std::vector<std::pair<int, uint8_t>>& path) {
    std::vector<Step> steps;
    steps.push_back({nodes_[start], nodes_[second], first_type});
    int prev = second;
    for (const auto& [v, t] : path) {
      steps.push_back({nodes_[prev], nodes_[v], t});
      prev = v;
    }
    Report(steps);
  }

  void Report(const std::vector<Step>& steps) {
    // Simple cycles only.
    absl::flat_hash_set<int> seen;
    for (const Step& s : steps) {
      if (!seen.insert(s.from).second) return;
    }
    int rw = 0;
    bool wr = false, realtime = false, process = false, adjacent_rw = false;
    for (size_t i = 0; i < steps.size(); ++i) {
      uint8_t t = steps[i].type;
      rw += t == kEdgeRW;
      wr |= t == kEdgeWR;
      realtime |= t == kEdgeRealtime;
      process |= t == kEdgeProcess;
      if (t == kEdgeRW && steps[(i + 1) % steps.size()].type == kEdgeRW) adjacent_rw = true;
    }
    AnomalyKind kind = rw == 0        ? (wr ? AnomalyKind::kG1c : AnomalyKind::kG0)
                       : rw == 1      ? AnomalyKind::kGSingle
                       : !adjacent_rw ? AnomalyKind::kGNonadjacent
                                      : AnomalyKind::kG2Item;
    std::string via = realtime ? "-realtime" : process ? "-process" : "";
    std::string name = absl::StrCat(AnomalyKindName(kind), via);
    // Deduplicate by node sequence, rotated to start at the smallest node.
    std::vector<int> cyc;
    for (const Step& s : steps) cyc.push_back(s.from);
    std::rotate(cyc.begin(), std::min_element(cyc.begin(), cyc.end()), cyc.end());
    if (!seen_cycles_.insert(cyc).second) return;
    if (per_name_[name]++ >= options_.max_reports_per_name) return;
    found_kinds_.insert(kind);

    Anomaly a;
    a.kind = kind;
    a.via = via;
    a.name = name;
    std::string text = absl::StrCat(name, " cycle:");
    for (const Step& s : steps) {
      a.ops.push_back(analysis_.report_pos(s.from));
      absl::StrAppend(&text, "\n    ", analysis_.DescribeTxn(s.from));
    }
    for (const Step& s : steps) {
      absl::StrAppend(&text, "\n    ", analysis_.DescribeStep(s.from, s.to, s.type));
    }
    a.explanation = std::move(text);
    result_->anomalies.push_back(std::move(a));
  }

  size_t Reported(AnomalyKind kind) const { return found_kinds_.count(kind); }

  void SearchScc(const std::vector<int>& scc, uint8_t mask) {
    nodes_ = scc;
    local_.assign(analysis_.graph_.out.size(), -1);
    for (size_t i = 0; i < nodes_.size(); ++i) local_[nodes_[i]] = static_cast<int>(i);
    const uint8_t extra = mask & (kEdgeProcess | kEdgeRealtime);
    const int tries = static_cast<int>(options_.max_reports_per_name) + 2;

    // G0: cycles of ww (+ extra) edges; G1c: cycles of ww + wr (+ extra) with a wr.
    for (uint8_t sub :
         {static_cast<uint8_t>(kEdgeWW | extra), static_cast<uint8_t>(kEdgeWW | kEdgeWR | extra)}) {
      const TypedAdj raw = Local(sub);
      const TypedAdj adj = Picked(raw);
      int num = 0;
      std::vector<int> comp = Tarjan(adj, &num, &result_->search_steps);
      std::vector<int> found(num, 0);
      std::vector<int> size(num, 0);
      for (int c : comp) ++size[c];
      for (size_t u = 0; u < raw.size(); ++u) {
        for (const auto& [v, bits] : raw[u]) {
          int c = comp[u];
          if (comp[v] != c || size[c] < 2 || found[c] >= tries) continue;
          // For G1c, close the cycle through a wr edge (else it is a G0).
          if ((sub & kEdgeWR) && !(bits & kEdgeWR)) continue;
          const uint8_t t = (sub & kEdgeWR) ? uint8_t{kEdgeWR} : PickType(bits);
          ++found[c];
          auto path = Bfs(adj, v, static_cast<int>(u), &result_->search_steps, Budget());
          if (!path.empty()) ReportCycle(static_cast<int>(u), v, t, path);
          if (OverBudget()) return;
        }
      }
    }

    const uint8_t nonrw = kEdgeWW | kEdgeWR | extra;
    TypedAdj non_rw = Picked(Local(nonrw));
    std::vector<std::pair<int, int>> rw_edges;
    for (size_t u = 0; u < nodes_.size(); ++u) {
      for (const auto& e : analysis_.graph_.out[nodes_[u]]) {
        int v = local_[e.to];
        if (v >= 0 && (e.bits & kEdgeRW)) rw_edges.emplace_back(static_cast<int>(u), v);
      }
    }
    SearchGSingle(non_rw, rw_edges);
    if (OverBudget()) return;
    SearchGNonadjacent(non_rw, rw_edges);
    if (OverBudget()) return;
    SearchG2(mask, rw_edges);
  }

  // A cycle with exactly one rw edge u -> v exists iff v reaches u without rw
  // edges. Reachability between components of the non-rw graph is computed
  // with bitsets over its condensation.
  void SearchGSingle(const TypedAdj& non_rw, const std::vector<std::pair<int, int>>& rw_edges) {
    int num = 0;
    std::vector<int> comp = Tarjan(non_rw, &num, &result_->search_steps);
    constexpr int kMaxBitsetComponents = 20000;
    std::vector<std::vector<uint64_t>> reach;
    if (num <= kMaxBitsetComponents) {
      const size_t words = (static_cast<size_t>(num) + 63) / 64;
      reach.assign(num, std::vector<uint64_t>(words, 0));
      std::vector<std::vector<int>> members(num);
      for (size_t v = 0; v < comp.size(); ++v) members[comp[v]].push_back(static_cast<int>(v));
      for (int c = 0; c < num; ++c) {  // Successors have smaller ids.
        reach[c][c / 64] |= uint64_t{1} << (c % 64);
        for (int v : members[c]) {
          for (const auto& [w, t] : non_rw[v]) {
            int d = comp[w];
            if (d == c) continue;
            result_->search_steps += words;
            for (size_t i = 0; i < words; ++i) reach[c][i] |= reach[d][i];
          }
        }
      }
    }
    int found = 0, tried = 0;
    for (const auto& [u, v] : rw_edges) {
      if (!reach.empty()) {
        int cu = comp[u], cv = comp[v];
        if (!(reach[cv][cu / 64] >> (cu % 64) & 1)) continue;
      } else if (++tried > 64) {
        break;
      }
      auto path = Bfs(non_rw, v, u, &result_->search_steps, Budget());
      if (!path.empty()) {
        ReportCycle(u, v, kEdgeRW, path);
        if (++found >= static_cast<int>(options_.max_reports_per_name) + 2) break;
      }
      if (OverBudget()) return;
    }
  }

  // Cycles with at least two rw edges, no two adjacent: a search over
  // (node, phase, count) where phase A means "just took rw, must take a non-rw
  // edge next" and count (1 or 2+) is the number of rw edges taken.
  void SearchGNonadjacent(const TypedAdj& non_rw,
                          const std::vector<std::pair<int, int>>& rw_edges) {
    const int n = static_cast<int>(nodes_.size());
    // Existence filter on (node, phase): rw from B to A, non-rw from A or B to B.
    TypedAdj two(2 * n);
    std::vector<std::vector<int>> rw_out(n);
    for (const auto& [u, v] : rw_edges) rw_out[u].push_back(v);
    for (int x = 0; x < n; ++x) {
      for (int y : rw_out[x]) two[2 * x + 1].emplace_back(2 * y, kEdgeRW);
      for (const auto& [y, t] : non_rw[x]) {
        two[2 * x].emplace_back(2 * y + 1, t);
        two[2 * x + 1].emplace_back(2 * y + 1, t);
      }
    }
    int num = 0;
    std::vector<int> comp = Tarjan(two, &num, &result_->search_steps);
    // State id: 4 * x + 2 * (count - 1) + phase (0 = A, 1 = B).
    TypedAdj four(4 * n);
    for (int x = 0; x < n; ++x) {
      for (int c = 0; c < 2; ++c) {
        for (int y : rw_out[x]) four[4 * x + 2 * c + 1].emplace_back(4 * y + 2 + 0, kEdgeRW);
        for (const auto& [y, t] : non_rw[x]) {
          four[4 * x + 2 * c].emplace_back(4 * y + 2 * c + 1, t);
          four[4 * x + 2 * c + 1].emplace_back(4 * y + 2 * c + 1, t);
        }
      }
    }
    int tried = 0;
    for (const auto& [u, v] : rw_edges) {
      if (comp[2 * u + 1] != comp[2 * v]) continue;
      if (++tried > 64) break;
      auto path = Bfs(four, 4 * v + 0, 4 * u + 2 + 1, &result_->search_steps, Budget());
      if (path.empty()) continue;
      for (auto& step : path) step.first /= 4;
      ReportCycle(u, v, kEdgeRW, path);
      if (Reported(AnomalyKind::kGNonadjacent) || OverBudget()) return;
    }
  }

  // Any other cycle through an rw edge; preferring two adjacent rw edges.
  void SearchG2(uint8_t mask, const std::vector<std::pair<int, int>>& rw_edges) {
    TypedAdj all = Picked(Local(mask));
    std::vector<std::vector<int>> rw_out(nodes_.size());
    for (const auto& [u, v] : rw_edges) rw_out[u].push_back(v);
    int tried = 0;
    for (const auto& [u, v] : rw_edges) {
      if (++tried > 64 || OverBudget()) return;
      for (int w : rw_out[v]) {
        if (w == u) {
          Report({{nodes_[u], nodes_[v], kEdgeRW}, {nodes_[v], nodes_[u], kEdgeRW}});
        } else {
          auto path = Bfs(all, w, u, &result_->search_steps, Budget());
          if (path.empty()) continue;
          std::vector<Step> steps = {{nodes_[u], nodes_[v], kEdgeRW},
                                     {nodes_[v], nodes_[w], kEdgeRW}};
          int prev = w;
          for (const auto& [x, t] : path) {
            steps.push_back({nodes_[prev], nodes_[x], t});
            prev = x;
          }
          Report(steps);
        }
        if (Reported(AnomalyKind::kG2Item)) return;
        break;
      }
    }
  }

  const Analysis& analysis_;
  const ListAppendOptions& options_;
  ListAppendResult* result_;
  std::vector<int> nodes_;  // Local id -> node.
  std::vector<int> local_;  // Node -> local id, or -1.
  absl::flat_hash_set<std::vector<int>> seen_cycles_;
  absl::flat_hash_map<std::string, size_t> per_name_;
  std::set<AnomalyKind> found_kinds_;
};

}  // namespace

absl::StatusOr<AppendGraph> BuildAppendGraph(const AppendHistory& history, bool realtime_edges,
                                             bool process_edges) {
  Analysis analysis;
  absl::Status s = analysis.Run(history, realtime_edges, process_edges);
  if (!s.ok()) return s;
  return std::move(analysis.graph_);
}

absl::StatusOr<ListAppendResult> CheckListAppend(const AppendHistory& history,
                                                 const ListAppendOptions& options) {
  Analysis analysis;
  absl::Status s = analysis.Run(history, options.realtime_edges, options.process_edges);
  if (!s.ok()) return s;
  ListAppendResult result;
  result.num_txns = analysis.graph_.out.size();
  result.num_edges = analysis.num_edges_;
  absl::flat_hash_map<std::string, size_t> per_name;
  for (Anomaly& a : analysis.anomalies_) {
    if (per_name[a.name]++ < options.max_reports_per_name) result.anomalies.push_back(std::move(a));
  }
  CycleSearch search(analysis, options, &result);
  search.Run();
  for (const auto& [name, count] : per_name) result.names.insert(name);
  bool forbidden = false;
  for (const Anomaly& a : result.anomalies) {
    result.names.insert(a.name);
    forbidden |= options.forbidden.count(a.kind) > 0;
  }
  result.validity = forbidden                  ? Validity::kInvalid
                    : result.search_incomplete ? Validity::kUnknown
                                               : Validity::kValid;
  return result;
}

}  // namespace rutile::checkers
