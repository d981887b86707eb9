#include "checkers/models.h"

#include <map>

#include "absl/strings/str_cat.h"

namespace rutile::checkers {
namespace {

std::string Show(const std::optional<int64_t>& v) { return v ? absl::StrCat(*v) : "nil"; }

std::string Show(const std::optional<std::string>& v) {
  return v ? absl::StrCat("'", *v, "'") : "nil";
}

}  // namespace

bool RegisterModel::Step(const std::optional<int64_t>& state, const RegisterInput& input,
                         const RegisterOutput* output, std::optional<int64_t>* next) const {
  switch (input.kind) {
    case RegisterInput::Kind::kRead:
      *next = state;
      return output == nullptr || output->value == state;
    case RegisterInput::Kind::kWrite:
      *next = input.value;
      return true;
    case RegisterInput::Kind::kCas: {
      bool swaps = state.has_value() && *state == input.expected;
      *next = swaps ? std::optional<int64_t>(input.value) : state;
      return output == nullptr || output->ok == swaps;
    }
  }
  return false;
}

std::string RegisterModel::DescribeOperation(const RegisterInput& input,
                                             const RegisterOutput* output) const {
  switch (input.kind) {
    case RegisterInput::Kind::kRead:
      return absl::StrCat("read() -> ", output ? Show(output->value) : "unknown");
    case RegisterInput::Kind::kWrite:
      return absl::StrCat("write(", input.value, ")", output ? "" : " -> unknown");
    case RegisterInput::Kind::kCas:
      return absl::StrCat("cas(", input.expected, ", ", input.value, ") -> ",
                          output ? (output->ok ? "ok" : "fail") : "unknown");
  }
  return "?";
}

std::string RegisterModel::DescribeState(const std::optional<int64_t>& state) const {
  return Show(state);
}

bool KvModel::Step(const std::optional<std::string>& state, const KvInput& input,
                   const KvOutput* output, std::optional<std::string>* next) const {
  auto same = [this](const std::optional<std::string>& a, const std::optional<std::string>& b) {
    if (absent_reads_empty_) return a.value_or("") == b.value_or("");
    return a == b;
  };
  switch (input.kind) {
    case KvInput::Kind::kGet:
      *next = state;
      return output == nullptr || same(output->value, state);
    case KvInput::Kind::kPut:
      *next = input.value;
      return true;
    case KvInput::Kind::kAppend:
      *next = state.value_or("") + input.value;
      return true;
    case KvInput::Kind::kCas: {
      bool swaps = same(state, input.expected);
      *next = swaps ? std::optional<std::string>(input.value) : state;
      return output == nullptr || output->ok == swaps;
    }
  }
  return false;
}

std::vector<std::vector<size_t>> KvModel::Partition(absl::Span<const KvOp> history) const {
  std::map<std::string, std::vector<size_t>> by_key;
  for (size_t i = 0; i < history.size(); ++i) by_key[history[i].input.key].push_back(i);
  std::vector<std::vector<size_t>> out;
  out.reserve(by_key.size());
  for (auto& [key, ops] : by_key) out.push_back(std::move(ops));
  return out;
}

std::string KvModel::DescribeOperation(const KvInput& input, const KvOutput* output) const {
  switch (input.kind) {
    case KvInput::Kind::kGet:
      return absl::StrCat("get('", input.key, "') -> ", output ? Show(output->value) : "unknown");
    case KvInput::Kind::kPut:
      return absl::StrCat("put('", input.key, "', '", input.value, "')");
    case KvInput::Kind::kAppend:
      return absl::StrCat("append('", input.key, "', '", input.value, "')");
    case KvInput::Kind::kCas:
      return absl::StrCat("cas('", input.key, "', ", Show(input.expected), ", '", input.value,
                          "') -> ", output ? (output->ok ? "ok" : "fail") : "unknown");
  }
  return "?";
}

std::string KvModel::DescribeState(const std::optional<std::string>& state) const {
  return Show(state);
}

}  // namespace rutile::checkers
