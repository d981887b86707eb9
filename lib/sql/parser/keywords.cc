#include "sql/parser/keywords.h"

#include <array>
#include <cctype>
#include <string>

#include "absl/container/flat_hash_map.h"

namespace rutile::sql {
namespace {

struct KeywordInfo {
  std::string_view text;
  bool reserved;
};

#define RUTILE_SQL_KW_R(name) {#name, true},
#define RUTILE_SQL_KW_N(name) {#name, false},
constexpr KeywordInfo kKeywords[] = {
    {"", false}, RUTILE_SQL_KEYWORDS(RUTILE_SQL_KW_R, RUTILE_SQL_KW_N)};
#undef RUTILE_SQL_KW_R
#undef RUTILE_SQL_KW_N
static_assert(sizeof(kKeywords) / sizeof(kKeywords[0]) == static_cast<size_t>(Kw::kCount));

using KeywordMap = absl::flat_hash_map<std::string, Kw>;

const KeywordMap& Map() {
  static const KeywordMap* map = [] {
    auto* m = new KeywordMap();
    for (size_t i = 1; i < static_cast<size_t>(Kw::kCount); ++i) {
      m->emplace(std::string(kKeywords[i].text), static_cast<Kw>(i));
    }
    return m;
  }();
  return *map;
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
    buf[i] = static_cast<char>(std::toupper(c));
  }
  const KeywordMap& map = Map();
  auto it = map.find(std::string(buf.data(), word.size()));
  return it == map.end() ? Kw::kNone : it->second;
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
