// Hand-written list-append histories pinning down each detection: one history
// per anomaly that must be flagged, and neighbours that must pass. Most are
// the cases of Elle's own test suite (jepsen-io/elle list_append_test.clj).

#include "checkers/list_append.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace rutile::checkers {
namespace {

// Micro-ops from Elle's test notation: "ax1" appends 1 to x, "rx12" reads
// x = [1 2], "rx" reads x = [] (or nil in an invocation). Keys x, y, z, t, u
// are 0..4.
std::vector<Mop> T(const std::string& s) {
  std::vector<Mop> mops;
  const std::string keys = "xyztu";
  for (size_t i = 0; i < s.size();) {
    char f = s[i++];
    int64_t key = static_cast<int64_t>(keys.find(s[i++]));
    std::vector<int64_t> values;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])))
      values.push_back(s[i++] - '0');
    if (f == 'a') {
      mops.push_back(Mop::Append(key, values.at(0)));
    } else {
      mops.push_back(Mop::Read(key, values));
    }
  }
  return mops;
}

// A history of transactions that each ran alone, in order, on process 0.
AppendHistory Serial(const std::vector<std::string>& txns) {
  AppendHistory h;
  for (const std::string& t : txns) h.Txn(0, OpType::kOk, T(t));
  return h;
}

ListAppendResult Check(const AppendHistory& h, const ListAppendOptions& options) {
  absl::StatusOr<ListAppendResult> r = CheckListAppend(h, options);
  EXPECT_TRUE(r.ok()) << r.status();
  if (!r.ok()) return {};
  // Every reported cycle must consist of edges the graph really has.
  absl::StatusOr<AppendGraph> g =
      BuildAppendGraph(h, options.realtime_edges, options.process_edges);
  EXPECT_TRUE(g.ok());
  for (const Anomaly& a : r->anomalies) {
    if (a.kind != AnomalyKind::kG0 && a.kind != AnomalyKind::kG1c &&
        a.kind != AnomalyKind::kGSingle && a.kind != AnomalyKind::kGNonadjacent &&
        a.kind != AnomalyKind::kG2Item) {
      continue;
    }
    for (size_t i = 0; i < a.ops.size(); ++i) {
      int from = g->NodeOf(a.ops[i]), to = g->NodeOf(a.ops[(i + 1) % a.ops.size()]);
      EXPECT_NE(g->Bits(from, to), 0) << "missing edge in " << a.explanation;
    }
  }
  return *std::move(r);
}

std::set<std::string> Names(std::initializer_list<const char*> names) {
  return std::set<std::string>(names.begin(), names.end());
}

ListAppendOptions Only(std::initializer_list<AnomalyKind> kinds) {
  ListAppendOptions o;
  o.forbidden.insert(kinds.begin(), kinds.end());
  return o;
}

TEST(ListAppend, SerialHistoryIsStrictSerializable) {
  AppendHistory h = Serial({"ax1", "rx1ay1", "rx1ry1ax2", "rx12ry1", "rz", "az1ry1"});
  ListAppendResult r = Check(h, ListAppendOptions::StrictSerializable());
  EXPECT_EQ(r.validity, Validity::kValid) << r.Summary();
  EXPECT_TRUE(r.names.empty()) << r.Summary();
}

TEST(ListAppend, GraphInfersWwWrRw) {
  // Elle's "read empty, append, read" and "append, append, read".
  absl::StatusOr<AppendGraph> g =
      BuildAppendGraph(Serial({"rx", "ax1", "rx1", "ax2", "rx12"}), false, false);
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->Bits(0, 1), kEdgeRW);
  EXPECT_EQ(g->Bits(1, 2), kEdgeWR);
  EXPECT_EQ(g->Bits(1, 3), kEdgeWW);
  EXPECT_EQ(g->Bits(2, 3), kEdgeRW);
  EXPECT_EQ(g->Bits(3, 4), kEdgeWR);
  EXPECT_EQ(g->Bits(0, 3), 0);  // Only the next version is an anti-dependency.
}

TEST(ListAppend, UnobservedAppendsFollowTheLongestRead) {
  // Elle's "multiple appends without reads": both appends come after rx.
  absl::StatusOr<AppendGraph> g = BuildAppendGraph(Serial({"rx", "ax1", "ax2"}), false, false);
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->Bits(0, 1), kEdgeRW);
  EXPECT_EQ(g->Bits(0, 2), kEdgeRW);
  EXPECT_EQ(g->Bits(1, 2), 0);
  EXPECT_EQ(g->Bits(2, 1), 0);
}

TEST(ListAppend, InfoReadsTellNothing) {
  // Elle's "info reads": the crashed txn's read of y = nil does not order it
  // before the writer of y.
  AppendHistory h;
  h.Txn(0, OpType::kInfo, {Mop::Append(0, 2), Mop::Read(1)});
  h.Txn(1, OpType::kOk, T("ax1ay1"));
  h.Txn(2, OpType::kOk, T("rx12ry1"));
  absl::StatusOr<AppendGraph> g = BuildAppendGraph(h, false, false);
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->Bits(0, 2), kEdgeWR);
  EXPECT_EQ(g->Bits(1, 0), kEdgeWW);
  EXPECT_EQ(g->Bits(1, 2), kEdgeWR);
  EXPECT_EQ(g->Bits(0, 1), 0);
}

TEST(ListAppend, G0WriteCycle) {
  AppendHistory h = Serial({"ax1ay1", "ax2ay2", "rx12ry21"});
  ListAppendResult r = Check(h, Only({AnomalyKind::kG0}));
  EXPECT_EQ(r.validity, Validity::kInvalid);
  EXPECT_TRUE(r.HasName("G0")) << r.Summary();
  EXPECT_FALSE(r.HasName("G1c"));
}

TEST(ListAppend, G1aAbortedRead) {
  AppendHistory h;
  h.Txn(0, OpType::kFail, T("ax1"));
  h.Txn(1, OpType::kOk, T("rx1"));
  ListAppendResult r = Check(h, ListAppendOptions::ReadCommitted());
  EXPECT_EQ(r.validity, Validity::kInvalid);
  EXPECT_EQ(r.names, Names({"G1a"})) << r.Summary();
  // The same read of a committed append is fine.
  AppendHistory ok;
  ok.Txn(0, OpType::kOk, T("ax1"));
  ok.Txn(1, OpType::kOk, T("rx1"));
  EXPECT_EQ(Check(ok, ListAppendOptions::ReadCommitted()).validity, Validity::kValid);
}

TEST(ListAppend, G1bIntermediateRead) {
  AppendHistory h;
  h.Txn(0, OpType::kOk, T("ax1ax2"));
  h.Txn(1, OpType::kOk, T("rx1"));
  ListAppendResult rc = Check(h, Only({AnomalyKind::kG1b}));
  EXPECT_EQ(rc.validity, Validity::kInvalid);
  EXPECT_TRUE(rc.HasName("G1b")) << rc.Summary();
  // It is also a G-single: rx1 misses ax2 of the txn it read from.
  EXPECT_TRUE(rc.HasName("G-single")) << rc.Summary();
  // Reading the final append, or one's own intermediate state, is fine.
  EXPECT_EQ(Check(Serial({"ax1ax2", "rx12"}), ListAppendOptions::ReadCommitted()).validity,
            Validity::kValid);
  EXPECT_EQ(Check(Serial({"ax1rx1ax2"}), ListAppendOptions::ReadCommitted()).validity,
            Validity::kValid);
}

TEST(ListAppend, G1cCircularInformationFlow) {
  AppendHistory h = Serial({"ax1ry1", "ax2ay1", "rx12ry1"});
  ListAppendResult r = Check(h, ListAppendOptions::ReadCommitted());
  EXPECT_EQ(r.validity, Validity::kInvalid);
  EXPECT_EQ(r.names, Names({"G1c"})) << r.Summary();
  EXPECT_EQ(Check(h, Only({AnomalyKind::kG0})).validity, Validity::kValid);
}

TEST(ListAppend, GSingleReadSkew) {
  AppendHistory h = Serial({"ax1ay1", "ax2ry", "rx12"});
  ListAppendResult si = Check(h, ListAppendOptions::SnapshotIsolation());
  EXPECT_EQ(si.validity, Validity::kInvalid);
  EXPECT_EQ(si.names, Names({"G-single"})) << si.Summary();
  EXPECT_EQ(Check(h, ListAppendOptions::ReadCommitted()).validity, Validity::kValid);
}

TEST(ListAppend, GNonadjacent) {
  // rw, wr, rw, wr: two anti-dependencies that are not adjacent.
  AppendHistory h = Serial({"ax1", "rx1ry", "ay1", "ry1rx"});
  ListAppendResult r = Check(h, ListAppendOptions::SnapshotIsolation());
  EXPECT_EQ(r.validity, Validity::kInvalid);
  EXPECT_EQ(r.names, Names({"G-nonadjacent"})) << r.Summary();
}

TEST(ListAppend, AdjacentAntiDependenciesAreNotGNonadjacent) {
  // The only cycle is T1 -rw-> T2 -rw-> T3 -wr-> T4 -rw-> T5 -wr-> T1: three
  // anti-dependencies, two of them adjacent, so G2-item, not G-nonadjacent.
  AppendHistory h = Serial({"rxru1", "ax1ry", "ay1az1", "rz1rt", "at1au1"});
  ListAppendResult si = Check(h, ListAppendOptions::SnapshotIsolation());
  EXPECT_EQ(si.validity, Validity::kValid) << si.Summary();
  EXPECT_EQ(si.names, Names({"G2-item"})) << si.Summary();
  EXPECT_EQ(Check(h, ListAppendOptions::Serializable()).validity, Validity::kInvalid);
}

TEST(ListAppend, G2ItemWriteSkew) {
  AppendHistory h = Serial({"ax1ry", "ay1rx"});
  ListAppendResult si = Check(h, ListAppendOptions::SnapshotIsolation());
  EXPECT_EQ(si.validity, Validity::kValid);
  EXPECT_EQ(si.names, Names({"G2-item"})) << si.Summary();
  ListAppendResult ser = Check(h, ListAppendOptions::Serializable());
  EXPECT_EQ(ser.validity, Validity::kInvalid);
}

// T2 anti-depends on T1 (it misses x = 2) although T1 completed before T2
// began: only realtime edges reveal it.
AppendHistory StaleRead(int64_t reader_process) {
  AppendHistory h;
  h.Txn(0, OpType::kOk, T("ax1"));
  h.Txn(1, OpType::kOk, T("ax2"));
  h.Txn(reader_process, OpType::kOk, T("rx1"));
  h.Txn(3, OpType::kOk, T("rx12"));
  return h;
}

TEST(ListAppend, GSingleRealtime) {
  AppendHistory h = StaleRead(2);
  EXPECT_EQ(Check(h, ListAppendOptions::SnapshotIsolation()).validity, Validity::kValid);
  ListAppendResult strong = Check(h, ListAppendOptions::StrongSnapshotIsolation());
  EXPECT_EQ(strong.validity, Validity::kInvalid);
  EXPECT_EQ(strong.names, Names({"G-single-realtime"})) << strong.Summary();
}

TEST(ListAppend, GSingleProcess) {
  // The stale reader runs on the writer's process: a process edge suffices.
  ListAppendOptions session = ListAppendOptions::SnapshotIsolation();
  session.process_edges = true;
  ListAppendResult r = Check(StaleRead(1), session);
  EXPECT_EQ(r.validity, Validity::kInvalid);
  EXPECT_EQ(r.names, Names({"G-single-process"})) << r.Summary();
}

TEST(ListAppend, ConcurrentTransactionsHaveNoRealtimeOrder) {
  // The reader overlaps the second append, so missing it is fine.
  AppendHistory h;
  h.Txn(0, OpType::kOk, T("ax1"));
  h.Invoke(2, {Mop::Read(0)});
  h.Txn(1, OpType::kOk, T("ax2"));
  h.Complete(2, OpType::kOk, T("rx1"));
  h.Txn(3, OpType::kOk, T("rx12"));
  ListAppendResult r = Check(h, ListAppendOptions::StrictSerializable());
  EXPECT_EQ(r.validity, Validity::kValid) << r.Summary();
}

TEST(ListAppend, RealtimeEdgesAreTransitivelyReduced) {
  AppendHistory h = Serial({"ax1", "ax2", "ax3", "rx123"});
  absl::StatusOr<AppendGraph> g = BuildAppendGraph(h, true, false);
  ASSERT_TRUE(g.ok());
  EXPECT_TRUE(g->Bits(0, 1) & kEdgeRealtime);
  EXPECT_TRUE(g->Bits(1, 2) & kEdgeRealtime);
  EXPECT_EQ(g->Bits(0, 2) & kEdgeRealtime, 0);
}

TEST(ListAppend, InternalInconsistency) {
  AppendHistory h = Serial({"ax1ax2ax4", "ax3rx1234"});
  ListAppendResult r = Check(h, Only({AnomalyKind::kInternal}));
  EXPECT_EQ(r.validity, Validity::kInvalid);
  EXPECT_TRUE(r.HasName("internal")) << r.Summary();
  // Elle's read-append-read cases.
  for (const char* txn : {"rx12ax3rx12", "rx12ax3rx023", "rx12ax3rx1234", "rx12ax3rx1"}) {
    AppendHistory one = Serial({"ax1ax2", txn});
    EXPECT_TRUE(Check(one, ListAppendOptions::ReadCommitted()).HasName("internal")) << txn;
  }
  EXPECT_FALSE(Check(Serial({"ax1ax2", "rx12ax3rx123"}), ListAppendOptions::ReadCommitted())
                   .HasName("internal"));
}

TEST(ListAppend, IncompatibleOrder) {
  AppendHistory h = Serial({"ax1ry1", "ax2", "ax3ay1", "rx13", "rx123"});
  ListAppendResult r = Check(h, ListAppendOptions::ReadCommitted());
  EXPECT_EQ(r.validity, Validity::kInvalid);
  EXPECT_TRUE(r.HasName("incompatible-order")) << r.Summary();
  EXPECT_TRUE(r.HasName("G1c")) << r.Summary();
}

TEST(ListAppend, DuplicateElements) {
  AppendHistory h = Serial({"ax1ry1", "ax2ay1", "rx121"});
  ListAppendResult r = Check(h, ListAppendOptions::ReadCommitted());
  EXPECT_EQ(r.validity, Validity::kInvalid);
  EXPECT_TRUE(r.HasName("duplicate-elements")) << r.Summary();
}

TEST(ListAppend, GarbageRead) {
  ListAppendResult r = Check(Serial({"ax1", "rx19"}), ListAppendOptions::ReadCommitted());
  EXPECT_EQ(r.validity, Validity::kInvalid);
  EXPECT_TRUE(r.HasName("garbage-read")) << r.Summary();
}

TEST(ListAppend, DuplicateAppendsAreAMalformedHistory) {
  AppendHistory h = Serial({"ax1ry", "ay2ax1"});
  absl::StatusOr<ListAppendResult> r = CheckListAppend(h, ListAppendOptions::ReadCommitted());
  EXPECT_FALSE(r.ok());
}

TEST(ListAppend, SearchBudgetGivesUnknown) {
  ListAppendOptions o = ListAppendOptions::SnapshotIsolation();
  o.max_search_steps = 1;
  ListAppendResult r = Check(Serial({"ax1ry", "ay1rx"}), o);
  EXPECT_TRUE(r.search_incomplete);
  EXPECT_EQ(r.validity, Validity::kUnknown);
}

TEST(ListAppend, ParsesEdn) {
  absl::StatusOr<AppendHistory> h = AppendHistory::FromEdn(R"(
    ; comment
    {:type :invoke, :f :txn, :value [[:append 1 2] [:r 1 nil]], :process 3, :index 0}
    {:type :info, :f :leave, :value "n1", :process :nemesis}
    {:type :ok, :f :txn, :value [[:append 1 2] [:r 1 [2]]], :process 3, :index 1}
  )");
  ASSERT_TRUE(h.ok()) << h.status();
  ASSERT_EQ(h->ops().size(), 2u);
  EXPECT_EQ(h->ops()[1].type, OpType::kOk);
  EXPECT_EQ(h->ops()[1].process, 3);
  ASSERT_EQ(h->ops()[1].mops.size(), 2u);
  EXPECT_EQ(h->ops()[1].mops[1].read, std::vector<int64_t>({2}));
  EXPECT_FALSE(AppendHistory::FromEdn("{:type :ok, :value [[:frob 1 2]]}").ok());
}

}  // namespace
}  // namespace rutile::checkers
