// Join ordering over a join graph (TiDB's planner/core rule_join_reorder: DP for small
// graphs, greedy beyond). The inputs are the inner-joined relations ("leaves", up to 64)
// with their estimated row counts, and the join conditions as edges naming the leaves they
// reference with a selectivity; an equality whose two sides read disjoint leaf sets is an
// equi edge, which makes a hash join possible and two sets "connected".
//
//   dynamic programming   for up to `dp_limit` leaves: the cheapest bushy tree of every
//                         connected subset (DPsub), cross products only for subsets with no
//                         connected split;
//   greedy                beyond: repeatedly joins the connected pair of trees with the
//                         cheapest result (GOO), a cross product of the two smallest when
//                         nothing is connected.
//
// Cost is C_out with the join method folded in: a connected join costs the rows of both
// inputs plus its output (hash join), a cross product their product plus its output
// (nested loops). The smaller input of each join is put on the right, the hash build side.
//
// Thread safety: pure functions.

#ifndef RUTILE_SQL_PLANNER_JOIN_ORDER_H_
#define RUTILE_SQL_PLANNER_JOIN_ORDER_H_

#include <cstdint>
#include <vector>

namespace rutile::sql {

struct JoinEdge {
  uint64_t leaves = 0;  // Every leaf the condition references (at least two).
  double selectivity = 1.0;
  // For an equi edge, the leaves of each side of the equality (disjoint, both non-empty);
  // zero for other conditions.
  uint64_t left = 0, right = 0;
};

struct JoinOrderNode {
  int leaf = -1;              // A leaf, or -1 for a join of nodes `left` and `right`.
  int left = -1, right = -1;  // Indexes into the result vector.
  uint64_t mask = 0;
  double rows = 0;
  double cost = 0;
};

// The join tree of all leaves: nodes in bottom-up order, the root last. `rows` has one
// entry per leaf (at most 64).
std::vector<JoinOrderNode> OrderJoins(const std::vector<double>& rows,
                                      const std::vector<JoinEdge>& edges, int dp_limit = 10);

// The left-deep tree that joins the leaves in the order `order` lists them (a permutation
// of the leaves; the LEADING hint), or without `order` (optimizer rules off) in their
// written order, save that each next leaf is the first written one an equi edge connects
// to the leaves joined before it (when one does): no cross product that a condition
// avoids, so that a query over many tables stays runnable without the cost model.
std::vector<JoinOrderNode> WrittenJoinOrder(const std::vector<double>& rows,
                                            const std::vector<JoinEdge>& edges,
                                            const std::vector<int>* order = nullptr);

}  // namespace rutile::sql

#endif  // RUTILE_SQL_PLANNER_JOIN_ORDER_H_
