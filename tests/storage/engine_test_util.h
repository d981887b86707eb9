// Helpers shared by the storage tests: engine factories for typed tests, temporary
// directories, and scan helpers.

#ifndef RUTILE_TESTS_STORAGE_ENGINE_TEST_UTIL_H_
#define RUTILE_TESTS_STORAGE_ENGINE_TEST_UTIL_H_

#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "rutile/storage.h"
#include "storage/engine.h"
#include "storage/leveldb_engine.h"
#include "storage/mem_engine.h"

namespace rutile::storage::testing {

// A fresh directory under $TEST_TMPDIR or /tmp, removed with everything in it on
// destruction.
class TempDir {
 public:
  TempDir() {
    const char* base = getenv("TEST_TMPDIR");
    std::string templ = std::string(base != nullptr ? base : "/tmp") + "/rutile_storage_XXXXXX";
    char* made = mkdtemp(templ.data());
    EXPECT_NE(made, nullptr);
    path_ = templ;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Owns an engine and whatever it needs (a directory for LevelDB).
struct EngineHolder {
  std::unique_ptr<TempDir> dir;
  std::unique_ptr<Engine> engine;
};

struct LevelDbFactory {
  static constexpr const char* kName = "LevelDb";
  static EngineHolder Make() {
    EngineHolder h;
    h.dir = std::make_unique<TempDir>();
    LevelDbEngineOptions options;
    // Small buffers so tests reach table files and compactions quickly.
    options.write_buffer_size = 64 << 10;
    auto engine = LevelDbEngine::Open(h.dir->Sub("engine"), options);
    EXPECT_TRUE(engine.ok()) << engine.status();
    if (engine.ok()) h.engine = std::move(*engine);
    return h;
  }
};

struct MemFactory {
  static constexpr const char* kName = "Mem";
  static EngineHolder Make() {
    EngineHolder h;
    h.engine = std::make_unique<MemEngine>();
    return h;
  }
};

class FactoryNames {
 public:
  template <typename T>
  static std::string GetName(int) {
    return T::kName;
  }
};

using KVs = std::vector<std::pair<std::string, std::string>>;

inline constexpr CF kAllCfs[] = {CF::kDefault, CF::kLock, CF::kWrite, CF::kRaft};

// Every (key, value) of `cf` within `options`' bounds, forward.
inline KVs Scan(Engine* engine, CF cf, const IterOptions& options = {}) {
  KVs out;
  std::unique_ptr<Iterator> it = engine->NewIterator(cf, options);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    out.emplace_back(std::string(it->key()), std::string(it->value()));
  }
  EXPECT_TRUE(it->status().ok()) << it->status();
  return out;
}

// The same, backward (so in descending key order).
inline KVs ReverseScan(Engine* engine, CF cf, const IterOptions& options = {}) {
  KVs out;
  std::unique_ptr<Iterator> it = engine->NewIterator(cf, options);
  for (it->SeekToLast(); it->Valid(); it->Prev()) {
    out.emplace_back(std::string(it->key()), std::string(it->value()));
  }
  EXPECT_TRUE(it->status().ok()) << it->status();
  return out;
}

inline IterOptions Bounds(std::string lower, std::string upper) {
  IterOptions o;
  o.lower_bound = std::move(lower);
  o.upper_bound = std::move(upper);
  return o;
}

inline void MustPut(Engine* engine, CF cf, std::string_view key, std::string_view value,
                    bool sync = false) {
  WriteBatch b;
  b.Put(cf, key, value);
  WriteOptions o;
  o.sync = sync;
  ASSERT_TRUE(engine->Write(b, o).ok());
}

inline void MustDelete(Engine* engine, CF cf, std::string_view key) {
  WriteBatch b;
  b.Delete(cf, key);
  ASSERT_TRUE(engine->Write(b, WriteOptions()).ok());
}

// The value of `key`, "<absent>" when missing, "<error: ...>" on error.
inline std::string GetOr(Engine* engine, CF cf, std::string_view key,
                         const Snapshot* snapshot = nullptr) {
  ReadOptions o;
  o.snapshot = snapshot;
  auto v = engine->Get(cf, key, o);
  if (!v.ok()) return "<error: " + v.status().ToString() + ">";
  if (!v->has_value()) return "<absent>";
  return **v;
}

}  // namespace rutile::storage::testing

#endif  // RUTILE_TESTS_STORAGE_ENGINE_TEST_UTIL_H_
