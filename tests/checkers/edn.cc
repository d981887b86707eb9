#include "checkers/edn.h"

#include <cctype>
#include <cstdlib>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace rutile::checkers {
namespace {

// Characters that may appear inside a symbol, keyword or number token.
bool IsTokenChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '*' || c == '+' ||
         c == '!' || c == '-' || c == '_' || c == '?' || c == '$' || c == '%' || c == '&' ||
         c == '=' || c == '<' || c == '>' || c == '/' || c == ':' || c == '#' || c == '\'';
}

class Reader {
 public:
  explicit Reader(absl::string_view text) : text_(text) {}

  // Skips whitespace, commas and comments; returns false at end of input.
  bool SkipBlank() {
    while (pos_ < text_.size()) {
      char c = text_[pos_];
      if (c == ';') {
        while (pos_ < text_.size() && text_[pos_] != '\n') ++pos_;
      } else if (c == ',' || std::isspace(static_cast<unsigned char>(c))) {
        ++pos_;
      } else {
        return true;
      }
    }
    return false;
  }

  absl::StatusOr<EdnValue> ReadValue(int depth) {
    if (depth > 256) return Error("nesting too deep");
    if (!SkipBlank()) return Error("unexpected end of input");
    char c = text_[pos_];
    switch (c) {
      case '(':
        return ReadCollection(EdnValue::Kind::kList, ')', depth);
      case '[':
        return ReadCollection(EdnValue::Kind::kVector, ']', depth);
      case '{':
        return ReadCollection(EdnValue::Kind::kMap, '}', depth);
      case '"':
        return ReadString();
      case ')':
      case ']':
      case '}':
        return Error(absl::StrCat("unexpected '", std::string(1, c), "'"));
      case '#':
        if (pos_ + 1 < text_.size() && text_[pos_ + 1] == '{') {
          ++pos_;
          return ReadCollection(EdnValue::Kind::kSet, '}', depth);
        }
        if (pos_ + 1 < text_.size() && text_[pos_ + 1] == '_') {
          // Discard the next value.
          pos_ += 2;
          absl::StatusOr<EdnValue> discarded = ReadValue(depth + 1);
          if (!discarded.ok()) return discarded.status();
          return ReadValue(depth);
        }
        {
          // Tagged literal: skip the tag, return the tagged value.
          ++pos_;
          while (pos_ < text_.size() && IsTokenChar(text_[pos_])) ++pos_;
          return ReadValue(depth + 1);
        }
      default:
        return ReadAtom();
    }
  }

  absl::Status Error(absl::string_view what) const {
    return absl::InvalidArgumentError(absl::StrCat("EDN: ", what, " at offset ", pos_));
  }

 private:
  absl::StatusOr<EdnValue> ReadCollection(EdnValue::Kind kind, char close, int depth) {
    ++pos_;  // Opening bracket.
    EdnValue value;
    value.kind = kind;
    while (true) {
      if (!SkipBlank()) return Error("unterminated collection");
      if (text_[pos_] == close) {
        ++pos_;
        break;
      }
      absl::StatusOr<EdnValue> item = ReadValue(depth + 1);
      if (!item.ok()) return item.status();
      value.items.push_back(*std::move(item));
    }
    if (kind == EdnValue::Kind::kMap && value.items.size() % 2 != 0) {
      return Error("map with an odd number of forms");
    }
    return value;
  }

  absl::StatusOr<EdnValue> ReadString() {
    ++pos_;  // Opening quote.
    EdnValue value;
    value.kind = EdnValue::Kind::kString;
    while (pos_ < text_.size() && text_[pos_] != '"') {
      char c = text_[pos_++];
      if (c == '\\') {
        if (pos_ >= text_.size()) return Error("unterminated escape");
        char e = text_[pos_++];
        switch (e) {
          case 'n':
            c = '\n';
            break;
          case 't':
            c = '\t';
            break;
          case 'r':
            c = '\r';
            break;
          default:
            c = e;  // \" \\ and anything else stand for themselves.
        }
      }
      value.text.push_back(c);
    }
    if (pos_ >= text_.size()) return Error("unterminated string");
    ++pos_;  // Closing quote.
    return value;
  }

  absl::StatusOr<EdnValue> ReadAtom() {
    size_t start = pos_;
    while (pos_ < text_.size() && IsTokenChar(text_[pos_])) ++pos_;
    if (pos_ == start) return Error(absl::StrCat("unexpected '", text_.substr(pos_, 1), "'"));
    absl::string_view token = text_.substr(start, pos_ - start);
    EdnValue value;
    if (token[0] == ':') {
      value.kind = EdnValue::Kind::kKeyword;
      value.text = std::string(token.substr(1));
      return value;
    }
    if (token == "nil") return value;
    if (token == "true" || token == "false") {
      value.kind = EdnValue::Kind::kBool;
      value.bool_value = token == "true";
      return value;
    }
    bool numeric = std::isdigit(static_cast<unsigned char>(token[0])) ||
                   ((token[0] == '-' || token[0] == '+') && token.size() > 1 &&
                    std::isdigit(static_cast<unsigned char>(token[1])));
    if (numeric) {
      absl::string_view digits = token;
      if (digits.back() == 'N' || digits.back() == 'M') digits.remove_suffix(1);
      if (digits[0] == '+') digits.remove_prefix(1);
      if (absl::SimpleAtoi(digits, &value.int_value)) {
        value.kind = EdnValue::Kind::kInt;
        return value;
      }
      if (absl::SimpleAtod(digits, &value.float_value)) {
        value.kind = EdnValue::Kind::kFloat;
        return value;
      }
      return Error(absl::StrCat("bad number '", token, "'"));
    }
    value.kind = EdnValue::Kind::kSymbol;
    value.text = std::string(token);
    return value;
  }

  absl::string_view text_;
  size_t pos_ = 0;
};

}  // namespace

const EdnValue* EdnValue::Find(absl::string_view keyword) const {
  if (kind != Kind::kMap) return nullptr;
  for (size_t i = 0; i + 1 < items.size(); i += 2) {
    if (items[i].IsKeyword(keyword)) return &items[i + 1];
  }
  return nullptr;
}

std::string EdnValue::ToString() const {
  auto join = [this](absl::string_view open, absl::string_view close) {
    std::vector<std::string> parts;
    parts.reserve(items.size());
    for (const EdnValue& item : items) parts.push_back(item.ToString());
    return absl::StrCat(open, absl::StrJoin(parts, " "), close);
  };
  switch (kind) {
    case Kind::kNil:
      return "nil";
    case Kind::kBool:
      return bool_value ? "true" : "false";
    case Kind::kInt:
      return absl::StrCat(int_value);
    case Kind::kFloat:
      return absl::StrCat(float_value);
    case Kind::kString: {
      std::string out = "\"";
      for (char c : text) {
        if (c == '"' || c == '\\') out.push_back('\\');
        out.push_back(c);
      }
      out.push_back('"');
      return out;
    }
    case Kind::kKeyword:
      return absl::StrCat(":", text);
    case Kind::kSymbol:
      return text;
    case Kind::kList:
      return join("(", ")");
    case Kind::kVector:
      return join("[", "]");
    case Kind::kMap:
      return join("{", "}");
    case Kind::kSet:
      return join("#{", "}");
  }
  return "?";
}

absl::StatusOr<EdnValue> ParseEdn(absl::string_view text) {
  Reader reader(text);
  absl::StatusOr<EdnValue> value = reader.ReadValue(0);
  if (!value.ok()) return value;
  if (reader.SkipBlank()) return reader.Error("trailing data");
  return value;
}

absl::StatusOr<std::vector<EdnValue>> ParseEdnAll(absl::string_view text) {
  Reader reader(text);
  std::vector<EdnValue> values;
  while (reader.SkipBlank()) {
    absl::StatusOr<EdnValue> value = reader.ReadValue(0);
    if (!value.ok()) return value.status();
    values.push_back(*std::move(value));
  }
  return values;
}

}  // namespace rutile::checkers
