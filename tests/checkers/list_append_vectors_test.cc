// Validates the list-append checker on Elle's published histories
// (../shared/testdata/checkers/elle); expected outcomes are those of
// testdata/checkers/README.md and Elle's own tests.

#include <chrono>
#include <cstdio>
#include <string>

#include "checkers/jepsen_logs.h"
#include "checkers/list_append.h"
#include "checkers/test_util.h"
#include "gtest/gtest.h"

namespace rutile::checkers {
namespace {

AppendHistory Load(const std::string& name) {
  absl::StatusOr<std::string> text = ReadFileToString(CheckerTestdataDir() + "/elle/" + name);
  EXPECT_TRUE(text.ok()) << text.status();
  if (!text.ok()) return {};
  absl::StatusOr<AppendHistory> history = AppendHistory::FromEdn(*text);
  EXPECT_TRUE(history.ok()) << history.status();
  return history.ok() ? *std::move(history) : AppendHistory();
}

TEST(ElleVectors, SiWithoutGSingleIsSnapshotIsolatedButNotSerializable) {
  AppendHistory h = Load("si-without-g-single.edn");
  ASSERT_EQ(h.ops().size(), 8u);
  absl::StatusOr<ListAppendResult> si = CheckListAppend(h, ListAppendOptions::SnapshotIsolation());
  ASSERT_TRUE(si.ok()) << si.status();
  EXPECT_EQ(si->validity, Validity::kValid) << si->Summary();
  EXPECT_EQ(si->names, std::set<std::string>({"G2-item"})) << si->Summary();

  absl::StatusOr<ListAppendResult> ser = CheckListAppend(h, ListAppendOptions::Serializable());
  ASSERT_TRUE(ser.ok());
  EXPECT_EQ(ser->validity, Validity::kInvalid) << ser->Summary();
  EXPECT_EQ(ser->names, std::set<std::string>({"G2-item"})) << ser->Summary();
  std::printf("%s", ser->Summary().c_str());
}

TEST(ElleVectors, SiWithoutGSingleGraphMatchesTheFileComments) {
  // Nodes are numbered in history order: T1..T4 of the file are nodes 0..3.
  absl::StatusOr<AppendGraph> g = BuildAppendGraph(Load("si-without-g-single.edn"), false, false);
  ASSERT_TRUE(g.ok());
  ASSERT_EQ(g->out.size(), 4u);
  EXPECT_EQ(g->Bits(0, 2), kEdgeWW);  // T1 ww T3 on 9
  EXPECT_EQ(g->Bits(0, 3), kEdgeWR);  // T1 wr T4 on 9
  EXPECT_EQ(g->Bits(1, 0), kEdgeRW);  // T2 rw T1 on 9
  EXPECT_EQ(g->Bits(2, 1), kEdgeRW);  // T3 rw T2 on 8
  EXPECT_EQ(g->Bits(2, 3), kEdgeRW);  // T3 rw T4 on 6
  EXPECT_EQ(g->Bits(3, 2), kEdgeRW);  // T4 rw T3 on 9
  size_t edges = 0;
  for (const auto& out : g->out) edges += out.size();
  EXPECT_EQ(edges, 6u);
}

TEST(ElleVectors, PaperExample) {
  AppendHistory h = Load("paper-example.edn");
  ASSERT_EQ(h.ops().size(), 8u);
  absl::StatusOr<AppendGraph> g = BuildAppendGraph(h, false, false);
  ASSERT_TRUE(g.ok());
  ASSERT_EQ(g->out.size(), 4u);
  // T0 appends everything; T1 = [append 255 8, r 253]; T2 reads 255 with 8;
  // T3 reads 255 without 8 and appends 3 to 256, which T2 never saw.
  EXPECT_EQ(g->Bits(0, 1), kEdgeWW | kEdgeWR);  // 255: 5 then 8; T1 read 253 = [1 3 4]
  EXPECT_EQ(g->Bits(1, 2), kEdgeWR);            // T2 read 255 ending in 8
  EXPECT_EQ(g->Bits(2, 3), kEdgeWW);            // 256: T2's 4, then T3's unobserved 3
  EXPECT_EQ(g->Bits(3, 1), kEdgeRW);            // T3 read 255 = [2 3 4 5], missing 8
  EXPECT_EQ(g->Bits(0, 3), kEdgeWR);
  EXPECT_EQ(g->Bits(0, 2), kEdgeWW | kEdgeWR);
  absl::StatusOr<ListAppendResult> r = CheckListAppend(h, ListAppendOptions::SnapshotIsolation());
  ASSERT_TRUE(r.ok());
  // T1 -wr-> T2 -ww-> T3 -rw-> T1: one anti-dependency, a G-single.
  EXPECT_EQ(r->validity, Validity::kInvalid);
  EXPECT_EQ(r->names, std::set<std::string>({"G-single"})) << r->Summary();
  std::printf("%s", r->Summary().c_str());
}

TEST(ElleVectors, HugeSccIsNotStrongSnapshotIsolation) {
  AppendHistory h = Load("huge-scc.edn");
  auto start = std::chrono::steady_clock::now();
  absl::StatusOr<ListAppendResult> r =
      CheckListAppend(h, ListAppendOptions::StrongSnapshotIsolation());
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->validity, Validity::kInvalid);
  EXPECT_TRUE(r->HasName("G-single-realtime")) << r->Summary();
  EXPECT_GT(r->largest_scc, 1000u);
  std::printf("huge-scc: %zu events, %.2fs\n%s", h.ops().size(), secs,
              r->Summary().substr(0, 3000).c_str());
}

}  // namespace
}  // namespace rutile::checkers
