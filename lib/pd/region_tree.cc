#include "pd/region_tree.h"

namespace rutile::pd {
namespace {

// True when a range ending at `end` (empty = +inf) ends after `key`.
bool EndsAfter(const std::string& end, const std::string& key) { return end.empty() || end > key; }

}  // namespace

std::vector<uint64_t> RegionTree::Scan(const std::string& start, const std::string& end,
                                       size_t limit) const {
  std::vector<uint64_t> out;
  // The first candidate is the range starting at or before `start`, if it reaches past it.
  auto it = items_.upper_bound(start);
  if (it != items_.begin()) {
    auto prev = std::prev(it);
    if (EndsAfter(prev->second.end_key, start)) it = prev;
  }
  for (; it != items_.end(); ++it) {
    if (!end.empty() && it->first >= end) break;
    out.push_back(it->second.region_id);
    if (limit != 0 && out.size() >= limit) break;
  }
  return out;
}

std::vector<uint64_t> RegionTree::Overlaps(const std::string& start, const std::string& end) const {
  return Scan(start, end, 0);
}

std::vector<uint64_t> RegionTree::Insert(uint64_t region_id, const std::string& start,
                                         const std::string& end) {
  std::vector<uint64_t> removed;
  auto it = items_.upper_bound(start);
  if (it != items_.begin()) {
    auto prev = std::prev(it);
    if (EndsAfter(prev->second.end_key, start)) it = prev;
  }
  while (it != items_.end() && (end.empty() || it->first < end)) {
    removed.push_back(it->second.region_id);
    it = items_.erase(it);
  }
  items_[start] = Entry{region_id, end};
  return removed;
}

bool RegionTree::Remove(uint64_t region_id, const std::string& start) {
  auto it = items_.find(start);
  if (it == items_.end() || it->second.region_id != region_id) return false;
  items_.erase(it);
  return true;
}

std::optional<uint64_t> RegionTree::Find(const std::string& key) const {
  auto it = items_.upper_bound(key);
  if (it == items_.begin()) return std::nullopt;
  --it;
  if (!EndsAfter(it->second.end_key, key)) return std::nullopt;
  return it->second.region_id;
}

std::optional<uint64_t> RegionTree::Prev(const std::string& start) const {
  if (start.empty()) return std::nullopt;
  auto it = items_.lower_bound(start);
  if (it == items_.begin()) return std::nullopt;
  --it;
  if (it->second.end_key != start) return std::nullopt;
  return it->second.region_id;
}

std::optional<uint64_t> RegionTree::Next(const std::string& end) const {
  if (end.empty()) return std::nullopt;
  auto it = items_.find(end);
  if (it == items_.end()) return std::nullopt;
  return it->second.region_id;
}

std::vector<RegionTree::Item> RegionTree::Items() const {
  std::vector<Item> out;
  out.reserve(items_.size());
  for (const auto& [start, e] : items_) out.push_back(Item{e.region_id, start, e.end_key});
  return out;
}

}  // namespace rutile::pd
