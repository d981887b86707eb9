#include "raftstore/region_snapshot.h"

#include <utility>

#include "raftstore/errors.h"
#include "raftstore/keys.h"

namespace rutile::raftstore {
namespace {

// Presents an iterator over data keys as one over user keys.
class UserKeyIterator final : public storage::Iterator {
 public:
  explicit UserKeyIterator(std::unique_ptr<storage::Iterator> inner) : inner_(std::move(inner)) {}

  void SeekToFirst() override {
    inner_->SeekToFirst();
    Sync();
  }
  void SeekToLast() override {
    inner_->SeekToLast();
    Sync();
  }
  // Performance-critical path.
  void Seek(std::string_view target) override {
    inner_->Seek(ToData(target));
    Sync();
  }
  void SeekForPrev(std::string_view target) override {
    inner_->SeekForPrev(ToData(target));
    Sync();
  }
  void Next() override {
    inner_->Next();
    Sync();
  }
  void Prev() override {
    inner_->Prev();
    Sync();
  }
  absl::Status status() const override { return inner_->status(); }

 private:
  void Sync() {
    if (inner_->Valid()) {
      SetCurrent(UserKey(inner_->key()), inner_->value());
    } else {
      SetInvalid();
    }
  }
  // The data key of `target`, in a buffer reused across seeks.
  std::string_view ToData(std::string_view target) {
    buf_.resize(target.size() + 1);
    WriteDataKey(target, buf_.data());
    return buf_;
  }
  std::unique_ptr<storage::Iterator> inner_;
  std::string buf_;
};

// An iterator that is never valid and reports `status`.
class ErrorIterator final : public storage::Iterator {
 public:
  explicit ErrorIterator(absl::Status s) : status_(std::move(s)) {}
  void SeekToFirst() override {}
  void SeekToLast() override {}
  void Seek(std::string_view) override {}
  void SeekForPrev(std::string_view) override {}
  void Next() override {}
  void Prev() override {}
  absl::Status status() const override { return status_; }

 private:
  absl::Status status_;
};

}  // namespace

namespace {

class ViewSnapshot final : public storage::Snapshot {
 public:
  explicit ViewSnapshot(const storage::Engine* view) : storage::Snapshot(view) {}
};

}  // namespace

absl::StatusOr<std::optional<std::string>> RegionSnapshot::View::Get(
    storage::CF cf, std::string_view key, const storage::ReadOptions& options) {
  if (absl::Status s = CheckSnapshot(options.snapshot); !s.ok()) return s;
  return owner_->Get(cf, key);
}

std::unique_ptr<storage::Iterator> RegionSnapshot::View::NewIterator(
    storage::CF cf, const storage::IterOptions& options) {
  if (absl::Status s = CheckSnapshot(options.snapshot); !s.ok()) {
    return std::make_unique<ErrorIterator>(s);
  }
  return owner_->NewIterator(cf, options);
}

// Performance-critical path (a transactional point get's write-record read).
absl::Status RegionSnapshot::View::SeekVisit(
    storage::CF cf, std::string_view target, const storage::ReadOptions& options,
    absl::FunctionRef<bool(std::string_view key, std::string_view value)> visit) {
  if (absl::Status s = CheckSnapshot(options.snapshot); !s.ok()) return s;
  const metapb::Region& region = *owner_->region_;
  if (target < std::string_view(region.start_key())) target = region.start_key();
  const std::string_view end = region.end_key();
  storage::ReadOptions ro;
  ro.snapshot = owner_->snapshot_.get();
  ro.fill_cache = options.fill_cache;
  auto inner = [&](std::string_view key, std::string_view value) {
    // Data keys only, within the region.
    if (key.empty() || key[0] != kDataPrefix) return false;
    const std::string_view user = UserKey(key);
    if (!end.empty() && user >= end) return false;
    return visit(user, value);
  };
  // The data key of `target` in a stack buffer when small: no allocation.
  char buf[128];
  if (target.size() + 1 <= sizeof(buf)) {
    const size_t n = WriteDataKey(target, buf);
    return owner_->engine_->SeekVisit(cf, std::string_view(buf, n), ro, inner);
  }
  return owner_->engine_->SeekVisit(cf, DataKey(target), ro, inner);
}

std::unique_ptr<storage::Snapshot> RegionSnapshot::View::GetSnapshot() {
  return std::make_unique<ViewSnapshot>(this);
}

absl::Status RegionSnapshot::View::Write(const storage::WriteBatch&, const storage::WriteOptions&) {
  return absl::FailedPreconditionError("a region snapshot is read-only");
}

absl::Status RegionSnapshot::View::SyncWAL() { return absl::OkStatus(); }

absl::StatusOr<uint64_t> RegionSnapshot::View::ApproximateSize(storage::CF cf,
                                                               std::string_view start,
                                                               std::string_view end) {
  return owner_->engine_->ApproximateSize(cf, DataKey(start), DataEndKey(end));
}

absl::Status RegionSnapshot::View::CompactRange(storage::CF, std::string_view, std::string_view) {
  return absl::OkStatus();
}

absl::Status RegionSnapshot::View::CheckSnapshot(const storage::Snapshot* s) const {
  if (s != nullptr && s->engine() != this) {
    return absl::InvalidArgumentError("snapshot belongs to another engine");
  }
  return absl::OkStatus();
}

uint64_t DataVersion::Next() {
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

RegionSnapshot::RegionSnapshot(storage::Engine* engine, std::unique_ptr<storage::Snapshot> snapshot,
                               metapb::Region region, uint64_t applied_index)
    : RegionSnapshot(engine, std::move(snapshot),
                     std::make_shared<const metapb::Region>(std::move(region)), applied_index) {}

RegionSnapshot::RegionSnapshot(storage::Engine* engine, std::unique_ptr<storage::Snapshot> snapshot,
                               std::shared_ptr<const metapb::Region> region, uint64_t applied_index)
    : engine_(engine),
      snapshot_(std::move(snapshot)),
      region_(std::move(region)),
      applied_index_(applied_index) {}

RegionSnapshot::~RegionSnapshot() = default;

// Performance-critical path.
absl::StatusOr<std::optional<std::string>> RegionSnapshot::Get(storage::CF cf,
                                                               std::string_view key) const {
  if (!KeyInRegion(key, *region_)) return KeyNotInRegionError(key, *region_);
  storage::ReadOptions ro;
  ro.snapshot = snapshot_.get();
  // The data key ('z' + key) in a stack buffer when small: no allocation.
  char buf[128];
  if (key.size() + 1 <= sizeof(buf)) {
    const size_t n = WriteDataKey(key, buf);
    return engine_->Get(cf, std::string_view(buf, n), ro);
  }
  return engine_->Get(cf, DataKey(key), ro);
}

std::unique_ptr<storage::Iterator> RegionSnapshot::NewIterator(
    storage::CF cf, const storage::IterOptions& options) const {
  std::string_view lower = region_->start_key();
  if (std::string_view(options.lower_bound) > lower) lower = options.lower_bound;
  std::string_view upper = region_->end_key();
  if (!options.upper_bound.empty() &&
      (upper.empty() || std::string_view(options.upper_bound) < upper)) {
    upper = options.upper_bound;
  }
  storage::IterOptions io;
  io.lower_bound = DataKey(lower);
  io.upper_bound = DataEndKey(upper);
  if (!upper.empty() && upper < lower) io.upper_bound = io.lower_bound;  // Empty range.
  io.snapshot = snapshot_.get();
  io.fill_cache = options.fill_cache;
  return std::make_unique<UserKeyIterator>(engine_->NewIterator(cf, io));
}

}  // namespace rutile::raftstore
