#include "storage/leveldb_engine.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "leveldb/cache.h"
#include "leveldb/db.h"
#include "leveldb/env.h"
#include "leveldb/filter_policy.h"
#include "leveldb/iterator.h"
#include "leveldb/options.h"
#include "leveldb/status.h"
#include "leveldb/write_batch.h"

namespace rutile::storage {
namespace {

namespace fs = std::filesystem;

constexpr uint32_t kRaftBit = uint32_t{1} << static_cast<int>(CF::kRaft);
constexpr uint32_t kValidCfMask = (uint32_t{1} << kNumCfs) - 1;

// Marker file contents. The last line changes from "creating" to "ready" once both
// databases exist, so a crash half-way through creation is finished by the next Open,
// while a ready engine whose database went missing is reported, not silently recreated.
constexpr char kMarkerHeader[] = "rutile storage engine\nformat 1\n";
constexpr char kMarkerCreating[] = "state creating\n";
constexpr char kMarkerReady[] = "state ready\n";

// LevelDB's default info logger renames LOG to LOG.old and creates LOG on every Open,
// even one that then fails; Rutile promises that a failed Open changes nothing, so the
// engine's databases log nowhere.
class NullLogger final : public leveldb::Logger {
 public:
  void Logv(const char* /*format*/, va_list /*ap*/) override {}
};

// ---- Write-ahead log files zero-filled ahead of the write position ----------------------
//
// A synced LevelDB write appends to the database's .log file and fdatasyncs it. An append
// moves the end of the file, so every fdatasync must also write the file's metadata (its
// size and allocation: the inode, or on a journalled ext4 a journal commit), a second
// device write and flush. ZeroFilledLogFile keeps the file written with zeros ahead of
// the data (up to `chunk` bytes): records then overwrite blocks that are already
// allocated and inside the file, and the fdatasync flushes only their pages. Only the
// write that extends the zeroed region pays for the metadata (and for the zeros). This is
// etcd's WAL preallocation and RocksDB's log recycling; zeros rather than fallocate,
// because writing into an unwritten extent changes metadata again.
//
// LevelDB's log reader skips zero-filled blocks (kZeroType with length 0: its old mmap
// writer preallocated the same way), so recovery reads the records and then only zeros.
// The directory is fsynced on the file's first Sync, so that a new log file's name is
// durable before any write in it is acknowledged.
//
// Crash safety. Records overwrite pages already inside the file, so after a crash the
// pages of unsynced records (an unsynced write, or a synced one whose fdatasync had not
// returned) may have reached the disk in any order: record N may read as zeros while
// N+1 is intact. LevelDB's reader drops the rest of a 32 KiB block at a bad or zero
// record and goes on with the next block, so it would recover N+1 without N (and the
// data database keeps the apply state next to the data). Two rules keep recovery a
// prefix of the writes: TrimNewestLog cuts the newest log at its first bad, zero or
// incomplete record before LevelDB opens the database, and Close syncs a log that has
// unsynced records (LevelDB closes the old log unsynced when it starts a new one), so
// only the newest log can be torn.
class ZeroFilledLogFile final : public leveldb::WritableFile {
 public:
  ZeroFilledLogFile(std::string path, int fd, uint64_t chunk)
      : path_(std::move(path)), fd_(fd), chunk_(chunk) {}
  ~ZeroFilledLogFile() override {
    if (fd_ >= 0) (void)Close();
  }

  leveldb::Status Append(const leveldb::Slice& data) override {
    buf_.append(data.data(), data.size());
    if (buf_.size() >= kFlushAt) return Flush();
    return leveldb::Status::OK();
  }
  leveldb::Status Flush() override {
    if (buf_.empty()) return leveldb::Status::OK();
    unsynced_ = true;
    const uint64_t end = offset_ + buf_.size();
    leveldb::Status s = WriteAt(buf_.data(), buf_.size(), offset_);
    if (!s.ok()) return s;
    offset_ = end;
    buf_.clear();
    // Keep zeros ahead of the data: as much as there is data, at least 64 KiB and at most
    // a chunk (a small database's log stays small), extended when less than half of that
    // is left. The fdatasync after an extension writes the new size once; the writes of
    // the next half extension or more need no metadata.
    static constexpr uint64_t kMinAhead = 64 << 10;
    const uint64_t ahead = std::clamp<uint64_t>(end, std::min(kMinAhead, chunk_), chunk_);
    if (end + ahead / 2 > zeroed_) {
      static const std::string* const kZeros = new std::string(kMinAhead, '\0');
      uint64_t from = std::max(zeroed_, end);
      const uint64_t to = (end + ahead + kMinAhead - 1) / kMinAhead * kMinAhead;
      while (from < to) {
        size_t n = static_cast<size_t>(std::min<uint64_t>(to - from, kZeros->size()));
        s = WriteAt(kZeros->data(), n, from);
        if (!s.ok()) return s;
        from += n;
      }
      zeroed_ = to;
    }
    return leveldb::Status::OK();
  }
  leveldb::Status Sync() override {
    leveldb::Status s = Flush();
    if (!s.ok()) return s;
    if (::fdatasync(fd_) != 0) return IoError(errno, "fdatasync");
    unsynced_ = false;
    if (!dir_synced_) {
      std::string dir = fs::path(path_).parent_path().string();
      int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (dfd < 0) return IoError(errno, "open directory");
      int rc = ::fsync(dfd);
      int e = errno;
      ::close(dfd);
      if (rc != 0) return IoError(e, "fsync directory");
      dir_synced_ = true;
    }
    return leveldb::Status::OK();
  }
  // LevelDB closes a log without syncing it when it switches to a new one. This one is
  // synced first, so that only the newest log of a database can hold unsynced records:
  // the one TrimNewestLog scans before the next Open.
  leveldb::Status Close() override {
    leveldb::Status s = Flush();
    if (s.ok() && fd_ >= 0 && unsynced_) s = Sync();
    if (fd_ >= 0 && ::close(fd_) != 0 && s.ok()) s = IoError(errno, "close");
    fd_ = -1;
    return s;
  }

 private:
  static constexpr size_t kFlushAt = 64 << 10;

  leveldb::Status WriteAt(const char* p, size_t n, uint64_t off) {
    while (n > 0) {
      ssize_t w = ::pwrite(fd_, p, n, static_cast<off_t>(off));
      if (w < 0) {
        if (errno == EINTR) continue;
        return IoError(errno, "pwrite");
      }
      p += w;
      n -= static_cast<size_t>(w);
      off += static_cast<uint64_t>(w);
    }
    return leveldb::Status::OK();
  }
  leveldb::Status IoError(int e, const char* what) const {
    return leveldb::Status::IOError(path_, absl::StrCat(what, ": ", std::strerror(e)));
  }

  const std::string path_;
  int fd_;
  const uint64_t chunk_;
  std::string buf_;
  uint64_t offset_ = 0;    // Where the next record goes (the data written so far).
  uint64_t zeroed_ = 0;    // The file holds data, then zeros, up to here.
  bool unsynced_ = false;  // Data written since the last fdatasync.
  bool dir_synced_ = false;
};

// LevelDB's default Env, except that write-ahead log files (NNNNNN.log) are
// ZeroFilledLogFiles.
class ZeroFilledLogEnv final : public leveldb::EnvWrapper {
 public:
  explicit ZeroFilledLogEnv(uint64_t chunk) : EnvWrapper(leveldb::Env::Default()), chunk_(chunk) {}
  leveldb::Status NewWritableFile(const std::string& fname,
                                  leveldb::WritableFile** result) override {
    if (!absl::EndsWith(fname, ".log")) return target()->NewWritableFile(fname, result);
    *result = nullptr;
    int fd = ::open(fname.c_str(), O_TRUNC | O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return leveldb::Status::IOError(fname, std::strerror(errno));
    *result = new ZeroFilledLogFile(fname, fd, chunk_);
    return leveldb::Status::OK();
  }

 private:
  const uint64_t chunk_;
};

absl::Status ErrnoStatus(int error, std::string_view what, const std::string& path) {
  return absl::ErrnoToStatus(error, absl::StrCat("storage: ", std::string(what), " ", path));
}

// ---- Trimming a torn write-ahead log before recovery ------------------------------------

// CRC-32C (Castagnoli), as LevelDB checksums its log records.
uint32_t Crc32c(uint32_t crc, const char* p, size_t n) {
  static const uint32_t* const kTable = [] {
    auto* t = new uint32_t[256];
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  crc = ~crc;
  for (size_t i = 0; i < n; ++i)
    crc = kTable[(crc ^ static_cast<uint8_t>(p[i])) & 0xff] ^ (crc >> 8);
  return ~crc;
}

// Length of the longest prefix of a LevelDB log (`log` is the whole file) made of
// complete, intact logical records: LevelDB's format (db/log_format.h) is 32 KiB blocks of
// physical records, each a 7-byte header (masked CRC-32C of type and payload, 16-bit
// length, type: 1 full, 2 first, 3 middle, 4 last) and its payload; a block's last 1 to 6
// bytes are zero padding when no header fits. The prefix ends at the first zero header
// (the zero-filled tail, or a page that never reached the disk), bad checksum, record
// running past its block or the file, or fragment out of sequence.
size_t IntactLogPrefix(std::string_view log) {
  constexpr size_t kBlock = 32 << 10;
  constexpr size_t kHeader = 7;
  size_t pos = 0;
  size_t intact = 0;
  bool in_fragment = false;
  while (pos < log.size()) {
    const size_t left_in_block = kBlock - pos % kBlock;
    if (left_in_block < kHeader) {
      pos += left_in_block;  // Trailer.
      continue;
    }
    if (log.size() - pos < kHeader) break;
    const auto* h = reinterpret_cast<const uint8_t*>(log.data() + pos);
    const uint32_t stored =
        uint32_t{h[0]} | uint32_t{h[1]} << 8 | uint32_t{h[2]} << 16 | uint32_t{h[3]} << 24;
    const size_t length = size_t{h[4]} | size_t{h[5]} << 8;
    const uint8_t type = h[6];
    if (type < 1 || type > 4) break;  // Zero (type 0) or garbage.
    if (length > left_in_block - kHeader || length > log.size() - pos - kHeader) break;
    uint32_t crc = Crc32c(0, log.data() + pos + 6, 1 + length);
    crc = ((crc >> 15) | (crc << 17)) + 0xa282ead8u;  // LevelDB's crc32c::Mask.
    if (crc != stored) break;
    const bool starts = type == 1 || type == 2;
    if (starts == in_fragment) break;  // A first/full inside a record, or a stray middle/last.
    pos += kHeader + length;
    in_fragment = type == 2 || type == 3;
    if (!in_fragment) intact = pos;
  }
  return intact;
}

// Cuts the newest write-ahead log of the LevelDB in `path` (the one a crash can have
// torn; see ZeroFilledLogFile) at the end of its intact prefix when anything but zeros
// follows it, so that recovery replays a prefix of the writes. The cut drops only what a
// crash left unsynced or torn (a synced write's fdatasync made every earlier record
// durable), so it is done even if the Open fails later. Does nothing when the database does not
// exist yet or is locked (open elsewhere: LevelDB's Open reports that).
absl::Status TrimNewestLog(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path + "/CURRENT", ec)) return absl::OkStatus();
  leveldb::Env* env = leveldb::Env::Default();
  leveldb::FileLock* lock = nullptr;
  if (!env->LockFile(path + "/LOCK", &lock).ok()) return absl::OkStatus();
  absl::Status result = [&]() -> absl::Status {
    uint64_t newest = 0;
    std::string log_path;
    for (fs::directory_iterator it(path, ec); !ec && it != fs::directory_iterator();
         it.increment(ec)) {
      const std::string name = it->path().filename().string();
      if (name.size() <= 4 || !absl::EndsWith(name, ".log")) continue;
      uint64_t number = 0;
      bool digits = true;
      for (char c : std::string_view(name).substr(0, name.size() - 4)) {
        if (c < '0' || c > '9') digits = false;
        number = number * 10 + static_cast<uint64_t>(c - '0');
      }
      if (digits && (log_path.empty() || number > newest)) {
        newest = number;
        log_path = it->path().string();
      }
    }
    if (ec) return ErrnoStatus(ec.value(), "cannot list", path);
    if (log_path.empty()) return absl::OkStatus();
    int fd = ::open(log_path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) return ErrnoStatus(errno, "cannot open", log_path);
    std::string log;
    char buf[1 << 16];
    while (true) {
      ssize_t n = ::read(fd, buf, sizeof(buf));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        int e = errno;
        ::close(fd);
        return ErrnoStatus(e, "cannot read", log_path);
      }
      if (n == 0) break;
      log.append(buf, static_cast<size_t>(n));
    }
    // Only zeros after the intact prefix (the zero-filled tail of a cleanly written log)
    // need no trimming: LevelDB reads them as the end.
    const size_t intact = IntactLogPrefix(log);
    if (log.find_first_not_of('\0', intact) != std::string::npos &&
        (::ftruncate(fd, static_cast<off_t>(intact)) != 0 || ::fsync(fd) != 0)) {
      int e = errno;
      ::close(fd);
      return ErrnoStatus(e, "cannot trim the torn write-ahead log", log_path);
    }
    ::close(fd);
    return absl::OkStatus();
  }();
  (void)env->UnlockFile(lock);
  return result;
}

// Reads a whole small file. Returns NotFound when it does not exist.
absl::StatusOr<std::string> ReadSmallFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, "cannot open", path);
  std::string out;
  char buf[4096];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      ::close(fd);
      return ErrnoStatus(e, "cannot read", path);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > (1 << 16)) break;  // A marker is tiny; a big file is not ours.
  }
  ::close(fd);
  return out;
}

absl::Status SyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, "cannot open directory", dir);
  int rc = ::fsync(fd);
  int e = errno;
  ::close(fd);
  if (rc != 0) return ErrnoStatus(e, "cannot sync directory", dir);
  return absl::OkStatus();
}

// Replaces `dir`/`name` with `contents` atomically and durably: write a temporary file,
// fsync it, rename it over the target, fsync the directory.
absl::Status WriteFileAtomically(const std::string& dir, const std::string& name,
                                 std::string_view contents) {
  const std::string path = dir + "/" + name;
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoStatus(errno, "cannot create", tmp);
  size_t done = 0;
  while (done < contents.size()) {
    ssize_t n = ::write(fd, contents.data() + done, contents.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      ::close(fd);
      return ErrnoStatus(e, "cannot write", tmp);
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    int e = errno;
    ::close(fd);
    return ErrnoStatus(e, "cannot sync", tmp);
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return ErrnoStatus(errno, "cannot rename", tmp);
  return SyncDir(dir);
}

enum class MarkerState { kCreating, kReady };

absl::StatusOr<MarkerState> ParseMarker(const std::string& contents, const std::string& path) {
  if (contents == absl::StrCat(kMarkerHeader, kMarkerReady)) return MarkerState::kReady;
  if (contents == absl::StrCat(kMarkerHeader, kMarkerCreating)) return MarkerState::kCreating;
  if (contents.rfind("rutile storage engine\n", 0) == 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "storage: ", path, " names an engine format this version does not know; refusing it"));
  }
  return absl::FailedPreconditionError(
      absl::StrCat("storage: ", path, " is not a Rutile engine marker; refusing the directory"));
}

// Builds `prefix byte + key` in a stack buffer when small, so point reads do not allocate.
class PrefixedKey {
 public:
  // Performance-critical path.
  PrefixedKey(CF cf, std::string_view key) {
    size_ = key.size() + 1;
    char* p = stack_;
    if (size_ > sizeof(stack_)) {
      heap_.resize(size_);
      p = heap_.data();
    }
    p[0] = static_cast<char>(cf);
    std::memcpy(p + 1, key.data(), key.size());
    data_ = p;
  }
  PrefixedKey(const PrefixedKey&) = delete;
  PrefixedKey& operator=(const PrefixedKey&) = delete;

  leveldb::Slice slice() const { return leveldb::Slice(data_, size_); }

 private:
  char stack_[128];
  std::string heap_;
  const char* data_;
  size_t size_;
};

// The prefixed form of an exclusive end bound of `cf` in the data database: an empty
// `end` means "to the end of the CF", which is the next CF's prefix.
std::string DataUpperBound(CF cf, std::string_view end) {
  std::string out(1, static_cast<char>(cf));
  if (end.empty()) {
    out[0] = static_cast<char>(static_cast<uint8_t>(cf) + 1);
  } else {
    out.append(end);
  }
  return out;
}

class LevelDbSnapshot final : public Snapshot {
 public:
  LevelDbSnapshot(const Engine* engine, leveldb::DB* data_db, leveldb::DB* raft_db)
      : Snapshot(engine),
        data_db_(data_db),
        raft_db_(raft_db),
        // Data first, then raft: see Engine::GetSnapshot.
        data_(data_db->GetSnapshot()),
        raft_(raft_db->GetSnapshot()) {}
  ~LevelDbSnapshot() override {
    raft_db_->ReleaseSnapshot(raft_);
    data_db_->ReleaseSnapshot(data_);
  }

  const leveldb::Snapshot* ForCf(CF cf) const { return cf == CF::kRaft ? raft_ : data_; }

 private:
  leveldb::DB* const data_db_;
  leveldb::DB* const raft_db_;
  const leveldb::Snapshot* const data_;
  const leveldb::Snapshot* const raft_;
};

}  // namespace

// LevelDB iterators over the latest state of the data database, for reuse (see the
// header). An iterator is current for generation g = the number of data writes begun when
// it was made, provided none was in flight then; it stays current while no other write
// begins.
//
// A kept iterator pins the memtable and table files of its time: files a compaction
// replaced stay on disk while it lives. Writes drop every kept iterator (Purge), and in a
// read-only period an iterator is reused only for kMaxUses takes and, when the engine has an
// Env, about kMaxAgeMicros after it was made, so reads alone never pin old files for long.
// The age is judged in Take only, on every kAgeCheckEvery-th use (a clock read cost as much
// as the rest of a take): an old iterator is reused at most kAgeCheckEvery - 1 more times.
// Return keeps an iterator that is too old (as an iterator kept while young ages in the
// pool), and a later Take drops it.
//
// Kept iterators sit in a fixed array of atomic slots: a take is one exchange, a return one
// compare-and-swap (no mutex; every point get takes and returns one).
class LatestIteratorPool {
 public:
  static constexpr uint64_t kNotReusable = ~uint64_t{0};
  static constexpr size_t kMaxKept = 16;
  static constexpr uint32_t kMaxUses = 1024;
  static constexpr uint64_t kMaxAgeMicros = 1'000'000;
  static constexpr uint32_t kAgeCheckEvery = 16;

  // An iterator and what decides its reuse, from Take to Return (allocated once per
  // LevelDB iterator, with it).
  struct Lease {
    leveldb::Iterator* it = nullptr;
    uint64_t generation = kNotReusable;  // kNotReusable: do not keep it.
    uint64_t made_micros = 0;
    uint32_t uses = 0;
  };

  LatestIteratorPool(leveldb::DB* db, const std::atomic<uint64_t>* begun,
                     const std::atomic<uint64_t>* ended, Env* clock)
      : db_(db), begun_(begun), ended_(ended), clock_(clock) {}
  LatestIteratorPool(const LatestIteratorPool&) = delete;
  LatestIteratorPool& operator=(const LatestIteratorPool&) = delete;
  ~LatestIteratorPool() {
    for (std::atomic<Lease*>& slot : slots_) Drop(slot.load(std::memory_order_acquire));
  }

  // An iterator showing the latest state now (lease->it), to give back with Return.
  // Performance-critical path.
  Lease* Take() {
    const uint64_t now = begun_->load(std::memory_order_seq_cst);
    for (std::atomic<Lease*>& slot : slots_) {
      if (slot.load(std::memory_order_relaxed) == nullptr) continue;
      Lease* l = slot.exchange(nullptr, std::memory_order_acq_rel);
      if (l == nullptr) continue;
      // Current when `now` was read: no write began after it was made.
      if (l->generation == now && (l->uses % kAgeCheckEvery != 0 || Young(*l))) {
        ++l->uses;
        return l;
      }
      Drop(l);
    }
    made_.fetch_add(1, std::memory_order_relaxed);
    const uint64_t micros = clock_ != nullptr ? clock_->NowMicros() : 0;
    auto* l = new Lease;
    const uint64_t ended = ended_->load(std::memory_order_seq_cst);
    l->it = db_->NewIterator(leveldb::ReadOptions());
    const uint64_t begun = begun_->load(std::memory_order_seq_cst);
    // Nothing in flight when `ended` was read and nothing begun until `begun` was: the
    // database did not change around the iterator's creation.
    l->generation = begun == ended ? begun : kNotReusable;
    l->made_micros = micros;
    l->uses = 1;
    return l;
  }

  // Takes back a lease, keeping its iterator if it is still current and not used up (its
  // age is judged by the next Take).
  void Return(Lease* l) {
    // Once published, `l` may be taken (and dropped) by others: read nothing of it after.
    const uint64_t generation = l->generation;
    if (generation != kNotReusable && l->uses < kMaxUses && l->it->status().ok() &&
        begun_->load(std::memory_order_seq_cst) == generation) {
      for (std::atomic<Lease*>& slot : slots_) {
        if (slot.load(std::memory_order_relaxed) != nullptr) continue;
        Lease* expected = nullptr;
        if (!slot.compare_exchange_strong(expected, l, std::memory_order_seq_cst)) continue;
        // A write that began after the check above may have run its Purge before the
        // publication (it saw an empty slot): look again. Either this load sees that
        // write, or its Purge sees the lease published above and drops it (both seq_cst).
        if (begun_->load(std::memory_order_seq_cst) == generation) return;
        // Taken back and dropped, unless a Take got it first (a Take judges it itself;
        // dropping a kept iterator is always safe).
        expected = l;
        if (slot.compare_exchange_strong(expected, nullptr, std::memory_order_seq_cst)) Drop(l);
        return;
      }
    }
    Drop(l);
  }

  // Drops every kept iterator (after a write they are stale; they pin old memtables and
  // table files).
  // Performance-critical path (every data write).
  void Purge() {
    for (std::atomic<Lease*>& slot : slots_) {
      if (slot.load(std::memory_order_seq_cst) == nullptr) continue;
      Drop(slot.exchange(nullptr, std::memory_order_seq_cst));
    }
  }

  uint64_t MadeCount() const { return made_.load(std::memory_order_relaxed); }

  size_t KeptCount() const {
    size_t n = 0;
    for (const std::atomic<Lease*>& slot : slots_) {
      if (slot.load(std::memory_order_seq_cst) != nullptr) ++n;
    }
    return n;
  }

 private:
  static void Drop(Lease* l) {
    if (l == nullptr) return;
    delete l->it;
    delete l;
  }
  bool Young(const Lease& l) const {
    return clock_ == nullptr || clock_->NowMicros() - l.made_micros < kMaxAgeMicros;
  }

  leveldb::DB* const db_;
  const std::atomic<uint64_t>* const begun_;
  const std::atomic<uint64_t>* const ended_;
  Env* const clock_;  // May be null: then no age bound.
  std::array<std::atomic<Lease*>, kMaxKept> slots_{};
  std::atomic<uint64_t> made_{0};  // Iterators made (tests).
};

namespace {

// Wraps a LevelDB iterator, clamped to [lower_, upper_) of the stored keys (which carry
// the CF prefix in the data database) and stripping the prefix from keys it returns.
// With a pool, the LevelDB iterator goes back to it on destruction.
class LevelDbIterator final : public Iterator {
 public:
  // An iterator that only reports `error`.
  explicit LevelDbIterator(absl::Status error) : error_(std::move(error)) {}

  LevelDbIterator(leveldb::Iterator* it, size_t prefix_len, std::string lower, std::string upper,
                  LatestIteratorPool* pool = nullptr, LatestIteratorPool::Lease* lease = nullptr)
      : pool_(pool),
        lease_(lease),
        it_(it),
        prefix_len_(prefix_len),
        lower_(std::move(lower)),
        upper_(std::move(upper)),
        // An upper bound that is a lone prefix byte (a data CF without an upper bound) is
        // checked on the first byte alone.
        upper_byte_(prefix_len_ == 1 && upper_.size() == 1 ? static_cast<uint8_t>(upper_[0]) : 0),
        upper_is_byte_(prefix_len_ == 1 && upper_.size() == 1) {
    seek_buf_ = lower_.substr(0, prefix_len_);
  }
  ~LevelDbIterator() override {
    if (pool_ != nullptr && it_ != nullptr) {
      it_.release();  // Owned by the lease.
      pool_->Return(lease_);
    }
  }

  void SeekToFirst() override {
    if (!it_) return;
    it_->Seek(lower_);
    SettleForward();
  }

  void SeekToLast() override {
    if (!it_) return;
    if (upper_.empty()) {
      it_->SeekToLast();
    } else {
      it_->Seek(upper_);
      if (it_->Valid()) {
        it_->Prev();
      } else {
        it_->SeekToLast();
      }
    }
    SettleBackward();
  }

  // Performance-critical path.
  void Seek(std::string_view target) override {
    if (!it_) return;
    leveldb::Slice t = Target(target);
    if (t.compare(lower_) < 0) t = lower_;
    it_->Seek(t);
    SettleForward();
  }

  void SeekForPrev(std::string_view target) override {
    if (!it_) return;
    leveldb::Slice t = Target(target);
    if (!upper_.empty() && t.compare(upper_) >= 0) {
      SeekToLast();
      return;
    }
    it_->Seek(t);
    if (!it_->Valid()) {
      it_->SeekToLast();
    } else if (it_->key().compare(t) != 0) {
      it_->Prev();
    }
    SettleBackward();
  }

  // Performance-critical path.
  void Next() override {
    it_->Next();
    SettleForward();
  }

  void Prev() override {
    it_->Prev();
    SettleBackward();
  }

  absl::Status status() const override {
    if (!error_.ok()) return error_;
    return FromLevelDbStatus(it_->status(), "storage: iterator");
  }

 private:
  // After a forward move: stands on the LevelDB entry if it is below the upper bound.
  // Performance-critical path.
  void SettleForward() {
    if (it_->Valid()) {
      const leveldb::Slice k = it_->key();
      // Every key of the data database has its prefix byte, so k is never empty there.
      if (upper_is_byte_ ? static_cast<uint8_t>(k[0]) < upper_byte_
                         : (upper_.empty() || k.compare(upper_) < 0)) {
        Take(k);
        return;
      }
    }
    SetInvalid();
  }

  // After a backward move: stands on the LevelDB entry if it is at or above the lower bound.
  void SettleBackward() {
    if (it_->Valid()) {
      const leveldb::Slice k = it_->key();
      if (k.compare(lower_) >= 0) {
        Take(k);
        return;
      }
    }
    SetInvalid();
  }

  // Performance-critical path.
  void Take(const leveldb::Slice& k) {
    const leveldb::Slice v = it_->value();
    SetCurrent(std::string_view(k.data() + prefix_len_, k.size() - prefix_len_),
               std::string_view(v.data(), v.size()));
  }

  // Returns the stored form of `target` (prefix + target), in seek_buf_ when prefixed.
  leveldb::Slice Target(std::string_view target) {
    if (prefix_len_ == 0) return leveldb::Slice(target.data(), target.size());
    seek_buf_.resize(prefix_len_);
    seek_buf_.append(target);
    return seek_buf_;
  }

  LatestIteratorPool* const pool_ = nullptr;
  LatestIteratorPool::Lease* const lease_ = nullptr;
  std::unique_ptr<leveldb::Iterator> it_;
  const absl::Status error_;
  const size_t prefix_len_ = 0;
  // Stored-key bounds. upper_ empty means unbounded (only in the raft database).
  const std::string lower_;
  const std::string upper_;
  const uint8_t upper_byte_ = 0;
  const bool upper_is_byte_ = false;
  std::string seek_buf_;
};

// Per-thread LevelDB write batches (see LevelDbEngine::WriteLocked). A Lease clears them
// on return and drops buffers grown large by a big batch.
struct ThreadBatches {
  static constexpr size_t kMaxRetainedBytes = 1 << 20;

  class Lease {
   public:
    explicit Lease(ThreadBatches* b) : b_(b) {}
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease() {
      for (leveldb::WriteBatch* wb : {&b_->data, &b_->raft}) {
        if (wb->ApproximateSize() > kMaxRetainedBytes) {
          *wb = leveldb::WriteBatch();
        } else {
          wb->Clear();
        }
      }
    }

   private:
    ThreadBatches* const b_;
  };

  leveldb::WriteBatch data;
  leveldb::WriteBatch raft;
};

absl::Status OpenDb(const LevelDbResources& resources, const std::string& path,
                    bool create_if_missing, bool paranoid_checks,
                    std::unique_ptr<leveldb::DB>* out) {
  // Paranoid checks refuse a torn log instead (LevelDB reports the corruption).
  if (!paranoid_checks) {
    if (absl::Status s = TrimNewestLog(path); !s.ok()) return s;
  }
  leveldb::DB* db = nullptr;
  leveldb::Status s = leveldb::DB::Open(resources.MakeOptions(create_if_missing), path, &db);
  if (s.ok()) {
    out->reset(db);
    return absl::OkStatus();
  }
  const std::string msg = s.ToString();
  if (s.IsIOError() && msg.rfind("IO error: lock ", 0) == 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "storage: the engine in ", path,
        " is locked: another open engine (in this or another process) is using it (", msg, ")"));
  }
  if (s.IsCorruption()) {
    return absl::DataLossError(absl::StrCat("storage: database ", path, " is corrupt: ", msg));
  }
  return FromLevelDbStatus(s, absl::StrCat("storage: cannot open database ", path));
}

}  // namespace

absl::Status FromLevelDbStatus(const leveldb::Status& status, std::string_view context) {
  if (status.ok()) return absl::OkStatus();
  std::string msg = absl::StrCat(std::string(context), ": ", status.ToString());
  if (status.IsNotFound()) return absl::NotFoundError(msg);
  if (status.IsCorruption()) return absl::DataLossError(msg);
  if (status.IsNotSupportedError()) return absl::UnimplementedError(msg);
  if (status.IsInvalidArgument()) return absl::InvalidArgumentError(msg);
  return absl::InternalError(msg);
}

LevelDbResources::LevelDbResources(const LevelDbEngineOptions& options)
    : options_(options),
      cache_(leveldb::NewLRUCache(options.block_cache_bytes)),
      filter_(options.bloom_bits_per_key > 0
                  ? leveldb::NewBloomFilterPolicy(options.bloom_bits_per_key)
                  : nullptr),
      logger_(std::make_unique<NullLogger>()),
      env_(options.wal_zero_fill_bytes > 0 && !options.paranoid_checks
               ? std::make_unique<ZeroFilledLogEnv>(options.wal_zero_fill_bytes)
               : nullptr) {}

LevelDbResources::~LevelDbResources() = default;

leveldb::Options LevelDbResources::MakeOptions(bool create_if_missing) const {
  leveldb::Options o;
  o.create_if_missing = create_if_missing;
  o.error_if_exists = false;
  o.paranoid_checks = options_.paranoid_checks;
  o.write_buffer_size = options_.write_buffer_size;
  o.max_open_files = options_.max_open_files;
  o.block_cache = cache_.get();
  o.filter_policy = filter_.get();
  o.info_log = logger_.get();
  if (env_ != nullptr) o.env = env_.get();
  o.compression = options_.compression ? leveldb::kSnappyCompression : leveldb::kNoCompression;
  return o;
}

absl::StatusOr<std::unique_ptr<Engine>> LevelDbEngine::Open(const std::string& dir,
                                                            const LevelDbEngineOptions& options) {
  if (dir.empty()) return absl::InvalidArgumentError("storage: empty engine directory path");
  std::error_code ec;
  fs::file_status st = fs::status(dir, ec);
  if (ec && ec != std::errc::no_such_file_or_directory) {
    return ErrnoStatus(ec.value(), "cannot access", dir);
  }
  if (fs::exists(st) && !fs::is_directory(st)) {
    return absl::FailedPreconditionError(
        absl::StrCat("storage: ", dir, " exists and is not a directory"));
  }
  if (!fs::exists(st)) {
    if (!options.create_if_missing) {
      return absl::NotFoundError(absl::StrCat("storage: no engine in ", dir,
                                              " (missing, and create_if_missing is false)"));
    }
    fs::create_directories(dir, ec);
    if (ec) return ErrnoStatus(ec.value(), "cannot create directory", dir);
  }

  const std::string marker_path = absl::StrCat(dir, "/", kMarkerFile);
  MarkerState state;
  absl::StatusOr<std::string> marker = ReadSmallFile(marker_path);
  if (marker.ok()) {
    absl::StatusOr<MarkerState> parsed = ParseMarker(*marker, marker_path);
    if (!parsed.ok()) return parsed.status();
    state = *parsed;
    if (state == MarkerState::kReady && options.error_if_exists) {
      return absl::AlreadyExistsError(
          absl::StrCat("storage: an engine exists in ", dir, " (error_if_exists is true)"));
    }
  } else if (absl::IsNotFound(marker.status())) {
    // No marker: only an empty directory (or one holding nothing but our own leftover
    // temporary marker) may become an engine.
    fs::directory_iterator it(dir, ec);
    if (ec) return ErrnoStatus(ec.value(), "cannot list", dir);
    for (; it != fs::directory_iterator(); it.increment(ec)) {
      if (it->path().filename() == absl::StrCat(kMarkerFile, ".tmp")) continue;
      return absl::FailedPreconditionError(absl::StrCat(
          "storage: ", dir, " is not empty and holds no Rutile engine (no ", kMarkerFile,
          " file; found ", it->path().filename().string(), "); refusing to touch it"));
    }
    if (ec) return ErrnoStatus(ec.value(), "cannot list", dir);
    if (!options.create_if_missing) {
      return absl::NotFoundError(
          absl::StrCat("storage: no engine in ", dir, " (empty, and create_if_missing is false)"));
    }
    absl::Status s =
        WriteFileAtomically(dir, kMarkerFile, absl::StrCat(kMarkerHeader, kMarkerCreating));
    if (!s.ok()) return s;
    state = MarkerState::kCreating;
  } else {
    return marker.status();
  }

  const std::string data_path = absl::StrCat(dir, "/", kDataDir);
  const std::string raft_path = absl::StrCat(dir, "/", kRaftDir);
  const bool creating = state == MarkerState::kCreating;
  if (!creating) {
    for (const std::string* p : {&data_path, &raft_path}) {
      if (!fs::exists(*p + "/CURRENT", ec)) {
        return absl::DataLossError(
            absl::StrCat("storage: the engine in ", dir, " is missing its database ", *p));
      }
    }
  }
  auto resources = std::make_unique<LevelDbResources>(options);
  std::unique_ptr<leveldb::DB> data_db;
  std::unique_ptr<leveldb::DB> raft_db;
  // The data database first: its lock is what tells a second opener the engine is in use.
  absl::Status s = OpenDb(*resources, data_path, creating, options.paranoid_checks, &data_db);
  if (!s.ok()) return s;
  s = OpenDb(*resources, raft_path, creating, options.paranoid_checks, &raft_db);
  if (!s.ok()) return s;
  if (creating) {
    s = WriteFileAtomically(dir, kMarkerFile, absl::StrCat(kMarkerHeader, kMarkerReady));
    if (!s.ok()) return s;
  }
  auto engine = std::unique_ptr<LevelDbEngine>(new LevelDbEngine(
      dir, options.io_env, std::move(resources), std::move(data_db), std::move(raft_db)));
  s = engine->LoadLockIndex();
  if (!s.ok()) return s;
  return std::unique_ptr<Engine>(std::move(engine));
}

absl::Status LevelDbEngine::LoadLockIndex() {
  std::vector<std::string> keys;
  std::unique_ptr<Iterator> it = NewIterator(CF::kLock, IterOptions());
  for (it->SeekToFirst(); it->Valid(); it->Next()) keys.emplace_back(it->key());
  if (absl::Status s = it->status(); !s.ok()) return s;
  lock_index_.Reset(keys);
  return absl::OkStatus();
}

LevelDbEngine::LevelDbEngine(std::string dir, Env* io_env,
                             std::unique_ptr<LevelDbResources> resources,
                             std::unique_ptr<leveldb::DB> data_db,
                             std::unique_ptr<leveldb::DB> raft_db)
    : dir_(std::move(dir)),
      io_env_(io_env),
      resources_(std::move(resources)),
      data_db_(std::move(data_db)),
      raft_db_(std::move(raft_db)),
      latest_iterators_(std::make_unique<LatestIteratorPool>(data_db_.get(), &data_writes_begun_,
                                                             &data_writes_ended_, io_env)) {}

LevelDbEngine::~LevelDbEngine() = default;

// Performance-critical path.
absl::StatusOr<std::optional<std::string>> LevelDbEngine::Get(CF cf, std::string_view key,
                                                              const ReadOptions& options) {
  if (!IsValidCf(cf)) {
    return absl::InvalidArgumentError(absl::StrCat("storage: Get on unknown ", CfName(cf)));
  }
  leveldb::ReadOptions ro;
  ro.fill_cache = options.fill_cache;
  if (options.snapshot != nullptr) {
    if (options.snapshot->engine() != this) {
      return absl::InvalidArgumentError("storage: Get with a snapshot of another engine");
    }
    ro.snapshot = static_cast<const LevelDbSnapshot*>(options.snapshot)->ForCf(cf);
  } else if (cf == lock_index_.cf() && !lock_index_.MayContain(key)) {
    // Absent from the database at this instant (key_index.h).
    return std::optional<std::string>();
  }
  std::string value;
  leveldb::Status s;
  if (cf == CF::kRaft) {
    s = raft_db_->Get(ro, leveldb::Slice(key.data(), key.size()), &value);
  } else {
    PrefixedKey k(cf, key);
    s = data_db_->Get(ro, k.slice(), &value);
  }
  if (s.ok()) return std::optional<std::string>(std::move(value));
  if (s.IsNotFound()) return std::optional<std::string>();
  return FromLevelDbStatus(s, "storage: Get");
}

std::unique_ptr<Iterator> LevelDbEngine::NewIterator(CF cf, const IterOptions& options) {
  if (!IsValidCf(cf)) {
    return std::make_unique<LevelDbIterator>(
        absl::InvalidArgumentError(absl::StrCat("storage: iterator on unknown ", CfName(cf))));
  }
  leveldb::ReadOptions ro;
  ro.fill_cache = options.fill_cache;
  if (options.snapshot != nullptr) {
    if (options.snapshot->engine() != this) {
      return std::make_unique<LevelDbIterator>(
          absl::InvalidArgumentError("storage: iterator with a snapshot of another engine"));
    }
    ro.snapshot = static_cast<const LevelDbSnapshot*>(options.snapshot)->ForCf(cf);
  }
  if (cf == CF::kRaft) {
    return std::make_unique<LevelDbIterator>(raft_db_->NewIterator(ro), 0, options.lower_bound,
                                             options.upper_bound);
  }
  std::string lower(1, static_cast<char>(cf));
  lower.append(options.lower_bound);
  if (options.snapshot == nullptr && options.fill_cache) {
    LatestIteratorPool::Lease* lease = latest_iterators_->Take();
    return std::make_unique<LevelDbIterator>(lease->it, 1, std::move(lower),
                                             DataUpperBound(cf, options.upper_bound),
                                             latest_iterators_.get(), lease);
  }
  return std::make_unique<LevelDbIterator>(data_db_->NewIterator(ro), 1, std::move(lower),
                                           DataUpperBound(cf, options.upper_bound));
}

// Performance-critical path (a transactional point get's write-record read).
absl::Status LevelDbEngine::SeekVisit(
    CF cf, std::string_view target, const ReadOptions& options,
    absl::FunctionRef<bool(std::string_view key, std::string_view value)> visit) {
  if (!IsValidCf(cf)) {
    return absl::InvalidArgumentError(absl::StrCat("storage: seek on unknown ", CfName(cf)));
  }
  if (cf == CF::kRaft || options.snapshot != nullptr || !options.fill_cache) {
    return Engine::SeekVisit(cf, target, options, visit);
  }
  LatestIteratorPool::Lease* lease = latest_iterators_->Take();
  leveldb::Iterator* const it = lease->it;
  {
    PrefixedKey k(cf, target);
    it->Seek(k.slice());
  }
  const char prefix = static_cast<char>(cf);
  for (; it->Valid(); it->Next()) {
    const leveldb::Slice key = it->key();
    if (key.size() == 0 || key[0] != prefix) break;
    const leveldb::Slice value = it->value();
    if (!visit(std::string_view(key.data() + 1, key.size() - 1),
               std::string_view(value.data(), value.size()))) {
      break;
    }
  }
  absl::Status s =
      it->status().ok() ? absl::OkStatus() : FromLevelDbStatus(it->status(), "storage: seek");
  latest_iterators_->Return(lease);
  return s;
}

std::unique_ptr<Snapshot> LevelDbEngine::GetSnapshot() {
  return std::make_unique<LevelDbSnapshot>(this, data_db_.get(), raft_db_.get());
}

absl::Status LevelDbEngine::ExpandDeleteRange(const WriteBatch& batch, size_t index,
                                              leveldb::DB* db, leveldb::WriteBatch* out) {
  const WriteBatch::Op op = batch.op(index);
  const bool raft = op.cf == CF::kRaft;
  // Stored-key range; an empty `end` means unbounded (raft) or the next prefix (data).
  const leveldb::Slice start = raft
                                   ? leveldb::Slice(op.key.data(), op.key.size())
                                   : leveldb::Slice(op.prefixed_key.data(), op.prefixed_key.size());
  std::string end;
  if (raft) {
    end.assign(op.value);
  } else {
    end = DataUpperBound(op.cf, op.value);
  }
  leveldb::ReadOptions ro;
  ro.fill_cache = false;
  std::unique_ptr<leveldb::Iterator> it(db->NewIterator(ro));
  for (it->Seek(start); it->Valid(); it->Next()) {
    if (!end.empty() && it->key().compare(end) >= 0) break;
    out->Delete(it->key());
  }
  if (!it->status().ok()) return FromLevelDbStatus(it->status(), "storage: DeleteRange scan");
  // Keys put earlier in this batch are not in the database yet.
  for (size_t j = 0; j < index; ++j) {
    const WriteBatch::Op prev = batch.op(j);
    if (prev.cf != op.cf || prev.type != WriteBatch::OpType::kPut) continue;
    if (prev.key < op.key || (!op.value.empty() && prev.key >= op.value)) continue;
    out->Delete(raft ? leveldb::Slice(prev.key.data(), prev.key.size())
                     : leveldb::Slice(prev.prefixed_key.data(), prev.prefixed_key.size()));
  }
  return absl::OkStatus();
}

// Performance-critical path.
absl::Status LevelDbEngine::Write(const WriteBatch& batch, const WriteOptions& options) {
  if (batch.Empty()) return absl::OkStatus();
  const uint32_t mask = batch.cf_mask();
  if ((mask & ~kValidCfMask) != 0) {
    for (size_t i = 0; i < batch.Count(); ++i) {
      CF cf = batch.op(i).cf;
      if (!IsValidCf(cf)) {
        return absl::InvalidArgumentError(
            absl::StrCat("storage: write batch names unknown ", CfName(cf)));
      }
    }
  }
  const bool has_raft = (mask & kRaftBit) != 0;
  const bool has_data = (mask & ~kRaftBit) != 0;

  if (batch.has_delete_range()) {
    for (size_t i = 0; i < batch.Count(); ++i) {
      const WriteBatch::Op op = batch.op(i);
      if (op.type == WriteBatch::OpType::kDeleteRange && !op.value.empty() && op.key > op.value) {
        return absl::InvalidArgumentError(
            absl::StrCat("storage: DeleteRange on ", CfName(op.cf), " with start > end"));
      }
    }
  }
  const bool fsyncs = options.sync || (has_raft && has_data);
  if (fsyncs && io_env_ != nullptr) {
    absl::Status s;
    io_env_->RunBlocking([&] { s = LockAndWrite(batch, options, has_raft, has_data); });
    return s;
  }
  return LockAndWrite(batch, options, has_raft, has_data);
}

// Performance-critical path.
absl::Status LevelDbEngine::LockAndWrite(const WriteBatch& batch, const WriteOptions& options,
                                         bool has_raft, bool has_data) {
  if (batch.has_delete_range()) {
    absl::WriterMutexLock lock(&write_mu_);
    return WriteLocked(batch, options, has_raft, has_data);
  }
  absl::ReaderMutexLock lock(&write_mu_);
  return WriteLocked(batch, options, has_raft, has_data);
}

// Performance-critical path.
absl::Status LevelDbEngine::WriteLocked(const WriteBatch& batch, const WriteOptions& options,
                                        bool has_raft, bool has_data) {
  // The LevelDB batches are reused per thread, so building one does not regrow its buffer
  // on every write. Safe because nothing from here on suspends the calling fiber (the
  // RunBlocking hand-off happens before): it cannot move to another thread, nor let another
  // fiber of this thread in, while it uses them.
  thread_local ThreadBatches batches;
  ThreadBatches::Lease lease(&batches);
  leveldb::WriteBatch& data_batch = batches.data;
  leveldb::WriteBatch& raft_batch = batches.raft;
  for (size_t i = 0; i < batch.Count(); ++i) {
    const WriteBatch::Op op = batch.op(i);
    const bool raft = op.cf == CF::kRaft;
    leveldb::WriteBatch* out = raft ? &raft_batch : &data_batch;
    const std::string_view k = raft ? op.key : op.prefixed_key;
    switch (op.type) {
      case WriteBatch::OpType::kPut:
        out->Put(leveldb::Slice(k.data(), k.size()),
                 leveldb::Slice(op.value.data(), op.value.size()));
        break;
      case WriteBatch::OpType::kDelete:
        out->Delete(leveldb::Slice(k.data(), k.size()));
        break;
      case WriteBatch::OpType::kDeleteRange: {
        absl::Status s = ExpandDeleteRange(batch, i, raft ? raft_db_.get() : data_db_.get(), out);
        if (!s.ok()) return s;
        break;
      }
    }
  }

  if (has_raft) {
    leveldb::WriteOptions wo;
    // A mixed batch syncs its raft part so that the data part can never survive a crash
    // without it.
    wo.sync = options.sync || has_data;
    leveldb::Status s = raft_db_->Write(wo, &raft_batch);
    if (!s.ok()) return FromLevelDbStatus(s, "storage: write to the raft database");
  }
  if (has_data) {
    leveldb::WriteOptions wo;
    wo.sync = options.sync;
    KeyIndex::Pending pending = lock_index_.Begin(batch);
    data_writes_begun_.fetch_add(1, std::memory_order_seq_cst);
    leveldb::Status s = data_db_->Write(wo, &data_batch);
    data_writes_ended_.fetch_add(1, std::memory_order_seq_cst);
    lock_index_.End(std::move(pending), s.ok());
    latest_iterators_->Purge();
    if (!s.ok()) {
      return FromLevelDbStatus(
          s, has_raft ? "storage: write to the data database (the raft part of this batch "
                        "was already written)"
                      : "storage: write to the data database");
    }
  }
  return absl::OkStatus();
}

size_t LevelDbEngine::TEST_KeptIterators() const { return latest_iterators_->KeptCount(); }
uint64_t LevelDbEngine::TEST_IteratorsMade() const { return latest_iterators_->MadeCount(); }

absl::Status LevelDbEngine::SyncWAL() {
  if (io_env_ != nullptr) {
    absl::Status s;
    io_env_->RunBlocking([&] { s = SyncNow(); });
    return s;
  }
  return SyncNow();
}

absl::Status LevelDbEngine::SyncNow() {
  // LevelDB has no explicit sync: an empty synced write fsyncs the current log file.
  leveldb::WriteOptions wo;
  wo.sync = true;
  leveldb::WriteBatch empty;
  leveldb::Status s = raft_db_->Write(wo, &empty);
  if (!s.ok()) return FromLevelDbStatus(s, "storage: sync of the raft database");
  s = data_db_->Write(wo, &empty);
  if (!s.ok()) return FromLevelDbStatus(s, "storage: sync of the data database");
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> LevelDbEngine::ApproximateSize(CF cf, std::string_view start,
                                                        std::string_view end) {
  if (!IsValidCf(cf)) {
    return absl::InvalidArgumentError(
        absl::StrCat("storage: ApproximateSize on unknown ", CfName(cf)));
  }
  uint64_t size = 0;
  if (cf == CF::kRaft) {
    std::string limit(end);
    if (end.empty()) {
      // Unbounded: just past the last key, if there is one.
      std::unique_ptr<leveldb::Iterator> it(raft_db_->NewIterator(leveldb::ReadOptions()));
      it->SeekToLast();
      if (!it->Valid()) return uint64_t{0};
      limit = it->key().ToString();
      limit.push_back('\0');
    }
    leveldb::Range range(leveldb::Slice(start.data(), start.size()), limit);
    raft_db_->GetApproximateSizes(&range, 1, &size);
  } else {
    std::string lo(1, static_cast<char>(cf));
    lo.append(start);
    const std::string hi = DataUpperBound(cf, end);
    leveldb::Range range(lo, hi);
    data_db_->GetApproximateSizes(&range, 1, &size);
  }
  return size;
}

absl::Status LevelDbEngine::CompactRange(CF cf, std::string_view start, std::string_view end) {
  if (!IsValidCf(cf)) {
    return absl::InvalidArgumentError(
        absl::StrCat("storage: CompactRange on unknown ", CfName(cf)));
  }
  // Kept iterators would pin the table files the compaction replaces.
  latest_iterators_->Purge();
  if (cf == CF::kRaft) {
    const leveldb::Slice lo(start.data(), start.size());
    const leveldb::Slice hi(end.data(), end.size());
    raft_db_->CompactRange(&lo, end.empty() ? nullptr : &hi);
  } else {
    std::string lo(1, static_cast<char>(cf));
    lo.append(start);
    const std::string hi = DataUpperBound(cf, end);
    const leveldb::Slice lo_slice(lo);
    const leveldb::Slice hi_slice(hi);
    data_db_->CompactRange(&lo_slice, &hi_slice);
  }
  return absl::OkStatus();
}

}  // namespace rutile::storage
