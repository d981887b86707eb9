// Public knobs of Rutile's storage engines. The engines themselves (rutile::storage::Engine
// and its LevelDB and in-memory implementations) are internal to the library; a host sets
// these options through its node options and never sees a LevelDB type.
//
// Thread safety: plain value types.

#ifndef RUTILE_STORAGE_H_
#define RUTILE_STORAGE_H_

#include <cstddef>

namespace rutile {
class Env;
}  // namespace rutile

namespace rutile::storage {

// Options of the on-disk engine (LevelDbEngine). The engine keeps two LevelDB databases
// under its directory, one for the data column families and one for the Raft log and
// state; each gets the sizes below (the block cache is shared by both).
struct LevelDbEngineOptions {
  // Create a fresh engine when the directory is missing or empty. When false, opening a
  // missing or empty directory fails with NotFound.
  bool create_if_missing = true;

  // Fail with AlreadyExists when the directory already holds a Rutile engine.
  bool error_if_exists = false;

  // Bytes buffered in each database's memtable before it is flushed to a table file.
  // 64 MiB (RocksDB's default; TiKV uses 128 MiB for its data and Raft column families)
  // rather than LevelDB's own 4 MiB: recent writes are read from the memtable instead of a
  // table file (a LevelDB Get from a table costs about twice one from the memtable), and
  // the Raft log's database flushes and compacts 16 times less often. The memtable only
  // grows as data is written; recovery replays up to this much log at Open. LevelDB's
  // table-file sizes (ApproximateSize) do not count what is still in the memtable.
  size_t write_buffer_size = 64 << 20;

  // Bytes of the uncompressed block cache shared by both databases.
  size_t block_cache_bytes = 8 << 20;

  // Bits per key of the Bloom filter on table files; 0 turns the filter off.
  int bloom_bits_per_key = 10;

  // Table files each database may keep open.
  int max_open_files = 500;

  // Compress table blocks with Snappy (when LevelDB was built with it).
  bool compression = true;

  // Check every checksum on reads and refuse to open on any recovery inconsistency,
  // instead of LevelDB's default of skipping what it cannot read.
  bool paranoid_checks = false;

  // Write-ahead log files are kept written with zeros ahead of their data, up to this
  // many bytes (as many as the log holds, from 64 KiB up), so that a synced write
  // overwrites blocks already in the file and its fdatasync need not also write the
  // file's size and allocation (etcd's WAL preallocation, RocksDB's log recycling).
  // LevelDB's log reader skips the zeros. A log file then occupies up to this much more
  // than its data. 0 appends as LevelDB does; ignored with paranoid_checks (a write torn
  // by a crash would then read as a corrupt record instead of a short file, and paranoid
  // recovery refuses that).
  uint64_t wal_zero_fill_bytes = 1 << 20;

  // When set, every write that waits for fsync (a synced write, a batch mixing the Raft CF
  // with data, SyncWAL) runs through io_env->RunBlocking: the calling fiber waits while
  // the other fibers of its thread keep running (DESIGN.md section 3). Not owned; must
  // outlive the engine. Null: such writes block the calling thread.
  Env* io_env = nullptr;
};

}  // namespace rutile::storage

#endif  // RUTILE_STORAGE_H_
