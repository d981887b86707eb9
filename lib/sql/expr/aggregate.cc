#include "sql/expr/aggregate.h"

#include <algorithm>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "sql/codec/codec.h"
#include "sql/types/compare.h"
#include "sql/types/convert.h"
#include "sql/types/infer.h"

namespace rutile::sql::expr {
namespace {

absl::Status DecimalOverflow(std::string_view fn) {
  return MySqlErrorStatus(kErDataOutOfRange,
                          absl::StrCat("DECIMAL value is out of range in '", std::string(fn), "'"));
}

Collation CollationOf(const FieldType& ft) {
  return ft.GetEvalType() == EvalType::kString ? ft.collation : Collation::kBinary;
}

// Where GROUP_CONCAT's result `s` (longer than max_len) is cut: at max_len bytes, moved back
// to the start of the UTF-8 character it falls in unless the result is binary (MySQL cuts
// at a character boundary: well_formed_len).
size_t CutLength(std::string_view s, size_t max_len, const FieldType& result) {
  size_t n = std::min(max_len, s.size());
  if (result.collation == Collation::kBinary) return n;
  while (n > 0 && n < s.size() && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return n;
}

// Estimated heap bytes of buffered datums (payloads included).
int64_t DatumBytes(std::span<const Datum> ds) {
  int64_t n = 0;
  for (const Datum& d : ds) {
    n += static_cast<int64_t>(sizeof(Datum));
    if (d.kind() == DatumKind::kString) n += static_cast<int64_t>(d.GetString().size());
  }
  return n;
}

class CountState : public AggState {
 public:
  using AggState::AggState;
  absl::Status Update(EvalContext* ctx, std::span<const Datum> args) override {
    for (const Datum& a : args) {
      if (a.IsNull()) return absl::OkStatus();
    }
    ++count_;
    return absl::OkStatus();
  }
  absl::Status Merge(EvalContext* ctx, std::span<const Datum> partial) override {
    if (partial.size() != 1 || partial[0].kind() != DatumKind::kInt64) {
      return absl::InvalidArgumentError("bad COUNT partial result");
    }
    count_ += partial[0].GetInt64();
    return absl::OkStatus();
  }
  std::vector<Datum> PartialResult() const override { return {Datum::Int(count_)}; }
  absl::StatusOr<Datum> FinalResult(EvalContext* ctx) const override { return Datum::Int(count_); }
  void Reset() override { count_ = 0; }

 private:
  int64_t count_ = 0;
};

// Running sum shared by SUM and AVG: decimal or double.
struct Sum {
  bool is_decimal = true;
  bool has = false;
  Decimal dec;
  double real = 0;

  absl::Status AddValue(EvalContext* ctx, const Datum& v, const FieldType& type) {
    if (v.IsNull()) return absl::OkStatus();
    if (is_decimal) {
      absl::StatusOr<Datum> d = ToDecimal(ctx, v, type);
      if (!d.ok()) return d.status();
      return AddDecimal(d->GetDecimal());
    }
    absl::StatusOr<Datum> d = ToReal(ctx, v, type);
    if (!d.ok()) return d.status();
    real += d->GetDouble();
    has = true;
    return absl::OkStatus();
  }

  absl::Status AddDecimal(const Decimal& d) {
    if (!has) {
      dec = d;
      has = true;
      return absl::OkStatus();
    }
    Decimal r;
    if (Decimal::Add(dec, d, &r) == DecimalStatus::kOverflow) return DecimalOverflow("sum");
    dec = r;
    return absl::OkStatus();
  }

  absl::Status MergePartial(const Datum& p) {
    if (p.IsNull()) return absl::OkStatus();
    if (is_decimal) {
      if (p.kind() != DatumKind::kDecimal) return absl::InvalidArgumentError("bad SUM partial");
      return AddDecimal(p.GetDecimal());
    }
    if (p.kind() != DatumKind::kFloat64) return absl::InvalidArgumentError("bad SUM partial");
    real += p.GetDouble();
    has = true;
    return absl::OkStatus();
  }

  Datum Value() const {
    if (!has) return Datum();
    return is_decimal ? Datum::Dec(dec) : Datum::Double(real);
  }
};

class SumState : public AggState {
 public:
  explicit SumState(const AggDesc& d) : AggState(d) {
    sum_.is_decimal = d.result_type.GetEvalType() == EvalType::kDecimal;
  }
  absl::Status Update(EvalContext* ctx, std::span<const Datum> args) override {
    return sum_.AddValue(ctx, args[0], desc_.arg_types[0]);
  }
  absl::Status Merge(EvalContext* ctx, std::span<const Datum> partial) override {
    if (partial.size() != 1) return absl::InvalidArgumentError("bad SUM partial result");
    return sum_.MergePartial(partial[0]);
  }
  std::vector<Datum> PartialResult() const override { return {sum_.Value()}; }
  absl::StatusOr<Datum> FinalResult(EvalContext* ctx) const override {
    Datum v = sum_.Value();
    if (v.kind() == DatumKind::kDecimal && desc_.result_type.decimal >= 0 &&
        v.GetDecimal().scale() != desc_.result_type.decimal) {
      Decimal r;
      if (v.GetDecimal().Rescale(desc_.result_type.decimal, &r) == DecimalStatus::kOverflow) {
        return DecimalOverflow("sum");
      }
      return Datum::Dec(r);
    }
    return v;
  }
  void Reset() override {
    bool is_decimal = sum_.is_decimal;
    sum_ = Sum();
    sum_.is_decimal = is_decimal;
  }

 private:
  Sum sum_;
};

class AvgState : public AggState {
 public:
  explicit AvgState(const AggDesc& d) : AggState(d) {
    sum_.is_decimal = d.result_type.GetEvalType() == EvalType::kDecimal;
  }
  absl::Status Update(EvalContext* ctx, std::span<const Datum> args) override {
    if (args[0].IsNull()) return absl::OkStatus();
    ++count_;
    return sum_.AddValue(ctx, args[0], desc_.arg_types[0]);
  }
  absl::Status Merge(EvalContext* ctx, std::span<const Datum> partial) override {
    if (partial.size() != 2 || partial[0].kind() != DatumKind::kInt64) {
      return absl::InvalidArgumentError("bad AVG partial result");
    }
    count_ += partial[0].GetInt64();
    return sum_.MergePartial(partial[1]);
  }
  std::vector<Datum> PartialResult() const override { return {Datum::Int(count_), sum_.Value()}; }
  absl::StatusOr<Datum> FinalResult(EvalContext* ctx) const override {
    if (count_ == 0 || !sum_.has) return Datum();
    if (!sum_.is_decimal) return Datum::Double(sum_.real / static_cast<double>(count_));
    Decimal q;
    if (Decimal::Div(sum_.dec, Decimal::FromInt64(count_), &q, kDivPrecisionIncrement) ==
        DecimalStatus::kOverflow) {
      return DecimalOverflow("avg");
    }
    if (desc_.result_type.decimal >= 0 && q.scale() != desc_.result_type.decimal) {
      Decimal r;
      if (q.Rescale(desc_.result_type.decimal, &r) != DecimalStatus::kOverflow) q = r;
    }
    return Datum::Dec(q);
  }
  void Reset() override {
    count_ = 0;
    bool is_decimal = sum_.is_decimal;
    sum_ = Sum();
    sum_.is_decimal = is_decimal;
  }

 private:
  int64_t count_ = 0;
  Sum sum_;
};

class MinMaxState : public AggState {
 public:
  MinMaxState(const AggDesc& d, bool is_max)
      : AggState(d), is_max_(is_max), collation_(CollationOf(d.arg_types[0])) {}
  absl::Status Update(EvalContext* ctx, std::span<const Datum> args) override {
    Offer(args[0]);
    return absl::OkStatus();
  }
  absl::Status Merge(EvalContext* ctx, std::span<const Datum> partial) override {
    if (partial.size() != 1) return absl::InvalidArgumentError("bad MIN/MAX partial result");
    Offer(partial[0]);
    return absl::OkStatus();
  }
  std::vector<Datum> PartialResult() const override { return {best_}; }
  absl::StatusOr<Datum> FinalResult(EvalContext* ctx) const override { return best_; }
  void Reset() override { best_ = Datum(); }

 private:
  void Offer(const Datum& v) {
    if (v.IsNull()) return;
    if (best_.IsNull()) {
      best_ = v;
      return;
    }
    int c = CompareDatum(v, best_, collation_);
    if (is_max_ ? c > 0 : c < 0) best_ = v;
  }

  bool is_max_;
  Collation collation_;
  Datum best_;
};

class GroupConcatState : public AggState {
 public:
  using AggState::AggState;
  absl::Status Update(EvalContext* ctx, std::span<const Datum> args) override {
    std::string piece;
    for (size_t i = 0; i < args.size(); ++i) {
      if (args[i].IsNull()) return absl::OkStatus();
      piece += ToStringValue(args[i], desc_.arg_types[i]);
    }
    Append(ctx, piece);
    return absl::OkStatus();
  }
  absl::Status Merge(EvalContext* ctx, std::span<const Datum> partial) override {
    if (partial.size() != 1) return absl::InvalidArgumentError("bad GROUP_CONCAT partial result");
    if (partial[0].IsNull()) return absl::OkStatus();
    if (partial[0].kind() != DatumKind::kString) {
      return absl::InvalidArgumentError("bad GROUP_CONCAT partial result");
    }
    Append(ctx, partial[0].GetString());
    return absl::OkStatus();
  }
  std::vector<Datum> PartialResult() const override {
    return {has_ ? Datum::String(acc_) : Datum()};
  }
  absl::StatusOr<Datum> FinalResult(EvalContext* ctx) const override {
    return has_ ? Datum::String(acc_) : Datum();
  }
  void Reset() override {
    mem_delta_ -= static_cast<int64_t>(acc_.size());
    acc_.clear();
    has_ = false;
    cut_ = false;
    rows_ = 0;
  }

 private:
  void Append(EvalContext* ctx, std::string_view piece) {
    ++rows_;
    if (cut_) return;
    const size_t before = acc_.size();
    if (has_) acc_ += desc_.separator;
    acc_.append(piece);
    has_ = true;
    if (acc_.size() > desc_.max_len) {
      acc_.resize(CutLength(acc_, desc_.max_len, desc_.result_type));
      cut_ = true;
      ctx->AppendWarning(1260, absl::StrCat("Row ", rows_, " was cut by GROUP_CONCAT()"));
    }
    mem_delta_ += static_cast<int64_t>(acc_.size()) - static_cast<int64_t>(before);
  }

  std::string acc_;
  bool has_ = false;
  bool cut_ = false;
  int64_t rows_ = 0;
};

// GROUP_CONCAT ... ORDER BY: buffers each row's sort keys and concatenated piece and
// sorts them (stably) when the result is asked for. Only the rows that can still reach
// the result are kept (TiDB's topNRows): a max-heap on the concatenation order drops its
// last row while the rows before it already pass group_concat_max_len, and a piece is
// kept to max_len + 1 bytes (enough to see the cut). The kept rows are then always the
// first ones of the group in that order, so the result and the cut row's number are those
// of sorting every row. Its partial result carries the kept rows with their keys, so a
// final merge re-sorts whatever partial states it folds in.
class OrderedGroupConcatState : public AggState {
 public:
  explicit OrderedGroupConcatState(const AggDesc& d) : AggState(d), values_(ValueArgs(d)) {
    for (size_t i = values_; i < d.arg_types.size(); ++i) {
      collations_.push_back(CollationOf(d.arg_types[i]));
    }
  }
  absl::Status Update(EvalContext* ctx, std::span<const Datum> args) override {
    Row row;
    for (size_t i = 0; i < values_; ++i) {
      if (args[i].IsNull()) return absl::OkStatus();
      row.piece += ToStringValue(args[i], desc_.arg_types[i]);
    }
    row.keys.assign(args.begin() + static_cast<ptrdiff_t>(values_), args.end());
    Insert(std::move(row));
    return absl::OkStatus();
  }
  absl::Status Merge(EvalContext* ctx, std::span<const Datum> partial) override {
    if (partial.size() != 1) return absl::InvalidArgumentError("bad GROUP_CONCAT partial result");
    if (partial[0].IsNull()) return absl::OkStatus();
    if (partial[0].kind() != DatumKind::kString) {
      return absl::InvalidArgumentError("bad GROUP_CONCAT partial result");
    }
    std::string_view in = partial[0].GetString();
    const FieldType piece_type = FieldType::VarBinary(kUnspecifiedLength);
    while (!in.empty()) {
      Row row;
      for (size_t i = values_; i < desc_.arg_types.size(); ++i) {
        absl::StatusOr<Datum> d = codec::DecodeKeyDatumAs(&in, desc_.arg_types[i]);
        if (!d.ok()) return d.status();
        row.keys.push_back(std::move(*d));
      }
      absl::StatusOr<Datum> piece = codec::DecodeKeyDatumAs(&in, piece_type);
      if (!piece.ok()) return piece.status();
      if (piece->kind() != DatumKind::kString) {
        return absl::InvalidArgumentError("bad GROUP_CONCAT partial result");
      }
      row.piece = std::string(piece->GetString());
      Insert(std::move(row));
    }
    return absl::OkStatus();
  }
  std::vector<Datum> PartialResult() const override {
    if (rows_.empty()) return {Datum()};
    std::string out;
    std::vector<Datum> tuple;
    for (size_t i : Sorted()) {
      tuple = rows_[i].keys;
      tuple.push_back(Datum::String(rows_[i].piece));
      codec::EncodeKey(&out, tuple);
    }
    return {Datum::String(std::move(out))};
  }
  absl::StatusOr<Datum> FinalResult(EvalContext* ctx) const override {
    if (rows_.empty()) return Datum();
    std::string acc;
    int64_t n = 0;
    for (size_t i : Sorted()) {
      ++n;
      if (n > 1) acc += desc_.separator;
      acc += rows_[i].piece;
      if (acc.size() > desc_.max_len) {
        acc.resize(CutLength(acc, desc_.max_len, desc_.result_type));
        ctx->AppendWarning(1260, absl::StrCat("Row ", n, " was cut by GROUP_CONCAT()"));
        break;
      }
    }
    return Datum::String(std::move(acc));
  }
  void Reset() override {
    for (const Row& r : rows_) mem_delta_ -= Bytes(r);
    rows_.clear();
    joined_ = 0;
    seq_ = 0;
  }

 private:
  struct Row {
    std::vector<Datum> keys;
    std::string piece;
    uint64_t seq = 0;  // Arrival order: ties on the keys keep it.
  };

  // Whether `a` comes before `b` in the concatenation.
  bool Before(const Row& a, const Row& b) const {
    for (size_t k = 0; k < collations_.size(); ++k) {
      int c = CompareDatum(a.keys[k], b.keys[k], collations_[k]);
      if (c != 0) return desc_.order_desc[k] ? c > 0 : c < 0;
    }
    return a.seq < b.seq;
  }

  static int64_t Bytes(const Row& r) {
    return static_cast<int64_t>(sizeof(Row) + r.piece.size()) + DatumBytes(r.keys);
  }

  // The kept rows' indexes in concatenation order.
  std::vector<size_t> Sorted() const {
    std::vector<size_t> order(rows_.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(),
              [&](size_t a, size_t b) { return Before(rows_[a], rows_[b]); });
    return order;
  }

  void Insert(Row row) {
    if (row.piece.size() > desc_.max_len + 1) row.piece.resize(desc_.max_len + 1);
    row.seq = seq_++;
    if (!rows_.empty()) joined_ += desc_.separator.size();
    joined_ += row.piece.size();
    mem_delta_ += Bytes(row);
    rows_.push_back(std::move(row));
    auto before = [&](const Row& a, const Row& b) { return Before(a, b); };
    std::push_heap(rows_.begin(), rows_.end(), before);
    // The last row in order (the heap's top) cannot reach the result once the rows before
    // it are longer than max_len joined: the cut falls before it.
    while (rows_.size() >= 2 &&
           joined_ - rows_.front().piece.size() - desc_.separator.size() > desc_.max_len) {
      joined_ -= rows_.front().piece.size() + desc_.separator.size();
      std::pop_heap(rows_.begin(), rows_.end(), before);
      mem_delta_ -= Bytes(rows_.back());
      rows_.pop_back();
    }
  }

  size_t values_;
  std::vector<Collation> collations_;
  std::vector<Row> rows_;  // A max-heap on Before: the last row in order first.
  size_t joined_ = 0;      // Bytes of the kept pieces joined by separators.
  uint64_t seq_ = 0;
};

std::unique_ptr<AggState> NewPlainState(const AggDesc& d) {
  switch (d.kind) {
    case AggKind::kCount:
      return std::make_unique<CountState>(d);
    case AggKind::kSum:
      return std::make_unique<SumState>(d);
    case AggKind::kAvg:
      return std::make_unique<AvgState>(d);
    case AggKind::kMin:
      return std::make_unique<MinMaxState>(d, false);
    case AggKind::kMax:
      return std::make_unique<MinMaxState>(d, true);
    case AggKind::kGroupConcat:
      if (!d.order_desc.empty()) return std::make_unique<OrderedGroupConcatState>(d);
      return std::make_unique<GroupConcatState>(d);
  }
  return nullptr;
}

// DISTINCT: the set of distinct argument tuples (by their collation-aware key
// encoding); the inner aggregate runs over them when the result is asked for. GROUP_CONCAT's
// sort keys do not count (MySQL compares the values only): a value keeps the keys of its
// first row.
class DistinctState : public AggState {
 public:
  explicit DistinctState(const AggDesc& d) : AggState(d) {}

  absl::Status Update(EvalContext* ctx, std::span<const Datum> args) override {
    for (size_t i = 0; i < ValueArgs(desc_); ++i) {
      if (args[i].IsNull()) return absl::OkStatus();
    }
    Insert(args);
    return absl::OkStatus();
  }

  absl::Status Merge(EvalContext* ctx, std::span<const Datum> partial) override {
    if (partial.size() != 1 || partial[0].kind() != DatumKind::kString) {
      return absl::InvalidArgumentError("bad DISTINCT partial result");
    }
    std::string_view in = partial[0].GetString();
    std::vector<Datum> tuple(desc_.arg_types.size());
    while (!in.empty()) {
      for (size_t i = 0; i < tuple.size(); ++i) {
        absl::StatusOr<Datum> d = codec::DecodeKeyDatumAs(&in, desc_.arg_types[i]);
        if (!d.ok()) return d.status();
        tuple[i] = std::move(*d);
      }
      Insert(tuple);
    }
    return absl::OkStatus();
  }

  std::vector<Datum> PartialResult() const override {
    std::string out;
    for (const auto& tuple : tuples_) codec::EncodeKey(&out, tuple);
    return {Datum::String(std::move(out))};
  }

  absl::StatusOr<Datum> FinalResult(EvalContext* ctx) const override {
    std::unique_ptr<AggState> inner = NewPlainState(desc_);
    for (const auto& tuple : tuples_) {
      if (absl::Status st = inner->Update(ctx, tuple); !st.ok()) return st;
    }
    return inner->FinalResult(ctx);
  }

  void Reset() override {
    mem_delta_ -= bytes_;
    bytes_ = 0;
    keys_.clear();
    tuples_.clear();
  }

 private:
  void Insert(std::span<const Datum> args) {
    std::string key;
    for (size_t i = 0; i < ValueArgs(desc_); ++i) {
      codec::EncodeKeyDatum(&key, args[i], CollationOf(desc_.arg_types[i]));
    }
    const int64_t key_bytes = static_cast<int64_t>(key.size());
    if (!keys_.insert(std::move(key)).second) return;
    tuples_.emplace_back(args.begin(), args.end());
    // The set node and key, the tuple.
    const int64_t b =
        64 + key_bytes + static_cast<int64_t>(sizeof(std::vector<Datum>)) + DatumBytes(args);
    bytes_ += b;
    mem_delta_ += b;
  }

  int64_t bytes_ = 0;  // Estimated bytes of keys_ and tuples_.

  std::set<std::string> keys_;
  std::vector<std::vector<Datum>> tuples_;
};

}  // namespace

absl::StatusOr<AggDesc> NewAggDesc(std::string_view name, std::vector<FieldType> arg_types,
                                   bool distinct, std::vector<bool> order_desc) {
  std::string n(name);
  absl::AsciiStrToLower(&n);
  AggDesc d;
  d.distinct = distinct;
  size_t min_args = 1, max_args = 1;
  if (n == "count") {
    d.kind = AggKind::kCount;
    min_args = distinct ? 1 : 0;
    max_args = distinct ? 64 : 1;
  } else if (n == "sum") {
    d.kind = AggKind::kSum;
  } else if (n == "avg") {
    d.kind = AggKind::kAvg;
  } else if (n == "min") {
    d.kind = AggKind::kMin;
  } else if (n == "max") {
    d.kind = AggKind::kMax;
  } else if (n == "group_concat") {
    d.kind = AggKind::kGroupConcat;
    max_args = 64;
  } else {
    return MySqlErrorStatus(kErSpDoesNotExist, absl::StrCat("FUNCTION ", n, " does not exist"));
  }
  if (arg_types.size() < min_args || arg_types.size() > max_args) {
    return MySqlErrorStatus(
        kErWrongParamCountToNativeFct,
        absl::StrCat("Incorrect parameter count in the call to native function '", n, "'"));
  }
  if (!order_desc.empty() &&
      (d.kind != AggKind::kGroupConcat || order_desc.size() >= arg_types.size())) {
    return absl::InvalidArgumentError(absl::StrCat("aggregate ", n, " with ", order_desc.size(),
                                                   " sort keys over ", arg_types.size(),
                                                   " arguments"));
  }
  d.order_desc = std::move(order_desc);
  d.arg_types = std::move(arg_types);
  switch (d.kind) {
    case AggKind::kCount:
      d.result_type = InferCount();
      break;
    case AggKind::kSum:
      d.result_type = InferSum(d.arg_types[0]);
      break;
    case AggKind::kAvg:
      d.result_type = InferAvg(d.arg_types[0]);
      break;
    case AggKind::kMin:
    case AggKind::kMax:
      d.result_type = InferMinMax(d.arg_types[0]);
      d.distinct = false;  // DISTINCT does not change MIN/MAX.
      break;
    case AggKind::kGroupConcat:
      d.result_type = InferGroupConcat(d.arg_types[0]);
      break;
  }
  return d;
}

std::vector<FieldType> PartialTypes(const AggDesc& d) {
  if (d.distinct) return {FieldType::VarBinary(kUnspecifiedLength)};
  switch (d.kind) {
    case AggKind::kCount:
      return {InferCount()};
    case AggKind::kSum:
      return {d.result_type};
    case AggKind::kAvg: {
      FieldType sum = d.result_type.GetEvalType() == EvalType::kDecimal ? InferSum(d.arg_types[0])
                                                                        : FieldType::Double();
      return {InferCount(), sum};
    }
    case AggKind::kMin:
    case AggKind::kMax:
      return {d.result_type};
    case AggKind::kGroupConcat:
      if (!d.order_desc.empty()) return {FieldType::VarBinary(kUnspecifiedLength)};
      return {d.result_type};
  }
  return {};
}

absl::Status AggState::UpdateColumns(EvalContext* ctx, std::span<const Column> args, size_t n) {
  std::vector<Datum> row(args.size());
  for (size_t k = 0; k < n; ++k) {
    for (size_t i = 0; i < args.size(); ++i) row[i] = args[i].GetDatum(k, desc_.arg_types[i]);
    if (absl::Status st = Update(ctx, row); !st.ok()) return st;
  }
  return absl::OkStatus();
}

std::unique_ptr<AggState> NewAggState(const AggDesc& desc) {
  if (desc.distinct) return std::make_unique<DistinctState>(desc);
  return NewPlainState(desc);
}

}  // namespace rutile::sql::expr
