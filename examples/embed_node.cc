// Embedding one Rutile node: a single-node cluster (its own PD, in memory) inside a host
// program, written and read through the raw KV client. The body of main is the whole
// recipe; everything Rutile does runs on fibers of an Env, so the work is spawned on one.

#include <cstdio>
#include <future>

#include "rutile/kv.h"
#include "rutile/node.h"

int main() {
  rutile::Env* env = rutile::Env::Default();
  std::promise<bool> ok;
  env->Spawn([&] {
    auto transport = rutile::NewLocalTransport(env);  // Or the host's own Transport.
    auto node = rutile::Node::Open({.id = 1,
                                    .transport = transport.get(),
                                    .host_pd = true,
                                    .initial_stores = {1}});  // data_dir empty: in memory.
    auto kv = rutile::RawKvClient::Open({node->get()});
    bool put = (*kv)->Put("greeting", "hello, rutile").ok();
    auto value = (*kv)->Get("greeting");
    std::printf("greeting = %s\n", value.ok() && *value ? (*value)->c_str() : "(missing)");
    ok.set_value(put && value.ok() && *value == "hello, rutile");
  });
  return ok.get_future().get() ? 0 : 1;
}
