// Key layout, Lock/Write encodings and the TxnError payload: round trips, ordering, and
// strict decoding (every corruption is DataLoss / nullopt, never a crash).

#include "txn/types.h"

#include <random>

#include "gtest/gtest.h"
#include "txn/errors.h"

namespace rutile::txn {
namespace {

TEST(KeyTest, VersionsSortNewestFirstAndBeforeNextUserKey) {
  const std::string a = EncodeKey("a");
  const std::string ab = EncodeKey(std::string_view("a\x00", 2));
  EXPECT_LT(AppendTs(a, 10), AppendTs(a, 5));
  EXPECT_LT(AppendTs(a, kMaxTs), AppendTs(a, 0));
  EXPECT_LT(AppendTs(a, 0), ab);
  EXPECT_LT(AppendTs(a, 0), NextUserKeySeek(a));
  EXPECT_LT(NextUserKeySeek(a), AppendTs(ab, kMaxTs));
  EXPECT_EQ(*DecodeTs(AppendTs(a, 1234)), 1234u);
  EXPECT_EQ(*TruncateTs(AppendTs(a, 1234)), a);
  EXPECT_TRUE(IsUserKeyEq(AppendTs(a, 7), a));
  EXPECT_FALSE(IsUserKeyEq(AppendTs(ab, 7), a));
  EXPECT_EQ(*DecodeKey(a), "a");
  EXPECT_EQ(DecodeKey(a + "x").status().code(), absl::StatusCode::kDataLoss);
  EXPECT_FALSE(DecodeTs("short").ok());
}

TEST(KeyTest, TimestampLayout) {
  EXPECT_EQ(PhysicalMs(ComposeTs(123, 45)), 123u);
  EXPECT_EQ(ComposeTs(1, 0), 1u << 18);
}

Lock FullLock() {
  Lock l;
  l.type = LockType::kPut;
  l.primary = "pk";
  l.start_ts = 100;
  l.ttl = 3000;
  l.short_value = "value";
  l.for_update_ts = 101;
  l.txn_size = 7;
  l.min_commit_ts = 102;
  l.use_async_commit = true;
  l.secondaries = {"s1", "s2", ""};
  l.rollback_ts = {103, 104};
  return l;
}

Write FullWrite() {
  Write w;
  w.type = WriteType::kPut;
  w.start_ts = 99;
  w.short_value = "v";
  w.has_overlapped_rollback = true;
  w.gc_fence = 0;
  return w;
}

// A record as a scan meets it most: a Put carrying a row as its short value.
Write ShortValueWrite() {
  Write w;
  w.type = WriteType::kPut;
  w.start_ts = 1'000'000'007;
  w.short_value = std::string("\x80\x00\x03\x00\x00\x00\x01\x02\x03row", 12);
  return w;
}

TEST(LockTest, RoundTrips) {
  std::vector<Lock> locks = {Lock{}, FullLock()};
  Lock p;
  p.type = LockType::kPessimistic;
  p.primary = "x";
  p.start_ts = 1;
  p.for_update_ts = 2;
  locks.push_back(p);
  Lock empty_value;
  empty_value.type = LockType::kPut;
  empty_value.short_value = "";
  locks.push_back(empty_value);
  Lock async_no_secondaries;
  async_no_secondaries.use_async_commit = true;
  locks.push_back(async_no_secondaries);
  for (const Lock& l : locks) {
    auto d = Lock::Decode(l.Encode());
    ASSERT_TRUE(d.ok()) << d.status();
    EXPECT_EQ(*d, l) << l.DebugString();
    EXPECT_EQ(d->Encode(), l.Encode());
  }
}

TEST(WriteTest, RoundTrips) {
  std::vector<Write> writes = {Write{}, FullWrite(), Write::Rollback(5, true),
                               Write::Rollback(5, false)};
  for (const Write& w : writes) {
    auto d = Write::Decode(w.Encode());
    ASSERT_TRUE(d.ok()) << d.status();
    EXPECT_EQ(*d, w) << w.DebugString();
  }
  EXPECT_TRUE(Write::Rollback(5, true).is_protected_rollback());
  EXPECT_FALSE(Write::Rollback(5, false).is_protected_rollback());
}

TEST(LockTest, StrictDecoding) {
  const std::string good = FullLock().Encode();
  // A strict prefix is either rejected or ends at a field boundary, and then it is the
  // canonical encoding of a smaller lock; it never decodes to the full lock.
  int rejected = 0;
  for (size_t n = 0; n < good.size(); ++n) {
    auto d = Lock::Decode(good.substr(0, n));
    if (!d.ok()) {
      EXPECT_EQ(d.status().code(), absl::StatusCode::kDataLoss) << n;
      ++rejected;
      continue;
    }
    EXPECT_EQ(d->Encode(), good.substr(0, n));
    EXPECT_NE(*d, FullLock());
  }
  EXPECT_GT(rejected, static_cast<int>(good.size()) / 2);
  EXPECT_FALSE(Lock::Decode(good + "x").ok());            // Trailing garbage.
  EXPECT_FALSE(Lock::Decode("X" + good.substr(1)).ok());  // Bad type.
  Lock l;
  std::string e = l.Encode();
  EXPECT_FALSE(Lock::Decode(e + "f" + std::string(1, '\0')).ok());  // Zero for_update_ts.
  EXPECT_FALSE(Lock::Decode(e + "t\x01" + "c\x01").ok());           // Out of order.
  EXPECT_FALSE(Lock::Decode(e + "c\x01" + "c\x02").ok());           // Repeated.
  EXPECT_FALSE(Lock::Decode(e + "z").ok());                         // Unknown tag.
  EXPECT_FALSE(Lock::Decode(e + "a\xff\xff\xff\xff\x0f").ok());     // Huge count.
}

TEST(WriteTest, StrictDecoding) {
  const std::string good = FullWrite().Encode();
  for (size_t n = 0; n < good.size(); ++n) {
    auto d = Write::Decode(good.substr(0, n));
    if (d.ok()) {
      EXPECT_EQ(d->Encode(), good.substr(0, n));
      EXPECT_NE(*d, FullWrite());
    }
  }
  EXPECT_FALSE(Write::Decode("").ok());
  EXPECT_FALSE(Write::Decode("P").ok());
  EXPECT_FALSE(Write::Decode(good + "R").ok());
  EXPECT_FALSE(Write::Decode("Q\x05").ok());
  EXPECT_FALSE(Write::Decode(std::string("P\x05") + "RR").ok());
  EXPECT_FALSE(Write::Decode(std::string("P\x80\x00")).ok());  // Non-minimal varint.
}

// WriteRef::Decode reads a record holding only a short value under 128 bytes on a fast
// path: every such record (and its neighbours that take the general loop) decodes as
// before, and malformed ones stay rejected.
TEST(WriteTest, ShortValueFastPathMatchesGeneralDecoding) {
  for (size_t len : {0, 1, 2, 100, 126, 127, 128, 129, 300}) {
    for (WriteType type : {WriteType::kPut, WriteType::kDelete, WriteType::kLock}) {
      for (int extra = 0; extra < 3; ++extra) {
        Write w;
        w.type = type;
        w.start_ts = 1'000'000'007;
        w.short_value = std::string(len, static_cast<char>('a' + len % 26));
        if (extra == 1) w.gc_fence = 42;
        if (extra == 2) w.has_overlapped_rollback = true;
        const std::string enc = w.Encode();
        auto d = Write::Decode(enc);
        ASSERT_TRUE(d.ok()) << d.status() << " len " << len;
        EXPECT_EQ(*d, w) << w.DebugString();
        auto r = WriteRef::Decode(enc);
        ASSERT_TRUE(r.ok()) << r.status();
        EXPECT_TRUE(r->has_short_value);
        EXPECT_EQ(r->short_value, *w.short_value);
        EXPECT_EQ(r->start_ts, w.start_ts);
        EXPECT_EQ(r->type, type);
        EXPECT_TRUE(r->gc_fence == w.gc_fence);
        EXPECT_EQ(r->has_overlapped_rollback, w.has_overlapped_rollback);
        // Short by a byte (the length says more than there is) or a byte too long.
        EXPECT_FALSE(WriteRef::Decode(enc.substr(0, enc.size() - 1)).ok()) << len;
        EXPECT_FALSE(WriteRef::Decode(enc + "x").ok()) << len;
      }
    }
  }
  // A length byte of 0x80 starts a two-byte varint: not a one-byte length.
  EXPECT_FALSE(WriteRef::Decode(std::string("P\x05v\x80") + std::string(128, 'x')).ok());
  auto two = WriteRef::Decode(std::string("P\x05v\x80\x01") + std::string(128, 'x'));
  ASSERT_TRUE(two.ok()) << two.status();
  EXPECT_EQ(two->short_value.size(), 128u);
}

// Random bytes and random mutations of valid encodings never crash a decoder, and
// whatever they accept re-encodes to the same bytes.
TEST(DecoderFuzzTest, NeverCrashesAndAcceptsOnlyCanonical) {
  std::mt19937_64 rng(42);
  const std::vector<std::string> seeds = {
      FullLock().Encode(), FullWrite().Encode(), ShortValueWrite().Encode(),
      EncodeTxnError(KeyIsLocked{{LockInfo::From(FullLock(), "key")}})};
  for (int i = 0; i < 20000; ++i) {
    std::string s = seeds[i % seeds.size()];
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int j = 0; j < edits; ++j) {
      const size_t pos = s.empty() ? 0 : rng() % s.size();
      switch (rng() % 3) {
        case 0:
          if (!s.empty()) s[pos] = static_cast<char>(rng());
          break;
        case 1:
          s.insert(s.begin() + pos, static_cast<char>(rng()));
          break;
        case 2:
          if (!s.empty()) s.erase(pos, 1);
          break;
      }
    }
    if (auto l = Lock::Decode(s); l.ok()) {
      EXPECT_EQ(l->Encode(), s);
    }
    if (auto w = Write::Decode(s); w.ok()) {
      EXPECT_EQ(w->Encode(), s);
    }
    if (auto e = DecodeTxnError(s)) {
      EXPECT_EQ(EncodeTxnError(*e), s);
    }
  }
}

TEST(TxnErrorTest, PayloadRoundTripsAndCodes) {
  std::vector<std::pair<TxnError, absl::StatusCode>> cases = {
      {KeyIsLocked{{LockInfo::From(FullLock(), "k1"), LockInfo::From(Lock{}, "k2")}},
       absl::StatusCode::kFailedPrecondition},
      {WriteConflict{1, 2, 3, "k", "pk"}, absl::StatusCode::kAborted},
      {TxnLockNotFound{1, 2, "k"}, absl::StatusCode::kAborted},
      {AlreadyExist{"k"}, absl::StatusCode::kAlreadyExists},
      {Committed{1, 2, "k"}, absl::StatusCode::kFailedPrecondition},
      {PessimisticLockNotFound{1, "k"}, absl::StatusCode::kAborted},
      {PessimisticLockRolledBack{1, "k"}, absl::StatusCode::kAborted},
      {CommitTsExpired{1, 2, "k", 3}, absl::StatusCode::kFailedPrecondition},
      {TxnNotFound{1, "k"}, absl::StatusCode::kNotFound},
      {LockTypeNotMatch{1, "k", true}, absl::StatusCode::kInvalidArgument},
  };
  for (const auto& [err, code] : cases) {
    absl::Status s = MakeTxnError(err);
    EXPECT_EQ(s.code(), code) << s;
    std::optional<TxnError> back = GetTxnError(s);
    ASSERT_TRUE(back.has_value()) << s;
    EXPECT_EQ(*back, err) << s;
  }
  EXPECT_FALSE(GetTxnError(absl::OkStatus()).has_value());
  EXPECT_FALSE(GetTxnError(absl::AbortedError("plain")).has_value());
  EXPECT_FALSE(DecodeTxnError("").has_value());
  EXPECT_FALSE(DecodeTxnError(std::string(1, '\x0a')).has_value());
  EXPECT_FALSE(DecodeTxnError(std::string(1, '\0')).has_value());  // KeyIsLocked, no locks.
}

}  // namespace
}  // namespace rutile::txn
