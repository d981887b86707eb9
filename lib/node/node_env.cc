#include "node/node_env.h"

#include <utility>

#include "util/env_internal.h"
#include "util/sync.h"

namespace rutile::testing {

NodeEnv::NodeEnv(SimEnv* base, NodeId node, uint64_t incarnation,
                 std::shared_ptr<const int64_t> skew_micros)
    : base_(base),
      node_(node),
      incarnation_(incarnation),
      skew_micros_(std::move(skew_micros)),
      alive_(std::make_shared<bool>(true)) {}

NodeEnv::~NodeEnv() = default;

uint64_t NodeEnv::NowMicros() { return base_->NowMicros(); }

uint64_t NodeEnv::WallMicros() {
  return static_cast<uint64_t>(static_cast<int64_t>(base_->WallMicros()) + *skew_micros_);
}

void NodeEnv::Spawn(std::function<void()> fn) {
  if (!*alive_) return;
  base_->Spawn([alive = alive_, fn = std::move(fn)] {
    if (*alive) fn();
  });
}

TimerId NodeEnv::Schedule(uint64_t delay_micros, std::function<void()> fn) {
  // A dead incarnation still gets a timer id (callers may Cancel it); it does nothing.
  return base_->Schedule(delay_micros, [alive = alive_, fn = std::move(fn)] {
    if (*alive) fn();
  });
}

TimerId NodeEnv::ScheduleCallback(uint64_t delay_micros, std::function<void()> fn) {
  return base_->ScheduleCallback(delay_micros, [alive = alive_, fn = std::move(fn)] {
    if (*alive) fn();
  });
}

bool NodeEnv::Cancel(TimerId id) { return base_->Cancel(id); }

void NodeEnv::SleepForMicros(uint64_t micros) {
  CheckAlive();
  // The wake-up timer goes through this Env, so a crash while asleep means never waking.
  Notification never;
  never.WaitFor(this, micros);
  CheckAlive();
}

void NodeEnv::Yield() {
  CheckAlive();
  base_->Yield();
  CheckAlive();
}

uint64_t NodeEnv::Random64() { return base_->Random64(); }

void NodeEnv::RunBlocking(std::function<void()> fn) { base_->RunBlocking(std::move(fn)); }

void NodeEnv::Kill() { *alive_ = false; }

void NodeEnv::CheckAlive() {
  if (*alive_) return;
  // As util/sync.cc does for a SimEnv shutting down: the unwinding leaves AddressSanitizer's
  // shadow of the fiber stack stale, so it is cleared first.
  void* sim = env_internal::CurrentSim();
  if (sim != nullptr) {
    volatile char here = 0;
    env_internal::SimUnpoisonCurrentStack(sim, const_cast<char*>(&here));
  }
  throw FiberCancelled();
}

}  // namespace rutile::testing
