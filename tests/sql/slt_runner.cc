// sqllogictest runner for Rutile's SQL layer (engine name "mysql").
//
//   slt_runner [-v] [--sql-mode=MODES] [--nodes=N | --in-memory] [--slow=MS] [--verify]
//              [--explain-index] FILE...
//
// Runs each file against a fresh Database over a fresh in-process cluster (one Node on a
// MemEngine by default; --nodes=3 for three replicas; --in-memory: no cluster, the
// LocalKvStore of Database::OpenInMemory) and prints one line per file, then
// the totals as `N passed, N failed, N skipped` (counted in records). Records guarded by
// `skipif mysql` or `onlyif <other engine>` are skipped; `halt` stops the file. Query
// results are checked in MySQL's typing: the record's type string must match the result
// metadata (integer types I, DECIMAL/FLOAT/DOUBLE R, others T; a NULL-typed column
// matches any), values print as sqllogictest does (R as %.3f, NULL, (empty), control
// characters as '@'), sorted per nosort/rowsort/valuesort, and compared as values or as
// an md5 hash above the hash threshold. Exit status 1 when any record failed.
//
// --explain-index also runs EXPLAIN of every query and reports, per file, how many plans
// read a table through an index or the handle (IndexLookUp, Point_Get, Batch_Point_Get,
// TableRangeScan, IndexReader, IndexMerge) rather than only by full scans; with -v it prints the
// queries that use none.
//
// --slow=MS prints every record that took at least MS milliseconds, with its time, and each
// file's slowest query. --verify also runs every query with the optimizer's rules off
// (`SET SESSION rutile_optimizer = 0`: tables joined in written order — each next one the
// first written that a join condition connects to those before, so that no cross product
// a condition avoids is built — no access paths, no cost-based reordering, no
// decorrelation, no merge joins) and fails the record when the two results differ as
// multisets of rows.

#include <openssl/evp.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "rutile/env.h"
#include "rutile/sql.h"
#include "util/sync.h"

namespace {

using rutile::sql::ColumnMeta;
using rutile::sql::Database;
using rutile::sql::ResultSet;
using rutile::sql::Session;

struct Counts {
  int64_t passed = 0;
  int64_t failed = 0;
  int64_t skipped = 0;
};

std::string Md5Hex(const std::string& data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), digest, &len, EVP_md5(), nullptr);
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 15]);
  }
  return out;
}

// 'I', 'R', 'T' for a column's MySQL type; '?' for the NULL type (matches anything).
char TypeLetter(const ColumnMeta& c) {
  switch (c.type) {
    case 1:
    case 2:
    case 3:
    case 8:
    case 9:
    case 13:
    case 16:
      return 'I';
    case 0:
    case 4:
    case 5:
    case 246:
      return 'R';
    case 6:
      return '?';
    default:
      return 'T';
  }
}

std::string FormatValue(const std::optional<std::string>& v, char type) {
  if (!v.has_value()) return "NULL";
  if (type == 'R') {
    double d = std::strtod(v->c_str(), nullptr);
    char buf[64];
    std::snprintf(buf, sizeof(buf), "%.3f", d);
    std::string s = buf;
    if (s == "-0.000") s = "0.000";
    return s;
  }
  if (type == 'I') {
    int64_t i = 0;
    uint64_t u = 0;
    if (absl::SimpleAtoi(*v, &i)) return absl::StrCat(i);
    if (absl::SimpleAtoi(*v, &u)) return absl::StrCat(u);
    double d = std::strtod(v->c_str(), nullptr);
    if (!(d > -9.2e18 && d < 9.2e18)) return *v;
    return absl::StrCat(static_cast<int64_t>(d));
  }
  if (v->empty()) return "(empty)";
  std::string s = *v;
  for (char& c : s) {
    if (c < ' ' || c > '~') c = '@';
  }
  return s;
}

struct Record {
  int line = 0;
  std::vector<std::string> conditions;  // "skipif x" / "onlyif x"
  std::string kind;                     // statement / query / halt / hash-threshold
  std::vector<std::string> header;      // tokens of the first line
  std::string sql;
  std::vector<std::string> expected;
};

bool Applies(const Record& r) {
  for (const std::string& c : r.conditions) {
    std::vector<std::string> t = absl::StrSplit(c, ' ', absl::SkipEmpty());
    if (t.size() < 2) continue;
    if (t[0] == "skipif" && t[1] == "mysql") return false;
    if (t[0] == "onlyif" && t[1] != "mysql") return false;
  }
  return true;
}

class FileRunner {
 public:
  // `nodes` 0: Database::OpenInMemory; otherwise a local cluster of that many nodes.
  FileRunner(std::string path, bool verbose, std::string sql_mode, int nodes, int64_t slow_ms,
             bool verify, bool explain_index)
      : path_(std::move(path)),
        verbose_(verbose),
        sql_mode_(std::move(sql_mode)),
        nodes_(nodes),
        slow_ms_(slow_ms),
        verify_(verify),
        explain_index_(explain_index) {}

  Counts Run() {
    Counts counts;
    std::ifstream in(path_);
    if (!in) {
      std::cerr << path_ << ": cannot open\n";
      counts.failed = 1;
      return counts;
    }
    std::vector<std::string> lines;
    std::string line;
    while (std::getline(in, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      lines.push_back(line);
    }
    auto db = nodes_ == 0 ? Database::OpenInMemory() : Database::OpenLocalCluster(ClusterOptions());
    if (!db.ok()) {
      std::cerr << "cannot open database: " << db.status() << "\n";
      counts.failed = 1;
      return counts;
    }
    // `connection NAME` (sqllogictest-rs) switches the session the next records run on;
    // each name gets its own session, "default" is the first.
    std::map<std::string, std::unique_ptr<Session>> sessions;
    auto open_session = [&](const std::string& name) {
      std::unique_ptr<Session> s = (*db)->NewSession();
      (void)s->Execute("USE test");
      auto mode = s->Execute("SET SESSION sql_mode = '" + sql_mode_ + "'");
      if (!mode.ok()) std::cerr << "cannot set sql_mode: " << mode.status() << "\n";
      Session* raw = s.get();
      sessions[name] = std::move(s);
      return raw;
    };
    Session* session = open_session("default");
    size_t i = 0;
    while (i < lines.size()) {
      // Skip blank lines and comments between records.
      if (lines[i].empty() || lines[i][0] == '#') {
        ++i;
        continue;
      }
      Record r;
      r.line = static_cast<int>(i + 1);
      while (i < lines.size() &&
             (absl::StartsWith(lines[i], "skipif") || absl::StartsWith(lines[i], "onlyif"))) {
        r.conditions.push_back(std::string(absl::StripTrailingAsciiWhitespace(lines[i])));
        ++i;
      }
      if (i >= lines.size()) break;
      std::string head = lines[i].substr(0, lines[i].find('#'));
      r.header = absl::StrSplit(head, ' ', absl::SkipEmpty());
      ++i;
      if (r.header.empty()) continue;
      r.kind = r.header[0];
      if (r.kind == "halt") {
        if (Applies(r)) break;
        continue;
      }
      if (r.kind == "connection") {
        const std::string name = r.header.size() > 1 ? r.header[1] : "default";
        auto it = sessions.find(name);
        session = it != sessions.end() ? it->second.get() : open_session(name);
        continue;
      }
      if (r.kind == "hash-threshold") {
        if (r.header.size() > 1) (void)absl::SimpleAtoi(r.header[1], &hash_threshold_);
        continue;
      }
      std::vector<std::string> sql_lines;
      while (i < lines.size() && !lines[i].empty() && lines[i] != "----") {
        sql_lines.push_back(lines[i]);
        ++i;
      }
      r.sql = absl::StrJoin(sql_lines, "\n");
      if (i < lines.size() && lines[i] == "----") {
        ++i;
        while (i < lines.size() && !lines[i].empty()) {
          r.expected.push_back(lines[i]);
          ++i;
        }
      }
      if (r.kind != "statement" && r.kind != "query") continue;
      if (!Applies(r)) {
        ++counts.skipped;
        continue;
      }
      std::string why;
      const uint64_t start = rutile::Env::Default()->NowMicros();
      absl::StatusOr<ResultSet> result = absl::UnknownError("not run");
      bool ok = RunRecord(session, r, &result, &why);
      const uint64_t micros = rutile::Env::Default()->NowMicros() - start;
      if (slow_ms_ >= 0 && micros >= static_cast<uint64_t>(slow_ms_) * 1000) {
        std::cerr << path_ << ":" << r.line << ": " << micros / 1000 << " ms\n";
      }
      if (r.kind == "query" && micros > slowest_micros_) {
        slowest_micros_ = micros;
        slowest_line_ = r.line;
      }
      if (ok && verify_ && r.kind == "query") ok = Verify(session, r, *result, &why);
      if (explain_index_ && r.kind == "query") {
        auto plan = session->Execute("EXPLAIN " + r.sql);
        ++explained_;
        bool indexed = false;
        if (plan.ok()) {
          for (const auto& row : plan->rows) {
            for (const auto& v : row) {
              indexed =
                  indexed || (v.has_value() && (v->find("IndexLookUp") != std::string::npos ||
                                                v->find("IndexReader") != std::string::npos ||
                                                v->find("IndexMerge") != std::string::npos ||
                                                v->find("Point_Get") != std::string::npos ||
                                                v->find("TableRangeScan") != std::string::npos));
            }
          }
        }
        if (indexed) ++indexed_;
        if (!indexed && verbose_)
          std::cerr << path_ << ":" << r.line << ": no index: " << r.sql << "\n";
      }
      if (ok) {
        ++counts.passed;
      } else {
        ++counts.failed;
        if (verbose_ || counts.failed <= 5) {
          std::cerr << path_ << ":" << r.line << ": FAILED: " << why << "\n  " << r.sql << "\n";
        }
      }
    }
    if (explain_index_) {
      std::cout << path_ << ": " << indexed_ << " of " << explained_
                << " queries use an index or handle access path" << std::endl;
    }
    if (slow_ms_ >= 0) {
      std::cerr << path_ << ": slowest query " << slowest_micros_ / 1000 << " ms at line "
                << slowest_line_ << "\n";
    }
    return counts;
  }

 private:
  // The rows of `rs` as sorted strings, one per row.
  static std::vector<std::string> RowMultiset(const ResultSet& rs) {
    std::vector<std::string> out;
    for (const auto& row : rs.rows) {
      std::string line;
      for (const auto& v : row) absl::StrAppend(&line, v.has_value() ? *v : "NULL", "|");
      out.push_back(std::move(line));
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  // `on`: the record's result with the optimizer on.
  bool Verify(Session* s, const Record& r, const ResultSet& on, std::string* why) {
    auto off_set = s->Execute("SET SESSION rutile_optimizer = 0");
    auto off = s->Execute(r.sql);
    auto back = s->Execute("SET SESSION rutile_optimizer = 1");
    if (!off_set.ok() || !back.ok()) {
      *why = "cannot switch rutile_optimizer";
      return false;
    }
    if (!off.ok()) {
      *why = absl::StrCat("verify: unoptimized ", off.status().ToString());
      return false;
    }
    if (RowMultiset(on) != RowMultiset(*off)) {
      *why = absl::StrCat("verify: optimized and unoptimized results differ (", on.rows.size(),
                          " vs ", off->rows.size(), " rows)");
      return false;
    }
    return true;
  }

  bool RunRecord(Session* s, const Record& r, absl::StatusOr<ResultSet>* result, std::string* why) {
    absl::StatusOr<ResultSet>& rs = *result;
    rs = s->Execute(r.sql);
    if (r.kind == "statement") {
      const bool want_ok = r.header.size() > 1 && r.header[1] == "ok";
      if (want_ok && !rs.ok()) {
        *why = absl::StrCat("statement failed: ", rs.status().ToString());
        return false;
      }
      if (!want_ok && rs.ok()) {
        *why = "statement succeeded, error expected";
        return false;
      }
      if (!want_ok && !r.expected.empty()) {
        // DuckDB style: the text after ---- must appear in "<code> <message>".
        rutile::sql::MySqlErrorInfo e = rutile::sql::MySqlErrorOf(rs.status());
        std::string got = absl::StrCat(e.code, " ", e.message);
        std::string want = absl::StrJoin(r.expected, "\n");
        if (got.find(want) == std::string::npos) {
          *why = absl::StrCat("error '", got, "' does not contain '", want, "'");
          return false;
        }
      }
      return true;
    }
    if (!rs.ok()) {
      *why = absl::StrCat("query failed: ", rs.status().ToString());
      return false;
    }
    const std::string types = r.header.size() > 1 ? r.header[1] : "";
    const std::string sort = r.header.size() > 2 ? r.header[2] : "nosort";
    if (rs->columns.size() != types.size()) {
      *why = absl::StrCat("expected ", types.size(), " columns, got ", rs->columns.size());
      return false;
    }
    std::string got_types;
    for (size_t c = 0; c < rs->columns.size(); ++c) {
      char t = TypeLetter(rs->columns[c]);
      got_types.push_back(t == '?' ? types[c] : t);
    }
    if (got_types != types) {
      *why = absl::StrCat("type string ", got_types, ", expected ", types);
      return false;
    }
    std::vector<std::vector<std::string>> rows;
    for (const auto& row : rs->rows) {
      std::vector<std::string> f;
      for (size_t c = 0; c < row.size(); ++c) f.push_back(FormatValue(row[c], types[c]));
      rows.push_back(std::move(f));
    }
    if (sort == "rowsort") std::sort(rows.begin(), rows.end());
    std::vector<std::string> values;
    for (auto& row : rows) {
      for (auto& v : row) values.push_back(std::move(v));
    }
    if (sort == "valuesort") std::sort(values.begin(), values.end());
    std::string got_hash_input;
    for (const std::string& v : values) absl::StrAppend(&got_hash_input, v, "\n");
    if (r.expected.size() == 1 && r.expected[0].find(" values hashing to ") != std::string::npos) {
      std::vector<std::string> t = absl::StrSplit(r.expected[0], ' ');
      std::string want = absl::StrCat(values.size(), " values hashing to ", Md5Hex(got_hash_input));
      if (want != r.expected[0]) {
        *why = absl::StrCat("got ", want, ", expected ", r.expected[0]);
        return false;
      }
      return true;
    }
    if (values != r.expected) {
      *why = absl::StrCat("got [", absl::StrJoin(values, ","), "] expected [",
                          absl::StrJoin(r.expected, ","), "]");
      return false;
    }
    return true;
  }

  std::string path_;
  bool verbose_;
  std::string sql_mode_;
  int nodes_ = 1;
  int64_t slow_ms_ = -1;
  bool verify_ = false;
  bool explain_index_ = false;
  int64_t explained_ = 0, indexed_ = 0;
  uint64_t slowest_micros_ = 0;
  int slowest_line_ = 0;

  rutile::sql::LocalClusterOptions ClusterOptions() const {
    rutile::sql::LocalClusterOptions o;
    o.nodes = nodes_;
    return o;
  }
  int hash_threshold_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  bool verbose = false;
  // The sql_mode of the MySQL server that produced the expected results: MySQL 8's default
  // without ONLY_FULL_GROUP_BY (the corpus selects non-grouped columns).
  std::string sql_mode =
      "STRICT_TRANS_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,"
      "NO_ENGINE_SUBSTITUTION";
  int nodes = 1;
  int64_t slow_ms = -1;
  bool verify = false;
  bool explain_index = false;
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-v") {
      verbose = true;
    } else if (a.rfind("--sql-mode=", 0) == 0) {
      sql_mode = a.substr(11);
    } else if (a.rfind("--nodes=", 0) == 0) {
      if (!absl::SimpleAtoi(a.substr(8), &nodes) || nodes < 1) {
        std::cerr << "bad " << a << "\n";
        return 2;
      }
    } else if (a == "--in-memory") {
      nodes = 0;
    } else if (a.rfind("--slow=", 0) == 0) {
      if (!absl::SimpleAtoi(a.substr(7), &slow_ms) || slow_ms < 0) {
        std::cerr << "bad " << a << "\n";
        return 2;
      }
    } else if (a == "--verify") {
      verify = true;
    } else if (a == "--explain-index") {
      explain_index = true;
    } else {
      files.push_back(a);
    }
  }
  if (files.empty()) {
    std::cerr << "usage: slt_runner [-v] [--sql-mode=MODES] [--nodes=N | --in-memory] "
                 "[--slow=MS] [--verify] [--explain-index] FILE...\n";
    return 2;
  }
  Counts total;
  for (const std::string& f : files) {
    FileRunner runner(f, verbose, sql_mode, nodes, slow_ms, verify, explain_index);
    // The cluster's calls run on fibers of its Env (and so does the in-memory store's,
    // whose waits are fiber primitives too).
    Counts c;
    rutile::WaitGroup wg;
    wg.Add(1);
    rutile::Env::Default()->Spawn([&] {
      c = runner.Run();
      wg.Done();
    });
    wg.Wait();
    std::cout << f << ": " << c.passed << " passed, " << c.failed << " failed, " << c.skipped
              << " skipped" << std::endl;
    total.passed += c.passed;
    total.failed += c.failed;
    total.skipped += c.skipped;
  }
  std::cout << total.passed << " passed, " << total.failed << " failed, " << total.skipped
            << " skipped" << std::endl;
  return total.failed == 0 ? 0 : 1;
}
