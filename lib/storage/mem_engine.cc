#include "storage/mem_engine.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace rutile::storage {
namespace {

constexpr uint32_t kRaftBit = uint32_t{1} << static_cast<int>(CF::kRaft);

bool InRange(std::string_view key, std::string_view start, std::string_view end) {
  return key >= start && (end.empty() || key < end);
}

}  // namespace

class MemEngine::MemSnapshot final : public Snapshot {
 public:
  MemSnapshot(MemEngine* engine, uint64_t seq) : Snapshot(engine), engine_(engine), seq_(seq) {}
  ~MemSnapshot() override { engine_->Unpin(seq_); }

  uint64_t seq() const { return seq_; }

 private:
  MemEngine* const engine_;
  const uint64_t seq_;
};

// Copies the entry it stands on, and finds its place again by key on every move.
class MemEngine::MemIterator final : public Iterator {
 public:
  explicit MemIterator(absl::Status error) : error_(std::move(error)) {}

  // `seq` must already be pinned for this iterator; the destructor unpins it.
  MemIterator(MemEngine* engine, CF cf, const IterOptions& options, uint64_t seq)
      : engine_(engine),
        cf_(cf),
        lower_(options.lower_bound),
        upper_(options.upper_bound),
        seq_(seq) {}

  ~MemIterator() override {
    if (engine_ != nullptr) engine_->Unpin(seq_);
  }

  void SeekToFirst() override { Seek(lower_); }

  void SeekToLast() override {
    if (engine_ == nullptr) return;
    absl::MutexLock lock(&engine_->mu_);
    const Map& m = map();
    BackwardFrom(upper_.empty() ? m.end() : m.lower_bound(upper_));
  }

  void Seek(std::string_view target) override {
    if (engine_ == nullptr) return;
    if (target < lower_) target = lower_;
    absl::MutexLock lock(&engine_->mu_);
    ForwardFrom(map().lower_bound(target));
  }

  void SeekForPrev(std::string_view target) override {
    if (engine_ == nullptr) return;
    if (!upper_.empty() && target >= upper_) {
      SeekToLast();
      return;
    }
    absl::MutexLock lock(&engine_->mu_);
    BackwardFrom(map().upper_bound(target));
  }

  void Next() override {
    absl::MutexLock lock(&engine_->mu_);
    ForwardFrom(map().upper_bound(key_));
  }

  void Prev() override {
    absl::MutexLock lock(&engine_->mu_);
    BackwardFrom(map().lower_bound(key_));
  }

  absl::Status status() const override { return error_; }

 private:
  const Map& map() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(engine_->mu_) {
    return engine_->cfs_[static_cast<int>(cf_)];
  }

  // Stands on the first visible key at or after `it`, within bounds.
  void ForwardFrom(Map::const_iterator it) ABSL_EXCLUSIVE_LOCKS_REQUIRED(engine_->mu_) {
    const Map& m = map();
    for (; it != m.end(); ++it) {
      if (!upper_.empty() && it->first >= upper_) break;
      if (Take(it)) return;
    }
    SetInvalid();
  }

  // Stands on the last visible key before `it`, within bounds.
  void BackwardFrom(Map::const_iterator it) ABSL_EXCLUSIVE_LOCKS_REQUIRED(engine_->mu_) {
    const Map& m = map();
    while (it != m.begin()) {
      --it;
      if (it->first < lower_) break;
      if (Take(it)) return;
    }
    SetInvalid();
  }

  bool Take(Map::const_iterator it) {
    const Version* v = Visible(it->second, seq_);
    if (v == nullptr) return false;
    key_ = it->first;
    value_ = v->value;
    SetCurrent(key_, value_);
    return true;
  }

  MemEngine* const engine_ = nullptr;
  const CF cf_ = CF::kDefault;
  const std::string lower_;
  const std::string upper_;
  const uint64_t seq_ = 0;
  const absl::Status error_;
  // Copies of the current entry; the base class views point at them.
  std::string key_;
  std::string value_;
};

MemEngine::MemEngine() = default;
MemEngine::~MemEngine() = default;

const MemEngine::Version* MemEngine::Visible(const Chain& chain, uint64_t seq) {
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
    if (it->seq <= seq) return it->deleted ? nullptr : &*it;
  }
  return nullptr;
}

uint64_t MemEngine::Pin(uint64_t seq) {
  pinned_.insert(seq);
  return seq;
}

void MemEngine::Unpin(uint64_t seq) {
  absl::MutexLock lock(&mu_);
  pinned_.erase(pinned_.find(seq));
}

bool MemEngine::Prune(CF cf, Map::iterator it) {
  Chain& c = it->second;
  const uint64_t durable = durable_seq_[LogOf(cf)];
  // Version i is needed when it is the newest, or when some view (a pinned sequence or
  // the durable point) falls in [c[i].seq, c[i+1].seq) and so reads it.
  size_t kept = 0;
  bool leading = true;
  for (size_t i = 0; i < c.size(); ++i) {
    bool needed = i + 1 == c.size();
    if (!needed) {
      const uint64_t lo = c[i].seq;
      const uint64_t hi = c[i + 1].seq;
      auto p = pinned_.lower_bound(lo);
      needed = (durable >= lo && durable < hi) || (p != pinned_.end() && *p < hi);
    }
    // A deletion with nothing older reads the same as no version at all.
    if (leading && c[i].deleted) needed = false;
    if (!needed) continue;
    leading = false;
    if (kept != i) c[kept] = std::move(c[i]);
    ++kept;
  }
  c.resize(kept);
  if (c.empty()) {
    cfs_[static_cast<int>(cf)].erase(it);
    return false;
  }
  return true;
}

void MemEngine::AddVersion(CF cf, std::string_view key, uint64_t seq, bool deleted,
                           std::string_view value) {
  Map& m = cfs_[static_cast<int>(cf)];
  auto it = m.find(key);
  if (it == m.end()) {
    if (deleted) return;  // Nothing to delete at any sequence.
    it = m.emplace(std::string(key), Chain()).first;
  }
  Chain& c = it->second;
  if (!c.empty() && c.back().seq == seq) {
    c.back().deleted = deleted;
    c.back().value.assign(value);
  } else {
    c.push_back(Version{seq, deleted, std::string(value)});
  }
  Prune(cf, it);
}

void MemEngine::ApplyOp(const WriteBatch& batch, size_t index, uint64_t seq) {
  const WriteBatch::Op op = batch.op(index);
  switch (op.type) {
    case WriteBatch::OpType::kPut:
      AddVersion(op.cf, op.key, seq, false, op.value);
      break;
    case WriteBatch::OpType::kDelete:
      AddVersion(op.cf, op.key, seq, true, {});
      break;
    case WriteBatch::OpType::kDeleteRange: {
      const Map& m = cfs_[static_cast<int>(op.cf)];
      std::vector<std::string> doomed;
      for (auto it = m.lower_bound(op.key); it != m.end(); ++it) {
        if (!InRange(it->first, op.key, op.value)) break;
        if (Visible(it->second, seq) != nullptr) doomed.push_back(it->first);
      }
      for (const std::string& k : doomed) AddVersion(op.cf, k, seq, true, {});
      break;
    }
  }
}

void MemEngine::LogRecord(int log, uint64_t seq, bool sync) {
  if (sync) {
    ++syncs_;
    durable_seq_[log] = seq;
    unsynced_[log].clear();
  } else {
    unsynced_[log].push_back(seq);
  }
}

absl::StatusOr<std::optional<std::string>> MemEngine::Get(CF cf, std::string_view key,
                                                          const ReadOptions& options) {
  if (!IsValidCf(cf)) {
    return absl::InvalidArgumentError(absl::StrCat("storage: Get on unknown ", CfName(cf)));
  }
  if (options.snapshot != nullptr && options.snapshot->engine() != this) {
    return absl::InvalidArgumentError("storage: Get with a snapshot of another engine");
  }
  absl::MutexLock lock(&mu_);
  const uint64_t seq = options.snapshot != nullptr
                           ? static_cast<const MemSnapshot*>(options.snapshot)->seq()
                           : last_seq_;
  const Map& m = cfs_[static_cast<int>(cf)];
  auto it = m.find(key);
  if (it == m.end()) return std::optional<std::string>();
  const Version* v = Visible(it->second, seq);
  if (v == nullptr) return std::optional<std::string>();
  return std::optional<std::string>(v->value);
}

std::unique_ptr<Iterator> MemEngine::NewIterator(CF cf, const IterOptions& options) {
  if (!IsValidCf(cf)) {
    return std::make_unique<MemIterator>(
        absl::InvalidArgumentError(absl::StrCat("storage: iterator on unknown ", CfName(cf))));
  }
  if (options.snapshot != nullptr && options.snapshot->engine() != this) {
    return std::make_unique<MemIterator>(
        absl::InvalidArgumentError("storage: iterator with a snapshot of another engine"));
  }
  uint64_t seq;
  {
    absl::MutexLock lock(&mu_);
    // The iterator pins its own sequence, so it may outlive the snapshot it reads.
    seq = Pin(options.snapshot != nullptr ? static_cast<const MemSnapshot*>(options.snapshot)->seq()
                                          : last_seq_);
  }
  return std::make_unique<MemIterator>(this, cf, options, seq);
}

std::unique_ptr<Snapshot> MemEngine::GetSnapshot() {
  absl::MutexLock lock(&mu_);
  return std::make_unique<MemSnapshot>(this, Pin(last_seq_));
}

absl::Status MemEngine::Write(const WriteBatch& batch, const WriteOptions& options) {
  if (batch.Empty()) return absl::OkStatus();
  const uint32_t mask = batch.cf_mask();
  for (size_t i = 0; i < batch.Count(); ++i) {
    const WriteBatch::Op op = batch.op(i);
    if (!IsValidCf(op.cf)) {
      return absl::InvalidArgumentError(
          absl::StrCat("storage: write batch names unknown ", CfName(op.cf)));
    }
    if (op.type == WriteBatch::OpType::kDeleteRange && !op.value.empty() && op.key > op.value) {
      return absl::InvalidArgumentError(
          absl::StrCat("storage: DeleteRange on ", CfName(op.cf), " with start > end"));
    }
  }
  const bool has_raft = (mask & kRaftBit) != 0;
  const bool has_data = (mask & ~kRaftBit) != 0;
  absl::MutexLock lock(&mu_);
  // As in LevelDbEngine: the raft record first (synced when the batch also has data),
  // then the data record.
  if (has_raft) {
    const uint64_t seq = ++last_seq_;
    // Logged before applying, so a synced record prunes what its own durability hides.
    LogRecord(LogOf(CF::kRaft), seq, options.sync || has_data);
    for (size_t i = 0; i < batch.Count(); ++i) {
      if (batch.op(i).cf == CF::kRaft) ApplyOp(batch, i, seq);
    }
  }
  if (has_data) {
    const uint64_t seq = ++last_seq_;
    LogRecord(LogOf(CF::kDefault), seq, options.sync);
    for (size_t i = 0; i < batch.Count(); ++i) {
      if (batch.op(i).cf != CF::kRaft) ApplyOp(batch, i, seq);
    }
  }
  return absl::OkStatus();
}

absl::Status MemEngine::SyncWAL() {
  absl::MutexLock lock(&mu_);
  ++syncs_;
  for (int log = 0; log < 2; ++log) {
    durable_seq_[log] = last_seq_;
    unsynced_[log].clear();
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> MemEngine::ApproximateSize(CF cf, std::string_view start,
                                                    std::string_view end) {
  if (!IsValidCf(cf)) {
    return absl::InvalidArgumentError(
        absl::StrCat("storage: ApproximateSize on unknown ", CfName(cf)));
  }
  absl::MutexLock lock(&mu_);
  const Map& m = cfs_[static_cast<int>(cf)];
  uint64_t size = 0;
  for (auto it = m.lower_bound(start); it != m.end() && InRange(it->first, start, end); ++it) {
    const Version* v = Visible(it->second, last_seq_);
    if (v != nullptr) size += it->first.size() + v->value.size();
  }
  return size;
}

absl::Status MemEngine::CompactRange(CF cf, std::string_view start, std::string_view end) {
  if (!IsValidCf(cf)) {
    return absl::InvalidArgumentError(
        absl::StrCat("storage: CompactRange on unknown ", CfName(cf)));
  }
  return absl::OkStatus();
}

void MemEngine::SimulateCrash() {
  absl::MutexLock lock(&mu_);
  for (int i = 0; i < kNumCfs; ++i) {
    const CF cf = static_cast<CF>(i);
    const uint64_t durable = durable_seq_[LogOf(cf)];
    Map& m = cfs_[i];
    for (auto it = m.begin(); it != m.end();) {
      Chain& c = it->second;
      while (!c.empty() && c.back().seq > durable) c.pop_back();
      auto next = std::next(it);
      if (c.empty()) {
        m.erase(it);
      } else {
        Prune(cf, it);
      }
      it = next;
    }
  }
  for (int log = 0; log < 2; ++log) unsynced_[log].clear();
}

uint64_t MemEngine::SyncCount() const {
  absl::MutexLock lock(&mu_);
  return syncs_;
}

size_t MemEngine::UnsyncedWriteCount() const {
  absl::MutexLock lock(&mu_);
  return unsynced_[0].size() + unsynced_[1].size();
}

size_t MemEngine::TEST_StoredVersions() const {
  absl::MutexLock lock(&mu_);
  size_t n = 0;
  for (const Map& m : cfs_) {
    for (const auto& [key, chain] : m) n += chain.size();
  }
  return n;
}

}  // namespace rutile::storage
