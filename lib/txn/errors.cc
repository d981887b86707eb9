#include "txn/errors.h"

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "util/coding.h"

namespace rutile::txn {

namespace {

// Field writers and strict readers for the payload encoding: a variant index byte, then
// the fields of that alternative in declaration order (strings length-prefixed, integers
// varints, bools one byte 0/1).
class Out {
 public:
  Out& U(uint64_t v) {
    PutVarint64(&s_, v);
    return *this;
  }
  Out& S(std::string_view v) {
    PutLengthPrefixed(&s_, v);
    return *this;
  }
  Out& B(bool v) {
    s_.push_back(v ? 1 : 0);
    return *this;
  }
  std::string& str() { return s_; }

 private:
  std::string s_;
};

class In {
 public:
  explicit In(std::string_view s) : s_(s) {}
  In& U(uint64_t* v) {
    ok_ = ok_ && GetVarint64(&s_, v);
    return *this;
  }
  In& S(std::string* v) {
    std::string_view sv;
    ok_ = ok_ && GetLengthPrefixed(&s_, &sv);
    if (ok_) v->assign(sv.data(), sv.size());
    return *this;
  }
  In& B(bool* v) {
    ok_ = ok_ && !s_.empty() && (s_[0] == 0 || s_[0] == 1);
    if (ok_) {
      *v = s_[0] == 1;
      s_.remove_prefix(1);
    }
    return *this;
  }
  bool ok() const { return ok_; }
  bool done() const { return ok_ && s_.empty(); }
  size_t left() const { return s_.size(); }
  void Fail() { ok_ = false; }

 private:
  std::string_view s_;
  bool ok_ = true;
};

void PutLockInfo(Out* o, const LockInfo& l) {
  o->S(l.key).S(l.primary).U(l.lock_version).U(l.lock_ttl).U(l.txn_size);
  o->U(static_cast<uint64_t>(l.lock_type)).U(l.lock_for_update_ts).B(l.use_async_commit);
  o->U(l.min_commit_ts).U(l.secondaries.size());
  for (const std::string& s : l.secondaries) o->S(s);
}

bool GetLockInfo(In* in, LockInfo* l) {
  uint64_t type = 0, n = 0;
  in->S(&l->key).S(&l->primary).U(&l->lock_version).U(&l->lock_ttl).U(&l->txn_size);
  in->U(&type).U(&l->lock_for_update_ts).B(&l->use_async_commit).U(&l->min_commit_ts).U(&n);
  if (!in->ok() || type > static_cast<uint64_t>(LockType::kPessimistic) || n > in->left()) {
    return false;
  }
  l->lock_type = static_cast<LockType>(type);
  l->secondaries.resize(n);
  for (auto& s : l->secondaries) in->S(&s);
  return in->ok();
}

absl::StatusCode CodeOf(const TxnError& e) {
  switch (e.index()) {
    case 0:  // KeyIsLocked
    case 4:  // Committed
    case 7:  // CommitTsExpired
      return absl::StatusCode::kFailedPrecondition;
    case 1:  // WriteConflict
    case 2:  // TxnLockNotFound
    case 5:  // PessimisticLockNotFound
    case 6:  // PessimisticLockRolledBack
      return absl::StatusCode::kAborted;
    case 3:
      return absl::StatusCode::kAlreadyExists;
    case 8:
      return absl::StatusCode::kNotFound;
    default:
      return absl::StatusCode::kInvalidArgument;
  }
}

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

}  // namespace

std::string EncodeTxnError(const TxnError& error) {
  Out o;
  o.str().push_back(static_cast<char>(error.index()));
  std::visit(Overloaded{
                 [&](const KeyIsLocked& e) {
                   o.U(e.locks.size());
                   for (const LockInfo& l : e.locks) PutLockInfo(&o, l);
                 },
                 [&](const WriteConflict& e) {
                   o.U(e.start_ts).U(e.conflict_start_ts).U(e.conflict_commit_ts);
                   o.S(e.key).S(e.primary);
                 },
                 [&](const TxnLockNotFound& e) { o.U(e.start_ts).U(e.commit_ts).S(e.key); },
                 [&](const AlreadyExist& e) { o.S(e.key); },
                 [&](const Committed& e) { o.U(e.start_ts).U(e.commit_ts).S(e.key); },
                 [&](const PessimisticLockNotFound& e) { o.U(e.start_ts).S(e.key); },
                 [&](const PessimisticLockRolledBack& e) { o.U(e.start_ts).S(e.key); },
                 [&](const CommitTsExpired& e) {
                   o.U(e.start_ts).U(e.commit_ts).S(e.key).U(e.min_commit_ts);
                 },
                 [&](const TxnNotFound& e) { o.U(e.start_ts).S(e.key); },
                 [&](const LockTypeNotMatch& e) { o.U(e.start_ts).S(e.key).B(e.pessimistic); },
             },
             error);
  return std::move(o.str());
}

std::optional<TxnError> DecodeTxnError(std::string_view data) {
  if (data.empty()) return std::nullopt;
  const unsigned char index = static_cast<unsigned char>(data[0]);
  In in(data.substr(1));
  TxnError out;
  switch (index) {
    case 0: {
      KeyIsLocked e;
      uint64_t n = 0;
      in.U(&n);
      if (!in.ok() || n == 0 || n > in.left()) return std::nullopt;
      e.locks.resize(n);
      for (auto& l : e.locks) {
        if (!GetLockInfo(&in, &l)) return std::nullopt;
      }
      out = std::move(e);
      break;
    }
    case 1: {
      WriteConflict e;
      in.U(&e.start_ts).U(&e.conflict_start_ts).U(&e.conflict_commit_ts).S(&e.key).S(&e.primary);
      out = std::move(e);
      break;
    }
    case 2: {
      TxnLockNotFound e;
      in.U(&e.start_ts).U(&e.commit_ts).S(&e.key);
      out = std::move(e);
      break;
    }
    case 3: {
      AlreadyExist e;
      in.S(&e.key);
      out = std::move(e);
      break;
    }
    case 4: {
      Committed e;
      in.U(&e.start_ts).U(&e.commit_ts).S(&e.key);
      out = std::move(e);
      break;
    }
    case 5: {
      PessimisticLockNotFound e;
      in.U(&e.start_ts).S(&e.key);
      out = std::move(e);
      break;
    }
    case 6: {
      PessimisticLockRolledBack e;
      in.U(&e.start_ts).S(&e.key);
      out = std::move(e);
      break;
    }
    case 7: {
      CommitTsExpired e;
      in.U(&e.start_ts).U(&e.commit_ts).S(&e.key).U(&e.min_commit_ts);
      out = std::move(e);
      break;
    }
    case 8: {
      TxnNotFound e;
      in.U(&e.start_ts).S(&e.key);
      out = std::move(e);
      break;
    }
    case 9: {
      LockTypeNotMatch e;
      in.U(&e.start_ts).S(&e.key).B(&e.pessimistic);
      out = std::move(e);
      break;
    }
    default:
      return std::nullopt;
  }
  if (!in.done()) return std::nullopt;
  return out;
}

std::string TxnErrorString(const TxnError& error) {
  return std::visit(
      Overloaded{
          [](const KeyIsLocked& e) {
            std::string s = "KeyIsLocked";
            for (const LockInfo& l : e.locks) {
              absl::StrAppend(&s, " {key=", EscapeKey(l.key), " primary=", EscapeKey(l.primary),
                              " start_ts=", l.lock_version, " ttl=", l.lock_ttl,
                              " type=", LockTypeName(l.lock_type));
              if (l.min_commit_ts) absl::StrAppend(&s, " min_commit_ts=", l.min_commit_ts);
              if (l.lock_for_update_ts) {
                absl::StrAppend(&s, " for_update_ts=", l.lock_for_update_ts);
              }
              if (l.use_async_commit) absl::StrAppend(&s, " async");
              absl::StrAppend(&s, "}");
            }
            return s;
          },
          [](const WriteConflict& e) {
            return absl::StrCat("WriteConflict start_ts=", e.start_ts,
                                " conflict_start_ts=", e.conflict_start_ts,
                                " conflict_commit_ts=", e.conflict_commit_ts,
                                " key=", EscapeKey(e.key), " primary=", EscapeKey(e.primary));
          },
          [](const TxnLockNotFound& e) {
            return absl::StrCat("TxnLockNotFound start_ts=", e.start_ts, " commit_ts=", e.commit_ts,
                                " key=", EscapeKey(e.key));
          },
          [](const AlreadyExist& e) { return absl::StrCat("AlreadyExist key=", EscapeKey(e.key)); },
          [](const Committed& e) {
            return absl::StrCat("Committed start_ts=", e.start_ts, " commit_ts=", e.commit_ts,
                                " key=", EscapeKey(e.key));
          },
          [](const PessimisticLockNotFound& e) {
            return absl::StrCat("PessimisticLockNotFound start_ts=", e.start_ts,
                                " key=", EscapeKey(e.key));
          },
          [](const PessimisticLockRolledBack& e) {
            return absl::StrCat("PessimisticLockRolledBack start_ts=", e.start_ts,
                                " key=", EscapeKey(e.key));
          },
          [](const CommitTsExpired& e) {
            return absl::StrCat("CommitTsExpired start_ts=", e.start_ts, " commit_ts=", e.commit_ts,
                                " key=", EscapeKey(e.key), " min_commit_ts=", e.min_commit_ts);
          },
          [](const TxnNotFound& e) {
            return absl::StrCat("TxnNotFound start_ts=", e.start_ts, " key=", EscapeKey(e.key));
          },
          [](const LockTypeNotMatch& e) {
            return absl::StrCat("LockTypeNotMatch start_ts=", e.start_ts, " key=", EscapeKey(e.key),
                                " pessimistic=", e.pessimistic);
          },
      },
      error);
}

absl::Status MakeTxnError(TxnError error) {
  absl::Status s(CodeOf(error), TxnErrorString(error));
  s.SetPayload(kTxnErrorPayloadUrl, absl::Cord(EncodeTxnError(error)));
  return s;
}

std::optional<TxnError> GetTxnError(const absl::Status& status) {
  if (status.ok()) return std::nullopt;
  auto payload = status.GetPayload(kTxnErrorPayloadUrl);
  if (!payload.has_value()) return std::nullopt;
  return DecodeTxnError(std::string(*payload));
}

absl::Status UndeterminedError(std::string_view message) {
  absl::Status s = absl::DeadlineExceededError(absl::string_view(message.data(), message.size()));
  s.SetPayload(kUndeterminedPayloadUrl, absl::Cord());
  return s;
}

bool IsUndetermined(const absl::Status& status) {
  return absl::IsDeadlineExceeded(status) && status.GetPayload(kUndeterminedPayloadUrl).has_value();
}

}  // namespace rutile::txn
