#include "raft/check.h"

#include <cstdio>
#include <cstdlib>

namespace rutile::raft {

void RaftFatal(const std::string& msg) {
  std::fprintf(stderr, "raft fatal: %s\n", msg.c_str());
  std::fflush(stderr);
  std::abort();
}

}  // namespace rutile::raft
