// LevelDbEngine-specific behaviour: opening directories (fresh, existing, foreign,
// corrupt, locked, unusable paths), the on-disk layout, and crash recovery after the
// process is killed with SIGKILL.

#include "storage/leveldb_engine.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "leveldb/db.h"
#include "rutile/env.h"
#include "storage/engine_test_util.h"
#include "util/sync.h"

namespace rutile::storage {
namespace {

namespace fs = std::filesystem;
using testing::GetOr;
using testing::kAllCfs;
using testing::MustPut;
using testing::Scan;
using testing::TempDir;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const std::string& path, const std::string& contents) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << contents;
}

// Every file under `dir` (relative path -> contents), directories as "<dir>".
std::map<std::string, std::string> Tree(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    std::string rel = fs::relative(entry.path(), dir).string();
    out[rel] = entry.is_directory() ? "<dir>" : ReadFile(entry.path().string());
  }
  return out;
}

absl::StatusOr<std::unique_ptr<Engine>> Open(const std::string& dir,
                                             LevelDbEngineOptions options = {}) {
  return LevelDbEngine::Open(dir, options);
}

TEST(LevelDbEngineTest, CreatesNestedDirectoryAndLayout) {
  TempDir tmp;
  const std::string dir = tmp.Sub("a/b/engine");
  auto engine = Open(dir);
  ASSERT_TRUE(engine.ok()) << engine.status();
  EXPECT_TRUE(fs::exists(dir + "/RUTILE_ENGINE"));
  EXPECT_TRUE(fs::exists(dir + "/data/CURRENT"));
  EXPECT_TRUE(fs::exists(dir + "/raft/CURRENT"));
  EXPECT_EQ(ReadFile(dir + "/RUTILE_ENGINE"), "rutile storage engine\nformat 1\nstate ready\n");
}

TEST(LevelDbEngineTest, ReopenKeepsEveryColumnFamily) {
  TempDir tmp;
  const std::string dir = tmp.Sub("engine");
  {
    auto engine = Open(dir);
    ASSERT_TRUE(engine.ok()) << engine.status();
    for (CF cf : kAllCfs) MustPut(engine->get(), cf, "k", CfName(cf));
  }
  auto engine = Open(dir);
  ASSERT_TRUE(engine.ok()) << engine.status();
  for (CF cf : kAllCfs) EXPECT_EQ(GetOr(engine->get(), cf, "k"), CfName(cf));
}

TEST(LevelDbEngineTest, EmptyPathIsInvalidArgument) {
  EXPECT_TRUE(absl::IsInvalidArgument(Open("").status()));
}

TEST(LevelDbEngineTest, CreateIfMissingFalseChangesNothing) {
  TempDir tmp;
  LevelDbEngineOptions options;
  options.create_if_missing = false;
  auto missing = Open(tmp.Sub("missing"), options);
  EXPECT_TRUE(absl::IsNotFound(missing.status())) << missing.status();
  EXPECT_FALSE(fs::exists(tmp.Sub("missing")));
  fs::create_directory(tmp.Sub("empty"));
  auto empty = Open(tmp.Sub("empty"), options);
  EXPECT_TRUE(absl::IsNotFound(empty.status())) << empty.status();
  EXPECT_TRUE(fs::is_empty(tmp.Sub("empty")));
}

TEST(LevelDbEngineTest, ErrorIfExists) {
  TempDir tmp;
  ASSERT_TRUE(Open(tmp.Sub("engine")).ok());
  LevelDbEngineOptions options;
  options.error_if_exists = true;
  EXPECT_TRUE(absl::IsAlreadyExists(Open(tmp.Sub("engine"), options).status()));
}

TEST(LevelDbEngineTest, RefusesNonEmptyDirectoryWithLevelDbLookalikeGarbage) {
  TempDir tmp;
  const std::string dir = tmp.Sub("garbage");
  fs::create_directory(dir);
  WriteFile(dir + "/CURRENT", "MANIFEST-000001");  // No newline: not even valid.
  WriteFile(dir + "/MANIFEST-000001", "\x01\x02garbage");
  WriteFile(dir + "/000003.log", "not a log");
  WriteFile(dir + "/LOCK", "");
  const auto before = Tree(dir);
  auto engine = Open(dir);
  EXPECT_TRUE(absl::IsFailedPrecondition(engine.status())) << engine.status();
  EXPECT_NE(engine.status().message().find("holds no Rutile engine"), std::string::npos);
  EXPECT_EQ(Tree(dir), before);
}

TEST(LevelDbEngineTest, RefusesAnotherProgramsLevelDb) {
  TempDir tmp;
  const std::string dir = tmp.Sub("foreign");
  {
    leveldb::Options o;
    o.create_if_missing = true;
    leveldb::DB* db = nullptr;
    ASSERT_TRUE(leveldb::DB::Open(o, dir, &db).ok());
    ASSERT_TRUE(db->Put(leveldb::WriteOptions(), "their", "data").ok());
    delete db;
  }
  const auto before = Tree(dir);
  auto engine = Open(dir);
  EXPECT_TRUE(absl::IsFailedPrecondition(engine.status())) << engine.status();
  EXPECT_EQ(Tree(dir), before);
}

TEST(LevelDbEngineTest, CorruptDatabaseBehindMarkerIsDataLossAndUntouched) {
  TempDir tmp;
  const std::string dir = tmp.Sub("engine");
  {
    auto engine = Open(dir);
    ASSERT_TRUE(engine.ok());
    MustPut(engine->get(), CF::kDefault, "k", "v");
  }
  WriteFile(dir + "/data/CURRENT", "garbage without newline");
  auto before = Tree(dir);
  auto engine = Open(dir);
  EXPECT_TRUE(absl::IsDataLoss(engine.status())) << engine.status();
  EXPECT_EQ(Tree(dir), before);

  // A CURRENT naming a garbage manifest.
  WriteFile(dir + "/data/CURRENT", "MANIFEST-000099\n");
  WriteFile(dir + "/data/MANIFEST-000099", std::string(100, '\x07'));
  before = Tree(dir);
  engine = Open(dir);
  EXPECT_TRUE(absl::IsDataLoss(engine.status())) << engine.status();
  EXPECT_EQ(Tree(dir), before);
}

TEST(LevelDbEngineTest, MissingDatabaseBehindReadyMarkerIsDataLossNotRecreated) {
  TempDir tmp;
  const std::string dir = tmp.Sub("engine");
  ASSERT_TRUE(Open(dir).ok());
  fs::remove_all(dir + "/raft");
  auto engine = Open(dir);
  EXPECT_TRUE(absl::IsDataLoss(engine.status())) << engine.status();
  EXPECT_FALSE(fs::exists(dir + "/raft"));
}

TEST(LevelDbEngineTest, UnknownOrForeignMarkerIsFailedPrecondition) {
  TempDir tmp;
  const std::string dir = tmp.Sub("engine");
  fs::create_directory(dir);
  WriteFile(dir + "/RUTILE_ENGINE", "rutile storage engine\nformat 99\nstate ready\n");
  auto engine = Open(dir);
  EXPECT_TRUE(absl::IsFailedPrecondition(engine.status())) << engine.status();
  EXPECT_NE(engine.status().message().find("format"), std::string::npos);
  WriteFile(dir + "/RUTILE_ENGINE", "hello");
  const auto before = Tree(dir);
  engine = Open(dir);
  EXPECT_TRUE(absl::IsFailedPrecondition(engine.status())) << engine.status();
  EXPECT_EQ(Tree(dir), before);
}

TEST(LevelDbEngineTest, HalfCreatedEngineIsFinishedOnNextOpen) {
  TempDir tmp;
  const std::string dir = tmp.Sub("engine");
  fs::create_directory(dir);
  // As left by a crash between writing the marker and creating the databases.
  WriteFile(dir + "/RUTILE_ENGINE", "rutile storage engine\nformat 1\nstate creating\n");
  auto engine = Open(dir);
  ASSERT_TRUE(engine.ok()) << engine.status();
  EXPECT_EQ(ReadFile(dir + "/RUTILE_ENGINE"), "rutile storage engine\nformat 1\nstate ready\n");
}

TEST(LevelDbEngineTest, SecondOpenInSameProcessIsRefusedWhileFirstIsOpen) {
  TempDir tmp;
  const std::string dir = tmp.Sub("engine");
  auto first = Open(dir);
  ASSERT_TRUE(first.ok());
  MustPut(first->get(), CF::kDefault, "k", "v");
  auto second = Open(dir);
  EXPECT_TRUE(absl::IsFailedPrecondition(second.status())) << second.status();
  EXPECT_NE(second.status().message().find("locked"), std::string::npos);
  EXPECT_EQ(GetOr(first->get(), CF::kDefault, "k"), "v");
  first->reset();
  auto third = Open(dir);
  ASSERT_TRUE(third.ok()) << third.status();
  EXPECT_EQ(GetOr(third->get(), CF::kDefault, "k"), "v");
}

TEST(LevelDbEngineTest, PathUnderARegularFileFails) {
  TempDir tmp;
  const std::string file = tmp.Sub("file");
  WriteFile(file, "precious");
  auto under = Open(file + "/engine");
  EXPECT_TRUE(absl::IsFailedPrecondition(under.status())) << under.status();
  auto itself = Open(file);
  EXPECT_TRUE(absl::IsFailedPrecondition(itself.status())) << itself.status();
  EXPECT_EQ(ReadFile(file), "precious");
}

// Root bypasses file modes, but not sysfs: mkdir there fails with EPERM even for root.
TEST(LevelDbEngineTest, PermissionDeniedByTheSystem) {
  if (!fs::is_directory("/sys/kernel")) GTEST_SKIP() << "no sysfs";
  auto engine = Open("/sys/rutile_storage_test/engine");
  EXPECT_TRUE(absl::IsPermissionDenied(engine.status())) << engine.status();
}

TEST(LevelDbEngineTest, DeleteRangeOverTableFilesThenCompactReclaimsSpace) {
  TempDir tmp;
  LevelDbEngineOptions options;
  options.write_buffer_size = 64 << 10;
  auto opened = Open(tmp.Sub("engine"), options);
  ASSERT_TRUE(opened.ok());
  Engine* e = opened->get();
  const std::string value(500, 'x');
  for (int b = 0; b < 20; ++b) {
    WriteBatch batch;
    for (int i = 0; i < 100; ++i) {
      batch.Put(CF::kDefault, absl::StrFormat("k%05d", b * 100 + i), value + std::to_string(i));
    }
    ASSERT_TRUE(e->Write(batch, WriteOptions()).ok());
  }
  ASSERT_TRUE(e->CompactRange(CF::kDefault, "", "").ok());
  auto before = e->ApproximateSize(CF::kDefault, "", "");
  ASSERT_TRUE(before.ok());
  WriteBatch del;
  del.DeleteRange(CF::kDefault, "k00100", "k01900");
  ASSERT_TRUE(e->Write(del, WriteOptions()).ok());
  EXPECT_EQ(Scan(e, CF::kDefault).size(), 200u);
  ASSERT_TRUE(e->CompactRange(CF::kDefault, "", "").ok());
  auto after = e->ApproximateSize(CF::kDefault, "", "");
  ASSERT_TRUE(after.ok());
  EXPECT_LT(*after, *before / 2) << *before << " -> " << *after;
}

// ---- Synced writes through Env::RunBlocking. ----

TEST(LevelDbEngineTest, SyncedWritesFromManyFibersRunThroughTheIoEnv) {
  TempDir tmp;
  Env* env = Env::Default();
  LevelDbEngineOptions options;
  options.io_env = env;
  auto opened = Open(tmp.Sub("engine"), options);
  ASSERT_TRUE(opened.ok()) << opened.status();
  Engine* e = opened->get();
  constexpr int kFibers = 8;
  constexpr int kWrites = 10;
  std::atomic<int> failures{0};
  std::atomic<int> other_work{0};
  WaitGroup wg;
  wg.Add(kFibers);
  for (int f = 0; f < kFibers; ++f) {
    env->Spawn([&, f] {
      for (int i = 0; i < kWrites; ++i) {
        WriteBatch b;
        b.Put(CF::kRaft, absl::StrFormat("f%d-%d", f, i), "entry");
        b.Put(CF::kDefault, absl::StrFormat("f%d-%d", f, i), "data");  // Mixed: fsyncs.
        WriteOptions o;
        o.sync = i % 2 == 0;
        if (!e->Write(b, o).ok()) failures++;
        other_work++;
      }
      if (!e->SyncWAL().ok()) failures++;
      wg.Done();
    });
  }
  wg.Wait();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(other_work.load(), kFibers * kWrites);
  EXPECT_EQ(Scan(e, CF::kRaft).size(), size_t{kFibers * kWrites});
  EXPECT_EQ(Scan(e, CF::kDefault).size(), size_t{kFibers * kWrites});
}

// Write-ahead logs are zero-filled ahead of their data (wal_zero_fill_bytes): the log
// file is longer than what was written, and LevelDB's recovery reads the records and
// skips the zeros, across many chunks and 32 KiB log blocks, also with paranoid checks.
TEST(LevelDbEngineTest, ZeroFilledWriteAheadLogsRecoverEveryWrite) {
  TempDir tmp;
  const std::string dir = tmp.Sub("engine");
  LevelDbEngineOptions options;
  options.wal_zero_fill_bytes = 64 << 10;
  options.write_buffer_size = 64 << 20;  // Everything stays in the log until reopened.
  const int kWrites = 2000;              // About 600 KiB of records.
  auto value = [](int i) { return absl::StrFormat("%0*d", 200 + i % 150, i); };
  {
    auto engine = Open(dir, options);
    ASSERT_TRUE(engine.ok()) << engine.status();
    for (int i = 0; i < kWrites; ++i) {
      WriteBatch b;
      b.Put(CF::kRaft, absl::StrFormat("r%06d", i), value(i));
      // A batch with data is synced whatever the options say (raft part first).
      if (i % 100 == 0) b.Put(CF::kWrite, absl::StrFormat("d%06d", i), value(i));
      WriteOptions o;
      o.sync = i % 100 == 0;
      ASSERT_TRUE((*engine)->Write(b, o).ok());
    }
    // The raft database's log runs ahead of its data by at least half a chunk of zeros.
    uint64_t log_bytes = 0;
    std::string log_tail;
    for (const auto& entry : fs::directory_iterator(dir + "/raft")) {
      if (entry.path().extension() != ".log") continue;
      log_bytes = fs::file_size(entry.path());
      std::string all = ReadFile(entry.path().string());
      log_tail = all.substr(all.size() - (32 << 10));
    }
    EXPECT_GT(log_bytes, uint64_t{kWrites} * 200);
    EXPECT_EQ(log_bytes % (64 << 10), 0u) << log_bytes;
    EXPECT_EQ(log_tail, std::string(32 << 10, '\0'));
  }
  for (bool paranoid : {true, false}) {
    options.paranoid_checks = paranoid;
    auto engine = Open(dir, options);
    ASSERT_TRUE(engine.ok()) << engine.status() << " paranoid " << paranoid;
    Engine* e = engine->get();
    EXPECT_EQ(Scan(e, CF::kRaft).size(), size_t{kWrites});
    EXPECT_EQ(Scan(e, CF::kWrite).size(), size_t{(kWrites + 99) / 100});
    for (int i = 0; i < kWrites; i += 7) {
      ASSERT_EQ(GetOr(e, CF::kRaft, absl::StrFormat("r%06d", i)), value(i)) << i;
    }
  }
}

// A crash can persist the pages of unsynced records of a zero-filled log out of order:
// record N reads as zeros while later records, in later 32 KiB blocks, are intact.
// Recovery must replay only the prefix before the hole (LevelDB's reader alone skips the
// rest of the block and applies the later records). Also for a hole in the data database,
// whose writes are unsynced and which holds the apply state next to the data.
TEST(LevelDbEngineTest, TornZeroFilledLogRecoversOnlyAPrefix) {
  for (CF cf : {CF::kDefault, CF::kRaft}) {
    TempDir tmp;
    const std::string dir = tmp.Sub("engine");
    LevelDbEngineOptions options;
    options.write_buffer_size = 64 << 20;  // Everything stays in the log.
    const int kWrites = 300;               // About 300 KiB: ten log blocks.
    const int kHole = 150;
    auto key = [](int i) { return absl::StrFormat("key%06d", i); };
    const std::string value(1000, 'v');
    {
      auto engine = Open(dir, options);
      ASSERT_TRUE(engine.ok()) << engine.status();
      for (int i = 0; i < kWrites; ++i) {
        WriteBatch b;
        b.Put(cf, key(i), value);
        ASSERT_TRUE((*engine)->Write(b, WriteOptions()).ok());
      }
    }
    // The page holding record kHole's key never reached the disk.
    const std::string db_dir = dir + (cf == CF::kRaft ? "/raft" : "/data");
    std::string log_path;
    for (const auto& entry : fs::directory_iterator(db_dir)) {
      if (entry.path().extension() == ".log") log_path = entry.path().string();
    }
    ASSERT_FALSE(log_path.empty());
    std::string log = ReadFile(log_path);
    const size_t at = log.find(key(kHole));
    ASSERT_NE(at, std::string::npos);
    const size_t page = at / 4096 * 4096;
    ASSERT_LT(page + 40 * 1024, log.size());  // Whole blocks of records follow the hole.
    log.replace(page, 4096, std::string(4096, '\0'));
    WriteFile(log_path, log);

    for (int round = 0; round < 2; ++round) {
      auto engine = Open(dir, options);
      ASSERT_TRUE(engine.ok()) << engine.status();
      auto got = Scan(engine->get(), cf);
      // A prefix: records that lie wholly before the lost page, and none after it.
      ASSERT_LE(got.size(), size_t{kHole}) << CfName(cf) << " round " << round;
      ASSERT_GE(got.size(), size_t{kHole - 6}) << CfName(cf) << " round " << round;
      for (size_t i = 0; i < got.size(); ++i) {
        ASSERT_EQ(got[i].first, key(static_cast<int>(i))) << CfName(cf);
      }
    }
  }
}

TEST(LevelDbEngineTest, SyncedWritesUnderSimEnvRunInline) {
  TempDir tmp;
  SimEnv env;
  LevelDbEngineOptions options;
  options.io_env = &env;
  auto opened = Open(tmp.Sub("engine"), options);
  ASSERT_TRUE(opened.ok()) << opened.status();
  Engine* e = opened->get();
  bool done = false;
  env.Spawn([&] {
    MustPut(e, CF::kRaft, "k", "v", /*sync=*/true);
    done = true;
  });
  env.RunUntilIdle();
  EXPECT_TRUE(done);
  EXPECT_EQ(GetOr(e, CF::kRaft, "k"), "v");
}

// Iterators over the latest state are kept for reuse (leveldb_engine.h), but never for
// long: a write drops them, and a read-only period refreshes them after 1024 reuses or
// 1 s of the engine's clock (judged on every 16th take of an iterator), so old table files
// are not pinned by reads alone. A kept iterator always shows the latest state.
TEST(LevelDbEngineTest, KeptIteratorsAreBoundedByWritesUsesAndAge) {
  TempDir tmp;
  SimEnv env;
  LevelDbEngineOptions options;
  options.io_env = &env;
  auto opened = Open(tmp.Sub("engine"), options);
  ASSERT_TRUE(opened.ok()) << opened.status();
  auto* e = static_cast<LevelDbEngine*>(opened->get());
  bool done = false;
  env.Spawn([&] {
    MustPut(e, CF::kWrite, "k", "1");
    auto seek = [&]() -> std::string {
      std::unique_ptr<Iterator> it = e->NewIterator(CF::kWrite, IterOptions());
      it->Seek("k");
      return it->Valid() ? std::string(it->value()) : "";
    };
    EXPECT_EQ(seek(), "1");
    EXPECT_EQ(e->TEST_KeptIterators(), 1u);
    // A write drops it; the next iterator shows the write.
    MustPut(e, CF::kWrite, "k", "2");
    EXPECT_EQ(e->TEST_KeptIterators(), 0u);
    EXPECT_EQ(seek(), "2");
    EXPECT_EQ(e->TEST_KeptIterators(), 1u);
    // Reused many times, it is made anew now and then.
    int dropped = 0;
    for (int i = 0; i < 3000; ++i) {
      EXPECT_EQ(seek(), "2");
      if (e->TEST_KeptIterators() == 0) ++dropped;
    }
    EXPECT_GE(dropped, 2);
    EXPECT_LE(dropped, 3);
    // An old one is reused at most 15 more times (its age is judged on every 16th use, as
    // a clock read costs as much as the rest of a take), then made anew.
    EXPECT_EQ(seek(), "2");
    EXPECT_EQ(e->TEST_KeptIterators(), 1u);
    env.SleepForMicros(2'000'000);
    const uint64_t made = e->TEST_IteratorsMade();
    int takes = 0;
    while (e->TEST_IteratorsMade() == made && takes < 100) {
      EXPECT_EQ(seek(), "2");
      ++takes;
    }
    EXPECT_EQ(e->TEST_IteratorsMade(), made + 1);
    EXPECT_LE(takes, 16);
    // The new one is young: reused, not made again, for a while.
    for (int i = 0; i < 100; ++i) EXPECT_EQ(seek(), "2");
    EXPECT_EQ(e->TEST_IteratorsMade(), made + 1);
    // Returned old, it is kept (the age is judged when taking), but a later take drops
    // it and makes a new one, which shows the latest state.
    {
      std::unique_ptr<Iterator> it = e->NewIterator(CF::kWrite, IterOptions());
      EXPECT_EQ(e->TEST_KeptIterators(), 0u);
      env.SleepForMicros(2'000'000);
    }
    EXPECT_EQ(e->TEST_KeptIterators(), 1u);
    takes = 0;
    while (e->TEST_IteratorsMade() == made + 1 && takes < 100) {
      std::unique_ptr<Iterator> it = e->NewIterator(CF::kWrite, IterOptions());
      EXPECT_EQ(e->TEST_KeptIterators(), 0u);
      it->Seek("k");
      ASSERT_TRUE(it->Valid());
      EXPECT_EQ(it->value(), "2");
      ++takes;
    }
    EXPECT_EQ(e->TEST_IteratorsMade(), made + 2);
    EXPECT_LE(takes, 16);
    EXPECT_EQ(e->TEST_KeptIterators(), 1u);
    // A write while it is kept drops it, and a new iterator shows the write.
    MustPut(e, CF::kWrite, "k", "3");
    EXPECT_EQ(e->TEST_KeptIterators(), 0u);
    EXPECT_EQ(seek(), "3");
    done = true;
  });
  env.RunFor(10'000'000);
  EXPECT_TRUE(done);
}

// ---- Crash recovery: a child process writes and is killed with SIGKILL. ----

constexpr char kChildDirEnv[] = "RUTILE_STORAGE_CHILD_DIR";
constexpr char kChildFdEnv[] = "RUTILE_STORAGE_CHILD_FD";

std::string ChildKey(int i) { return absl::StrFormat("key%08d", i); }
std::string ChildValue(int i) { return absl::StrFormat("value-%d-%s", i, std::string(100, 'v')); }

// Not a test on its own: the body of the child process started by
// KilledProcessLosesNoAcknowledgedWrite. Skipped in a normal run.
TEST(LevelDbEngineChild, WriteUntilKilled) {
  const char* dir = getenv(kChildDirEnv);
  const char* fd_text = getenv(kChildFdEnv);
  if (dir == nullptr || fd_text == nullptr) GTEST_SKIP() << "child process only";
  const int fd = atoi(fd_text);
  auto engine = LevelDbEngine::Open(dir, LevelDbEngineOptions());
  if (!engine.ok()) _exit(3);
  for (int i = 0;; ++i) {
    // Even i: one synced batch across the raft and data databases. Odd i: unsynced data.
    WriteBatch b;
    WriteOptions o;
    o.sync = i % 2 == 0;
    b.Put(CF::kWrite, ChildKey(i), ChildValue(i));
    b.Put(CF::kLock, ChildKey(i), "lock");
    if (o.sync) b.Put(CF::kRaft, ChildKey(i), ChildValue(i));
    if (!(*engine)->Write(b, o).ok()) _exit(4);
    // Acknowledge only after Write returned.
    const std::string line = std::to_string(i) + "\n";
    if (write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) _exit(5);
  }
}

TEST(LevelDbEngineTest, KilledProcessLosesNoAcknowledgedWrite) {
  TempDir tmp;
  const std::string dir = tmp.Sub("engine");
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const std::string dir_env = std::string(kChildDirEnv) + "=" + dir;
  const std::string fd_env = std::string(kChildFdEnv) + "=" + std::to_string(fds[1]);
  std::vector<std::string> env_strings = {dir_env, fd_env};
  for (char** e = environ; *e != nullptr; ++e) env_strings.emplace_back(*e);
  std::vector<char*> envp;
  for (std::string& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::string exe = "/proc/self/exe";
  std::string filter = "--gtest_filter=LevelDbEngineChild.WriteUntilKilled";
  char* argv[] = {exe.data(), filter.data(), nullptr};

  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(fds[0]);
    int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 1);
    execve(exe.c_str(), argv, envp.data());
    _exit(127);
  }
  close(fds[1]);
  FILE* in = fdopen(fds[0], "r");
  ASSERT_NE(in, nullptr);
  int acked = -1;
  char line[64];
  // Wait for enough acknowledged writes, then check the lock while the child holds it.
  while (acked < 400 && fgets(line, sizeof(line), in) != nullptr) acked = atoi(line);
  ASSERT_GE(acked, 400) << "child stopped early";
  auto locked = Open(dir);
  EXPECT_TRUE(absl::IsFailedPrecondition(locked.status())) << locked.status();

  ASSERT_EQ(kill(pid, SIGKILL), 0);
  int wstatus = 0;
  ASSERT_EQ(waitpid(pid, &wstatus, 0), pid);
  EXPECT_TRUE(WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGKILL);
  // Acknowledgements already in the pipe count too; a torn last line does not.
  while (fgets(line, sizeof(line), in) != nullptr) {
    if (std::string(line).back() == '\n') acked = atoi(line);
  }
  fclose(in);

  auto engine = Open(dir);
  ASSERT_TRUE(engine.ok()) << engine.status();
  Engine* e = engine->get();
  for (int i = 0; i <= acked; ++i) {
    ASSERT_EQ(GetOr(e, CF::kWrite, ChildKey(i)), ChildValue(i)) << "write " << i;
    ASSERT_EQ(GetOr(e, CF::kLock, ChildKey(i)), "lock") << "write " << i;
    if (i % 2 == 0) {
      ASSERT_EQ(GetOr(e, CF::kRaft, ChildKey(i)), ChildValue(i)) << "write " << i;
    }
  }
  // Whatever the child wrote past its last acknowledgement is all-or-nothing per CF set:
  // the data part of a batch never shows without its raft part.
  auto data = Scan(e, CF::kWrite);
  EXPECT_GE(data.size(), size_t(acked + 1));
  for (size_t i = 0; i < data.size(); ++i) {
    if (i % 2 == 0) {
      EXPECT_EQ(GetOr(e, CF::kRaft, ChildKey(i)), ChildValue(i)) << i;
    }
  }
}

}  // namespace
}  // namespace rutile::storage
