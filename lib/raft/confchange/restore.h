// Restore rebuilds a configuration from a ConfState (from a snapshot or storage) by
// replaying a sequence of changes through a Changer, so restored configurations pass the
// same validation as live ones.

#ifndef RUTILE_RAFT_CONFCHANGE_RESTORE_H_
#define RUTILE_RAFT_CONFCHANGE_RESTORE_H_

#include "raft/confchange/changer.h"

namespace rutile::raft::confchange {

// `tracker` must hold an empty configuration. Returns the configuration equivalent to
// `cs`, or an error if `cs` is invalid.
absl::StatusOr<Result> Restore(const tracker::ProgressTracker& tracker, uint64_t last_index,
                               const ConfState& cs);

}  // namespace rutile::raft::confchange

#endif  // RUTILE_RAFT_CONFCHANGE_RESTORE_H_
