// String functions. Positions and lengths count characters (bytes for binary strings).

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "sql/expr/builtins.h"
#include "sql/types/collation.h"
#include "sql/types/infer.h"

namespace rutile::sql::expr {
namespace {

inline int64_t IntArg(const Datum& d) {
  if (d.kind() == DatumKind::kUint64) {
    uint64_t u = d.GetUint64();
    return u > static_cast<uint64_t>(INT64_MAX) ? INT64_MAX : static_cast<int64_t>(u);
  }
  return d.GetInt64();
}

inline Collation Coll(const ScalarFunction& fn) { return fn.aux().collation; }

// Substring of `s` of `len` characters starting at character `start` (0-based, clamped).
std::string CharSub(std::string_view s, int64_t start, int64_t len, Collation c) {
  if (start < 0 || len <= 0) return "";
  size_t b = CharOffset(s, static_cast<size_t>(start), c);
  std::string_view rest = s.substr(b);
  size_t e = CharOffset(rest, static_cast<size_t>(std::min<int64_t>(len, INT32_MAX)), c);
  return std::string(rest.substr(0, e));
}

absl::Status TooLarge(EvalContext* ctx, std::string_view fname) {
  ctx->AppendWarning(
      kErWarnAllowedPacketOverflowed,
      absl::StrCat("Result of ", std::string(fname), "() was larger than max_allowed_packet (",
                   ctx->max_allowed_packet, ") - truncated"));
  return absl::OkStatus();
}

absl::StatusOr<Datum> ConcatRow(const ScalarFunction& fn, EvalContext* ctx,
                                std::span<const Datum> args) {
  std::string out;
  for (const Datum& a : args) out += a.GetString();
  if (static_cast<int64_t>(out.size()) > ctx->max_allowed_packet) {
    if (absl::Status st = TooLarge(ctx, "concat"); !st.ok()) return st;
    return Datum();
  }
  return Datum::String(std::move(out));
}

absl::StatusOr<Datum> ConcatWsRow(const ScalarFunction& fn, EvalContext* ctx,
                                  std::span<const Datum> args) {
  if (args[0].IsNull()) return Datum();
  std::string out;
  bool first = true;
  for (size_t i = 1; i < args.size(); ++i) {
    if (args[i].IsNull()) continue;
    if (!first) out += args[0].GetString();
    out += args[i].GetString();
    first = false;
  }
  if (static_cast<int64_t>(out.size()) > ctx->max_allowed_packet) {
    if (absl::Status st = TooLarge(ctx, "concat_ws"); !st.ok()) return st;
    return Datum();
  }
  return Datum::String(std::move(out));
}

absl::StatusOr<Datum> LengthRow(const ScalarFunction& fn, EvalContext* ctx,
                                std::span<const Datum> args) {
  return Datum::Int(static_cast<int64_t>(args[0].GetString().size()));
}

absl::StatusOr<Datum> CharLengthRow(const ScalarFunction& fn, EvalContext* ctx,
                                    std::span<const Datum> args) {
  return Datum::Int(static_cast<int64_t>(CharLength(args[0].GetString(), Coll(fn))));
}

absl::StatusOr<Datum> UpperRow(const ScalarFunction& fn, EvalContext* ctx,
                               std::span<const Datum> args) {
  return Datum::String(ToUpper(args[0].GetString(), Coll(fn)));
}

absl::StatusOr<Datum> LowerRow(const ScalarFunction& fn, EvalContext* ctx,
                               std::span<const Datum> args) {
  return Datum::String(ToLower(args[0].GetString(), Coll(fn)));
}

absl::StatusOr<Datum> SubstringRow(const ScalarFunction& fn, EvalContext* ctx,
                                   std::span<const Datum> args) {
  const std::string& s = args[0].GetString();
  int64_t pos = IntArg(args[1]);
  int64_t len = args.size() > 2 ? IntArg(args[2]) : INT64_MAX;
  int64_t n = static_cast<int64_t>(CharLength(s, Coll(fn)));
  int64_t start;
  if (pos > 0) {
    start = pos - 1;
  } else if (pos < 0) {
    start = n + pos;
    if (start < 0) return Datum::String("");
  } else {
    return Datum::String("");
  }
  if (start >= n) return Datum::String("");
  return Datum::String(CharSub(s, start, len, Coll(fn)));
}

absl::StatusOr<Datum> LeftRow(const ScalarFunction& fn, EvalContext* ctx,
                              std::span<const Datum> args) {
  return Datum::String(CharSub(args[0].GetString(), 0, IntArg(args[1]), Coll(fn)));
}

absl::StatusOr<Datum> RightRow(const ScalarFunction& fn, EvalContext* ctx,
                               std::span<const Datum> args) {
  const std::string& s = args[0].GetString();
  int64_t len = IntArg(args[1]);
  if (len <= 0) return Datum::String("");
  int64_t n = static_cast<int64_t>(CharLength(s, Coll(fn)));
  int64_t start = std::max<int64_t>(0, n - len);
  return Datum::String(CharSub(s, start, len, Coll(fn)));
}

// Direction: 0 both, 1 leading, 2 trailing.
std::string TrimImpl(std::string_view s, std::string_view rem, int dir) {
  if (rem.empty()) return std::string(s);
  if (dir != 2) {
    while (s.size() >= rem.size() && s.substr(0, rem.size()) == rem) s.remove_prefix(rem.size());
  }
  if (dir != 1) {
    while (s.size() >= rem.size() && s.substr(s.size() - rem.size()) == rem) {
      s.remove_suffix(rem.size());
    }
  }
  return std::string(s);
}

absl::StatusOr<Datum> TrimRow(const ScalarFunction& fn, EvalContext* ctx,
                              std::span<const Datum> args) {
  std::string rem = args.size() > 1 ? args[1].GetString() : " ";
  int dir = args.size() > 2 ? static_cast<int>(IntArg(args[2])) : 0;
  if (dir < 0 || dir > 2) dir = 0;
  return Datum::String(TrimImpl(args[0].GetString(), rem, dir));
}

absl::StatusOr<Datum> LTrimRow(const ScalarFunction& fn, EvalContext* ctx,
                               std::span<const Datum> args) {
  return Datum::String(TrimImpl(args[0].GetString(), " ", 1));
}

absl::StatusOr<Datum> RTrimRow(const ScalarFunction& fn, EvalContext* ctx,
                               std::span<const Datum> args) {
  return Datum::String(TrimImpl(args[0].GetString(), " ", 2));
}

absl::StatusOr<Datum> ReplaceRow(const ScalarFunction& fn, EvalContext* ctx,
                                 std::span<const Datum> args) {
  const std::string& s = args[0].GetString();
  const std::string& from = args[1].GetString();
  const std::string& to = args[2].GetString();
  if (from.empty()) return args[0];
  std::string out;
  size_t pos = 0;
  while (true) {
    size_t hit = s.find(from, pos);
    if (hit == std::string::npos) break;
    out.append(s, pos, hit - pos);
    out += to;
    pos = hit + from.size();
    if (static_cast<int64_t>(out.size()) > ctx->max_allowed_packet) {
      if (absl::Status st = TooLarge(ctx, "replace"); !st.ok()) return st;
      return Datum();
    }
  }
  out.append(s, pos, std::string::npos);
  return Datum::String(std::move(out));
}

template <bool kLeft>
absl::StatusOr<Datum> PadRow(const ScalarFunction& fn, EvalContext* ctx,
                             std::span<const Datum> args) {
  const std::string& s = args[0].GetString();
  int64_t len = IntArg(args[1]);
  const std::string& pad = args[2].GetString();
  Collation c = Coll(fn);
  if (len < 0) return Datum();
  int64_t n = static_cast<int64_t>(CharLength(s, c));
  if (len <= n) return Datum::String(CharSub(s, 0, len, c));
  int64_t pad_chars = static_cast<int64_t>(CharLength(pad, c));
  if (pad_chars == 0) return Datum();
  if (len > ctx->max_allowed_packet) {
    if (absl::Status st = TooLarge(ctx, kLeft ? "lpad" : "rpad"); !st.ok()) return st;
    return Datum();
  }
  int64_t need = len - n;
  std::string fill;
  while (need >= pad_chars) {
    fill += pad;
    need -= pad_chars;
  }
  fill += CharSub(pad, 0, need, c);
  return Datum::String(kLeft ? fill + s : s + fill);
}

absl::StatusOr<Datum> ReverseRow(const ScalarFunction& fn, EvalContext* ctx,
                                 std::span<const Datum> args) {
  const std::string& s = args[0].GetString();
  if (Coll(fn) == Collation::kBinary) return Datum::String(std::string(s.rbegin(), s.rend()));
  std::vector<std::string_view> chars;
  size_t i = 0;
  while (i < s.size()) {
    size_t b = i;
    DecodeRune(s, &i);
    chars.push_back(std::string_view(s).substr(b, i - b));
  }
  std::string out;
  out.reserve(s.size());
  for (auto it = chars.rbegin(); it != chars.rend(); ++it) out.append(*it);
  return Datum::String(std::move(out));
}

// 1-based character position of `sub` in `s` at or after character `from` (0-based), 0
// when absent. Case-insensitive under general_ci.
int64_t FindChars(std::string_view s, std::string_view sub, int64_t from, Collation c) {
  auto weights = [c](std::string_view x) {
    std::vector<uint32_t> w;
    size_t i = 0;
    if (c == Collation::kBinary) {
      for (char ch : x) w.push_back(static_cast<unsigned char>(ch));
      return w;
    }
    while (i < x.size()) {
      uint32_t r = DecodeRune(x, &i);
      w.push_back(c == Collation::kUtf8mb4GeneralCi ? FoldRune(r) : r);
    }
    return w;
  };
  std::vector<uint32_t> ws = weights(s), wsub = weights(sub);
  if (from < 0 || from > static_cast<int64_t>(ws.size())) return 0;
  auto it = std::search(ws.begin() + from, ws.end(), wsub.begin(), wsub.end());
  if (it == ws.end() && !wsub.empty()) return 0;
  return static_cast<int64_t>(it - ws.begin()) + 1;
}

absl::StatusOr<Datum> InstrRow(const ScalarFunction& fn, EvalContext* ctx,
                               std::span<const Datum> args) {
  return Datum::Int(FindChars(args[0].GetString(), args[1].GetString(), 0, Coll(fn)));
}

absl::StatusOr<Datum> LocateRow(const ScalarFunction& fn, EvalContext* ctx,
                                std::span<const Datum> args) {
  int64_t from = 0;
  if (args.size() > 2) {
    int64_t pos = IntArg(args[2]);
    if (pos <= 0) return Datum::Int(0);
    from = pos - 1;
  }
  return Datum::Int(FindChars(args[1].GetString(), args[0].GetString(), from, Coll(fn)));
}

absl::StatusOr<Datum> RepeatRow(const ScalarFunction& fn, EvalContext* ctx,
                                std::span<const Datum> args) {
  const std::string& s = args[0].GetString();
  int64_t n = IntArg(args[1]);
  if (n <= 0 || s.empty()) return Datum::String("");
  if (n > ctx->max_allowed_packet / static_cast<int64_t>(s.size())) {
    if (absl::Status st = TooLarge(ctx, "repeat"); !st.ok()) return st;
    return Datum();
  }
  std::string out;
  out.reserve(s.size() * n);
  for (int64_t i = 0; i < n; ++i) out += s;
  return Datum::String(std::move(out));
}

absl::StatusOr<Datum> SpaceRow(const ScalarFunction& fn, EvalContext* ctx,
                               std::span<const Datum> args) {
  int64_t n = IntArg(args[0]);
  if (n <= 0) return Datum::String("");
  if (n > ctx->max_allowed_packet) {
    if (absl::Status st = TooLarge(ctx, "space"); !st.ok()) return st;
    return Datum();
  }
  return Datum::String(std::string(static_cast<size_t>(n), ' '));
}

absl::StatusOr<Datum> AsciiRow(const ScalarFunction& fn, EvalContext* ctx,
                               std::span<const Datum> args) {
  const std::string& s = args[0].GetString();
  return Datum::Int(s.empty() ? 0 : static_cast<unsigned char>(s[0]));
}

// Argument classes: 's' string, 'i' integer.
struct StringFn {
  const char* name;
  int min_args;
  int max_args;
  const char* arg_classes;  // Per argument; the last letter repeats.
  char result;              // 's' string or 'i' integer.
  RowKernel row;
  bool null_propagating;
};

constexpr StringFn kFns[] = {
    {"concat", 1, -1, "s", 's', ConcatRow, true},
    {"concat_ws", 2, -1, "s", 's', ConcatWsRow, false},
    {"length", 1, 1, "s", 'i', LengthRow, true},
    {"octet_length", 1, 1, "s", 'i', LengthRow, true},
    {"char_length", 1, 1, "s", 'i', CharLengthRow, true},
    {"character_length", 1, 1, "s", 'i', CharLengthRow, true},
    {"upper", 1, 1, "s", 's', UpperRow, true},
    {"ucase", 1, 1, "s", 's', UpperRow, true},
    {"lower", 1, 1, "s", 's', LowerRow, true},
    {"lcase", 1, 1, "s", 's', LowerRow, true},
    {"substring", 2, 3, "sii", 's', SubstringRow, true},
    {"substr", 2, 3, "sii", 's', SubstringRow, true},
    {"mid", 3, 3, "sii", 's', SubstringRow, true},
    {"left", 2, 2, "si", 's', LeftRow, true},
    {"right", 2, 2, "si", 's', RightRow, true},
    {"trim", 1, 3, "ssi", 's', TrimRow, true},
    {"ltrim", 1, 1, "s", 's', LTrimRow, true},
    {"rtrim", 1, 1, "s", 's', RTrimRow, true},
    {"replace", 3, 3, "s", 's', ReplaceRow, true},
    {"lpad", 3, 3, "sis", 's', PadRow<true>, true},
    {"rpad", 3, 3, "sis", 's', PadRow<false>, true},
    {"reverse", 1, 1, "s", 's', ReverseRow, true},
    {"instr", 2, 2, "s", 'i', InstrRow, true},
    {"locate", 2, 3, "ssi", 'i', LocateRow, true},
    {"position", 2, 2, "s", 'i', LocateRow, true},
    {"repeat", 2, 2, "si", 's', RepeatRow, true},
    {"space", 1, 1, "i", 's', SpaceRow, true},
    {"ascii", 1, 1, "s", 'i', AsciiRow, true},
};

const StringFn* FindFn(const std::string& name) {
  for (const StringFn& f : kFns) {
    if (name == f.name) return &f;
  }
  return nullptr;
}

absl::StatusOr<ExprPtr> StringBuilder(const std::string& name, std::vector<ExprPtr> args) {
  const StringFn* f = FindFn(name);
  std::string_view classes = f->arg_classes;
  std::vector<FieldType> string_types;
  for (size_t i = 0; i < args.size(); ++i) {
    char cls = classes[std::min(i, classes.size() - 1)];
    if (cls == 's') string_types.push_back(args[i]->type());
  }
  // Result collation: the strings' common collation (numbers convert to the default).
  FuncAux aux;
  aux.collation = kDefaultCollation;
  bool set = false;
  for (const FieldType& t : string_types) {
    if (t.tp == TypeCode::kNull || t.GetEvalType() != EvalType::kString) continue;
    if (!set) {
      aux.collation = t.collation;
      set = true;
    } else if (t.collation == Collation::kBinary || aux.collation == Collation::kBinary) {
      aux.collation = Collation::kBinary;
    } else if (t.collation == Collation::kUtf8mb4Bin) {
      aux.collation = Collation::kUtf8mb4Bin;
    }
  }
  for (size_t i = 0; i < args.size(); ++i) {
    char cls = classes[std::min(i, classes.size() - 1)];
    args[i] = WrapCast(std::move(args[i]), cls == 's' ? EvalType::kString : EvalType::kInt);
  }
  FieldType rt;
  if (f->result == 'i') {
    rt = FieldType::LongLong();
  } else {
    rt = FieldType::Varchar(kUnspecifiedLength, aux.collation);
    int flen = 0;
    for (const FieldType& t : string_types) flen += t.flen > 0 ? t.flen : 0;
    rt.flen = flen > 0 ? std::min(flen, 65535) : kUnspecifiedLength;
    if (name != "concat" && name != "concat_ws") rt.flen = kUnspecifiedLength;
  }
  FuncImpl impl;
  impl.row = f->row;
  impl.null_propagating = f->null_propagating;
  return ExprPtr(std::make_unique<ScalarFunction>(name, std::move(args), rt, impl, aux));
}

}  // namespace

void RegisterString(FunctionTable* t) {
  for (const StringFn& f : kFns) (*t)[f.name] = {f.min_args, f.max_args, StringBuilder};
}

}  // namespace rutile::sql::expr
