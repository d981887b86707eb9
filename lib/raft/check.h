// Invariant checks for the raft package. A violated invariant means the log or the
// configuration is corrupt (or the application broke the Ready/Advance contract), and
// continuing could lose committed data, so the process stops, as etcd-raft panics.

#ifndef RUTILE_RAFT_CHECK_H_
#define RUTILE_RAFT_CHECK_H_

#include <string>

namespace rutile::raft {

[[noreturn]] void RaftFatal(const std::string& msg);

}  // namespace rutile::raft

#define RAFT_CHECK(cond, msg)                                                                 \
  do {                                                                                        \
    if (!(cond)) ::rutile::raft::RaftFatal(std::string("check failed: " #cond ": ") + (msg)); \
  } while (0)

#endif  // RUTILE_RAFT_CHECK_H_
