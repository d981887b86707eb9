// Failpoints: named places in the code where a test can inject a fault (an error return,
// a delay, a pause, a crash) without the code under test knowing about tests. Semantics
// follow TiKV's fail-rs and pingcap/failpoint.
//
//   RUTILE_FAIL_POINT("raft_before_persist");               // a statement
//
//   if (auto v = RUTILE_FAIL_POINT_VALUE("apply_fail")) {   // value form
//     return absl::InternalError(absl::StrCat("injected: ", *v));
//   }
//
//   RUTILE_FAIL_POINT_RETURN("send_fail", [](const std::string& v) {
//     return absl::UnavailableError(v);                      // return from the caller
//   });
//
// A failpoint does nothing until configured, by API (failpoint::Configure) or by the
// environment variable RUTILE_FAILPOINTS="a=return(1);b=pause", which is read once, at
// startup or at the first call of this API, whichever comes first.
//
// Spec grammar, one or more actions joined by "->":
//
//   action := [<percent>%][<count>*]<task>[(<arg>)]
//   task   := off | return[(v)] | sleep(ms) | panic[(msg)] | print[(msg)] | pause | yield
//
// On each evaluation the first action whose count is not used up and whose probability
// draw succeeds runs (and uses up one of its count); if none does, nothing happens. So
// "20%3*return(1)" returns "1" on 20% of evaluations, at most three times, and
// "1*return(1)->sleep(10)" returns once and sleeps 10 ms on every later evaluation.
//   off      does nothing (but consumes the count: "2*off->return" skips two hits).
//   return   makes RUTILE_FAIL_POINT_VALUE yield the argument ("" if none); for
//            RUTILE_FAIL_POINT it does nothing.
//   sleep    suspends the calling fiber for `ms` milliseconds of the failpoint Env.
//   panic    logs and aborts the process.
//   print    logs the failpoint name and the argument at level Info.
//   pause    blocks the calling fiber until the failpoint is reconfigured or removed.
//   yield    lets other fibers run (Env::Yield).
// Probability draws come from the failpoint Env's Random64, so under SimEnv they are
// deterministic. The Env (SetEnv) defaults to Env::Default().
//
// With RUTILE_FAILPOINTS_ENABLED undefined or 0 (the CMake option RUTILE_FAILPOINTS=OFF,
// the Release default) the macros compile to nothing: their arguments are not evaluated
// and no reference to the registry remains. The API below still links; Configure then
// returns FailedPrecondition. When compiled in, an unconfigured failpoint costs one
// relaxed atomic load.
//
// Thread safety: everything here may be used from any thread or fiber.

#ifndef RUTILE_UTIL_FAILPOINT_H_
#define RUTILE_UTIL_FAILPOINT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/optimization.h"
#include "absl/status/status.h"

#if defined(RUTILE_FAILPOINTS_ENABLED) && RUTILE_FAILPOINTS_ENABLED
#include <atomic>
#endif

namespace rutile {

class Env;

namespace failpoint {

// True when this build evaluates failpoints.
bool CompiledIn();

// Configures failpoint `name` with `spec` (grammar above), replacing any previous
// configuration and releasing fibers paused on it. InvalidArgument names the problem
// when `spec` or `name` is malformed (and nothing changes); FailedPrecondition when
// failpoints are compiled out.
absl::Status Configure(std::string_view name, std::string_view spec);

// Configures several failpoints from "name=spec;name=spec" (the RUTILE_FAILPOINTS
// format). Validates every entry before applying any.
absl::Status ConfigureAll(std::string_view specs);

// Removes failpoint `name`, releasing fibers paused on it. Returns whether it existed.
bool Remove(std::string_view name);

// Removes every failpoint.
void RemoveAll();

// The configured failpoints as (name, spec), sorted by name.
std::vector<std::pair<std::string, std::string>> List();

// How many times failpoint `name` was evaluated since it was last configured (whether or
// not an action ran); 0 if it is not configured. Lets a test check a path was reached.
uint64_t Evaluations(std::string_view name);

// Sets the Env used by sleep, yield and probability draws; nullptr means Env::Default().
// The Env must outlive every evaluation that may use it.
void SetEnv(Env* env);

// The status of applying RUTILE_FAILPOINTS at startup: OK when unset or valid,
// InvalidArgument (also logged at startup) when malformed; nothing is applied then.
absl::Status EnvironmentStatus();

// Configures a failpoint for the lifetime of the object, as a test would with fail-rs'
// FailScenario. Check ok() or status(): a bad spec configures nothing.
class ScopedFailPoint {
 public:
  ScopedFailPoint(std::string_view name, std::string_view spec);
  ~ScopedFailPoint();
  ScopedFailPoint(const ScopedFailPoint&) = delete;
  ScopedFailPoint& operator=(const ScopedFailPoint&) = delete;

  bool ok() const { return status_.ok(); }
  const absl::Status& status() const { return status_; }

 private:
  std::string name_;
  absl::Status status_;
};

}  // namespace failpoint

#if defined(RUTILE_FAILPOINTS_ENABLED) && RUTILE_FAILPOINTS_ENABLED

namespace failpoint_internal {

// Number of configured failpoints; the macros' fast path reads only this.
extern std::atomic<int> g_configured;

// Evaluates failpoint `name`: runs its action and returns the value of a `return` action,
// nullopt otherwise. May block (sleep, pause).
std::optional<std::string> Eval(std::string_view name);

}  // namespace failpoint_internal

// Performance-critical path: one relaxed load when no failpoint is configured.
#define RUTILE_FAIL_POINT_ACTIVE_()                                                                \
  ABSL_PREDICT_FALSE(::rutile::failpoint_internal::g_configured.load(std::memory_order_relaxed) != \
                     0)

#define RUTILE_FAIL_POINT(name)                                                \
  do {                                                                         \
    if (RUTILE_FAIL_POINT_ACTIVE_()) ::rutile::failpoint_internal::Eval(name); \
  } while (0)

#define RUTILE_FAIL_POINT_VALUE(name)                                     \
  (RUTILE_FAIL_POINT_ACTIVE_() ? ::rutile::failpoint_internal::Eval(name) \
                               : ::std::optional<::std::string>())

#else  // Compiled out: no code, no symbol references, arguments not evaluated.

// sizeof keeps `name` an unevaluated "use", so variables feeding only failpoints do not
// trigger unused warnings in Release builds; it emits no code and odr-uses nothing.
#define RUTILE_FAIL_POINT(name)      \
  do {                               \
    static_cast<void>(sizeof(name)); \
  } while (0)

#define RUTILE_FAIL_POINT_VALUE(name) \
  (static_cast<void>(sizeof(name)), ::std::optional<::std::string>())

#endif

// Returns fn(value) from the enclosing function when failpoint `name` returns a value.
#define RUTILE_FAIL_POINT_RETURN(name, fn)                                                 \
  do {                                                                                     \
    if (::std::optional<::std::string> rutile_fp_value_ = RUTILE_FAIL_POINT_VALUE(name)) { \
      return (fn)(*rutile_fp_value_);                                                      \
    }                                                                                      \
  } while (0)

}  // namespace rutile

#endif  // RUTILE_UTIL_FAILPOINT_H_
