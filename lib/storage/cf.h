// Column families of a storage::Engine.
//
// Thread safety: constants and pure functions.

#ifndef RUTILE_STORAGE_CF_H_
#define RUTILE_STORAGE_CF_H_

#include <cstdint>
#include <string>

namespace rutile::storage {

// A column family. Every CF is its own ordered key space: keys of one CF are never seen
// through another. Values are stable: they are the byte that prefixes the CF's keys on disk
// in LevelDbEngine, so never renumber one. Internal column families take new values; every
// CF other than kRaft lives with the data column families.
enum class CF : uint8_t {
  kDefault = 0,  // MVCC values too long to inline in `write`.
  kLock = 1,     // Percolator locks.
  kWrite = 2,    // Commit records.
  kRaft = 3,     // Raft log entries and Raft state, kept apart from the data.
};

// Number of column families; every valid CF has a value below this.
inline constexpr int kNumCfs = 4;

// True when `cf` is one of the column families above (a cast from a bad integer is not).
inline bool IsValidCf(CF cf) { return static_cast<int>(cf) < kNumCfs; }

// "default", "lock", "write", "raft", or "cf#<n>" for an invalid value.
std::string CfName(CF cf);

}  // namespace rutile::storage

#endif  // RUTILE_STORAGE_CF_H_
