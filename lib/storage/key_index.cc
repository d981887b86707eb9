#include "storage/key_index.h"

#include <algorithm>
#include <mutex>
#include <shared_mutex>

namespace rutile::storage {

namespace {

bool InRange(std::string_view key, std::string_view start, std::string_view end) {
  return key >= start && (end.empty() || key < end);
}

}  // namespace

void KeyIndex::Reset(const std::vector<std::string>& keys) {
  std::unique_lock lock(mu_);
  entries_.clear();
  for (const std::string& k : keys) entries_[k].version = next_version_++;
  PublishSizeLocked();
}

void KeyIndex::PublishSizeLocked() { size_.store(entries_.size(), std::memory_order_seq_cst); }

// Performance-critical path (every write of the engine).
KeyIndex::Pending KeyIndex::Begin(const WriteBatch& batch) {
  Pending p;
  const int bit = static_cast<int>(cf_);
  if ((batch.cf_mask() & (uint32_t{1} << bit)) == 0) return p;

  // The last op of each key decides; a delete range turns the batch's earlier puts in its
  // range into deletes (they never reach the database).
  enum class Kind : uint8_t { kPut, kDelete };
  struct KeyOp {
    std::string_view key;
    size_t order;
    Kind kind;
  };
  std::vector<KeyOp> ops;
  std::vector<std::pair<std::string_view, std::string_view>> ranges;
  for (size_t i = 0; i < batch.Count(); ++i) {
    const WriteBatch::Op op = batch.op(i);
    if (op.cf != cf_) continue;
    switch (op.type) {
      case WriteBatch::OpType::kPut:
        ops.push_back({op.key, i, Kind::kPut});
        break;
      case WriteBatch::OpType::kDelete:
        ops.push_back({op.key, i, Kind::kDelete});
        break;
      case WriteBatch::OpType::kDeleteRange:
        for (KeyOp& o : ops) {
          if (InRange(o.key, op.key, op.value)) o.kind = Kind::kDelete;
        }
        ranges.emplace_back(op.key, op.value);
        break;
    }
  }
  std::stable_sort(ops.begin(), ops.end(),
                   [](const KeyOp& a, const KeyOp& b) { return a.key < b.key; });
  // Keep each key's last op.
  std::vector<KeyOp> last;
  last.reserve(ops.size());
  for (size_t i = 0; i < ops.size(); ++i) {
    if (i + 1 < ops.size() && ops[i + 1].key == ops[i].key) continue;
    last.push_back(ops[i]);
  }

  std::unique_lock lock(mu_);
  // Ranges and deletes first: this batch's own puts (registered below) must not count as
  // racing puts.
  const uint64_t range_version = next_version_ - 1;
  for (const auto& [start, end] : ranges) {
    Pending::Range r;
    r.start.assign(start);
    r.end.assign(end);
    r.version = range_version;
    for (auto it = entries_.lower_bound(start);
         it != entries_.end() && InRange(it->first, start, end); ++it) {
      if (it->second.in_flight > 0) r.busy.push_back(it->first);
    }
    p.ranges_.push_back(std::move(r));
  }
  for (const KeyOp& o : last) {
    if (o.kind != Kind::kDelete) continue;
    auto it = entries_.find(o.key);
    if (it == entries_.end()) continue;  // Absent already; a later put enters it anew.
    p.deletes_.push_back({std::string(o.key), it->second.in_flight == 0 ? it->second.version : 0});
  }
  for (const KeyOp& o : last) {
    if (o.kind != Kind::kPut) continue;
    auto it = entries_.find(o.key);
    if (it == entries_.end()) it = entries_.emplace(std::string(o.key), Entry{}).first;
    it->second.version = next_version_++;
    it->second.in_flight++;
    p.puts_.emplace_back(o.key);
  }
  PublishSizeLocked();
  return p;
}

void KeyIndex::End(Pending pending, bool applied) {
  if (pending.empty()) return;
  std::unique_lock lock(mu_);
  for (const std::string& k : pending.puts_) {
    auto it = entries_.find(k);
    if (it != entries_.end() && it->second.in_flight > 0) it->second.in_flight--;
  }
  if (applied) {
    for (const Pending::Delete& d : pending.deletes_) {
      if (d.version == 0) continue;
      auto it = entries_.find(d.key);
      if (it != entries_.end() && it->second.version == d.version && it->second.in_flight == 0) {
        entries_.erase(it);
      }
    }
    for (const Pending::Range& r : pending.ranges_) {
      for (auto it = entries_.lower_bound(r.start);
           it != entries_.end() && InRange(it->first, r.start, r.end);) {
        const bool keep = it->second.version > r.version || it->second.in_flight > 0 ||
                          std::find(r.busy.begin(), r.busy.end(), it->first) != r.busy.end();
        it = keep ? std::next(it) : entries_.erase(it);
      }
    }
  }
  PublishSizeLocked();
}

bool KeyIndex::MayContainSlow(std::string_view key) const {
  std::shared_lock lock(mu_);
  return entries_.find(key) != entries_.end();
}

std::vector<std::string> KeyIndex::TEST_Keys() const {
  std::shared_lock lock(mu_);
  std::vector<std::string> out;
  for (const auto& [k, e] : entries_) out.push_back(k);
  return out;
}

}  // namespace rutile::storage
