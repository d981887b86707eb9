#include "txn/latches.h"

#include <algorithm>

namespace rutile::txn {

Latches::Latches(size_t slots) {
  size_ = 1;
  while (size_ < slots) size_ <<= 1;
  slots_ = std::shared_ptr<Slot[]>(new Slot[size_]);
}

Latches::~Latches() = default;

size_t Latches::SlotOf(std::string_view key) const {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : key) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return static_cast<size_t>(h ^ (h >> 32)) & (size_ - 1);
}

std::vector<size_t> Latches::SortedSlots(const std::vector<std::string_view>& keys) const {
  std::vector<size_t> out;
  out.reserve(keys.size());
  for (std::string_view k : keys) out.push_back(SlotOf(k));
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

Latches::Guard Latches::Acquire(const std::vector<std::string>& keys) {
  std::vector<std::string_view> views(keys.begin(), keys.end());
  return Acquire(views);
}

Latches::Guard Latches::Acquire(const std::vector<std::string_view>& keys) {
  std::vector<size_t> slots = SortedSlots(keys);
  for (size_t i : slots) {
    Slot& s = slots_[i];
    MutexLock lock(s.mu);
    const uint64_t ticket = s.next_ticket++;
    s.cv.Wait(lock, [&] { return s.serving == ticket; });
  }
  return Guard(this, std::move(slots));
}

bool Latches::AcquireFor(const std::vector<std::string>& keys, Env* env, uint64_t timeout_micros,
                         Guard* guard) {
  std::vector<std::string_view> views(keys.begin(), keys.end());
  std::vector<size_t> slots = SortedSlots(views);
  const uint64_t deadline = env->NowMicros() + timeout_micros;
  const std::shared_ptr<void> keep_alive = slots_;
  std::vector<size_t> taken;
  taken.reserve(slots.size());
  for (size_t i : slots) {
    Slot& s = slots_[i];
    MutexLock lock(s.mu);
    const uint64_t ticket = s.next_ticket++;
    if (s.serving != ticket) {
      const uint64_t now = env->NowMicros();
      const uint64_t left = deadline > now ? deadline - now : 0;
      if (!sync_internal::TimedWait(env, left, keep_alive, &s.cv, lock,
                                    [&] { return s.serving == ticket; })) {
        s.abandoned.push_back(ticket);
        lock.unlock();
        ReleaseSlots(taken);
        return false;
      }
    }
    taken.push_back(i);
  }
  *guard = Guard(this, std::move(taken));
  return true;
}

bool Latches::TryAcquire(const std::vector<std::string>& keys, Guard* guard) {
  std::vector<std::string_view> views(keys.begin(), keys.end());
  std::vector<size_t> slots = SortedSlots(views);
  std::vector<size_t> taken;
  for (size_t i : slots) {
    Slot& s = slots_[i];
    MutexLock lock(s.mu);
    if (s.serving != s.next_ticket) {
      lock.unlock();
      ReleaseSlots(taken);
      return false;
    }
    s.next_ticket++;
    taken.push_back(i);
  }
  *guard = Guard(this, std::move(taken));
  return true;
}

void Latches::ReleaseSlots(const std::vector<size_t>& slots) {
  for (size_t i : slots) {
    Slot& s = slots_[i];
    {
      MutexLock lock(s.mu);
      Advance(s);
    }
    s.cv.NotifyAll();
  }
}

void Latches::Advance(Slot& s) {
  s.serving++;
  while (!s.abandoned.empty()) {
    auto it = std::find(s.abandoned.begin(), s.abandoned.end(), s.serving);
    if (it == s.abandoned.end()) break;
    s.abandoned.erase(it);
    s.serving++;
  }
}

Latches::Guard::Guard(Guard&& other) noexcept
    : latches_(other.latches_), slots_(std::move(other.slots_)) {
  other.latches_ = nullptr;
  other.slots_.clear();
}

Latches::Guard& Latches::Guard::operator=(Guard&& other) noexcept {
  if (this != &other) {
    Release();
    latches_ = other.latches_;
    slots_ = std::move(other.slots_);
    other.latches_ = nullptr;
    other.slots_.clear();
  }
  return *this;
}

Latches::Guard::~Guard() { Release(); }

void Latches::Guard::Release() {
  if (latches_ != nullptr) {
    latches_->ReleaseSlots(slots_);
    latches_ = nullptr;
    slots_.clear();
  }
}

}  // namespace rutile::txn
