// The failpoint macros with failpoints compiled in: the positive control, whose object
// must reference the failpoint registry (else the symbol check could never fail).
#undef RUTILE_FAILPOINTS_ENABLED
#define RUTILE_FAILPOINTS_ENABLED 1
#include "util/failpoint.h"
// clang-format off
#include "probe_body.inc"
// clang-format on
