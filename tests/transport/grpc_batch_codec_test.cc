// The hand-written FrameBatch codec against the generated protobuf class, both ways, and
// against malformed input: every truncation and random corruption of a valid batch either
// decodes or returns InvalidArgument, never crashes.

#ifdef RUTILE_WITH_GRPC

#include "transport/grpc_batch_codec.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "transport_service.pb.h"

namespace rutile::transport {
namespace {

// Collects what the decoder hands out.
struct CollectingSink : FrameBatchSink {
  bool accept_header = true;
  size_t stop_after = SIZE_MAX;  // OnFrame returns false after this many frames.
  int headers = 0;
  NodeId from = 0, to = 0;
  std::vector<std::string> frames;
  bool OnHeader(NodeId f, NodeId t) override {
    ++headers;
    from = f;
    to = t;
    return accept_header;
  }
  bool OnFrame(std::string frame) override {
    frames.push_back(std::move(frame));
    return frames.size() < stop_after;
  }
};

std::string Flatten(const grpc::ByteBuffer& b) {
  std::vector<grpc::Slice> slices;
  EXPECT_TRUE(b.Dump(&slices).ok());
  std::string out;
  for (const auto& s : slices) out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return out;
}

// `bytes` as a ByteBuffer cut into slices at the given (sorted) offsets.
grpc::ByteBuffer Split(const std::string& bytes, std::vector<size_t> cuts) {
  std::vector<grpc::Slice> slices;
  size_t at = 0;
  cuts.push_back(bytes.size());
  for (size_t c : cuts) {
    slices.emplace_back(bytes.data() + at, c - at);
    at = c;
  }
  return grpc::ByteBuffer(slices.data(), slices.size());
}

std::vector<std::string> SampleFrames() {
  return {"",
          "a",
          std::string(100, 'b'),
          std::string(kZeroCopyMinBytes - 1, 'c'),
          std::string(kZeroCopyMinBytes, 'd'),
          std::string(70'000, 'e'),
          "tail"};
}

TEST(GrpcBatchCodecTest, EncodedBatchParsesAsGeneratedFrameBatch) {
  std::vector<std::string> frames = SampleFrames();
  const std::vector<std::string> want = frames;
  grpc::ByteBuffer buffer;
  EncodeFrameBatch(7, 1ull << 40, &frames, &buffer);
  EXPECT_TRUE(frames.empty());
  FrameBatch parsed;
  ASSERT_TRUE(parsed.ParseFromString(Flatten(buffer)));
  EXPECT_EQ(parsed.from(), 7u);
  EXPECT_EQ(parsed.to(), 1ull << 40);
  ASSERT_EQ(parsed.frames_size(), static_cast<int>(want.size()));
  for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(parsed.frames(i), want[i]) << i;
}

TEST(GrpcBatchCodecTest, DecodesGeneratedFrameBatchAcrossAnySliceBoundaries) {
  FrameBatch batch;
  batch.set_from(300);
  batch.set_to(5);
  for (const auto& f : SampleFrames()) batch.add_frames(f);
  const std::string bytes = batch.SerializeAsString();
  std::mt19937_64 rng(42);
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<size_t> cuts;
    const int n = trial % 20;
    for (int i = 0; i < n; ++i) cuts.push_back(rng() % (bytes.size() + 1));
    std::sort(cuts.begin(), cuts.end());
    CollectingSink sink;
    FrameBatchDecodeStats stats;
    ASSERT_TRUE(DecodeFrameBatch(Split(bytes, cuts), 1 << 20, &sink, &stats).ok());
    EXPECT_EQ(sink.headers, 1);
    EXPECT_EQ(sink.from, 300u);
    EXPECT_EQ(sink.to, 5u);
    EXPECT_EQ(sink.frames, SampleFrames());
    EXPECT_EQ(stats.delivered, SampleFrames().size());
  }
}

TEST(GrpcBatchCodecTest, OversizeFramesAreSkippedAndCounted) {
  std::vector<std::string> frames = {"small", std::string(5000, 'x'), "after"};
  grpc::ByteBuffer buffer;
  EncodeFrameBatch(1, 2, &frames, &buffer);
  CollectingSink sink;
  FrameBatchDecodeStats stats;
  ASSERT_TRUE(DecodeFrameBatch(buffer, 4999, &sink, &stats).ok());
  EXPECT_EQ(sink.frames, (std::vector<std::string>{"small", "after"}));
  EXPECT_EQ(stats.oversize, 1u);
  EXPECT_EQ(stats.delivered, 2u);
}

TEST(GrpcBatchCodecTest, SinkCanSkipTheBatchOrItsRest) {
  std::vector<std::string> frames = {"1", "2", "3", "4"};
  grpc::ByteBuffer buffer;
  EncodeFrameBatch(1, 2, &frames, &buffer);
  {
    CollectingSink sink;
    sink.accept_header = false;
    FrameBatchDecodeStats stats;
    ASSERT_TRUE(DecodeFrameBatch(buffer, 100, &sink, &stats).ok());
    EXPECT_TRUE(sink.frames.empty());
    EXPECT_EQ(stats.skipped, 4u);
  }
  {
    CollectingSink sink;
    sink.stop_after = 1;
    FrameBatchDecodeStats stats;
    ASSERT_TRUE(DecodeFrameBatch(buffer, 100, &sink, &stats).ok());
    EXPECT_EQ(sink.frames, std::vector<std::string>{"1"});
    EXPECT_EQ(stats.delivered, 1u);
    EXPECT_EQ(stats.skipped, 3u);
  }
}

TEST(GrpcBatchCodecTest, UnknownFieldsAreSkipped) {
  FrameBatch batch;
  batch.set_from(1);
  batch.set_to(2);
  batch.add_frames("x");
  std::string bytes = batch.SerializeAsString();
  // Field 9 varint, field 10 fixed64, field 11 bytes, field 12 fixed32, appended.
  bytes += std::string("\x48\x05", 2) + std::string("\x51", 1) + std::string(8, '\0') +
           std::string("\x5a\x02hi", 4) + std::string("\x65", 1) + std::string(4, '\0');
  CollectingSink sink;
  FrameBatchDecodeStats stats;
  ASSERT_TRUE(DecodeFrameBatch(Split(bytes, {}), 100, &sink, &stats).ok());
  EXPECT_EQ(sink.frames, std::vector<std::string>{"x"});
}

TEST(GrpcBatchCodecTest, MalformedInputIsRejected) {
  auto decode = [](const std::string& bytes) {
    CollectingSink sink;
    FrameBatchDecodeStats stats;
    return DecodeFrameBatch(Split(bytes, {}), 1 << 20, &sink, &stats).code();
  };
  const auto kInvalid = absl::StatusCode::kInvalidArgument;
  EXPECT_EQ(decode(std::string("\x1a\x01x", 3)), kInvalid) << "frame before `to`";
  EXPECT_EQ(decode(std::string("\x10\x02\x1a\x05xy", 5)), kInvalid) << "truncated frame";
  EXPECT_EQ(decode(std::string("\x10\x02\x1a\x01x\x10\x03", 7)), kInvalid) << "`to` after frames";
  EXPECT_EQ(decode(std::string("\x10", 1)), kInvalid) << "truncated varint";
  EXPECT_EQ(decode(std::string("\x0b", 1)), kInvalid) << "group wire type";
  EXPECT_EQ(decode(std::string("\x00", 1)), kInvalid) << "field 0";
  EXPECT_EQ(decode(std::string(11, '\xff')), kInvalid) << "overlong varint";
  EXPECT_EQ(decode(""), absl::StatusCode::kOk) << "an empty batch is fine";
}

TEST(GrpcBatchCodecTest, EveryTruncationAndCorruptionIsHandled) {
  std::vector<std::string> frames = SampleFrames();
  grpc::ByteBuffer buffer;
  EncodeFrameBatch(9, 10, &frames, &buffer);
  const std::string bytes = Flatten(buffer);
  for (size_t len = 0; len < bytes.size(); ++len) {
    CollectingSink sink;
    FrameBatchDecodeStats stats;
    absl::Status s = DecodeFrameBatch(Split(bytes.substr(0, len), {}), 1 << 20, &sink, &stats);
    EXPECT_TRUE(s.ok() || s.code() == absl::StatusCode::kInvalidArgument);
    EXPECT_LE(sink.frames.size(), SampleFrames().size());
  }
  std::mt19937_64 rng(7);
  for (int trial = 0; trial < 2000; ++trial) {
    std::string bad = bytes;
    for (int k = 0; k < 3; ++k) bad[rng() % bad.size()] = static_cast<char>(rng());
    CollectingSink sink;
    FrameBatchDecodeStats stats;
    absl::Status s = DecodeFrameBatch(Split(bad, {rng() % bad.size()}), 1 << 20, &sink, &stats);
    EXPECT_TRUE(s.ok() || s.code() == absl::StatusCode::kInvalidArgument);
  }
}

}  // namespace
}  // namespace rutile::transport

#endif  // RUTILE_WITH_GRPC
