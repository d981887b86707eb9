// String comparison, sort keys and case mapping under Rutile's collations (see
// Collation in field_type.h), and UTF-8 helpers the string functions use.
//
// Strings are UTF-8 bytes. An invalid byte is treated as a character of its own whose
// weight is above every valid one, so comparison is total and never fails. The
// case-insensitive collation follows utf8mb4_general_ci: one weight per character,
// upper-cased, common Latin-1 accents removed, characters beyond the BMP all equal.
//
// Thread safety: pure functions.

#ifndef RUTILE_SQL_TYPES_COLLATION_H_
#define RUTILE_SQL_TYPES_COLLATION_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "sql/types/field_type.h"

namespace rutile::sql {

// -1, 0 or 1.
int CompareStrings(std::string_view a, std::string_view b, Collation collation);
// Bytes whose binary order (memcmp, shorter first) equals CompareStrings' order; equal
// strings have equal keys. Used for hashing, grouping and index keys.
std::string SortKey(std::string_view s, Collation collation);

// Decodes one character starting at s[*pos] and advances *pos (by 1 for an invalid
// byte, whose value is returned as 0x110000 + byte).
uint32_t DecodeRune(std::string_view s, size_t* pos);
void AppendRune(std::string* out, uint32_t rune);
// Characters in s (bytes under kBinary).
size_t CharLength(std::string_view s, Collation collation);
// Byte offset of the character with index `chars` (s.size() if beyond the end).
size_t CharOffset(std::string_view s, size_t chars, Collation collation);

// UPPER/LOWER; binary strings are returned unchanged, as MySQL does.
std::string ToUpper(std::string_view s, Collation collation);
std::string ToLower(std::string_view s, Collation collation);

// The general_ci weight of a character.
uint32_t FoldRune(uint32_t rune);

}  // namespace rutile::sql

#endif  // RUTILE_SQL_TYPES_COLLATION_H_
