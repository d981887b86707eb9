#include "sql/types/collation.h"

#include <cstring>

namespace rutile::sql {
namespace {

constexpr uint32_t kInvalidBase = 0x110000;

std::string_view TrimTrailingSpaces(std::string_view s) {
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

int CompareBytes(std::string_view a, std::string_view b) {
  size_t n = a.size() < b.size() ? a.size() : b.size();
  int c = n == 0 ? 0 : std::memcmp(a.data(), b.data(), n);
  if (c != 0) return c < 0 ? -1 : 1;
  if (a.size() == b.size()) return 0;
  return a.size() < b.size() ? -1 : 1;
}

// Latin-1 Supplement U+00C0..U+00FF under general_ci.
constexpr uint16_t kLatin1Fold[64] = {
    'A',  'A', 'A', 'A', 'A', 'A', 0xC6, 'C',  'E', 'E', 'E', 'E', 'I', 'I', 'I',  'I',  // C0
    0xD0, 'N', 'O', 'O', 'O', 'O', 'O',  0xD7, 'O', 'U', 'U', 'U', 'U', 'Y', 0xDE, 'S',  // D0
    'A',  'A', 'A', 'A', 'A', 'A', 0xC6, 'C',  'E', 'E', 'E', 'E', 'I', 'I', 'I',  'I',  // E0
    0xD0, 'N', 'O', 'O', 'O', 'O', 'O',  0xF7, 'O', 'U', 'U', 'U', 'U', 'Y', 0xDE, 'Y',  // F0
};

uint32_t UpperRune(uint32_t r) {
  if (r >= 'a' && r <= 'z') return r - 32;
  if (r < 0x80) return r;
  if (r >= 0xE0 && r <= 0xFE && r != 0xF7) return r - 32;
  if (r == 0xFF) return 0x178;
  if (r >= 0x100 && r <= 0x17F) {
    // Latin Extended-A alternates upper/lower, with a shifted run in 0x139..0x148 and
    // 0x179..0x17E.
    if ((r >= 0x139 && r <= 0x148) || (r >= 0x179 && r <= 0x17E)) return (r % 2 == 0) ? r - 1 : r;
    if (r == 0x131 || r == 0x138 || r == 0x149 || r == 0x17F) return r;
    return (r % 2 == 1) ? r - 1 : r;
  }
  if (r >= 0x3B1 && r <= 0x3C9 && r != 0x3C2) return r - 32;
  if (r >= 0x430 && r <= 0x44F) return r - 32;
  if (r >= 0x450 && r <= 0x45F) return r - 80;
  return r;
}

uint32_t LowerRune(uint32_t r) {
  if (r >= 'A' && r <= 'Z') return r + 32;
  if (r < 0x80) return r;
  if (r >= 0xC0 && r <= 0xDE && r != 0xD7) return r + 32;
  if (r == 0x178) return 0xFF;
  if (r >= 0x100 && r <= 0x17F) {
    if ((r >= 0x139 && r <= 0x148) || (r >= 0x179 && r <= 0x17E)) return (r % 2 == 1) ? r + 1 : r;
    if (r == 0x130 || r == 0x138 || r == 0x149 || r == 0x17F) return r;
    return (r % 2 == 0) ? r + 1 : r;
  }
  if (r >= 0x391 && r <= 0x3A9 && r != 0x3A2) return r + 32;
  if (r >= 0x410 && r <= 0x42F) return r + 32;
  if (r >= 0x400 && r <= 0x40F) return r + 80;
  return r;
}

}  // namespace

uint32_t DecodeRune(std::string_view s, size_t* pos) {
  size_t i = *pos;
  unsigned char c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) {
    *pos = i + 1;
    return c;
  }
  int len = 0;
  uint32_t r = 0;
  uint32_t min = 0;
  if ((c & 0xE0) == 0xC0) {
    len = 2;
    r = c & 0x1F;
    min = 0x80;
  } else if ((c & 0xF0) == 0xE0) {
    len = 3;
    r = c & 0x0F;
    min = 0x800;
  } else if ((c & 0xF8) == 0xF0) {
    len = 4;
    r = c & 0x07;
    min = 0x10000;
  } else {
    *pos = i + 1;
    return kInvalidBase + c;
  }
  if (i + len > s.size()) {
    *pos = i + 1;
    return kInvalidBase + c;
  }
  for (int k = 1; k < len; ++k) {
    unsigned char cc = static_cast<unsigned char>(s[i + k]);
    if ((cc & 0xC0) != 0x80) {
      *pos = i + 1;
      return kInvalidBase + c;
    }
    r = (r << 6) | (cc & 0x3F);
  }
  if (r < min || r > 0x10FFFF || (r >= 0xD800 && r <= 0xDFFF)) {
    *pos = i + 1;
    return kInvalidBase + c;
  }
  *pos = i + len;
  return r;
}

void AppendRune(std::string* out, uint32_t r) {
  if (r >= kInvalidBase) {
    out->push_back(static_cast<char>(r - kInvalidBase));
  } else if (r < 0x80) {
    out->push_back(static_cast<char>(r));
  } else if (r < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (r >> 6)));
    out->push_back(static_cast<char>(0x80 | (r & 0x3F)));
  } else if (r < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (r >> 12)));
    out->push_back(static_cast<char>(0x80 | ((r >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (r & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (r >> 18)));
    out->push_back(static_cast<char>(0x80 | ((r >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((r >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (r & 0x3F)));
  }
}

uint32_t FoldRune(uint32_t r) {
  if (r < 0x80) return (r >= 'a' && r <= 'z') ? r - 32 : r;
  if (r >= kInvalidBase) return 0x10000 + (r - kInvalidBase);  // Above every BMP weight.
  if (r >= 0xC0 && r <= 0xFF) return kLatin1Fold[r - 0xC0];
  if (r > 0xFFFF) return 0xFFFD;
  return UpperRune(r);
}

// Performance-critical path.
int CompareStrings(std::string_view a, std::string_view b, Collation collation) {
  switch (collation) {
    case Collation::kBinary:
      return CompareBytes(a, b);
    case Collation::kUtf8mb4Bin:
      return CompareBytes(TrimTrailingSpaces(a), TrimTrailingSpaces(b));
    case Collation::kUtf8mb4GeneralCi:
      break;
  }
  a = TrimTrailingSpaces(a);
  b = TrimTrailingSpaces(b);
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    unsigned char ca = static_cast<unsigned char>(a[i]);
    unsigned char cb = static_cast<unsigned char>(b[j]);
    if (ca < 0x80 && cb < 0x80) {
      // ASCII fast path.
      uint32_t wa = (ca >= 'a' && ca <= 'z') ? ca - 32 : ca;
      uint32_t wb = (cb >= 'a' && cb <= 'z') ? cb - 32 : cb;
      if (wa != wb) return wa < wb ? -1 : 1;
      ++i;
      ++j;
      continue;
    }
    uint32_t wa = FoldRune(DecodeRune(a, &i));
    uint32_t wb = FoldRune(DecodeRune(b, &j));
    if (wa != wb) return wa < wb ? -1 : 1;
  }
  if (i < a.size()) return 1;
  if (j < b.size()) return -1;
  return 0;
}

std::string SortKey(std::string_view s, Collation collation) {
  switch (collation) {
    case Collation::kBinary:
      return std::string(s);
    case Collation::kUtf8mb4Bin:
      return std::string(TrimTrailingSpaces(s));
    case Collation::kUtf8mb4GeneralCi:
      break;
  }
  s = TrimTrailingSpaces(s);
  std::string key;
  key.reserve(s.size() * 2);
  size_t i = 0;
  while (i < s.size()) {
    uint32_t w = FoldRune(DecodeRune(s, &i));
    // Weights are at most 0x100FF: three bytes big-endian keep the order.
    key.push_back(static_cast<char>((w >> 16) & 0xFF));
    key.push_back(static_cast<char>((w >> 8) & 0xFF));
    key.push_back(static_cast<char>(w & 0xFF));
  }
  return key;
}

size_t CharLength(std::string_view s, Collation collation) {
  if (collation == Collation::kBinary) return s.size();
  size_t n = 0;
  size_t i = 0;
  while (i < s.size()) {
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
    } else {
      DecodeRune(s, &i);
    }
    ++n;
  }
  return n;
}

size_t CharOffset(std::string_view s, size_t chars, Collation collation) {
  if (collation == Collation::kBinary) return chars < s.size() ? chars : s.size();
  size_t i = 0;
  for (size_t n = 0; n < chars && i < s.size(); ++n) DecodeRune(s, &i);
  return i;
}

std::string ToUpper(std::string_view s, Collation collation) {
  if (collation == Collation::kBinary) return std::string(s);
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) AppendRune(&out, UpperRune(DecodeRune(s, &i)));
  return out;
}

std::string ToLower(std::string_view s, Collation collation) {
  if (collation == Collation::kBinary) return std::string(s);
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) AppendRune(&out, LowerRune(DecodeRune(s, &i)));
  return out;
}

}  // namespace rutile::sql
