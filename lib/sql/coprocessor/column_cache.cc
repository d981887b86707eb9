#include "sql/coprocessor/column_cache.h"

#include <mutex>

namespace rutile::sql::coprocessor {

size_t ColumnBytes(const Column& col) {
  const size_t n = col.size();
  size_t per_row = 0;
  switch (col.type()) {
    case PhysicalType::kInt64:
    case PhysicalType::kUint64:
    case PhysicalType::kFloat64:
      per_row = 8;
      break;
    case PhysicalType::kDecimal:
      per_row = sizeof(Decimal);
      break;
    case PhysicalType::kTime:
      per_row = sizeof(Time);
      break;
    case PhysicalType::kDuration:
      per_row = sizeof(Duration);
      break;
    case PhysicalType::kBytes: {
      size_t data = 0;
      for (size_t i = 0; i < n; ++i) data += col.GetBytes(i).size();
      return data + n * sizeof(uint32_t) + n / 8 + 1;
    }
  }
  return n * per_row + n / 8 + 1;
}

void ColumnCache::SetCapacity(size_t bytes) {
  std::lock_guard<Mutex> l(mu_);
  capacity_ = bytes;
  EvictLocked();
}

size_t ColumnCache::capacity() const {
  std::lock_guard<Mutex> l(mu_);
  return capacity_;
}

size_t ColumnCache::max_build_bytes() const {
  std::lock_guard<Mutex> l(mu_);
  return static_cast<size_t>(static_cast<double>(capacity_) * max_build_share_);
}

std::shared_ptr<const CachedTable> ColumnCache::Lookup(const CacheKey& key, int64_t table_id) {
  std::lock_guard<Mutex> l(mu_);
  auto it = slots_.find({key.region_id, table_id});
  if (it == slots_.end()) {
    ++stats_.misses;
    return nullptr;
  }
  const CachedTable& e = *it->second.entry;
  if (e.data_version != key.data_version || e.epoch_version != key.epoch_version) {
    // The region's data or range changed since the entry was built: it can never serve
    // again. Unless the read's snapshot is the older one (it started before the write
    // the entry's version follows): the entry stays for newer reads.
    if (key.data_version > e.data_version) EraseLocked(it);
    ++stats_.misses;
    return nullptr;
  }
  if (key.read_ts < e.max_commit_ts) {
    ++stats_.misses;  // Reads below the newest version go to the MVCC path.
    return nullptr;
  }
  lru_.splice(lru_.begin(), lru_, it->second.lru);
  return it->second.entry;
}

std::shared_ptr<const CachedTable> ColumnCache::Peek(const CacheKey& key, int64_t table_id) {
  std::lock_guard<Mutex> l(mu_);
  auto it = slots_.find({key.region_id, table_id});
  if (it == slots_.end()) return nullptr;
  const CachedTable& e = *it->second.entry;
  if (e.data_version != key.data_version || e.epoch_version != key.epoch_version) return nullptr;
  return it->second.entry;
}

bool ColumnCache::Insert(std::shared_ptr<const CachedTable> e) {
  std::lock_guard<Mutex> l(mu_);
  const Key k{e->region_id, e->table_id};
  auto it = slots_.find(k);
  if (it != slots_.end()) {
    // A build over an older snapshot that ended after a newer one keeps nothing.
    if (it->second.entry->data_version > e->data_version) return false;
    EraseLocked(it);
  }
  if (e->bytes > capacity_) return false;
  lru_.push_front(k);
  stats_.bytes += e->bytes;
  slots_[k] = Slot{std::move(e), lru_.begin()};
  ++stats_.inserts;
  EvictLocked();
  return true;
}

ColumnCache::Stats ColumnCache::stats() const {
  std::lock_guard<Mutex> l(mu_);
  Stats s = stats_;
  s.entries = slots_.size();
  return s;
}

void ColumnCache::CountHit() {
  std::lock_guard<Mutex> l(mu_);
  ++stats_.hits;
}

void ColumnCache::EraseLocked(std::map<Key, Slot>::iterator it) {
  stats_.bytes -= it->second.entry->bytes;
  lru_.erase(it->second.lru);
  slots_.erase(it);
}

void ColumnCache::EvictLocked() {
  while (stats_.bytes > capacity_ && !lru_.empty()) {
    EraseLocked(slots_.find(lru_.back()));
    ++stats_.evictions;
  }
}

}  // namespace rutile::sql::coprocessor
