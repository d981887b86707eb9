// KV-only use of Rutile's transactions (TxnClient, include/rutile/kv.h), no SQL: a
// 3-node in-process cluster, an atomic multi-key write, snapshot isolation seen by a
// concurrent reader, a write-write conflict that the loser must retry, and a
// pessimistic transaction that locks a key before it writes.

#include <cstdio>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "rutile/env.h"
#include "rutile/kv.h"
#include "rutile/node.h"

namespace {

// Prints `what` and returns false when `ok` does not hold.
bool Check(bool ok, const char* what) {
  std::printf("%s %s\n", ok ? "ok  " : "FAIL", what);
  return ok;
}

bool Run(rutile::Env* env) {
  // Three in-memory nodes on the in-process transport; node 1 hosts the PD.
  std::unique_ptr<rutile::Transport> transport = rutile::NewLocalTransport(env);
  std::vector<std::unique_ptr<rutile::Node>> nodes;
  std::vector<rutile::Node*> raw;
  for (uint64_t id : {1, 2, 3}) {
    auto node = rutile::Node::Open({.id = id,
                                    .env = env,
                                    .transport = transport.get(),
                                    .host_pd = id == 1,
                                    .pd = id == 1 ? nullptr : nodes[0]->pd(),
                                    .initial_stores = {1, 2, 3}});
    if (!node.ok()) return Check(false, "open node");
    raw.push_back(node->get());
    nodes.push_back(std::move(*node));
  }
  absl::StatusOr<std::unique_ptr<rutile::TxnClient>> opened = rutile::TxnClient::Open(raw);
  if (!opened.ok()) return Check(false, "open client");
  rutile::TxnClient& client = **opened;
  bool ok = true;

  // 1. Both keys or neither: one transaction writes two, across a region boundary.
  ok &= Check(client.SplitAt("user/m").ok(), "split the key space at user/m");
  {
    auto t = client.Begin();
    ok &= t.ok() && (*t)->Put("user/alice", "1").ok() && (*t)->Put("user/zoe", "1").ok() &&
          Check((*t)->Commit().ok(), "commit a two-region transaction");
  }

  // 2. Snapshot isolation: a reader that began earlier keeps seeing its snapshot.
  auto reader = client.Begin();
  {
    auto t = client.Begin();
    ok &= t.ok() && (*t)->Put("user/alice", "2").ok() && (*t)->Commit().ok();
  }
  ok &= Check(reader.ok() && *(*reader)->Get("user/alice") == "1",
              "an older snapshot still reads alice=1");
  ok &= Check(*(*client.Begin())->Get("user/alice") == "2", "a new transaction reads alice=2");

  // 3. Optimistic conflict: two transactions write the same key; the second to commit
  //    gets Aborted and must start over with a new Begin().
  auto t1 = client.Begin();
  auto t2 = client.Begin();
  ok &= t1.ok() && t2.ok() && (*t1)->Put("user/zoe", "from-t1").ok() &&
        (*t2)->Put("user/zoe", "from-t2").ok();
  ok &= Check((*t1)->Commit().ok(), "the first writer commits");
  ok &= Check(absl::IsAborted((*t2)->Commit()), "the second writer is Aborted (retry it)");

  // 4. Pessimistic: LockKeys takes the lock now, so the commit cannot conflict later.
  auto p = client.Begin(rutile::TxnOptions{.pessimistic = true});
  ok &= p.ok() && Check((*p)->LockKeys({"user/alice"}).ok(), "lock alice pessimistically");
  ok &= (*p)->Put("user/alice", "3").ok();
  ok &= Check((*p)->Commit().ok(), "commit the pessimistic transaction");

  // 5. A range scan of the committed state.
  auto scan = (*client.Begin())->Scan("user/", "user0");
  ok &= Check(
      scan.ok() && scan->size() == 2 && (*scan)[0].second == "3" && (*scan)[1].second == "from-t1",
      "scan user/ reads alice=3, zoe=from-t1");

  reader->reset();
  t1->reset();
  t2->reset();
  p->reset();
  opened->reset();
  for (auto& n : nodes) n->Close();
  return ok;
}

}  // namespace

int main() {
  rutile::Env* env = rutile::Env::Default();
  std::promise<bool> ok;
  env->Spawn([&] { ok.set_value(Run(env)); });
  return ok.get_future().get() ? 0 : 1;
}
