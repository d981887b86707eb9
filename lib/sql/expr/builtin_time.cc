// Date and time functions. NOW() and friends read EvalContext::now, which the session
// sets once per statement.

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "sql/expr/builtins.h"
#include "sql/types/convert.h"

namespace rutile::sql::expr {
namespace {

inline int64_t IntArg(const Datum& d) {
  if (d.kind() == DatumKind::kUint64) {
    uint64_t u = d.GetUint64();
    return u > static_cast<uint64_t>(INT64_MAX) ? INT64_MAX : static_cast<int64_t>(u);
  }
  return d.GetInt64();
}

int ConstFsp(const std::vector<ExprPtr>& args) {
  if (args.empty() || !args[0]->IsConstant()) return 0;
  const Datum& v = static_cast<const Constant&>(*args[0]).value();
  EvalContext tmp;
  absl::StatusOr<Datum> iv = ToInt(&tmp, v, args[0]->type(), false);
  if (!iv.ok() || iv->IsNull()) return 0;
  return static_cast<int>(std::clamp<int64_t>(iv->GetInt64(), 0, kMaxFsp));
}

absl::StatusOr<Datum> NowRow(const ScalarFunction& fn, EvalContext* ctx,
                             std::span<const Datum> args) {
  absl::StatusOr<Time> t = ctx->now.RoundFrac(fn.type().decimal);
  if (!t.ok()) return Datum();
  t->type = TimeType::kDatetime;
  return Datum::FromTime(*t);
}

absl::StatusOr<ExprPtr> NowBuilder(const std::string& name, std::vector<ExprPtr> args) {
  int fsp = ConstFsp(args);
  if (!args.empty() && !args[0]->IsConstant()) {
    return MySqlErrorStatus(kErWrongArguments, "Incorrect arguments to " + name);
  }
  FuncImpl impl;
  impl.row = NowRow;
  impl.null_propagating = false;
  FieldType rt = FieldType::Datetime(fsp);
  rt.flag |= kNotNullFlag;
  return ExprPtr(std::make_unique<ScalarFunction>(name, std::move(args), rt, impl));
}

absl::StatusOr<Datum> CurDateRow(const ScalarFunction& fn, EvalContext* ctx,
                                 std::span<const Datum> args) {
  return Datum::FromTime(Time::FromDate(ctx->now.year, ctx->now.month, ctx->now.day));
}

absl::StatusOr<ExprPtr> CurDateBuilder(const std::string& name, std::vector<ExprPtr> args) {
  FuncImpl impl;
  impl.row = CurDateRow;
  FieldType rt = FieldType::Date();
  rt.flag |= kNotNullFlag;
  return ExprPtr(std::make_unique<ScalarFunction>(name, std::move(args), rt, impl));
}

absl::StatusOr<Datum> CurTimeRow(const ScalarFunction& fn, EvalContext* ctx,
                                 std::span<const Datum> args) {
  const Time& n = ctx->now;
  Duration d;
  d.micros = ((n.hour * 60LL + n.minute) * 60 + n.second) * 1000000 + n.micro;
  d.fsp = 6;
  absl::StatusOr<Duration> r = d.RoundFrac(fn.type().decimal);
  if (!r.ok()) return Datum();
  return Datum::FromDuration(*r);
}

absl::StatusOr<ExprPtr> CurTimeBuilder(const std::string& name, std::vector<ExprPtr> args) {
  int fsp = ConstFsp(args);
  FuncImpl impl;
  impl.row = CurTimeRow;
  impl.null_propagating = false;
  FieldType rt = FieldType::Duration(fsp);
  rt.flag |= kNotNullFlag;
  return ExprPtr(std::make_unique<ScalarFunction>(name, std::move(args), rt, impl));
}

// ---- DATE_ADD / DATE_SUB ----

bool DateOnlyUnit(std::string_view unit) {
  return unit == "YEAR" || unit == "QUARTER" || unit == "MONTH" || unit == "WEEK" ||
         unit == "DAY" || unit == "YEAR_MONTH";
}

bool MicroUnit(std::string_view unit) { return unit.find("MICROSECOND") != std::string_view::npos; }

template <bool kSub>
absl::StatusOr<Datum> DateAddRow(const ScalarFunction& fn, EvalContext* ctx,
                                 std::span<const Datum> args) {
  const std::string& unit = fn.aux().str_param;
  Time t;
  bool input_date_only = false;
  if (args[0].kind() == DatumKind::kTime) {
    t = args[0].GetTime();
    input_date_only = t.type == TimeType::kDate;
  } else {
    const std::string& s = args[0].GetString();
    absl::StatusOr<Time> p = ParseTime(s, TimeType::kDatetime, -1);
    if (!p.ok()) {
      absl::Status st = ctx->HandleTruncate(kErTruncatedWrongValue,
                                            absl::StrCat("Incorrect datetime value: '", s, "'"));
      if (!st.ok()) return st;
      return Datum();
    }
    t = *p;
    input_date_only = s.find(':') == std::string::npos && p->hour == 0 && p->minute == 0 &&
                      p->second == 0 && p->micro == 0;
  }
  absl::StatusOr<Interval> iv = ParseInterval(args[1].GetString(), unit);
  if (!iv.ok()) return Datum();
  if (kSub) {
    iv->months = -iv->months;
    iv->micros = -iv->micros;
  }
  absl::StatusOr<Time> r = AddInterval(t, *iv);
  if (!r.ok()) {
    ctx->AppendWarning(1441, "Datetime function: datetime field overflow");
    return Datum();
  }
  const FieldType& rt = fn.type();
  if (rt.tp == TypeCode::kDate) {
    Time d = Time::FromDate(r->year, r->month, r->day);
    return Datum::FromTime(d);
  }
  if (rt.GetEvalType() == EvalType::kDatetime) {
    Time d = *r;
    d.type = TimeType::kDatetime;
    d.fsp = static_cast<int8_t>(std::max(rt.decimal, 0));
    return Datum::FromTime(d);
  }
  // String result.
  Time d = *r;
  if (input_date_only && DateOnlyUnit(unit)) {
    d.type = TimeType::kDate;
  } else {
    d.type = TimeType::kDatetime;
    d.fsp = d.micro != 0 ? 6 : 0;
  }
  return Datum::String(d.ToString());
}

template <bool kSub>
absl::StatusOr<ExprPtr> DateAddBuilder(const std::string& name, std::vector<ExprPtr> args) {
  if (!args[2]->IsConstant()) {
    return MySqlErrorStatus(kErWrongArguments, "Incorrect arguments to " + name);
  }
  FuncAux aux;
  const Datum& unit = static_cast<const Constant&>(*args[2]).value();
  aux.str_param = absl::AsciiStrToUpper(unit.ToString());
  {
    absl::StatusOr<Interval> probe = ParseInterval("1", aux.str_param);
    if (!probe.ok() && probe.status().message().find("unit") != std::string_view::npos) {
      return MySqlErrorStatus(kErWrongArguments, "Incorrect arguments to " + name);
    }
  }
  const FieldType at = args[0]->type();
  EvalType et = at.GetEvalType();
  FieldType rt;
  if (et == EvalType::kDatetime) {
    if (at.tp == TypeCode::kDate && DateOnlyUnit(aux.str_param)) {
      rt = FieldType::Date();
    } else {
      rt = FieldType::Datetime(MicroUnit(aux.str_param) ? 6 : std::max(at.decimal, 0));
    }
  } else if (et == EvalType::kString) {
    rt = FieldType::Varchar(29, kDefaultCollation);
  } else {
    rt = FieldType::Datetime(MicroUnit(aux.str_param) ? 6 : 0);
    args[0] = WrapCast(std::move(args[0]), EvalType::kDatetime);
  }
  args[1] = WrapCast(std::move(args[1]), EvalType::kString);
  FuncImpl impl;
  impl.row = DateAddRow<kSub>;
  return ExprPtr(std::make_unique<ScalarFunction>(name, std::move(args), rt, impl, aux));
}

// ---- Extraction ----

enum Part {
  kYear,
  kMonth,
  kDay,
  kQuarter,
  kDayOfWeek,
  kWeekday,
  kDayOfYear,
  kToDays,
  kHour,
  kMinute,
  kSecond,
  kMicrosecond,
};

template <int kPart>
absl::StatusOr<Datum> PartRow(const ScalarFunction& fn, EvalContext* ctx,
                              std::span<const Datum> args) {
  const Datum& a = args[0];
  if (a.kind() == DatumKind::kDuration) {
    int64_t m = a.GetDuration().micros;
    if (m < 0) m = -m;
    int64_t secs = m / 1000000;
    switch (kPart) {
      case kHour:
        return Datum::Int(secs / 3600);
      case kMinute:
        return Datum::Int(secs / 60 % 60);
      case kSecond:
        return Datum::Int(secs % 60);
      default:
        return Datum::Int(m % 1000000);
    }
  }
  const Time& t = a.GetTime();
  int64_t daynr = DayNumber(t.year, t.month, t.day);
  switch (kPart) {
    case kYear:
      return Datum::Int(t.year);
    case kMonth:
      return Datum::Int(t.month);
    case kDay:
      return Datum::Int(t.day);
    case kQuarter:
      return Datum::Int((t.month + 2) / 3);
    case kDayOfWeek:
      if (daynr <= 0) return Datum();
      return Datum::Int((Weekday(daynr) + 1) % 7 + 1);
    case kWeekday:
      if (daynr <= 0) return Datum();
      return Datum::Int(Weekday(daynr));
    case kDayOfYear:
      if (t.month == 0) return Datum();
      return Datum::Int(daynr - DayNumber(t.year, 1, 1) + 1);
    case kToDays:
      if (t.IsZero()) return Datum();
      return Datum::Int(daynr);
    case kHour:
      return Datum::Int(t.hour);
    case kMinute:
      return Datum::Int(t.minute);
    case kSecond:
      return Datum::Int(t.second);
    default:
      return Datum::Int(t.micro);
  }
}

template <int kPart>
absl::StatusOr<ExprPtr> PartBuilder(const std::string& name, std::vector<ExprPtr> args) {
  bool time_part = kPart >= kHour;
  EvalType et = args[0]->type().GetEvalType();
  if (time_part && et != EvalType::kDatetime) {
    args[0] = WrapCast(std::move(args[0]), EvalType::kDuration);
  } else {
    args[0] = WrapCast(std::move(args[0]), EvalType::kDatetime);
  }
  FuncImpl impl;
  impl.row = PartRow<kPart>;
  return ExprPtr(
      std::make_unique<ScalarFunction>(name, std::move(args), FieldType::LongLong(), impl));
}

absl::StatusOr<Datum> DateDiffRow(const ScalarFunction& fn, EvalContext* ctx,
                                  std::span<const Datum> args) {
  const Time& a = args[0].GetTime();
  const Time& b = args[1].GetTime();
  if (a.IsZero() || b.IsZero()) return Datum();
  return Datum::Int(DayNumber(a.year, a.month, a.day) - DayNumber(b.year, b.month, b.day));
}

absl::StatusOr<ExprPtr> DateDiffBuilder(const std::string& name, std::vector<ExprPtr> args) {
  for (ExprPtr& a : args) a = WrapCast(std::move(a), EvalType::kDatetime);
  FuncImpl impl;
  impl.row = DateDiffRow;
  return ExprPtr(
      std::make_unique<ScalarFunction>(name, std::move(args), FieldType::LongLong(), impl));
}

absl::StatusOr<Datum> DateRow(const ScalarFunction& fn, EvalContext* ctx,
                              std::span<const Datum> args) {
  const Time& t = args[0].GetTime();
  return Datum::FromTime(Time::FromDate(t.year, t.month, t.day));
}

absl::StatusOr<ExprPtr> DateBuilder(const std::string& name, std::vector<ExprPtr> args) {
  args[0] = WrapCast(std::move(args[0]), EvalType::kDatetime);
  FuncImpl impl;
  impl.row = DateRow;
  return ExprPtr(std::make_unique<ScalarFunction>(name, std::move(args), FieldType::Date(), impl));
}

absl::StatusOr<Datum> DateFormatRow(const ScalarFunction& fn, EvalContext* ctx,
                                    std::span<const Datum> args) {
  return Datum::String(FormatTime(args[0].GetTime(), args[1].GetString()));
}

absl::StatusOr<ExprPtr> DateFormatBuilder(const std::string& name, std::vector<ExprPtr> args) {
  args[0] = WrapCast(std::move(args[0]), EvalType::kDatetime);
  args[1] = WrapCast(std::move(args[1]), EvalType::kString);
  FuncImpl impl;
  impl.row = DateFormatRow;
  return ExprPtr(std::make_unique<ScalarFunction>(
      name, std::move(args), FieldType::Varchar(kUnspecifiedLength, kDefaultCollation), impl));
}

template <bool kMonth>
absl::StatusOr<Datum> NameRow(const ScalarFunction& fn, EvalContext* ctx,
                              std::span<const Datum> args) {
  const Time& t = args[0].GetTime();
  std::string s = FormatTime(t, kMonth ? "%M" : "%W");
  if (s.empty()) return Datum();
  return Datum::String(std::move(s));
}

template <bool kMonth>
absl::StatusOr<ExprPtr> NameBuilder(const std::string& name, std::vector<ExprPtr> args) {
  args[0] = WrapCast(std::move(args[0]), EvalType::kDatetime);
  FuncImpl impl;
  impl.row = NameRow<kMonth>;
  return ExprPtr(std::make_unique<ScalarFunction>(name, std::move(args),
                                                  FieldType::Varchar(9, kDefaultCollation), impl));
}

}  // namespace

void RegisterTime(FunctionTable* t) {
  for (const char* n : {"now", "current_timestamp", "localtime", "localtimestamp", "sysdate"}) {
    (*t)[n] = {0, 1, NowBuilder};
  }
  (*t)["curdate"] = {0, 0, CurDateBuilder};
  (*t)["current_date"] = {0, 0, CurDateBuilder};
  (*t)["curtime"] = {0, 1, CurTimeBuilder};
  (*t)["current_time"] = {0, 1, CurTimeBuilder};
  (*t)["date_add"] = {3, 3, DateAddBuilder<false>};
  (*t)["adddate"] = {3, 3, DateAddBuilder<false>};
  (*t)["date_sub"] = {3, 3, DateAddBuilder<true>};
  (*t)["subdate"] = {3, 3, DateAddBuilder<true>};
  (*t)["datediff"] = {2, 2, DateDiffBuilder};
  (*t)["year"] = {1, 1, PartBuilder<kYear>};
  (*t)["month"] = {1, 1, PartBuilder<kMonth>};
  (*t)["day"] = {1, 1, PartBuilder<kDay>};
  (*t)["dayofmonth"] = {1, 1, PartBuilder<kDay>};
  (*t)["quarter"] = {1, 1, PartBuilder<kQuarter>};
  (*t)["dayofweek"] = {1, 1, PartBuilder<kDayOfWeek>};
  (*t)["weekday"] = {1, 1, PartBuilder<kWeekday>};
  (*t)["dayofyear"] = {1, 1, PartBuilder<kDayOfYear>};
  (*t)["to_days"] = {1, 1, PartBuilder<kToDays>};
  (*t)["hour"] = {1, 1, PartBuilder<kHour>};
  (*t)["minute"] = {1, 1, PartBuilder<kMinute>};
  (*t)["second"] = {1, 1, PartBuilder<kSecond>};
  (*t)["microsecond"] = {1, 1, PartBuilder<kMicrosecond>};
  (*t)["date"] = {1, 1, DateBuilder};
  (*t)["date_format"] = {2, 2, DateFormatBuilder};
  (*t)["monthname"] = {1, 1, NameBuilder<true>};
  (*t)["dayname"] = {1, 1, NameBuilder<false>};
}

}  // namespace rutile::sql::expr
