// Internal: how code outside lib/sql/session (lib/node's Database::Open and
// OpenLocalCluster) builds a rutile::sql::Database over a KvStore of its choosing.

#ifndef RUTILE_SQL_SESSION_DATABASE_ACCESS_H_
#define RUTILE_SQL_SESSION_DATABASE_ACCESS_H_

#include <memory>

#include "absl/status/statusor.h"
#include "rutile/env.h"
#include "rutile/sql.h"
#include "sql/kv/kv.h"

namespace rutile::sql {

struct DatabaseAccess {
  // A Database over `store` with a fresh catalog (database `test` created). `owner`, if
  // any, is released after the store (it may own the cluster the store runs on). NOW()
  // reads `env`'s wall clock (null: Env::Default()).
  static absl::StatusOr<std::unique_ptr<Database>> Make(std::unique_ptr<kv::KvStore> store,
                                                        std::shared_ptr<void> owner,
                                                        Env* env = nullptr);
};

}  // namespace rutile::sql

#endif  // RUTILE_SQL_SESSION_DATABASE_ACCESS_H_
