#include "sql/planner/stats.h"

#include <algorithm>
#include <cstring>
#include <unordered_map>

#include "absl/hash/hash.h"

namespace rutile::sql {

namespace {

uint64_t Hash64(std::string_view v, uint64_t seed) {
  // FNV-1a over the seed then the bytes: stable across processes (serialized sketches).
  uint64_t h = 1469598103934665603ULL ^ (seed * 0x9E3779B97F4A7C15ULL);
  for (unsigned char c : v) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  return h;
}

void PutU64(std::string* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>(v >> (8 * i)));
}
bool GetU64(std::string_view* in, uint64_t* v) {
  if (in->size() < 8) return false;
  *v = 0;
  for (int i = 0; i < 8; ++i)
    *v |= static_cast<uint64_t>(static_cast<uint8_t>((*in)[i])) << (8 * i);
  in->remove_prefix(8);
  return true;
}
void PutStr(std::string* out, std::string_view s) {
  PutU64(out, s.size());
  out->append(s);
}
bool GetStr(std::string_view* in, std::string* s) {
  uint64_t n = 0;
  if (!GetU64(in, &n) || in->size() < n) return false;
  s->assign(in->data(), n);
  in->remove_prefix(n);
  return true;
}
bool GetI64(std::string_view* in, int64_t* v) {
  uint64_t u = 0;
  if (!GetU64(in, &u)) return false;
  *v = static_cast<int64_t>(u);
  return true;
}

void PutColumn(std::string* out, const ColumnStats& c) {
  PutU64(out, c.ndv);
  PutU64(out, c.null_count);
  PutU64(out, c.topn.size());
  for (const auto& [v, n] : c.topn) {
    PutStr(out, v);
    PutU64(out, n);
  }
  PutU64(out, c.buckets.size());
  for (const Bucket& b : c.buckets) {
    PutStr(out, b.upper);
    PutU64(out, b.count);
    PutU64(out, b.repeats);
  }
  PutStr(out, c.lower);
  c.cms.Serialize(out);
}

bool GetColumn(std::string_view* in, ColumnStats* c) {
  uint64_t n = 0;
  if (!GetI64(in, &c->ndv) || !GetI64(in, &c->null_count) || !GetU64(in, &n)) return false;
  if (n > in->size()) return false;
  for (uint64_t i = 0; i < n; ++i) {
    std::string v;
    int64_t cnt = 0;
    if (!GetStr(in, &v) || !GetI64(in, &cnt)) return false;
    c->topn.emplace_back(std::move(v), cnt);
  }
  if (!GetU64(in, &n) || n > in->size()) return false;
  for (uint64_t i = 0; i < n; ++i) {
    Bucket b;
    if (!GetStr(in, &b.upper) || !GetI64(in, &b.count) || !GetI64(in, &b.repeats)) return false;
    c->buckets.push_back(std::move(b));
  }
  return GetStr(in, &c->lower) && c->cms.Deserialize(in);
}

}  // namespace

CMSketch::CMSketch(int depth, int width)
    : depth_(depth), width_(width), table_(static_cast<size_t>(depth) * width, 0) {}

void CMSketch::Insert(std::string_view value, uint64_t count) {
  for (int d = 0; d < depth_; ++d) {
    uint32_t& c = table_[static_cast<size_t>(d) * width_ + Hash64(value, d) % width_];
    c = static_cast<uint32_t>(std::min<uint64_t>(UINT32_MAX, c + count));
  }
}

uint64_t CMSketch::Query(std::string_view value) const {
  if (depth_ == 0) return 0;
  uint64_t m = UINT64_MAX;
  for (int d = 0; d < depth_; ++d) {
    m = std::min<uint64_t>(m, table_[static_cast<size_t>(d) * width_ + Hash64(value, d) % width_]);
  }
  return m;
}

void CMSketch::Serialize(std::string* out) const {
  PutU64(out, depth_);
  PutU64(out, width_);
  for (uint32_t c : table_) PutU64(out, c);
}

bool CMSketch::Deserialize(std::string_view* in) {
  uint64_t d = 0, w = 0;
  if (!GetU64(in, &d) || !GetU64(in, &w) || d > 64 || w > (1 << 20)) return false;
  if (in->size() / 8 < d * w) return false;
  depth_ = static_cast<int>(d);
  width_ = static_cast<int>(w);
  table_.assign(d * w, 0);
  for (auto& c : table_) {
    uint64_t v = 0;
    GetU64(in, &v);
    c = static_cast<uint32_t>(v);
  }
  return true;
}

int64_t ColumnStats::non_null() const {
  int64_t n = buckets.empty() ? 0 : buckets.back().count;
  for (const auto& t : topn) n += t.second;
  return n;
}

double ColumnStats::EqualRows(std::string_view value) const {
  for (const auto& [v, n] : topn) {
    if (v == value) return static_cast<double>(n);
  }
  if (buckets.empty()) return 0;
  if (value < std::string_view(lower) || value > std::string_view(buckets.back().upper)) return 0;
  // Values outside the TopN: the sketch bounds the count from above; the average of the
  // remaining distinct values is the usual estimate when the sketch is loose.
  const int64_t rest = buckets.back().count;
  const int64_t rest_ndv = std::max<int64_t>(1, ndv - static_cast<int64_t>(topn.size()));
  const double avg = static_cast<double>(rest) / static_cast<double>(rest_ndv);
  if (cms.depth() > 0) return std::min(avg, static_cast<double>(cms.Query(value)));
  return avg;
}

double ColumnStats::RangeRows(std::string_view lo, std::string_view hi) const {
  auto in = [&](std::string_view v) { return (lo.empty() || v >= lo) && (hi.empty() || v < hi); };
  double rows = 0;
  for (const auto& [v, n] : topn) {
    if (in(v)) rows += static_cast<double>(n);
  }
  // Buckets: whole buckets inside, half of a bucket a bound falls in.
  int64_t prev = 0;
  std::string_view prev_upper = lower;
  for (size_t i = 0; i < buckets.size(); ++i) {
    const Bucket& b = buckets[i];
    const int64_t cnt = b.count - prev;
    const std::string_view bl = prev_upper, bu = b.upper;
    const bool all_in = in(bl) && in(bu);
    const bool none = (!hi.empty() && bl >= hi) || (!lo.empty() && bu < lo);
    if (all_in) {
      rows += static_cast<double>(cnt);
    } else if (!none) {
      rows += static_cast<double>(cnt) / 2;
    }
    prev = b.count;
    prev_upper = b.upper;
  }
  return rows;
}

std::string TableStats::Serialize() const {
  std::string out = "RSTS1";
  PutU64(&out, table_id);
  PutU64(&out, version);
  PutU64(&out, row_count);
  PutU64(&out, columns.size());
  for (const auto& [id, c] : columns) {
    PutU64(&out, id);
    PutColumn(&out, c);
  }
  PutU64(&out, indexes.size());
  for (const auto& [id, c] : indexes) {
    PutU64(&out, id);
    PutColumn(&out, c);
  }
  return out;
}

absl::StatusOr<TableStats> TableStats::Deserialize(std::string_view in) {
  auto bad = [] { return absl::DataLossError("corrupt table statistics"); };
  if (in.substr(0, 5) != "RSTS1") return bad();
  in.remove_prefix(5);
  TableStats t;
  uint64_t n = 0;
  if (!GetI64(&in, &t.table_id) || !GetU64(&in, &t.version) || !GetI64(&in, &t.row_count) ||
      !GetU64(&in, &n)) {
    return bad();
  }
  for (int pass = 0; pass < 2; ++pass) {
    if (pass == 1 && !GetU64(&in, &n)) return bad();
    if (n > in.size()) return bad();
    for (uint64_t i = 0; i < n; ++i) {
      int64_t id = 0;
      ColumnStats c;
      if (!GetI64(&in, &id) || !GetColumn(&in, &c)) return bad();
      (pass == 0 ? t.columns : t.indexes)[id] = std::move(c);
    }
  }
  if (!in.empty()) return bad();
  return t;
}

ColumnStats BuildColumnStats(std::vector<std::string> values, int64_t null_count,
                             size_t max_buckets, size_t max_topn) {
  ColumnStats c;
  c.null_count = null_count;
  std::sort(values.begin(), values.end());
  // Distinct values with counts, ascending.
  std::vector<std::pair<std::string, int64_t>> distinct;
  for (std::string& v : values) {
    if (!distinct.empty() && distinct.back().first == v) {
      ++distinct.back().second;
    } else {
      distinct.emplace_back(std::move(v), 1);
    }
  }
  c.ndv = static_cast<int64_t>(distinct.size());
  // TopN: the most frequent values that occur more than once.
  std::vector<size_t> order(distinct.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return distinct[a].second > distinct[b].second; });
  std::vector<bool> in_topn(distinct.size(), false);
  for (size_t k = 0; k < order.size() && k < max_topn; ++k) {
    if (distinct[order[k]].second < 2) break;
    in_topn[order[k]] = true;
    c.topn.push_back(distinct[order[k]]);
  }
  int64_t rest = 0;
  for (size_t i = 0; i < distinct.size(); ++i) {
    if (!in_topn[i]) rest += distinct[i].second;
  }
  c.cms = CMSketch(5, 2048);
  const int64_t depth = std::max<int64_t>(
      1, (rest + static_cast<int64_t>(max_buckets) - 1) / static_cast<int64_t>(max_buckets));
  int64_t cum = 0;
  for (size_t i = 0; i < distinct.size(); ++i) {
    if (in_topn[i]) continue;
    const auto& [v, n] = distinct[i];
    c.cms.Insert(v, n);
    if (c.lower.empty() && cum == 0) c.lower = v;
    cum += n;
    // Extend the current bucket until it holds `depth` values; a value never spans two.
    if (!c.buckets.empty() &&
        c.buckets.back().count -
                (c.buckets.size() > 1 ? c.buckets[c.buckets.size() - 2].count : 0) + n <=
            depth) {
      Bucket& b = c.buckets.back();
      b.upper = v;
      b.count = cum;
      b.repeats = n;
    } else {
      c.buckets.push_back({v, cum, n});
    }
  }
  return c;
}

TableStatsPtr StatsCache::Get(int64_t table_id) const {
  std::function<TableStatsPtr(int64_t)> loader;
  {
    std::lock_guard<std::mutex> l(mu_);
    auto it = tables_.find(table_id);
    if (it != tables_.end()) return it->second;
    loader = loader_;
  }
  if (!loader) return nullptr;
  TableStatsPtr loaded = loader(table_id);
  std::lock_guard<std::mutex> l(mu_);
  // An ANALYZE that finished meanwhile wins.
  auto [it, inserted] = tables_.emplace(table_id, loaded);
  return it->second;
}

void StatsCache::SetLoader(std::function<TableStatsPtr(int64_t)> loader) {
  std::lock_guard<std::mutex> l(mu_);
  loader_ = std::move(loader);
}

void StatsCache::Put(TableStatsPtr stats) {
  std::lock_guard<std::mutex> l(mu_);
  modifications_.erase(stats->table_id);
  tables_[stats->table_id] = std::move(stats);
}

void StatsCache::Erase(int64_t table_id) {
  std::lock_guard<std::mutex> l(mu_);
  tables_.erase(table_id);
  modifications_.erase(table_id);
}

void StatsCache::NoteModified(int64_t table_id, int64_t rows_delta, int64_t modified) {
  std::lock_guard<std::mutex> l(mu_);
  Modifications& m = modifications_[table_id];
  m.rows_delta += rows_delta;
  m.modified += modified;
}

bool StatsCache::DueForAnalyze(int64_t table_id) const {
  Modifications m;
  {
    std::lock_guard<std::mutex> l(mu_);
    auto it = modifications_.find(table_id);
    if (it == modifications_.end()) return false;
    m = it->second;
  }
  TableStatsPtr ts = Get(table_id);
  const int64_t base = ts != nullptr ? ts->row_count : 0;
  if (base + m.rows_delta < kAutoAnalyzeMinRows) return false;
  if (ts == nullptr) return true;
  return static_cast<double>(m.modified) >
         kAutoAnalyzeRatio * static_cast<double>(std::max<int64_t>(base, 1));
}

bool StatsCache::ClaimAnalyze(int64_t table_id) {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (analyzing_.count(table_id) != 0) return false;
  }
  if (!DueForAnalyze(table_id)) return false;
  std::lock_guard<std::mutex> l(mu_);
  return analyzing_.insert(table_id).second;
}

void StatsCache::ReleaseAnalyze(int64_t table_id) {
  std::lock_guard<std::mutex> l(mu_);
  analyzing_.erase(table_id);
}

int64_t StatsCache::EstimatedRows(int64_t table_id) const {
  int64_t delta = 0;
  {
    std::lock_guard<std::mutex> l(mu_);
    auto it = modifications_.find(table_id);
    if (it != modifications_.end()) delta = it->second.rows_delta;
  }
  TableStatsPtr ts = Get(table_id);
  return std::max<int64_t>(0, (ts != nullptr ? ts->row_count : 0) + delta);
}

}  // namespace rutile::sql
