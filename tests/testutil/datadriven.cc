#include "testutil/datadriven.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"

namespace rutile::testutil {

bool TestData::HasArg(absl::string_view key) const { return Arg(key) != nullptr; }

const CmdArg* TestData::Arg(absl::string_view key) const {
  for (const CmdArg& a : cmd_args) {
    if (a.key == key) return &a;
  }
  return nullptr;
}

bool TestData::ScanString(absl::string_view key, std::string* out) const {
  const CmdArg* a = Arg(key);
  if (a == nullptr) return false;
  *out = a->vals.empty() ? "" : a->vals[0];
  return true;
}

bool TestData::ScanUint(absl::string_view key, uint64_t* out) const {
  std::string s;
  if (!ScanString(key, &s)) return false;
  if (!absl::SimpleAtoi(s, out)) {
    ADD_FAILURE() << pos << ": argument " << key << "=" << s << " is not an unsigned integer";
    return false;
  }
  return true;
}

bool TestData::ScanInt(absl::string_view key, int64_t* out) const {
  std::string s;
  if (!ScanString(key, &s)) return false;
  if (!absl::SimpleAtoi(s, out)) {
    ADD_FAILURE() << pos << ": argument " << key << "=" << s << " is not an integer";
    return false;
  }
  return true;
}

bool TestData::ScanBool(absl::string_view key, bool* out) const {
  const CmdArg* a = Arg(key);
  if (a == nullptr) return false;
  if (a->vals.empty()) {
    *out = true;
    return true;
  }
  if (!absl::SimpleAtob(a->vals[0], out)) {
    ADD_FAILURE() << pos << ": argument " << key << " is not a bool";
    return false;
  }
  return true;
}

bool ParseCommandLine(absl::string_view line, std::string* cmd, std::vector<CmdArg>* args,
                      std::string* error) {
  args->clear();
  size_t i = 0;
  auto skip_space = [&] {
    while (i < line.size() && line[i] == ' ') ++i;
  };
  skip_space();
  size_t start = i;
  while (i < line.size() && line[i] != ' ') ++i;
  *cmd = std::string(line.substr(start, i - start));
  if (cmd->empty()) {
    *error = "empty command";
    return false;
  }
  while (true) {
    skip_space();
    if (i >= line.size()) break;
    start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '=') ++i;
    CmdArg arg;
    arg.key = std::string(line.substr(start, i - start));
    if (i < line.size() && line[i] == '=') {
      ++i;
      if (i < line.size() && line[i] == '(') {
        size_t close = line.find(')', i);
        if (close == absl::string_view::npos) {
          *error = absl::StrCat("unterminated ( in argument ", arg.key);
          return false;
        }
        absl::string_view inner = line.substr(i + 1, close - i - 1);
        if (!absl::StripAsciiWhitespace(inner).empty()) {
          for (absl::string_view v : absl::StrSplit(inner, ',')) {
            arg.vals.emplace_back(absl::StripAsciiWhitespace(v));
          }
        }
        i = close + 1;
      } else {
        start = i;
        while (i < line.size() && line[i] != ' ') ++i;
        arg.vals.emplace_back(line.substr(start, i - start));
      }
    }
    args->push_back(std::move(arg));
  }
  return true;
}

namespace {

// Where each directive's expected-output block sits in the file, for rewriting.
struct Span {
  size_t first_line;  // First line after the command's (first) "----".
  size_t end_line;    // One past the last line belonging to the output block.
};

bool ParseImpl(const std::vector<std::string>& lines, const std::string& file_name,
               std::vector<TestData>* out, std::vector<Span>* spans, std::string* error) {
  size_t i = 0;
  while (i < lines.size()) {
    absl::string_view l = absl::StripTrailingAsciiWhitespace(lines[i]);
    if (l.empty() || l[0] == '#') {
      ++i;
      continue;
    }
    TestData d;
    d.pos = absl::StrCat(file_name, ":", i + 1);
    if (!ParseCommandLine(l, &d.cmd, &d.cmd_args, error)) {
      *error = absl::StrCat(d.pos, ": ", *error);
      return false;
    }
    ++i;
    std::vector<std::string> input;
    while (i < lines.size() && lines[i] != "----") {
      input.push_back(lines[i]);
      ++i;
    }
    if (i >= lines.size()) {
      *error = absl::StrCat(d.pos, ": missing ---- separator");
      return false;
    }
    d.input = absl::StrJoin(input, "\n");
    ++i;  // Past "----".
    Span span{i, i};
    std::vector<std::string> expected;
    if (i < lines.size() && lines[i] == "----") {
      // Double-separator block: runs until "----\n----".
      ++i;
      bool closed = false;
      while (i < lines.size()) {
        if (lines[i] == "----" && i + 1 < lines.size() && lines[i + 1] == "----") {
          i += 2;
          closed = true;
          break;
        }
        expected.push_back(lines[i]);
        ++i;
      }
      if (!closed) {
        *error = absl::StrCat(d.pos, ": unterminated ----/---- block");
        return false;
      }
    } else {
      while (i < lines.size() && !lines[i].empty()) {
        expected.push_back(lines[i]);
        ++i;
      }
    }
    span.end_line = i;
    d.expected = absl::StrJoin(expected, "\n");
    out->push_back(std::move(d));
    spans->push_back(span);
  }
  return true;
}

std::vector<std::string> SplitLines(absl::string_view text) {
  std::vector<std::string> lines = absl::StrSplit(text, '\n');
  if (!lines.empty() && lines.back().empty()) lines.pop_back();
  return lines;
}

std::string FormatOutput(absl::string_view output) {
  std::string o(absl::StripSuffix(output, "\n"));
  bool has_blank = o.find("\n\n") != std::string::npos || (!o.empty() && o.front() == '\n');
  if (has_blank) return absl::StrCat("----\n", o, "\n----\n----\n");
  if (o.empty()) return "";
  return absl::StrCat(o, "\n");
}

}  // namespace

bool ParseScript(absl::string_view text, const std::string& file_name, std::vector<TestData>* out,
                 std::string* error) {
  std::vector<Span> spans;
  return ParseImpl(SplitLines(text), file_name, out, &spans, error);
}

std::string FormatDirective(const TestData& d, absl::string_view output) {
  std::string s = d.cmd;
  for (const CmdArg& a : d.cmd_args) {
    absl::StrAppend(&s, " ", a.key);
    if (a.vals.size() == 1) {
      absl::StrAppend(&s, "=", a.vals[0]);
    } else if (a.vals.size() > 1) {
      absl::StrAppend(&s, "=(", absl::StrJoin(a.vals, ","), ")");
    }
  }
  absl::StrAppend(&s, "\n");
  if (!d.input.empty()) absl::StrAppend(&s, d.input, "\n");
  absl::StrAppend(&s, "----\n", FormatOutput(output));
  return s;
}

void RunTest(const std::string& path, const std::function<std::string(const TestData&)>& handler) {
  std::ifstream in(path);
  if (!in) {
    ADD_FAILURE() << "cannot open " << path;
    return;
  }
  std::stringstream buf;
  buf << in.rdbuf();
  std::vector<std::string> lines = SplitLines(buf.str());
  std::vector<TestData> directives;
  std::vector<Span> spans;
  std::string error;
  std::string base = std::filesystem::path(path).filename().string();
  if (!ParseImpl(lines, base, &directives, &spans, &error)) {
    ADD_FAILURE() << error;
    return;
  }
  const char* rw = std::getenv("RUTILE_REWRITE");
  const bool rewrite = rw != nullptr && absl::string_view(rw) == "1";
  std::string rewritten;
  size_t copied = 0;  // Lines of the original already emitted.
  for (size_t k = 0; k < directives.size(); ++k) {
    const TestData& d = directives[k];
    std::string actual(absl::StripSuffix(handler(d), "\n"));
    if (rewrite) {
      for (; copied < spans[k].first_line; ++copied)
        absl::StrAppend(&rewritten, lines[copied], "\n");
      absl::StrAppend(&rewritten, FormatOutput(actual));
      copied = spans[k].end_line;
    } else if (actual != d.expected) {
      ADD_FAILURE() << d.pos << ": " << d.cmd << "\nexpected:\n"
                    << d.expected << "\n\nfound:\n"
                    << actual << "\n";
      // Later directives usually depend on this one; stop to keep the report readable.
      return;
    }
  }
  if (rewrite) {
    for (; copied < lines.size(); ++copied) absl::StrAppend(&rewritten, lines[copied], "\n");
    std::ofstream outf(path, std::ios::trunc);
    outf << rewritten;
  }
}

std::vector<std::string> ListScripts(const std::string& dir) {
  std::vector<std::string> files;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    if (e.is_regular_file() && e.path().extension() == ".txt") files.push_back(e.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::string TestDataDir(const std::string& sub) {
  const char* src = std::getenv("RUTILE_SOURCE_DIR");
  std::string root = src != nullptr ? src : RUTILE_TESTUTIL_SOURCE_DIR;
  return absl::StrCat(root, "/tests/", sub);
}

}  // namespace rutile::testutil
