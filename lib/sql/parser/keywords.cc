#include "sql/parser/keywords.h"

#include <array>
#include <cctype>
#include <cstring>
#include <string>

namespace rutile::sql {
namespace {

struct KeywordInfo {
  std::string_view text;
  bool reserved;
};

#define RUTILE_SQL_KW_R(name) {#name, true},
#define RUTILE_SQL_KW_N(name) {#name, false},
constexpr KeywordInfo kKeywords[] = {{"", false},
                                     RUTILE_SQL_KEYWORDS(RUTILE_SQL_KW_R, RUTILE_SQL_KW_N)};
#undef RUTILE_SQL_KW_R
#undef RUTILE_SQL_KW_N
static_assert(sizeof(kKeywords) / sizeof(kKeywords[0]) == static_cast<size_t>(Kw::kCount));

// An open-addressing table from the FNV-1a hash of a keyword's spelling to its index;
// cheap enough for the lexer's every word even in unoptimised builds.
constexpr size_t kTableSize = 2048;  // a power of two, well above twice the keyword count

uint32_t Hash(const char* s, size_t n) {
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < n; ++i) h = (h ^ static_cast<unsigned char>(s[i])) * 16777619u;
  return h;
}

const std::array<uint16_t, kTableSize>& Table() {
  static const std::array<uint16_t, kTableSize>* table = [] {
    auto* t = new std::array<uint16_t, kTableSize>();
    t->fill(0);
    for (size_t i = 1; i < static_cast<size_t>(Kw::kCount); ++i) {
      size_t slot = Hash(kKeywords[i].text.data(), kKeywords[i].text.size()) & (kTableSize - 1);
      while ((*t)[slot] != 0) slot = (slot + 1) & (kTableSize - 1);
      (*t)[slot] = static_cast<uint16_t>(i);
    }
    return t;
  }();
  return *table;
}

}  // namespace

Kw LookupKeyword(std::string_view word) {
  // The longest keyword is MASTER_SSL_VERIFY_SERVER_CERT (29 characters).
  constexpr size_t kMaxLen = 32;
  if (word.empty() || word.size() > kMaxLen) return Kw::kNone;
  std::array<char, kMaxLen> buf;
  for (size_t i = 0; i < word.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(word[i]);
    if (c >= 0x80) return Kw::kNone;
    buf[i] = static_cast<char>(c >= 'a' && c <= 'z' ? c - 32 : c);
  }
  const std::array<uint16_t, kTableSize>& table = Table();
  size_t slot = Hash(buf.data(), word.size()) & (kTableSize - 1);
  while (table[slot] != 0) {
    const std::string_view k = kKeywords[table[slot]].text;
    if (k.size() == word.size() && std::memcmp(k.data(), buf.data(), k.size()) == 0) {
      return static_cast<Kw>(table[slot]);
    }
    slot = (slot + 1) & (kTableSize - 1);
  }
  return Kw::kNone;
}

bool IsReserved(Kw kw) {
  const size_t i = static_cast<size_t>(kw);
  return i < static_cast<size_t>(Kw::kCount) && kKeywords[i].reserved;
}

std::string_view KeywordText(Kw kw) {
  const size_t i = static_cast<size_t>(kw);
  return i < static_cast<size_t>(Kw::kCount) ? kKeywords[i].text : std::string_view();
}

}  // namespace rutile::sql
