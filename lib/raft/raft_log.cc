#include "raft/raft_log.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "raft/check.h"
#include "raft/errors.h"

namespace rutile::raft {
namespace {

uint64_t MustValue(const absl::StatusOr<uint64_t>& v, const char* what) {
  RAFT_CHECK(v.ok(), absl::StrCat(what, ": ", v.status().ToString()));
  return *v;
}

}  // namespace

RaftLog::RaftLog(LogStorage* storage, uint64_t max_next_ents_size)
    : storage_(storage),
      unstable_(MustValue(storage->LastIndex(), "storage LastIndex") + 1),
      max_next_ents_size_(max_next_ents_size) {
  uint64_t first = MustValue(storage->FirstIndex(), "storage FirstIndex");
  // Everything up to the storage's compaction point is committed and applied.
  committed_ = first - 1;
  applied_ = first - 1;
}

std::string RaftLog::String() const {
  return absl::StrCat("committed=", committed_, ", applied=", applied_,
                      ", unstable.offset=", unstable_.offset(),
                      ", len(unstable.Entries)=", unstable_.entries().size());
}

std::optional<uint64_t> RaftLog::MaybeAppend(uint64_t index, uint64_t log_term, uint64_t committed,
                                             std::vector<Entry> ents) {
  if (!MatchTerm(index, log_term)) return std::nullopt;
  uint64_t lastnewi = index + ents.size();
  uint64_t ci = FindConflict(ents);
  if (ci != 0) {
    RAFT_CHECK(
        ci > committed_,
        absl::StrCat("entry ", ci, " conflict with committed entry [committed(", committed_, ")]"));
    uint64_t offset = index + 1;
    ents.erase(ents.begin(), ents.begin() + static_cast<std::ptrdiff_t>(ci - offset));
    Append(std::move(ents));
  }
  CommitTo(std::min(committed, lastnewi));
  return lastnewi;
}

uint64_t RaftLog::Append(std::vector<Entry> ents) {
  if (ents.empty()) return LastIndex();
  uint64_t after = ents[0].index() - 1;
  RAFT_CHECK(after >= committed_,
             absl::StrCat("after(", after, ") is out of range [committed(", committed_, ")]"));
  unstable_.TruncateAndAppend(std::move(ents));
  return LastIndex();
}

uint64_t RaftLog::FindConflict(const std::vector<Entry>& ents) const {
  for (const Entry& e : ents) {
    if (!MatchTerm(e.index(), e.term())) return e.index();
  }
  return 0;
}

uint64_t RaftLog::FindConflictByTerm(uint64_t index, uint64_t term) const {
  for (; index > 0; --index) {
    absl::StatusOr<uint64_t> t = Term(index);
    // An error (compacted) means we cannot look further back; the leader's snapshot
    // logic takes over from here.
    if (!t.ok()) return index;
    if (*t <= term) return index;
  }
  return 0;
}

uint64_t RaftLog::MaxAppliableIndex(bool allow_unstable) const {
  if (allow_unstable) return committed_;
  const uint64_t durable = unstable_.offset() - 1;
  // Nothing past a snapshot that is not durable yet: its entries follow the snapshot.
  // Nothing unpersisted before the leader's own term either: such entries may replace a
  // stale suffix still on disk, and an applied index persisted on top of that stale log
  // would survive a crash that loses the replacing write.
  if (max_apply_unpersisted_ == 0 || unstable_.snapshot().has_value() ||
      durable + 1 < apply_unpersisted_from_) {
    return std::min(committed_, durable);
  }
  return std::min(committed_, durable + std::min(max_apply_unpersisted_, committed_));
}

std::vector<Entry> RaftLog::NextCommittedEnts(bool allow_unstable) const {
  uint64_t off = std::max(applied_ + 1, FirstIndex());
  uint64_t hi = MaxAppliableIndex(allow_unstable);
  if (hi + 1 > off) {
    absl::StatusOr<std::vector<Entry>> ents = Slice(off, hi + 1, max_next_ents_size_);
    RAFT_CHECK(ents.ok(), absl::StrCat("unexpected error when getting unapplied entries: ",
                                       ents.status().ToString()));
    return *std::move(ents);
  }
  return {};
}

bool RaftLog::HasNextCommittedEnts(bool allow_unstable) const {
  uint64_t off = std::max(applied_ + 1, FirstIndex());
  return MaxAppliableIndex(allow_unstable) + 1 > off;
}

absl::StatusOr<Snapshot> RaftLog::GetSnapshot() const {
  if (unstable_.snapshot().has_value()) return *unstable_.snapshot();
  return storage_->GetSnapshot();
}

uint64_t RaftLog::FirstIndex() const {
  if (auto i = unstable_.MaybeFirstIndex()) return *i;
  return MustValue(storage_->FirstIndex(), "storage FirstIndex");
}

uint64_t RaftLog::LastIndex() const {
  if (auto i = unstable_.MaybeLastIndex()) return *i;
  return MustValue(storage_->LastIndex(), "storage LastIndex");
}

uint64_t RaftLog::LastTerm() const {
  absl::StatusOr<uint64_t> t = Term(LastIndex());
  RAFT_CHECK(t.ok(),
             absl::StrCat("unexpected error when getting the last term: ", t.status().ToString()));
  return *t;
}

absl::StatusOr<uint64_t> RaftLog::Term(uint64_t i) const {
  // The valid term range is [index of the dummy entry, last index].
  uint64_t dummy = FirstIndex() - 1;
  if (i < dummy || i > LastIndex()) return uint64_t{0};
  if (auto t = unstable_.MaybeTerm(i)) return *t;
  absl::StatusOr<uint64_t> t = storage_->Term(i);
  if (t.ok()) return t;
  if (IsRaftError(t.status(), RaftError::kCompacted) ||
      IsRaftError(t.status(), RaftError::kUnavailable)) {
    return t.status();
  }
  RaftFatal(absl::StrCat("storage Term: ", t.status().ToString()));
}

uint64_t RaftLog::ZeroTermOnError(uint64_t i) const {
  absl::StatusOr<uint64_t> t = Term(i);
  return t.ok() ? *t : 0;
}

absl::StatusOr<std::vector<Entry>> RaftLog::EntriesFrom(uint64_t i, uint64_t max_size) const {
  if (i > LastIndex()) return std::vector<Entry>{};
  return Slice(i, LastIndex() + 1, max_size);
}

std::vector<Entry> RaftLog::AllEntries() const {
  absl::StatusOr<std::vector<Entry>> ents = EntriesFrom(FirstIndex(), kNoLimit);
  if (ents.ok()) return *std::move(ents);
  if (IsRaftError(ents.status(), RaftError::kCompacted)) return AllEntries();
  RaftFatal(ents.status().ToString());
}

bool RaftLog::IsUpToDate(uint64_t lasti, uint64_t term) const {
  return term > LastTerm() || (term == LastTerm() && lasti >= LastIndex());
}

bool RaftLog::MatchTerm(uint64_t i, uint64_t term) const {
  absl::StatusOr<uint64_t> t = Term(i);
  return t.ok() && *t == term;
}

bool RaftLog::MaybeCommit(uint64_t max_index, uint64_t term) {
  if (max_index > committed_ && ZeroTermOnError(max_index) == term) {
    CommitTo(max_index);
    return true;
  }
  return false;
}

void RaftLog::CommitTo(uint64_t tocommit) {
  if (committed_ < tocommit) {
    RAFT_CHECK(LastIndex() >= tocommit,
               absl::StrCat("tocommit(", tocommit, ") is out of range [lastIndex(", LastIndex(),
                            ")]. Was the raft log corrupted, truncated, or lost?"));
    committed_ = tocommit;
  }
}

void RaftLog::AppliedTo(uint64_t i) {
  if (i == 0) return;
  RAFT_CHECK(committed_ >= i && i >= applied_,
             absl::StrCat("applied(", i, ") is out of range [prevApplied(", applied_,
                          "), committed(", committed_, ")]"));
  applied_ = i;
}

void RaftLog::Restore(const Snapshot& s) {
  committed_ = s.metadata().index();
  unstable_.Restore(s);
}

absl::Status RaftLog::CheckOutOfBounds(uint64_t lo, uint64_t hi) const {
  RAFT_CHECK(lo <= hi, absl::StrCat("invalid slice ", lo, " > ", hi));
  uint64_t fi = FirstIndex();
  if (lo < fi) return MakeRaftError(RaftError::kCompacted);
  uint64_t length = LastIndex() + 1 - fi;
  RAFT_CHECK(hi <= fi + length,
             absl::StrCat("slice[", lo, ",", hi, ") out of bound [", fi, ",", LastIndex(), "]"));
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Entry>> RaftLog::Slice(uint64_t lo, uint64_t hi,
                                                  uint64_t max_size) const {
  absl::Status s = CheckOutOfBounds(lo, hi);
  if (!s.ok()) return s;
  std::vector<Entry> ents;
  if (lo == hi) return ents;
  if (lo < unstable_.offset()) {
    uint64_t shi = std::min(hi, unstable_.offset());
    absl::StatusOr<std::vector<Entry>> stored = storage_->Entries(lo, shi, max_size);
    if (!stored.ok()) {
      if (IsRaftError(stored.status(), RaftError::kCompacted)) return stored.status();
      RaftFatal(absl::StrCat("entries[", lo, ":", shi,
                             ") is unavailable from storage: ", stored.status().ToString()));
    }
    ents = *std::move(stored);
    // The storage stopped early because of max_size: so do we.
    if (ents.size() < shi - lo) return ents;
  }
  if (hi > unstable_.offset()) {
    std::vector<Entry> u = unstable_.Slice(std::max(lo, unstable_.offset()), hi);
    ents.insert(ents.end(), std::make_move_iterator(u.begin()), std::make_move_iterator(u.end()));
  }
  LimitSize(&ents, max_size);
  return ents;
}

}  // namespace rutile::raft
