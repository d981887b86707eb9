// Helpers shared by the LocalTransport and SimTransport tests.

#ifndef RUTILE_TESTS_TRANSPORT_TRANSPORT_TEST_UTIL_H_
#define RUTILE_TESTS_TRANSPORT_TRANSPORT_TEST_UTIL_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "rutile/env.h"
#include "rutile/transport.h"
#include "transport.pb.h"
#include "transport/local_transport.h"

namespace rutile::transport::testing {

// One received frame and the Env time it arrived.
struct Received {
  NodeId from;
  std::string bytes;
  uint64_t at_micros;
};

// Records frames with their arrival time. Safe from any thread.
class TimedReceiver : public FrameReceiver {
 public:
  explicit TimedReceiver(Env* env) : env_(env) {}
  void OnFrame(NodeId from, std::string frame) override {
    std::lock_guard<std::mutex> lock(mu_);
    got_.push_back(Received{from, std::move(frame), env_->NowMicros()});
  }
  std::vector<Received> got() const {
    std::lock_guard<std::mutex> lock(mu_);
    return got_;
  }
  size_t count() const {
    std::lock_guard<std::mutex> lock(mu_);
    return got_.size();
  }
  std::vector<std::string> bytes() const {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::string> out;
    for (const auto& r : got_) out.push_back(r.bytes);
    return out;
  }

 private:
  Env* env_;
  mutable std::mutex mu_;
  std::vector<Received> got_;
};

// Serialized Envelopes of each body kind.
inline std::string RaftFrame(NodeId from, NodeId to, uint64_t region, const std::string& data) {
  Envelope e;
  e.set_from(from);
  e.set_to(to);
  e.set_region_id(region);
  e.set_raft(data);
  return e.SerializeAsString();
}

inline std::string RequestFrame(NodeId from, NodeId to, uint64_t call_id,
                                const std::string& method) {
  Envelope e;
  e.set_from(from);
  e.set_to(to);
  e.mutable_request()->set_call_id(call_id);
  e.mutable_request()->set_method(method);
  return e.SerializeAsString();
}

inline std::string ResponseFrame(NodeId from, NodeId to, uint64_t call_id) {
  Envelope e;
  e.set_from(from);
  e.set_to(to);
  e.mutable_response()->set_call_id(call_id);
  return e.SerializeAsString();
}

inline std::string OpaqueFrame(NodeId from, NodeId to, uint64_t region, const std::string& data) {
  Envelope e;
  e.set_from(from);
  e.set_to(to);
  e.set_region_id(region);
  e.set_opaque(data);
  return e.SerializeAsString();
}

}  // namespace rutile::transport::testing

#endif  // RUTILE_TESTS_TRANSPORT_TRANSPORT_TEST_UTIL_H_
