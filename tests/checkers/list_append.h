// An Elle-style checker for list-append transaction histories.
//
// Transactions are lists of micro-operations on integer keys: [:append k v]
// adds v to the end of the list stored under k (values are unique per key), and
// [:r k [v1 v2 ...]] reads the whole list. Because every read reveals the
// order of all appends before it, the checker recovers each key's version
// order from the longest read and infers a dependency graph between committed
// transactions:
//   ww  T1 appended the element just before T2's append of the same key;
//   wr  T2 read a list whose last element T1 appended;
//   rw  T1 read a version of a key and T2 appended the next element;
//   process / realtime (optional)  T1 completed before T2, in the same process
//       / before T2 was invoked.
// Appends never observed by any read are ordered after the longest read.
//
// Then it reports non-cycle anomalies (G1a aborted read, G1b intermediate read,
// internal inconsistency, incompatible orders, duplicate elements, reads of
// elements nobody appended) and cycles, found per strongly connected component
// (Tarjan) and classified as Adya/Elle do: G0 (ww only), G1c (ww + wr),
// G-single (exactly one rw), G-nonadjacent (several rw, none adjacent) and
// G2-item (other cycles with rw). A cycle that needs process or realtime edges
// gets a "-process" / "-realtime" suffix. Cycle searches are exact for G0,
// G1c and G-single (SCCs of the sub-graphs plus reachability bitsets) and
// bounded for G-nonadjacent and G2-item; a step budget bounds the whole search.
//
// Thread safety: all functions are pure; histories are plain values.

#ifndef RUTILE_TESTS_CHECKERS_LIST_APPEND_H_
#define RUTILE_TESTS_CHECKERS_LIST_APPEND_H_

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace rutile::checkers {

// One micro-operation.
struct Mop {
  enum class Kind { kAppend, kRead };
  Kind kind = Kind::kRead;
  int64_t key = 0;
  // For kAppend: the appended element.
  int64_t value = 0;
  // For kRead: the list read; std::nullopt when not known (an invocation, or a
  // transaction whose outcome is unknown). In an :ok completion, std::nullopt
  // (EDN nil) means the empty list, as in Elle.
  std::optional<std::vector<int64_t>> read;

  static Mop Append(int64_t key, int64_t value) {
    return {Kind::kAppend, key, value, std::nullopt};
  }
  static Mop Read(int64_t key) { return {Kind::kRead, key, 0, std::nullopt}; }
  static Mop Read(int64_t key, std::vector<int64_t> values) {
    return {Kind::kRead, key, 0, std::move(values)};
  }
};

enum class OpType { kInvoke, kOk, kFail, kInfo };

// One history event: an invocation or a completion of a transaction by
// `process`. A completion pairs with the process's pending invocation; a
// completion with no pending invocation stands for a transaction invoked and
// completed at that point.
struct TxnOp {
  OpType type = OpType::kOk;
  int64_t process = 0;
  std::vector<Mop> mops;
  // Position in the source history (:index), or -1 to use the event's position.
  int64_t index = -1;
};

// A history in event order. Build it in memory or read it from Elle's EDN.
class AppendHistory {
 public:
  void Add(TxnOp op) { ops_.push_back(std::move(op)); }
  void Invoke(int64_t process, std::vector<Mop> mops) {
    Add(TxnOp{OpType::kInvoke, process, std::move(mops)});
  }
  void Complete(int64_t process, OpType type, std::vector<Mop> mops) {
    Add(TxnOp{type, process, std::move(mops)});
  }
  // A transaction that ran alone: its invocation immediately followed by its
  // completion. Reads in the invocation are left unknown.
  void Txn(int64_t process, OpType type, std::vector<Mop> mops);

  const std::vector<TxnOp>& ops() const { return ops_; }

  // Parses one EDN map per event: {:type :invoke|:ok|:fail|:info, :process p,
  // :value [[:append k v] [:r k [..]|nil] ...], :index i, ...}. :process may be
  // missing (then all events share one process).
  static absl::StatusOr<AppendHistory> FromEdn(absl::string_view text);

 private:
  std::vector<TxnOp> ops_;
};

enum class AnomalyKind {
  kG0,
  kG1a,
  kG1b,
  kG1c,
  kGSingle,
  kGNonadjacent,
  kG2Item,
  kInternal,
  kIncompatibleOrder,
  kDuplicateElements,
  kGarbageRead,
};

// Base name of a kind, e.g. "G-single".
const char* AnomalyKindName(AnomalyKind kind);

struct Anomaly {
  AnomalyKind kind = AnomalyKind::kG0;
  // Which optional edges a cycle needs: "", "-process" or "-realtime".
  std::string via;
  // kind name + via, e.g. "G-single-realtime".
  std::string name;
  // Transactions involved (positions of their completion events, or of the
  // invocation for transactions that never completed); for cycles, in order.
  std::vector<size_t> ops;
  std::string explanation;
};

struct ListAppendOptions {
  // Anomaly kinds that make the history invalid.
  std::set<AnomalyKind> forbidden;
  bool realtime_edges = false;
  bool process_edges = false;
  // Budget for the cycle searches (graph visits); 0 means unlimited.
  uint64_t max_search_steps = 200'000'000;
  // At most this many examples are kept per anomaly name.
  size_t max_reports_per_name = 3;

  // Read committed: no G0, G1a, G1b, G1c.
  static ListAppendOptions ReadCommitted();
  // Snapshot isolation: also no G-single, G-nonadjacent; G2-item allowed.
  static ListAppendOptions SnapshotIsolation();
  // Strong snapshot isolation: snapshot isolation with realtime (and process)
  // edges. What Rutile's transactions promise.
  static ListAppendOptions StrongSnapshotIsolation();
  // Serializable: also no G2-item.
  static ListAppendOptions Serializable();
  // Strict serializable: serializable with realtime (and process) edges.
  static ListAppendOptions StrictSerializable();
};

enum class Validity { kValid, kInvalid, kUnknown };

struct ListAppendResult {
  Validity validity = Validity::kValid;
  // Every anomaly found (forbidden or not), up to max_reports_per_name each.
  std::vector<Anomaly> anomalies;
  // Names of all anomalies found.
  std::set<std::string> names;
  // True when the search budget ran out; validity is then kUnknown unless a
  // forbidden anomaly was found anyway.
  bool search_incomplete = false;
  size_t num_txns = 0;
  size_t num_edges = 0;
  size_t largest_scc = 0;
  uint64_t search_steps = 0;

  bool HasName(absl::string_view name) const { return names.count(std::string(name)) > 0; }
  // A readable multi-line summary with one explanation per anomaly.
  std::string Summary() const;
};

// Edge types of the dependency graph, as bits.
enum EdgeBits : uint8_t {
  kEdgeWW = 1,
  kEdgeWR = 2,
  kEdgeRW = 4,
  kEdgeProcess = 8,
  kEdgeRealtime = 16,
};

// The inferred dependency graph, for tests and diagnostics. Nodes are the
// transactions that committed or may have (:ok and :info); `op` maps a node to
// the position of its completion (or invocation) event.
struct AppendGraph {
  struct Edge {
    int to;
    uint8_t bits;
  };
  std::vector<size_t> op;
  std::vector<std::vector<Edge>> out;

  // The edge bits from node `a` to node `b` (0 when none).
  uint8_t Bits(int a, int b) const;
  // Node of the transaction whose completion (or invocation) is at `pos`, or -1.
  int NodeOf(size_t pos) const;
};

// Builds the graph (with realtime / process edges when asked). Fails on a
// malformed history: an element appended twice to the same key.
absl::StatusOr<AppendGraph> BuildAppendGraph(const AppendHistory& history, bool realtime_edges,
                                             bool process_edges);

// Checks the history. Fails only on a malformed history.
absl::StatusOr<ListAppendResult> CheckListAppend(const AppendHistory& history,
                                                 const ListAppendOptions& options);

}  // namespace rutile::checkers

#endif  // RUTILE_TESTS_CHECKERS_LIST_APPEND_H_
