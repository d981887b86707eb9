// A 3-node in-process cluster on a network the host supplies: QueueTransport below is a
// complete rutile::Transport (include/rutile/transport.h) — one mailbox per node, drained
// by a fiber — standing in for whatever messaging a host application already has. Rutile
// only needs best-effort delivery of opaque frames; it tolerates loss, delay, duplication
// and reordering, so a host transport can be this simple.

#include <atomic>
#include <cstdio>
#include <deque>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_format.h"
#include "rutile/env.h"
#include "rutile/kv.h"
#include "rutile/node.h"
#include "rutile/transport.h"

namespace {

class QueueTransport : public rutile::Transport {
 public:
  explicit QueueTransport(rutile::Env* env) : env_(env) {}

  absl::Status Register(rutile::NodeId self, rutile::FrameReceiver* receiver) override {
    if (self == 0) return absl::InvalidArgumentError("node id 0");
    std::lock_guard<std::mutex> l(mu_);
    std::shared_ptr<Mailbox>& box = boxes_[self];
    if (box != nullptr && box->receiver != nullptr) {
      return absl::AlreadyExistsError(absl::StrFormat("node %d is registered", self));
    }
    box = std::make_shared<Mailbox>();
    box->receiver = receiver;
    return absl::OkStatus();
  }

  // Stops delivery; waits for a frame being handed over right now (the contract says the
  // receiver is never called once Unregister returns).
  void Unregister(rutile::NodeId self) override {
    std::shared_ptr<Mailbox> box = Find(self);
    if (box == nullptr) return;
    {
      std::lock_guard<std::mutex> l(box->mu);
      box->receiver = nullptr;
      box->frames.clear();
    }
    while (box->delivering.load() > 0) env_->Yield();
    std::lock_guard<std::mutex> l(mu_);
    boxes_.erase(self);
  }

  // Queues the frame in the receiver's mailbox and, when no fiber is draining it, starts
  // one. Never blocks; a frame to an unknown node is dropped.
  void Send(rutile::NodeId from, rutile::NodeId to, std::string frame) override {
    std::shared_ptr<Mailbox> box = Find(to);
    if (box == nullptr) return;
    std::lock_guard<std::mutex> l(box->mu);
    if (box->receiver == nullptr) return;
    box->frames.emplace_back(from, std::move(frame));
    if (!box->draining) {
      box->draining = true;
      env_->Spawn([box] { Drain(*box); });
    }
  }

 private:
  struct Mailbox {
    std::mutex mu;
    std::deque<std::pair<rutile::NodeId, std::string>> frames;
    rutile::FrameReceiver* receiver = nullptr;
    bool draining = false;
    std::atomic<int> delivering{0};
  };

  // Hands the mailbox's frames to its receiver in arrival order until it is empty.
  static void Drain(Mailbox& box) {
    for (;;) {
      std::unique_lock<std::mutex> l(box.mu);
      if (box.frames.empty() || box.receiver == nullptr) {
        box.draining = false;
        return;
      }
      auto [from, frame] = std::move(box.frames.front());
      box.frames.pop_front();
      rutile::FrameReceiver* receiver = box.receiver;
      box.delivering.fetch_add(1);
      l.unlock();  // OnFrame may send (even to this node): never hold the lock across it.
      receiver->OnFrame(from, std::move(frame));
      box.delivering.fetch_sub(1);
    }
  }

  std::shared_ptr<Mailbox> Find(rutile::NodeId id) {
    std::lock_guard<std::mutex> l(mu_);
    auto it = boxes_.find(id);
    return it == boxes_.end() ? nullptr : it->second;
  }

  rutile::Env* env_;
  std::mutex mu_;
  std::map<rutile::NodeId, std::shared_ptr<Mailbox>> boxes_;
};

// Opens nodes 1..3 on the host's transport (node 1 hosts the PD), writes through the raw
// KV client, splits the key space, and reads everything back.
bool Run(rutile::Env* env) {
  QueueTransport transport(env);
  std::vector<std::unique_ptr<rutile::Node>> nodes;
  std::shared_ptr<rutile::Pd> pd;
  for (uint64_t id : {1, 2, 3}) {
    rutile::NodeOptions o;
    o.id = id;
    o.env = env;
    o.transport = &transport;
    o.host_pd = id == 1;
    o.pd = pd;
    o.initial_stores = {1, 2, 3};
    absl::StatusOr<std::unique_ptr<rutile::Node>> node = rutile::Node::Open(o);
    if (!node.ok()) {
      std::fprintf(stderr, "node %d: %s\n", static_cast<int>(id), node.status().ToString().c_str());
      return false;
    }
    if (id == 1) pd = (*node)->pd();
    nodes.push_back(std::move(*node));
  }
  std::vector<rutile::Node*> raw = {nodes[0].get(), nodes[1].get(), nodes[2].get()};
  absl::StatusOr<std::unique_ptr<rutile::RawKvClient>> kv = rutile::RawKvClient::Open(raw);
  if (!kv.ok()) return false;

  for (int i = 0; i < 100; ++i) {
    absl::Status s = (*kv)->Put(absl::StrFormat("k%03d", i), absl::StrFormat("v%d", i));
    if (!s.ok()) {
      std::fprintf(stderr, "put: %s\n", s.ToString().c_str());
      return false;
    }
  }
  if (absl::Status s = (*kv)->SplitAt("k050"); !s.ok()) {
    std::fprintf(stderr, "split: %s\n", s.ToString().c_str());
    return false;
  }
  absl::StatusOr<std::vector<rutile::RawKvClient::KvPair>> all = (*kv)->Scan("k", "l");
  bool ok = all.ok() && all->size() == 100 && (*all)[42].second == "v42";
  std::printf("host transport: %zu keys read back across the split, %s\n",
              all.ok() ? all->size() : 0, ok ? "all correct" : "WRONG");
  kv->reset();
  for (auto& n : nodes) n->Close();  // Unregisters each node from the transport.
  return ok;
}

}  // namespace

int main() {
  rutile::Env* env = rutile::Env::Default();
  std::promise<bool> ok;
  env->Spawn([&] { ok.set_value(Run(env)); });
  return ok.get_future().get() ? 0 : 1;
}
