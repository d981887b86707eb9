// The failpoint macros with failpoints compiled out, as in a Release build: the object
// must not reference any failpoint symbol.
#undef RUTILE_FAILPOINTS_ENABLED
#include "util/failpoint.h"
// clang-format off
#include "probe_body.inc"
// clang-format on
