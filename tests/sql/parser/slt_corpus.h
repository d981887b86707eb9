// The sqllogictest corpus as a parser test: reads the records of every file under
// $RUTILE_SHARED_DIR/testdata/sqllogictest (default /work/shared) that apply to engine
// `mysql` (honouring skipif/onlyif and halt), parses every statement and query expected
// to succeed, and checks that each restores to SQL that parses back to an equal tree.
// Shared by slt_parse_test.cc (a sample, fast) and slt_parse_slow_test.cc (everything).

#ifndef RUTILE_TESTS_SQL_PARSER_SLT_CORPUS_H_
#define RUTILE_TESTS_SQL_PARSER_SLT_CORPUS_H_

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "sql/parser/ast.h"
#include "sql/parser/parser.h"

namespace rutile::sql::slt {

namespace fs = std::filesystem;

struct Record {
  std::string file;
  int line = 0;
  bool expect_ok = true;  // statement ok / query
  std::string sql;
};

inline fs::path CorpusDir() {
  const char* env = std::getenv("RUTILE_SHARED_DIR");
  fs::path base = env != nullptr ? fs::path(env) : fs::path("/work/shared");
  return base / "testdata" / "sqllogictest";
}

inline bool StartsWith(const std::string& s, std::string_view p) { return s.rfind(p, 0) == 0; }

// Reads the records of one file that apply to engine `mysql`.
inline void ReadRecords(const fs::path& path, std::vector<Record>* out) {
  std::ifstream in(path);
  std::string line;
  int lineno = 0;
  bool skip = false;
  std::vector<std::string> lines;
  while (std::getline(in, line)) lines.push_back(line);
  for (size_t i = 0; i < lines.size(); ++i) {
    lineno = static_cast<int>(i) + 1;
    const std::string& l = lines[i];
    if (l.empty() || l[0] == '#') {
      skip = false;
      continue;
    }
    if (StartsWith(l, "skipif ")) {
      if (l.substr(7).find("mysql") == 0) skip = true;
      continue;
    }
    if (StartsWith(l, "onlyif ")) {
      if (l.substr(7).find("mysql") != 0) skip = true;
      continue;
    }
    if (l == "halt") {
      if (!skip) return;
      skip = false;
      continue;
    }
    const bool stmt = StartsWith(l, "statement ");
    const bool query = StartsWith(l, "query ");
    if (!stmt && !query) continue;
    Record r;
    r.file = path.string();
    r.line = lineno;
    r.expect_ok = query || l.find("statement ok") == 0;
    size_t j = i + 1;
    for (; j < lines.size() && !lines[j].empty() && lines[j] != "----"; ++j) {
      if (!r.sql.empty()) r.sql += "\n";
      r.sql += lines[j];
    }
    // Skip the expected results.
    if (j < lines.size() && lines[j] == "----") {
      while (j < lines.size() && !lines[j].empty()) ++j;
    }
    i = j;
    if (!skip) out->push_back(std::move(r));
    skip = false;
  }
}

// Parses the applicable records (every `stride`-th one of each file, all of them for
// stride 1, and always every record under evidence/) and round-trips each; fails the
// calling test on any failure.
inline void RunCorpus(size_t stride) {
  const fs::path dir = CorpusDir();
  if (!fs::exists(dir)) GTEST_SKIP() << "no corpus at " << dir;
  size_t skipped_by_stride = 0;
  std::vector<fs::path> files;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file() && e.path().extension() == ".test") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  ASSERT_FALSE(files.empty());

  const auto start = std::chrono::steady_clock::now();
  size_t ok_records = 0, ok_parsed = 0, ok_roundtrip = 0;
  size_t error_records = 0, error_rejected = 0;
  std::vector<std::string> failures;
  for (const fs::path& f : files) {
    std::vector<Record> records;
    ReadRecords(f, &records);
    const bool all = f.string().find("/evidence/") != std::string::npos;
    for (size_t i = 0; i < records.size(); ++i) {
      const Record& r = records[i];
      if (!all && i % stride != 0) {
        ++skipped_by_stride;
        continue;
      }
      absl::StatusOr<StmtPtr> s = ParseOne(r.sql);
      if (!r.expect_ok) {
        ++error_records;
        if (!s.ok()) ++error_rejected;
        continue;
      }
      ++ok_records;
      if (!s.ok()) {
        failures.push_back(r.file + ":" + std::to_string(r.line) + ": " + r.sql + "\n  -> " +
                           std::string(s.status().message()));
        continue;
      }
      ++ok_parsed;
      const std::string restored = RestoreSql(**s);
      absl::StatusOr<StmtPtr> again = ParseOne(restored);
      if (!again.ok() || !AstEqual(**s, **again)) {
        failures.push_back(r.file + ":" + std::to_string(r.line) + ": round trip: " + r.sql +
                           "\n  restored: " + restored + "\n  " +
                           (again.ok() ? "different tree" : std::string(again.status().message())));
        continue;
      }
      ++ok_roundtrip;
    }
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf(
      "sqllogictest parse coverage: %zu files; %zu records expected to succeed: %zu parsed, "
      "%zu round-tripped; %zu `statement error` records, %zu rejected by the parser; "
      "%zu records left out (stride %zu); %.1fs\n",
      files.size(), ok_records, ok_parsed, ok_roundtrip, error_records, error_rejected,
      skipped_by_stride, stride, secs);
  for (size_t i = 0; i < failures.size() && i < 40; ++i) {
    std::printf("FAIL %s\n", failures[i].c_str());
  }
  EXPECT_TRUE(failures.empty()) << failures.size() << " failures";
  EXPECT_GT(ok_records, 300000u / stride);
}

}  // namespace rutile::sql::slt

#endif  // RUTILE_TESTS_SQL_PARSER_SLT_CORPUS_H_
