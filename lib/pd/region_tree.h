// An index of non-overlapping key ranges [start, end) (empty end = +infinity) to region
// ids, ordered by start key, after tikv/pd's region tree but over std::map. Insert removes
// every range the new one overlaps, which is how a newer region (after a split or merge)
// replaces the older ones it covers; the epoch checks that decide whether it may are the
// Cluster's job.
//
// Not thread-safe.

#ifndef RUTILE_PD_REGION_TREE_H_
#define RUTILE_PD_REGION_TREE_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace rutile::pd {

class RegionTree {
 public:
  struct Item {
    uint64_t region_id;
    std::string start_key;
    std::string end_key;
  };

  // Ids of the ranges overlapping [start, end), in key order.
  std::vector<uint64_t> Overlaps(const std::string& start, const std::string& end) const;

  // Inserts the range of `region_id`, removing and returning (in key order) the ids of
  // every range it overlaps (possibly including an older range of the same id).
  std::vector<uint64_t> Insert(uint64_t region_id, const std::string& start,
                               const std::string& end);

  // Removes the range starting at `start` if it belongs to `region_id`. Returns whether
  // something was removed.
  bool Remove(uint64_t region_id, const std::string& start);

  // The region whose range contains `key`.
  std::optional<uint64_t> Find(const std::string& key) const;

  // Up to `limit` (0 = no limit) regions overlapping [start, end), in key order.
  std::vector<uint64_t> Scan(const std::string& start, const std::string& end, size_t limit) const;

  // The regions whose range ends exactly at `start` / starts exactly at `end` of the given
  // range: its key-adjacent neighbours, when they exist.
  std::optional<uint64_t> Prev(const std::string& start) const;
  std::optional<uint64_t> Next(const std::string& end) const;

  size_t size() const { return items_.size(); }
  // Every item in key order.
  std::vector<Item> Items() const;

 private:
  struct Entry {
    uint64_t region_id;
    std::string end_key;
  };
  // Keyed by start key.
  std::map<std::string, Entry> items_;
};

}  // namespace rutile::pd

#endif  // RUTILE_PD_REGION_TREE_H_
