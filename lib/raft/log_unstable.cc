#include "raft/log_unstable.h"

#include <cstddef>
#include <iterator>
#include <utility>

#include "absl/strings/str_cat.h"
#include "raft/check.h"

namespace rutile::raft {

std::optional<uint64_t> Unstable::MaybeFirstIndex() const {
  if (snapshot_.has_value()) return snapshot_->metadata().index() + 1;
  return std::nullopt;
}

std::optional<uint64_t> Unstable::MaybeLastIndex() const {
  if (!entries_.empty()) return offset_ + entries_.size() - 1;
  if (snapshot_.has_value()) return snapshot_->metadata().index();
  return std::nullopt;
}

std::optional<uint64_t> Unstable::MaybeTerm(uint64_t i) const {
  if (i < offset_) {
    if (snapshot_.has_value() && snapshot_->metadata().index() == i) {
      return snapshot_->metadata().term();
    }
    return std::nullopt;
  }
  std::optional<uint64_t> last = MaybeLastIndex();
  if (!last.has_value() || i > *last) return std::nullopt;
  return entries_[i - offset_].term();
}

void Unstable::StableTo(uint64_t i, uint64_t t) {
  std::optional<uint64_t> gt = MaybeTerm(i);
  if (!gt.has_value()) return;
  // Only shrink if the term still matches: otherwise the entry was replaced by a newer
  // leader's and must still be persisted.
  if (*gt == t && i >= offset_) {
    entries_.erase(entries_.begin(),
                   entries_.begin() + static_cast<std::ptrdiff_t>(i + 1 - offset_));
    offset_ = i + 1;
  }
}

void Unstable::StableSnapTo(uint64_t i) {
  if (snapshot_.has_value() && snapshot_->metadata().index() == i) {
    snapshot_.reset();
    snapshot_in_progress_ = false;
  }
}

void Unstable::Restore(const Snapshot& s) {
  offset_ = s.metadata().index() + 1;
  offset_in_progress_ = offset_;
  entries_.clear();
  snapshot_ = s;
  snapshot_in_progress_ = false;
}

std::vector<Entry> Unstable::EntriesNotInProgress() const {
  uint64_t lo = InProgressStart();
  return std::vector<Entry>(entries_.begin() + static_cast<std::ptrdiff_t>(lo - offset_),
                            entries_.end());
}

void Unstable::AcceptInProgress() {
  offset_in_progress_ = offset_ + entries_.size();
  if (snapshot_.has_value()) snapshot_in_progress_ = true;
}

void Unstable::TruncateAndAppend(const std::vector<Entry>& ents) {
  TruncateAndAppend(std::vector<Entry>(ents));
}

// Performance-critical path: every appended entry passes here once.
void Unstable::TruncateAndAppend(std::vector<Entry>&& ents) {
  if (ents.empty()) return;
  uint64_t after = ents[0].index();
  if (after == offset_ + entries_.size()) {
    // Directly follows: append.
  } else if (after <= offset_) {
    // Replaces everything unstable (the stable part is overwritten on persist).
    offset_ = after;
    offset_in_progress_ = after;
    entries_.clear();
  } else {
    // Keep [offset_, after) and replace the rest; the replacement is handed out anew.
    entries_.resize(after - offset_);
    if (offset_in_progress_ > after) offset_in_progress_ = after;
  }
  entries_.insert(entries_.end(), std::make_move_iterator(ents.begin()),
                  std::make_move_iterator(ents.end()));
}

std::vector<Entry> Unstable::Slice(uint64_t lo, uint64_t hi) const {
  RAFT_CHECK(lo <= hi && lo >= offset_ && hi <= offset_ + entries_.size(),
             absl::StrCat("unstable.slice[", lo, ",", hi, ") out of bound [", offset_, ",",
                          offset_ + entries_.size(), "]"));
  return std::vector<Entry>(entries_.begin() + static_cast<std::ptrdiff_t>(lo - offset_),
                            entries_.begin() + static_cast<std::ptrdiff_t>(hi - offset_));
}

}  // namespace rutile::raft
