#include "checkers/jepsen_logs.h"

#include <fstream>
#include <sstream>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "checkers/edn.h"

namespace rutile::checkers {

absl::StatusOr<std::string> ReadFileToString(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

absl::StatusOr<std::vector<RegisterOp>> ParseEtcdLog(absl::string_view text) {
  std::vector<RegisterOp> ops;
  absl::flat_hash_map<int64_t, size_t> pending;  // process -> index in ops
  int64_t line_no = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_no;
    std::vector<absl::string_view> f =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (f.size() < 6 || f[0] != "INFO" || f[1] != "jepsen.util" || f[2] != "-") continue;
    int64_t process;
    if (!absl::SimpleAtoi(f[3], &process)) continue;
    absl::string_view type = f[4], fn = f[5];
    auto bad = [&] {
      return absl::InvalidArgumentError(absl::StrCat("line ", line_no, ": ", line));
    };
    if (type == ":invoke") {
      RegisterOp op;
      op.client_id = process;
      op.call = line_no;
      if (fn == ":read") {
        op.input = RegisterInput::Read();
      } else if (fn == ":write" && f.size() == 7) {
        int64_t v;
        if (!absl::SimpleAtoi(f[6], &v)) return bad();
        op.input = RegisterInput::Write(v);
      } else if (fn == ":cas" && f.size() == 8) {
        int64_t from, to;
        if (!absl::SimpleAtoi(absl::StripPrefix(f[6], "["), &from) ||
            !absl::SimpleAtoi(absl::StripSuffix(f[7], "]"), &to)) {
          return bad();
        }
        op.input = RegisterInput::Cas(from, to);
      } else {
        return bad();
      }
      // A process that invokes again leaves its previous operation pending forever.
      pending[process] = ops.size();
      ops.push_back(op);
      continue;
    }
    if (type != ":ok" && type != ":fail") continue;  // :info: outcome unknown.
    auto it = pending.find(process);
    if (it == pending.end()) return bad();
    RegisterOp& op = ops[it->second];
    pending.erase(it);
    op.ret = line_no;
    if (type == ":fail" && op.input.kind != RegisterInput::Kind::kCas) {
      op.output.reset();  // E.g. `:fail :read :timed-out`.
    } else if (op.input.kind == RegisterInput::Kind::kRead) {
      if (f.size() != 7) return bad();
      std::optional<int64_t> v;
      if (f[6] != "nil") {
        int64_t x;
        if (!absl::SimpleAtoi(f[6], &x)) return bad();
        v = x;
      }
      op.output = RegisterOutput::ReadResult(v);
    } else if (op.input.kind == RegisterInput::Kind::kCas) {
      op.output = RegisterOutput::CasResult(type == ":ok");
    } else {
      op.output = RegisterOutput::Done();
    }
  }
  return ops;
}

absl::StatusOr<std::vector<KvOp>> ParseKvLog(absl::string_view text) {
  absl::StatusOr<std::vector<EdnValue>> values = ParseEdnAll(text);
  if (!values.ok()) return values.status();
  std::vector<KvOp> ops;
  absl::flat_hash_map<int64_t, size_t> pending;
  int64_t t = 0;
  for (const EdnValue& v : *values) {
    ++t;
    const EdnValue* process = v.Find("process");
    const EdnValue* type = v.Find("type");
    const EdnValue* f = v.Find("f");
    const EdnValue* key = v.Find("key");
    const EdnValue* value = v.Find("value");
    if (process == nullptr || !process->IsInt() || type == nullptr || f == nullptr ||
        key == nullptr || value == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("bad kv op: ", v.ToString()));
    }
    if (type->IsKeyword("invoke")) {
      KvOp op;
      op.client_id = process->int_value;
      op.call = t;
      op.input.key = key->text;
      if (f->IsKeyword("get")) {
        op.input.kind = KvInput::Kind::kGet;
      } else if (f->IsKeyword("put")) {
        op.input.kind = KvInput::Kind::kPut;
        op.input.value = value->text;
      } else if (f->IsKeyword("append")) {
        op.input.kind = KvInput::Kind::kAppend;
        op.input.value = value->text;
      } else {
        return absl::InvalidArgumentError(absl::StrCat("bad kv :f: ", v.ToString()));
      }
      pending[process->int_value] = ops.size();
      ops.push_back(std::move(op));
      continue;
    }
    auto it = pending.find(process->int_value);
    if (it == pending.end()) {
      return absl::InvalidArgumentError(absl::StrCat("completion without invoke: ", v.ToString()));
    }
    KvOp& op = ops[it->second];
    pending.erase(it);
    if (type->IsKeyword("info")) continue;  // Unknown outcome: stays pending.
    op.ret = t;
    if (type->IsKeyword("fail")) {
      // Did not happen: an operation that returns at once with no effect is
      // the same as one that never ran; model it as a no-op get.
      op.input.kind = KvInput::Kind::kGet;
      op.output.reset();
      continue;
    }
    KvOutput out;
    if (op.input.kind == KvInput::Kind::kGet && value->kind == EdnValue::Kind::kString) {
      out.value = value->text;
    }
    op.output = std::move(out);
  }
  return ops;
}

}  // namespace rutile::checkers
