#include "util/failpoint.h"

#include <cstdlib>

#if defined(RUTILE_FAILPOINTS_ENABLED) && RUTILE_FAILPOINTS_ENABLED

#include <algorithm>
#include <atomic>
#include <charconv>
#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "rutile/env.h"
#include "util/logging.h"
#include "util/sync.h"

namespace rutile {
namespace failpoint_internal {

std::atomic<int> g_configured{0};

namespace {

// Debian's Abseil has its own absl::string_view, which std::string_view does not convert to.
absl::string_view AsAbsl(std::string_view s) { return absl::string_view(s.data(), s.size()); }

enum class Task { kOff, kReturn, kSleep, kPanic, kPrint, kPause, kYield };

struct Action {
  Task task = Task::kOff;
  std::string arg;
  uint64_t sleep_micros = 0;
  double probability = 1.0;
  // Evaluations left; -1 means unlimited.
  std::atomic<int64_t> remaining{-1};
};

// One configuration of one failpoint. Reconfiguring or removing a failpoint replaces the
// object and notifies `retired`, which releases fibers paused on the old configuration.
struct FailPoint {
  std::string spec;
  std::vector<std::unique_ptr<Action>> actions;
  std::atomic<uint64_t> evaluations{0};
  Notification retired;
};

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

// Splits `s` at each `sep` outside parentheses, so arguments may contain separators.
std::vector<std::string_view> SplitTopLevel(std::string_view s, std::string_view sep) {
  std::vector<std::string_view> parts;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '(') {
      ++depth;
    } else if (s[i] == ')') {
      if (depth > 0) --depth;
    } else if (depth == 0 && s.compare(i, sep.size(), sep) == 0) {
      parts.push_back(s.substr(start, i - start));
      start = i + sep.size();
      i = start - 1;
    }
  }
  parts.push_back(s.substr(start));
  return parts;
}

absl::Status SpecError(std::string_view spec, std::string_view problem) {
  return absl::InvalidArgumentError(
      absl::StrCat("failpoint spec \"", AsAbsl(spec), "\": ", AsAbsl(problem)));
}

absl::StatusOr<std::unique_ptr<Action>> ParseAction(std::string_view spec, std::string_view text) {
  auto action = std::make_unique<Action>();
  text = Trim(text);
  if (text.empty()) return SpecError(spec, "empty action");

  // [<percent>%]
  if (size_t pct = text.find('%'); pct != std::string_view::npos && pct < text.find('(')) {
    const std::string number(Trim(text.substr(0, pct)));
    char* end = nullptr;
    const double p = std::strtod(number.c_str(), &end);
    if (number.empty() || end != number.c_str() + number.size() || !(p >= 0 && p <= 100)) {
      return SpecError(
          spec, absl::StrCat("bad probability \"", number, "%\" (want a number from 0 to 100)"));
    }
    action->probability = p / 100;
    text = Trim(text.substr(pct + 1));
  }
  // [<count>*]
  if (size_t star = text.find('*'); star != std::string_view::npos && star < text.find('(')) {
    const std::string_view number = Trim(text.substr(0, star));
    int64_t count = 0;
    auto [ptr, ec] = std::from_chars(number.data(), number.data() + number.size(), count);
    if (number.empty() || ec != std::errc() || ptr != number.data() + number.size() || count < 0) {
      return SpecError(
          spec, absl::StrCat("bad count \"", AsAbsl(number), "*\" (want a non-negative integer)"));
    }
    action->remaining.store(count);
    text = Trim(text.substr(star + 1));
  }
  // <task>[(<arg>)]
  std::string_view name = text;
  std::optional<std::string_view> arg;
  if (size_t open = text.find('('); open != std::string_view::npos) {
    if (text.back() != ')') return SpecError(spec, "unbalanced parentheses");
    name = Trim(text.substr(0, open));
    arg = text.substr(open + 1, text.size() - open - 2);
  }
  static constexpr std::pair<std::string_view, Task> kTasks[] = {
      {"off", Task::kOff},     {"return", Task::kReturn}, {"sleep", Task::kSleep},
      {"panic", Task::kPanic}, {"print", Task::kPrint},   {"pause", Task::kPause},
      {"yield", Task::kYield},
  };
  const auto* found = std::find_if(std::begin(kTasks), std::end(kTasks),
                                   [&](const auto& t) { return t.first == name; });
  if (found == std::end(kTasks)) {
    return SpecError(spec, absl::StrCat("unknown task \"", AsAbsl(name),
                                        "\" (want off, return, sleep, panic, print, pause "
                                        "or yield)"));
  }
  action->task = found->second;
  if (arg.has_value()) action->arg = std::string(*arg);
  switch (action->task) {
    case Task::kSleep: {
      const std::string_view ms = arg.has_value() ? Trim(*arg) : std::string_view();
      uint64_t millis = 0;
      auto [ptr, ec] = std::from_chars(ms.data(), ms.data() + ms.size(), millis);
      if (ms.empty() || ec != std::errc() || ptr != ms.data() + ms.size() ||
          millis > UINT64_MAX / 1000) {
        return SpecError(spec, "sleep needs a whole number of milliseconds, as sleep(10)");
      }
      action->sleep_micros = millis * 1000;
      break;
    }
    case Task::kOff:
    case Task::kPause:
    case Task::kYield:
      if (arg.has_value()) {
        return SpecError(spec, absl::StrCat("task \"", AsAbsl(name), "\" takes no argument"));
      }
      break;
    default:
      break;
  }
  return action;
}

absl::StatusOr<std::shared_ptr<FailPoint>> Parse(std::string_view spec) {
  auto fp = std::make_shared<FailPoint>();
  fp->spec = std::string(Trim(spec));
  if (fp->spec.empty()) return SpecError(spec, "empty");
  for (std::string_view part : SplitTopLevel(fp->spec, "->")) {
    absl::StatusOr<std::unique_ptr<Action>> action = ParseAction(spec, part);
    if (!action.ok()) return action.status();
    fp->actions.push_back(*std::move(action));
  }
  return fp;
}

absl::Status CheckName(std::string_view name) {
  if (name.empty()) return absl::InvalidArgumentError("failpoint name is empty");
  for (char c : name) {
    if (c == '=' || c == ';' || c == ' ' || c == '\t' || c == '\n') {
      return absl::InvalidArgumentError(
          absl::StrCat("failpoint name \"", AsAbsl(name), "\" contains '=', ';' or whitespace"));
    }
  }
  return absl::OkStatus();
}

class Registry {
 public:
  // Installs `fp` under `name`, retiring the configuration it replaces.
  void Set(std::string_view name, std::shared_ptr<FailPoint> fp) {
    std::shared_ptr<FailPoint> old;
    {
      absl::MutexLock lock(&mu_);
      auto [it, inserted] = map_.try_emplace(std::string(name));
      old = std::move(it->second);
      it->second = std::move(fp);
      if (inserted) g_configured.fetch_add(1, std::memory_order_relaxed);
    }
    if (old != nullptr) old->retired.Notify();
  }

  bool Remove(std::string_view name) {
    std::shared_ptr<FailPoint> old;
    {
      absl::MutexLock lock(&mu_);
      auto it = map_.find(AsAbsl(name));
      if (it == map_.end()) return false;
      old = std::move(it->second);
      map_.erase(it);
      g_configured.fetch_sub(1, std::memory_order_relaxed);
    }
    old->retired.Notify();
    return true;
  }

  void RemoveAll() {
    absl::flat_hash_map<std::string, std::shared_ptr<FailPoint>> old;
    {
      absl::MutexLock lock(&mu_);
      old.swap(map_);
      g_configured.fetch_sub(static_cast<int>(old.size()), std::memory_order_relaxed);
    }
    for (auto& [name, fp] : old) fp->retired.Notify();
  }

  std::shared_ptr<FailPoint> Find(std::string_view name) {
    absl::ReaderMutexLock lock(&mu_);
    auto it = map_.find(AsAbsl(name));
    return it == map_.end() ? nullptr : it->second;
  }

  std::vector<std::pair<std::string, std::string>> List() {
    std::vector<std::pair<std::string, std::string>> out;
    {
      absl::ReaderMutexLock lock(&mu_);
      for (const auto& [name, fp] : map_) out.emplace_back(name, fp->spec);
    }
    std::sort(out.begin(), out.end());
    return out;
  }

 private:
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::shared_ptr<FailPoint>> map_ ABSL_GUARDED_BY(mu_);
};

Registry& GetRegistry() {
  static Registry* registry = new Registry;  // Never destroyed: used from any thread.
  return *registry;
}

std::atomic<Env*> g_env{nullptr};

Env* CurrentEnv() {
  Env* env = g_env.load(std::memory_order_acquire);
  return env != nullptr ? env : Env::Default();
}

// Uniform draw in [0, 1) from the failpoint Env.
bool Draw(double probability) {
  if (probability >= 1) return true;
  if (probability <= 0) return false;
  return static_cast<double>(CurrentEnv()->Random64() >> 11) * 0x1.0p-53 < probability;
}

// Claims one use of `action` if its count allows and its probability draw succeeds.
bool Claim(Action& action) {
  int64_t left = action.remaining.load(std::memory_order_acquire);
  if (left == 0) return false;
  if (!Draw(action.probability)) return false;
  if (left < 0) return true;
  while (left > 0) {
    if (action.remaining.compare_exchange_weak(left, left - 1, std::memory_order_acq_rel)) {
      return true;
    }
  }
  return false;
}

absl::Status ApplyEnvironment();

absl::Status& EnvStatusStorage() {
  static absl::Status* status = new absl::Status;
  return *status;
}

// Applies RUTILE_FAILPOINTS exactly once, from whichever comes first: the static
// initializer below or a call of the public API.
void EnsureEnvironmentApplied() {
  static const bool applied = [] {
    EnvStatusStorage() = ApplyEnvironment();
    if (!EnvStatusStorage().ok()) {
      RUTILE_LOG_ERROR("RUTILE_FAILPOINTS ignored: {}", EnvStatusStorage().ToString());
    }
    return true;
  }();
  (void)applied;
}

const bool g_env_applied_at_startup = (EnsureEnvironmentApplied(), true);

}  // namespace

std::optional<std::string> Eval(std::string_view name) {
  std::shared_ptr<FailPoint> fp = GetRegistry().Find(name);
  if (fp == nullptr) return std::nullopt;
  fp->evaluations.fetch_add(1, std::memory_order_relaxed);
  for (const std::unique_ptr<Action>& action : fp->actions) {
    if (!Claim(*action)) continue;
    switch (action->task) {
      case Task::kOff:
        return std::nullopt;
      case Task::kReturn:
        return action->arg;
      case Task::kSleep:
        CurrentEnv()->SleepForMicros(action->sleep_micros);
        return std::nullopt;
      case Task::kPanic:
        RUTILE_LOG_ERROR("failpoint {} panic: {}", name, action->arg);
        logging_internal::Logger().flush();
        std::abort();
      case Task::kPrint:
        RUTILE_LOG_INFO("failpoint {} triggered: {}", name, action->arg);
        return std::nullopt;
      case Task::kPause:
        fp->retired.Wait();
        return std::nullopt;
      case Task::kYield:
        CurrentEnv()->Yield();
        return std::nullopt;
    }
  }
  return std::nullopt;
}

namespace {

absl::StatusOr<std::vector<std::pair<std::string, std::shared_ptr<FailPoint>>>> ParseAll(
    std::string_view specs) {
  std::vector<std::pair<std::string, std::shared_ptr<FailPoint>>> parsed;
  for (std::string_view entry : SplitTopLevel(specs, ";")) {
    entry = Trim(entry);
    if (entry.empty()) continue;
    const size_t eq = entry.find('=');
    if (eq == std::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("failpoint entry \"", AsAbsl(entry), "\" is not of the form name=spec"));
    }
    const std::string_view name = Trim(entry.substr(0, eq));
    if (absl::Status s = CheckName(name); !s.ok()) return s;
    absl::StatusOr<std::shared_ptr<FailPoint>> fp = Parse(entry.substr(eq + 1));
    if (!fp.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("failpoint ", AsAbsl(name), ": ", fp.status().message()));
    }
    parsed.emplace_back(std::string(name), *std::move(fp));
  }
  return parsed;
}

absl::Status ApplyEnvironment() {
  const char* value = std::getenv("RUTILE_FAILPOINTS");
  if (value == nullptr) return absl::OkStatus();
  auto parsed = ParseAll(value);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("RUTILE_FAILPOINTS: ", parsed.status().message()));
  }
  for (auto& [name, fp] : *parsed) GetRegistry().Set(name, std::move(fp));
  return absl::OkStatus();
}

}  // namespace
}  // namespace failpoint_internal

namespace failpoint {

using failpoint_internal::EnsureEnvironmentApplied;
using failpoint_internal::GetRegistry;

bool CompiledIn() { return true; }

absl::Status Configure(std::string_view name, std::string_view spec) {
  EnsureEnvironmentApplied();
  if (absl::Status s = failpoint_internal::CheckName(name); !s.ok()) return s;
  absl::StatusOr<std::shared_ptr<failpoint_internal::FailPoint>> fp =
      failpoint_internal::Parse(spec);
  if (!fp.ok()) return fp.status();
  GetRegistry().Set(name, *std::move(fp));
  return absl::OkStatus();
}

absl::Status ConfigureAll(std::string_view specs) {
  EnsureEnvironmentApplied();
  auto parsed = failpoint_internal::ParseAll(specs);
  if (!parsed.ok()) return parsed.status();
  for (auto& [name, fp] : *parsed) GetRegistry().Set(name, std::move(fp));
  return absl::OkStatus();
}

bool Remove(std::string_view name) {
  EnsureEnvironmentApplied();
  return GetRegistry().Remove(name);
}

void RemoveAll() {
  EnsureEnvironmentApplied();
  GetRegistry().RemoveAll();
}

std::vector<std::pair<std::string, std::string>> List() {
  EnsureEnvironmentApplied();
  return GetRegistry().List();
}

uint64_t Evaluations(std::string_view name) {
  std::shared_ptr<failpoint_internal::FailPoint> fp = GetRegistry().Find(name);
  return fp == nullptr ? 0 : fp->evaluations.load(std::memory_order_relaxed);
}

void SetEnv(Env* env) { failpoint_internal::g_env.store(env, std::memory_order_release); }

absl::Status EnvironmentStatus() {
  EnsureEnvironmentApplied();
  return failpoint_internal::EnvStatusStorage();
}

}  // namespace failpoint
}  // namespace rutile

#else  // Failpoints compiled out: the API links but configures nothing.

namespace rutile::failpoint {

namespace {
absl::Status CompiledOut() {
  return absl::FailedPreconditionError(
      "failpoints are compiled out (build with -DRUTILE_FAILPOINTS=ON)");
}
}  // namespace

bool CompiledIn() { return false; }
absl::Status Configure(std::string_view, std::string_view) { return CompiledOut(); }
absl::Status ConfigureAll(std::string_view) { return CompiledOut(); }
bool Remove(std::string_view) { return false; }
void RemoveAll() {}
std::vector<std::pair<std::string, std::string>> List() { return {}; }
uint64_t Evaluations(std::string_view) { return 0; }
void SetEnv(Env*) {}
absl::Status EnvironmentStatus() { return absl::OkStatus(); }

}  // namespace rutile::failpoint

#endif

namespace rutile::failpoint {

ScopedFailPoint::ScopedFailPoint(std::string_view name, std::string_view spec)
    : name_(name), status_(Configure(name, spec)) {}

ScopedFailPoint::~ScopedFailPoint() {
  if (status_.ok()) Remove(name_);
}

}  // namespace rutile::failpoint
