#include "sql/planner/join_order.h"

#include <algorithm>
#include <cstddef>
#include <limits>

namespace rutile::sql {

namespace {

bool Subset(uint64_t a, uint64_t b) { return (a & ~b) == 0; }

class Graph {
 public:
  Graph(const std::vector<double>& rows, const std::vector<JoinEdge>& edges)
      : rows_(rows), edges_(edges) {}

  bool Connected(uint64_t l, uint64_t r) const {
    for (const JoinEdge& e : edges_) {
      if (e.left == 0) continue;
      if ((Subset(e.left, l) && Subset(e.right, r)) || (Subset(e.left, r) && Subset(e.right, l))) {
        return true;
      }
    }
    return false;
  }

  // Output rows of joining `l` (rows lr) with `r` (rows rr).
  double JoinRows(uint64_t l, double lr, uint64_t r, double rr) const {
    double out = lr * rr;
    const uint64_t both = l | r;
    for (const JoinEdge& e : edges_) {
      if (Subset(e.leaves, both) && !Subset(e.leaves, l) && !Subset(e.leaves, r)) {
        out *= e.selectivity;
      }
    }
    return std::max(out, 1.0);
  }

  // Fills `out` as the join of a and b (orientation: smaller on the right).
  JoinOrderNode Join(const JoinOrderNode& a, int ai, const JoinOrderNode& b, int bi) const {
    JoinOrderNode n;
    const bool swap = a.rows < b.rows;
    const JoinOrderNode& l = swap ? b : a;
    const JoinOrderNode& r = swap ? a : b;
    n.left = swap ? bi : ai;
    n.right = swap ? ai : bi;
    n.mask = a.mask | b.mask;
    n.rows = JoinRows(l.mask, l.rows, r.mask, r.rows);
    const double method =
        Connected(l.mask, r.mask) ? l.rows + r.rows : std::max(l.rows * r.rows, l.rows + r.rows);
    n.cost = l.cost + r.cost + method + n.rows;
    return n;
  }

  JoinOrderNode Leaf(int i) const {
    JoinOrderNode n;
    n.leaf = i;
    n.mask = uint64_t{1} << i;
    n.rows = std::max(rows_[i], 1.0);
    n.cost = n.rows;
    return n;
  }

 private:
  const std::vector<double>& rows_;
  const std::vector<JoinEdge>& edges_;
};

// Appends the subtree of `best[mask]` to `out` bottom-up; returns its index there.
int Emit(const std::vector<JoinOrderNode>& best, const std::vector<uint64_t>& split, uint64_t mask,
         std::vector<JoinOrderNode>* out) {
  JoinOrderNode n = best[mask];
  if (n.leaf < 0) {
    const uint64_t l = split[mask], r = mask ^ split[mask];
    n.left = Emit(best, split, l, out);
    n.right = Emit(best, split, r, out);
  }
  out->push_back(n);
  return static_cast<int>(out->size() - 1);
}

std::vector<JoinOrderNode> Dp(const Graph& g, int n) {
  const uint64_t full = (uint64_t{1} << n) - 1;
  std::vector<JoinOrderNode> best(full + 1);
  std::vector<uint64_t> split(full + 1, 0);  // Left side of best[s].
  std::vector<bool> have(full + 1, false);
  for (uint64_t s = 1; s <= full; ++s) {
    if ((s & (s - 1)) == 0) {
      int i = __builtin_ctzll(s);
      best[s] = g.Leaf(i);
      have[s] = true;
      continue;
    }
    bool found_connected = false;
    JoinOrderNode cand;
    uint64_t cand_split = 0;
    double cand_cost = std::numeric_limits<double>::infinity();
    // Each unordered split once: the side holding the lowest leaf of s is `l`.
    const uint64_t low = s & (~s + 1);
    for (uint64_t l = (s - 1) & s; l != 0; l = (l - 1) & s) {
      if ((l & low) == 0) continue;
      const uint64_t r = s ^ l;
      if (!have[l] || !have[r]) continue;
      const bool conn = g.Connected(l, r);
      if (found_connected && !conn) continue;
      JoinOrderNode j = g.Join(best[l], 0, best[r], 0);
      if ((conn && !found_connected) || j.cost < cand_cost) {
        cand = j;
        cand_cost = j.cost;
        // Join() put the larger input on the left.
        cand_split = best[l].rows < best[r].rows ? r : l;
        found_connected = found_connected || conn;
      }
    }
    best[s] = cand;
    split[s] = cand_split;
    have[s] = true;
  }
  std::vector<JoinOrderNode> out;
  Emit(best, split, full, &out);
  return out;
}

std::vector<JoinOrderNode> Greedy(const Graph& g, int n) {
  std::vector<JoinOrderNode> out;
  std::vector<int> live;  // Indexes into `out` of the trees not yet joined.
  for (int i = 0; i < n; ++i) {
    out.push_back(g.Leaf(i));
    live.push_back(i);
  }
  while (live.size() > 1) {
    int ba = -1, bb = -1;
    JoinOrderNode best;
    bool best_conn = false;
    double best_cost = std::numeric_limits<double>::infinity();
    for (size_t a = 0; a < live.size(); ++a) {
      for (size_t b = a + 1; b < live.size(); ++b) {
        const JoinOrderNode& x = out[live[a]];
        const JoinOrderNode& y = out[live[b]];
        const bool conn = g.Connected(x.mask, y.mask);
        if (best_conn && !conn) continue;
        JoinOrderNode j = g.Join(x, live[a], y, live[b]);
        // Without a connected pair, the smallest result joins first.
        const double key = conn ? j.cost : j.rows;
        if ((conn && !best_conn) || key < best_cost) {
          best = j;
          best_cost = key;
          best_conn = best_conn || conn;
          ba = static_cast<int>(a);
          bb = static_cast<int>(b);
        }
      }
    }
    out.push_back(best);
    live.erase(live.begin() + bb);
    live.erase(live.begin() + ba);
    live.push_back(static_cast<int>(out.size() - 1));
  }
  return out;
}

}  // namespace

std::vector<JoinOrderNode> OrderJoins(const std::vector<double>& rows,
                                      const std::vector<JoinEdge>& edges, int dp_limit) {
  const int n = static_cast<int>(rows.size());
  Graph g(rows, edges);
  if (n == 1) return {g.Leaf(0)};
  if (n <= dp_limit && n <= 16) return Dp(g, n);
  return Greedy(g, n);
}

std::vector<JoinOrderNode> WrittenJoinOrder(const std::vector<double>& rows,
                                            const std::vector<JoinEdge>& edges,
                                            const std::vector<int>* order) {
  Graph g(rows, edges);
  std::vector<int> seq;
  if (order != nullptr) {
    seq = *order;
  } else {
    // Written order, except that the next leaf is the first written one an equality
    // connects to those joined so far: a cross product only where no condition connects.
    std::vector<int> rest;
    for (int i = 0; i < static_cast<int>(rows.size()); ++i) rest.push_back(i);
    uint64_t joined = 0;
    while (!rest.empty()) {
      size_t pick = 0;
      for (size_t k = 0; joined != 0 && k < rest.size(); ++k) {
        if (g.Connected(joined, uint64_t{1} << rest[k])) {
          pick = k;
          break;
        }
      }
      seq.push_back(rest[pick]);
      joined |= uint64_t{1} << rest[pick];
      rest.erase(rest.begin() + static_cast<std::ptrdiff_t>(pick));
    }
  }
  std::vector<JoinOrderNode> out;
  out.push_back(g.Leaf(seq[0]));
  int acc = 0;
  for (size_t i = 1; i < seq.size(); ++i) {
    out.push_back(g.Leaf(seq[i]));
    const int leaf = static_cast<int>(out.size() - 1);
    JoinOrderNode j;
    j.left = acc;
    j.right = leaf;
    j.mask = out[acc].mask | out[leaf].mask;
    j.rows = g.JoinRows(out[acc].mask, out[acc].rows, out[leaf].mask, out[leaf].rows);
    j.cost = out[acc].cost + out[leaf].cost + j.rows;
    out.push_back(j);
    acc = static_cast<int>(out.size() - 1);
  }
  return out;
}

}  // namespace rutile::sql
