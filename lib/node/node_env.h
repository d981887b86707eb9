// NodeEnv: one node's view of a SimEnv inside a Simulation, for one incarnation of the
// node. It forwards to the SimEnv, with two differences:
//   - WallMicros adds the node's clock skew (shared by all incarnations of the node), so
//     SkewClock affects one node while the others keep the true time;
//   - Kill() makes the incarnation dead, as a crashed process: fibers and timers started
//     through it and not yet run never run, Spawn/Schedule/ScheduleCallback drop their
//     work, and SleepForMicros/Yield throw FiberCancelled (which unwinds the calling fiber
//     to its entry point).
//
// IsSimulated() is true, but a NodeEnv is not a SimEnv: code that needs the SimEnv must
// dynamic_cast, not static_cast.
//
// Thread safety: as SimEnv — only the thread that owns the SimEnv may use it.

#ifndef RUTILE_NODE_NODE_ENV_H_
#define RUTILE_NODE_NODE_ENV_H_

#include <cstdint>
#include <functional>
#include <memory>

#include "rutile/env.h"
#include "rutile/transport.h"

namespace rutile::testing {

class NodeEnv : public Env {
 public:
  // `base` must outlive every fiber and timer started through this Env. `skew_micros` is
  // read on every WallMicros.
  NodeEnv(SimEnv* base, NodeId node, uint64_t incarnation,
          std::shared_ptr<const int64_t> skew_micros);
  ~NodeEnv() override;

  uint64_t NowMicros() override;
  uint64_t WallMicros() override;
  void Spawn(std::function<void()> fn) override;
  TimerId Schedule(uint64_t delay_micros, std::function<void()> fn) override;
  TimerId ScheduleCallback(uint64_t delay_micros, std::function<void()> fn) override;
  bool Cancel(TimerId id) override;
  void SleepForMicros(uint64_t micros) override;
  void Yield() override;
  uint64_t Random64() override;
  void RunBlocking(std::function<void()> fn) override;
  bool IsSimulated() const override { return true; }

  // Makes this incarnation dead. Idempotent.
  void Kill();
  bool alive() const { return *alive_; }

  NodeId node() const { return node_; }
  uint64_t incarnation() const { return incarnation_; }
  SimEnv* base() const { return base_; }

 private:
  // Throws FiberCancelled if this incarnation is dead.
  void CheckAlive();

  SimEnv* const base_;
  const NodeId node_;
  const uint64_t incarnation_;
  std::shared_ptr<const int64_t> skew_micros_;
  // Shared with the wrappers of spawned fibers and timers.
  std::shared_ptr<bool> alive_;
};

}  // namespace rutile::testing

#endif  // RUTILE_NODE_NODE_ENV_H_
