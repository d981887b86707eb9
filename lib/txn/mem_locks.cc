#include "txn/mem_locks.h"

namespace rutile::txn {

// ---- PessimisticLockTable ----

PessimisticLockTable::Region* PessimisticLockTable::Current(uint64_t region, const LeaderTag& tag) {
  if (tag.term == 0) return nullptr;
  auto it = regions_.find(region);
  if (it == regions_.end()) {
    it = regions_.emplace(region, Region{tag, {}}).first;
    return &it->second;
  }
  Region& r = it->second;
  if (r.tag == tag && !r.retired) return &r;
  if (!(r.tag < tag)) return nullptr;  // An older leadership, or the retired one.
  // An older leadership's locks: void.
  r.tag = tag;
  r.retired = false;
  r.locks.clear();
  return &r;
}

std::optional<Lock> PessimisticLockTable::Get(uint64_t region, const LeaderTag& tag,
                                              std::string_view key) {
  absl::MutexLock l(&mu_);
  Region* r = Current(region, tag);
  if (r == nullptr) return std::nullopt;
  auto it = r->locks.find(key);
  if (it == r->locks.end()) return std::nullopt;
  return it->second;
}

bool PessimisticLockTable::HasRoom(uint64_t region, const LeaderTag& tag, size_t n) {
  absl::MutexLock l(&mu_);
  Region* r = Current(region, tag);
  return r != nullptr && r->locks.size() + n <= max_per_region_;
}

std::vector<std::pair<std::string, Lock>> PessimisticLockTable::Scan(uint64_t region,
                                                                     const LeaderTag& tag,
                                                                     std::string_view start,
                                                                     std::string_view end) {
  std::vector<std::pair<std::string, Lock>> out;
  absl::MutexLock l(&mu_);
  Region* r = Current(region, tag);
  if (r == nullptr) return out;
  for (auto it = r->locks.lower_bound(start);
       it != r->locks.end() && (end.empty() || it->first < end); ++it) {
    out.emplace_back(it->first, it->second);
  }
  return out;
}

void PessimisticLockTable::Apply(
    uint64_t region, const LeaderTag& tag,
    const std::map<std::string, std::optional<Lock>, std::less<>>& changes,
    const std::set<std::string, std::less<>>& superseded) {
  absl::MutexLock l(&mu_);
  auto it = regions_.find(region);
  if (it != regions_.end()) {
    for (const std::string& k : superseded) it->second.locks.erase(k);
  }
  if (changes.empty()) return;
  Region* r = Current(region, tag);
  if (r == nullptr) return;
  for (const auto& [k, lock] : changes) {
    if (lock.has_value()) {
      r->locks[k] = *lock;
    } else {
      r->locks.erase(k);
    }
  }
  // An emptied entry stays while the region has commands in flight (Pin): it keeps the
  // newest tag seen, so a command of an older leadership cannot start a fresh entry under
  // its stale tag.
}

void PessimisticLockTable::MaybeErase(std::map<uint64_t, Region>::iterator it) {
  if (it->second.pins == 0 && it->second.locks.empty()) regions_.erase(it);
}

PessimisticLockTable::Pin::Pin(PessimisticLockTable* table, uint64_t region)
    : table_(table), region_(region) {
  absl::MutexLock l(&table_->mu_);
  // A new entry's tag is {0, 0}: older than any real one, so it is no tombstone.
  ++table_->regions_[region_].pins;
}

PessimisticLockTable::Pin::~Pin() {
  if (table_ == nullptr) return;
  absl::MutexLock l(&table_->mu_);
  auto it = table_->regions_.find(region_);
  if (it == table_->regions_.end()) return;  // Cleared (tests).
  --it->second.pins;
  table_->MaybeErase(it);
}

void PessimisticLockTable::Clear(uint64_t region) {
  absl::MutexLock l(&mu_);
  regions_.erase(region);
}

void PessimisticLockTable::Retire(uint64_t region, const LeaderTag& floor) {
  absl::MutexLock l(&mu_);
  auto it = regions_.find(region);
  // No entry: no locks, and no command of the region in flight (every one is pinned
  // before it reads the view its tag comes from), so none can carry an ended tag.
  if (it == regions_.end()) return;
  Region& r = it->second;
  if (floor < r.tag) return;  // A newer leadership already (its entry stays).
  r.tag = floor;
  r.retired = true;
  r.locks.clear();
  MaybeErase(it);
}

size_t PessimisticLockTable::TEST_Entries() {
  absl::MutexLock l(&mu_);
  return regions_.size();
}

size_t PessimisticLockTable::TEST_Count(uint64_t region) {
  absl::MutexLock l(&mu_);
  auto it = regions_.find(region);
  return it == regions_.end() ? 0 : it->second.locks.size();
}

// ---- MemLockScope ----

bool MemLockScope::Resident(std::string_view key) const {
  auto s = staged_.find(key);
  if (s != staged_.end()) return s->second.has_value();
  return resident_.count(key) != 0;
}

std::optional<Lock> MemLockScope::Get(std::string_view key) {
  auto s = staged_.find(key);
  if (s != staged_.end()) return s->second;
  std::optional<Lock> lock = table_->Get(region_, tag_, key);
  if (lock.has_value()) resident_.emplace(key);
  return lock;
}

std::vector<std::pair<std::string, Lock>> MemLockScope::Scan(std::string_view start,
                                                             std::string_view end) {
  return table_->Scan(region_, tag_, start, end);
}

bool MemLockScope::PutLock(std::string_view key, const Lock& lock) {
  const bool in_memory = Resident(key);
  if (lock.type == LockType::kPessimistic &&
      (in_memory || (accept_new_ && engine_locked_.count(key) == 0))) {
    staged_[std::string(key)] = lock;
    return true;
  }
  if (in_memory) staged_[std::string(key)] = std::nullopt;
  superseded_.emplace(key);
  return false;
}

bool MemLockScope::UnlockKey(std::string_view key) {
  if (Resident(key)) {
    staged_[std::string(key)] = std::nullopt;
    return true;
  }
  superseded_.emplace(key);
  return false;
}

void MemLockScope::ResetStaged() {
  staged_.clear();
  superseded_.clear();
}

void MemLockScope::PublishRemovals() {
  std::map<std::string, std::optional<Lock>, std::less<>> removals;
  for (const auto& [k, lock] : staged_) {
    if (!lock.has_value()) removals.emplace(k, std::nullopt);
  }
  table_->Apply(region_, tag_, removals, superseded_);
  ResetStaged();
}

void MemLockScope::Publish() {
  if (!HasStaged()) return;
  table_->Apply(region_, tag_, staged_, superseded_);
  ResetStaged();
}

}  // namespace rutile::txn
