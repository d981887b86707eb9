// A small reader for EDN (extensible data notation), the text format Jepsen and
// Elle write histories in. It covers what those histories use: nil, booleans,
// integers, floats, strings, keywords, symbols, lists, vectors, maps and sets,
// plus `;` comments, `#_` discards and commas as whitespace. Tagged literals
// (`#inst ...`) are read as their untagged value; characters (`\c`) are not
// supported.
//
// Thread safety: values are immutable after parsing and may be shared.

#ifndef RUTILE_TESTS_CHECKERS_EDN_H_
#define RUTILE_TESTS_CHECKERS_EDN_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace rutile::checkers {

// One EDN value. Collections own their elements; a map keeps its entries as
// alternating key, value items in `items` in the order they were written.
struct EdnValue {
  enum class Kind {
    kNil,
    kBool,
    kInt,
    kFloat,
    kString,
    kKeyword,
    kSymbol,
    kList,
    kVector,
    kMap,
    kSet
  };

  Kind kind = Kind::kNil;
  bool bool_value = false;
  int64_t int_value = 0;
  double float_value = 0;
  // String contents, or the keyword / symbol name without the leading colon.
  std::string text;
  std::vector<EdnValue> items;

  bool IsNil() const { return kind == Kind::kNil; }
  bool IsInt() const { return kind == Kind::kInt; }
  bool IsKeyword(absl::string_view name) const { return kind == Kind::kKeyword && text == name; }
  // True for lists and vectors.
  bool IsSequence() const { return kind == Kind::kList || kind == Kind::kVector; }

  // For a map: the value stored under keyword `name`, or nullptr when absent
  // (or when this is not a map).
  const EdnValue* Find(absl::string_view keyword) const;

  // Renders the value back to EDN (maps keep their order).
  std::string ToString() const;
};

// Parses exactly one value; trailing whitespace and comments are allowed.
absl::StatusOr<EdnValue> ParseEdn(absl::string_view text);

// Parses every top-level value in `text` (e.g. one map per line of a history).
absl::StatusOr<std::vector<EdnValue>> ParseEdnAll(absl::string_view text);

}  // namespace rutile::checkers

#endif  // RUTILE_TESTS_CHECKERS_EDN_H_
