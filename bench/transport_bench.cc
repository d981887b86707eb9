// Transport benchmark: LocalTransport (in-process hub), GrpcTransport on loopback, and a
// plain TCP socket pair on loopback as the floor, in the same program and run.
//
// Cases (each "<case>/<transport>"):
//   throughput/64 and throughput/16384   one-way stream of frames of that size from node 1
//       to node 2; frames/s (items) and MB/s (bytes). The sender keeps at most a window of
//       frames unacknowledged by the receiver (8 MiB, at most 16,384 frames, so bounded
//       send queues are never overrun) and each iteration ends when every frame of it has
//       been delivered, so the rate is of delivered frames.
//   rtt/64   one 64-byte frame in flight: node 1 sends, node 2 echoes it from OnFrame, and
//       the next frame leaves when the echo arrives; round trips/s and microseconds each.
// Every frame is a fresh std::string on every side (what a caller serializing an Envelope
// has), delivered as a std::string. The TCP floor frames each payload with a 4-byte
// length, buffers writes (256 KiB) and reads in 1 MiB chunks, with TCP_NODELAY, from a
// reader thread; its round trip is a blocking write and read on each side.
//
// Each case runs three times and the best rate counts (the machine may be shared). Besides
// frames/s, each throughput case reports cpu_us/frame: the CPU time of every thread of the
// process per delivered frame, which does not depend on how loaded the machine is.
//
// The program ends with `RATIO <case>_<transport>_vs_tcp <transport rate / tcp rate>` for
// throughput and round trips, and `RATIO cpu_<case>_<transport>_vs_tcp <tcp cpu/frame /
// transport cpu/frame>` (frames per CPU-second, relative to TCP).
//
// Allocator: glibc's malloc returns freed memory to the kernel as soon as 128 KiB are free
// at the top of a heap, and any hand-off of buffers between threads (a frame made on the
// sending thread and freed on a network thread; gRPC's read buffers) then faults every
// page back in: in a profile of the 16 KiB gRPC case, page faults were the largest item,
// and the CPU per frame fell from ~21 us to ~13 us without them. The TCP floor hands
// nothing between threads and is not affected. So main() raises glibc's trim and mmap
// thresholds for every case, as a host would (or link jemalloc/tcmalloc); set
// RUTILE_BENCH_GLIBC_MALLOC_DEFAULTS=1 to measure with glibc's defaults.
// RUTILE_BENCH_GRPC_BATCH_BYTES overrides GrpcTransportOptions::max_batch_bytes.

#include <arpa/inet.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "bench_util.h"
#include "benchmark/benchmark.h"
#include "rutile/env.h"
#include "rutile/transport.h"
#include "transport/local_transport.h"

#ifdef RUTILE_WITH_GRPC
#include "transport/grpc_transport.h"
#define RUTILE_BENCH_HAS_GRPC 1
#endif

namespace rutile::transport {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kWindowBytes = 8 << 20;
constexpr size_t kMaxWindowFrames = 16384;

// Records the best rate seen for one side of a comparison (the cases repeat).
// Google Benchmark first calls each case with a few iterations to size the run; such short
// runs (under 0.2 s) are not representative and are not recorded.
void RecordBest(const std::string& comparison, const std::string& side, double rate,
                double run_seconds) {
  if (run_seconds < 0.2) return;
  static std::mutex mu;
  static std::map<std::string, double>* best = new std::map<std::string, double>();
  std::lock_guard<std::mutex> l(mu);
  double& b = (*best)[comparison + "/" + side];
  b = std::max(b, rate);
  bench::RecordRate(comparison, side, b);
}

// CPU seconds used so far by every thread of this process (user + system).
double ProcessCpuSeconds() {
  rusage u;
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

size_t WindowFrames(size_t frame_bytes) {
  return std::max<size_t>(
      1, std::min(kMaxWindowFrames, kWindowBytes / std::max<size_t>(frame_bytes, 1)));
}

// Counts delivered frames; a waiter blocks on the counter with std::atomic::wait, and a
// delivery pays for a wake-up (a futex call) only while someone waits.
class CountingReceiver : public FrameReceiver {
 public:
  void OnFrame(NodeId, std::string frame) override {
    bytes_.fetch_add(frame.size(), std::memory_order_relaxed);
    count_.fetch_add(1, std::memory_order_seq_cst);
    if (waiting_.load(std::memory_order_seq_cst)) count_.notify_all();
  }
  uint64_t count() const { return count_.load(std::memory_order_acquire); }
  // Waits until count() >= n. One waiter at a time.
  void WaitFor(uint64_t n) {
    for (uint64_t c = count(); c < n; c = count()) {
      waiting_.store(true, std::memory_order_seq_cst);
      // Re-read after announcing the wait: a frame counted before the store is seen here,
      // one counted after it notifies.
      c = count_.load(std::memory_order_seq_cst);
      if (c < n) count_.wait(c, std::memory_order_seq_cst);
      waiting_.store(false, std::memory_order_relaxed);
    }
  }

 private:
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> bytes_{0};
  std::atomic<bool> waiting_{false};
};

// Sends every frame it gets back to its sender.
class EchoReceiver : public FrameReceiver {
 public:
  EchoReceiver(Transport* t, NodeId self) : t_(t), self_(self) {}
  void OnFrame(NodeId from, std::string frame) override { t_->Send(self_, from, std::move(frame)); }

 private:
  Transport* t_;
  NodeId self_;
};

// Two nodes, 1 and 2, on some transport: `sender` carries node 1, `receiver` node 2.
struct Pair {
  std::function<Transport*()> sender;
  std::function<Transport*()> receiver;
  std::shared_ptr<void> keep;  // Owns the transports.
  // Average frames per network write from node 1, where the transport batches.
  std::function<double()> frames_per_batch;
};

Pair MakeLocal() {
  auto t = std::make_shared<LocalTransport>(Env::Default());
  Transport* raw = t.get();
  return Pair{[raw] { return raw; }, [raw] { return raw; }, t};
}

#ifdef RUTILE_BENCH_HAS_GRPC
Pair MakeGrpc() {
  struct Two {
    std::string addr[3];
    std::unique_ptr<GrpcTransport> a, b;
  };
  auto two = std::make_shared<Two>();
  GrpcTransportOptions o;
  if (const char* b = getenv("RUTILE_BENCH_GRPC_BATCH_BYTES")) o.max_batch_bytes = std::stoul(b);
  Two* raw = two.get();
  o.resolver = [raw](NodeId id) -> absl::StatusOr<std::string> {
    if (id == 1 || id == 2) return raw->addr[id];
    return absl::NotFoundError("unknown node");
  };
  auto a = GrpcTransport::Create(o);
  auto b = GrpcTransport::Create(o);
  if (!a.ok() || !b.ok()) {
    std::fprintf(stderr, "GrpcTransport::Create failed\n");
    std::abort();
  }
  two->a = *std::move(a);
  two->b = *std::move(b);
  two->addr[1] = two->a->address();
  two->addr[2] = two->b->address();
  return Pair{[raw] { return raw->a.get(); }, [raw] { return raw->b.get(); }, two,
              [raw] {
                GrpcTransportStats s = raw->a->Stats();
                return s.batches_sent == 0 ? 0.0
                                           : static_cast<double>(s.frames_sent) / s.batches_sent;
              }};
}
#endif

// Streams frames of `frame_bytes` from node 1 to node 2 over `pair`.
void RunThroughput(benchmark::State& state, Pair pair, const std::string& name) {
  const size_t frame_bytes = state.range(0);
  const size_t window = WindowFrames(frame_bytes);
  const size_t per_iteration = 4 * window;
  CountingReceiver sink;
  Transport* tx = pair.sender();
  Transport* rx = pair.receiver();
  if (!rx->Register(2, &sink).ok()) std::abort();
  const std::string payload(frame_bytes, 'f');
  uint64_t sent = 0;
  uint64_t frames = 0;
  Clock::time_point start = Clock::now();
  const double cpu_start = ProcessCpuSeconds();
  for (auto _ : state) {
    for (size_t i = 0; i < per_iteration; ++i) {
      if (sent - sink.count() >= window) sink.WaitFor(sent - window + 1);
      tx->Send(1, 2, std::string(payload));
      ++sent;
    }
    sink.WaitFor(sent);
    frames += per_iteration;
  }
  const double secs = std::chrono::duration<double>(Clock::now() - start).count();
  rx->Unregister(2);
  state.SetItemsProcessed(static_cast<int64_t>(frames));
  state.SetBytesProcessed(static_cast<int64_t>(frames * frame_bytes));
  const double rate = frames / secs;
  state.counters["MB/s"] = rate * frame_bytes / 1e6;
  // CPU of all threads per frame: what the throughput costs, independent of machine load.
  const double cpu = ProcessCpuSeconds() - cpu_start;
  state.counters["cpu_us/frame"] = cpu * 1e6 / frames;
  if (pair.frames_per_batch) state.counters["frames/batch"] = pair.frames_per_batch();
  const std::string suffix = std::to_string(frame_bytes) + "B_" + name + "_vs_tcp";
  RecordBest("throughput_" + suffix, "rutile", rate, secs);
  RecordBest("cpu_" + suffix, "rutile", frames / cpu, secs);
}

void RunRoundTrip(benchmark::State& state, Pair pair, const std::string& name) {
  Transport* t1 = pair.sender();
  Transport* t2 = pair.receiver();
  CountingReceiver back;
  EchoReceiver echo(t2, 2);
  if (!t1->Register(1, &back).ok() || !t2->Register(2, &echo).ok()) std::abort();
  const std::string payload(64, 'r');
  // Warm up: the first frame opens the streams.
  t1->Send(1, 2, std::string(payload));
  back.WaitFor(1);
  uint64_t n = 1;
  uint64_t trips = 0;
  Clock::time_point start = Clock::now();
  for (auto _ : state) {
    t1->Send(1, 2, std::string(payload));
    back.WaitFor(++n);
    ++trips;
  }
  const double secs = std::chrono::duration<double>(Clock::now() - start).count();
  t2->Unregister(2);
  t1->Unregister(1);
  state.SetItemsProcessed(static_cast<int64_t>(trips));
  state.counters["us/rtt"] = secs * 1e6 / trips;
  RecordBest("rtt_64B_" + name + "_vs_tcp", "rutile", trips / secs, secs);
}

// ---------------------------------------------------------------------------------------
// The TCP floor.

struct TcpPair {
  int client = -1;  // Node 1's end.
  int server = -1;  // Node 2's end.
  ~TcpPair() {
    if (client >= 0) close(client);
    if (server >= 0) close(server);
  }
};

std::unique_ptr<TcpPair> ConnectTcp() {
  int lfd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  if (bind(lfd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 || listen(lfd, 1) != 0 ||
      getsockname(lfd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    std::abort();
  }
  auto p = std::make_unique<TcpPair>();
  p->client = socket(AF_INET, SOCK_STREAM, 0);
  if (connect(p->client, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) std::abort();
  p->server = accept(lfd, nullptr, nullptr);
  close(lfd);
  int one = 1;
  setsockopt(p->client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  setsockopt(p->server, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return p;
}

bool WriteAll(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w <= 0) return false;
    p += w;
    n -= w;
  }
  return true;
}

// Reads length-prefixed frames from `fd` until EOF, handing each to `on_frame`.
void ReadFrames(int fd, const std::function<void(std::string)>& on_frame) {
  std::vector<char> buf(1 << 20);
  size_t have = 0;
  for (;;) {
    ssize_t r = read(fd, buf.data() + have, buf.size() - have);
    if (r <= 0) return;
    have += r;
    size_t pos = 0;
    while (have - pos >= 4) {
      uint32_t len;
      std::memcpy(&len, buf.data() + pos, 4);
      if (have - pos - 4 < len) break;
      on_frame(std::string(buf.data() + pos + 4, len));
      pos += 4 + len;
    }
    std::memmove(buf.data(), buf.data() + pos, have - pos);
    have -= pos;
    if (buf.size() - have < (64 << 10)) buf.resize(buf.size() * 2);
  }
}

// Appends [len][payload] to a buffer, writing it out when it passes 256 KiB.
class BufferedWriter {
 public:
  explicit BufferedWriter(int fd) : fd_(fd) { buf_.reserve(512 << 10); }
  void Add(const std::string& frame) {
    const uint32_t len = frame.size();
    buf_.append(reinterpret_cast<const char*>(&len), 4);
    buf_.append(frame);
    if (buf_.size() >= (256 << 10)) Flush();
  }
  void Flush() {
    if (!WriteAll(fd_, buf_.data(), buf_.size())) std::abort();
    buf_.clear();
  }

 private:
  int fd_;
  std::string buf_;
};

void BM_Throughput_Tcp(benchmark::State& state) {
  const size_t frame_bytes = state.range(0);
  const size_t per_iteration = 4 * WindowFrames(frame_bytes);
  auto tcp = ConnectTcp();
  CountingReceiver sink;
  std::thread reader(
      [&] { ReadFrames(tcp->server, [&](std::string f) { sink.OnFrame(1, std::move(f)); }); });
  BufferedWriter out(tcp->client);
  const std::string payload(frame_bytes, 'f');
  uint64_t sent = 0;
  uint64_t frames = 0;
  Clock::time_point start = Clock::now();
  const double cpu_start = ProcessCpuSeconds();
  for (auto _ : state) {
    for (size_t i = 0; i < per_iteration; ++i) {
      out.Add(std::string(payload));
      ++sent;
    }
    out.Flush();
    sink.WaitFor(sent);
    frames += per_iteration;
  }
  const double secs = std::chrono::duration<double>(Clock::now() - start).count();
  shutdown(tcp->client, SHUT_WR);
  reader.join();
  state.SetItemsProcessed(static_cast<int64_t>(frames));
  state.SetBytesProcessed(static_cast<int64_t>(frames * frame_bytes));
  const double rate = frames / secs;
  state.counters["MB/s"] = rate * frame_bytes / 1e6;
  // CPU of all threads per frame: what the throughput costs, independent of machine load.
  const double cpu = ProcessCpuSeconds() - cpu_start;
  state.counters["cpu_us/frame"] = cpu * 1e6 / frames;
  for (const char* name : {"local", "grpc"}) {
    const std::string suffix = std::to_string(frame_bytes) + "B_" + name + "_vs_tcp";
    RecordBest("throughput_" + suffix, "baseline", rate, secs);
    RecordBest("cpu_" + suffix, "baseline", frames / cpu, secs);
  }
}

void BM_RoundTrip_Tcp(benchmark::State& state) {
  auto tcp = ConnectTcp();
  // Node 2 echoes each frame.
  std::thread echo([&] {
    ReadFrames(tcp->server, [&](std::string f) {
      const uint32_t len = f.size();
      std::string out(reinterpret_cast<const char*>(&len), 4);
      out += f;
      WriteAll(tcp->server, out.data(), out.size());
    });
  });
  const std::string payload(64, 'r');
  std::vector<char> in(4 + payload.size());
  uint64_t trips = 0;
  Clock::time_point start = Clock::now();
  for (auto _ : state) {
    std::string frame(payload);
    const uint32_t len = frame.size();
    std::string out(reinterpret_cast<const char*>(&len), 4);
    out += frame;
    if (!WriteAll(tcp->client, out.data(), out.size())) std::abort();
    size_t got = 0;
    while (got < in.size()) {
      ssize_t r = read(tcp->client, in.data() + got, in.size() - got);
      if (r <= 0) std::abort();
      got += r;
    }
    std::string received(in.data() + 4, payload.size());
    benchmark::DoNotOptimize(received);
    ++trips;
  }
  const double secs = std::chrono::duration<double>(Clock::now() - start).count();
  shutdown(tcp->client, SHUT_WR);
  echo.join();
  state.SetItemsProcessed(static_cast<int64_t>(trips));
  state.counters["us/rtt"] = secs * 1e6 / trips;
  for (const char* name : {"local", "grpc"}) {
    RecordBest(std::string("rtt_64B_") + name + "_vs_tcp", "baseline", trips / secs, secs);
  }
}

void BM_Throughput_Local(benchmark::State& state) { RunThroughput(state, MakeLocal(), "local"); }
void BM_RoundTrip_Local(benchmark::State& state) { RunRoundTrip(state, MakeLocal(), "local"); }

BENCHMARK(BM_Throughput_Tcp)
    ->Arg(64)
    ->Arg(16384)
    ->UseRealTime()
    ->Repetitions(3)
    ->ReportAggregatesOnly(false)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Throughput_Local)
    ->Arg(64)
    ->Arg(16384)
    ->UseRealTime()
    ->Repetitions(3)
    ->ReportAggregatesOnly(false)
    ->Unit(benchmark::kMillisecond);
#ifdef RUTILE_BENCH_HAS_GRPC
void BM_Throughput_Grpc(benchmark::State& state) { RunThroughput(state, MakeGrpc(), "grpc"); }
void BM_RoundTrip_Grpc(benchmark::State& state) { RunRoundTrip(state, MakeGrpc(), "grpc"); }
BENCHMARK(BM_Throughput_Grpc)
    ->Arg(64)
    ->Arg(16384)
    ->UseRealTime()
    ->Repetitions(3)
    ->ReportAggregatesOnly(false)
    ->Unit(benchmark::kMillisecond);
#endif
BENCHMARK(BM_RoundTrip_Tcp)
    ->UseRealTime()
    ->Repetitions(3)
    ->ReportAggregatesOnly(false)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_RoundTrip_Local)
    ->UseRealTime()
    ->Repetitions(3)
    ->ReportAggregatesOnly(false)
    ->Unit(benchmark::kMicrosecond);
#ifdef RUTILE_BENCH_HAS_GRPC
BENCHMARK(BM_RoundTrip_Grpc)
    ->UseRealTime()
    ->Repetitions(3)
    ->ReportAggregatesOnly(false)
    ->Unit(benchmark::kMicrosecond);
#endif

}  // namespace
}  // namespace rutile::transport

int main(int argc, char** argv) {
  if (getenv("RUTILE_BENCH_GLIBC_MALLOC_DEFAULTS") == nullptr) {
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
  }
  return rutile::bench::RunAndReport(argc, argv);
}
