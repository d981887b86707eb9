#include "rutile/testing/simulation.h"

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "node/node_env.h"
#include "node/simulation_internal.h"
#include "transport/sim_transport.h"

namespace rutile::testing {

std::optional<uint64_t> SeedFromEnvironment() {
  const char* s = std::getenv("RUTILE_SIM_SEED");
  if (s == nullptr || *s == '\0') return std::nullopt;
  errno = 0;
  char* end = nullptr;
  unsigned long long v = std::strtoull(s, &end, 0);
  if (errno != 0 || end == s || *end != '\0') {
    std::fprintf(stderr, "RUTILE_SIM_SEED=\"%s\" is not a number; ignored\n", s);
    return std::nullopt;
  }
  return static_cast<uint64_t>(v);
}

std::string SeedReplayMessage(uint64_t seed) {
  return absl::StrCat("seed=", seed, " (replay with RUTILE_SIM_SEED=", seed, ")");
}

namespace {

// FNV-1a: a stable hash of log lines for the trace (std::hash may differ between builds).
uint64_t HashString(const std::string& s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

std::string GroupsToString(const std::vector<std::vector<NodeId>>& groups) {
  std::string out;
  for (const auto& g : groups) {
    if (!out.empty()) out += " ";
    absl::StrAppend(&out, "{", absl::StrJoin(g, " "), "}");
  }
  return out;
}

}  // namespace

struct Simulation::Rep {
  struct Node {
    NodeHooks hooks;
    bool up = false;
    bool crashed_by_nemesis = false;
    std::shared_ptr<int64_t> skew = std::make_shared<int64_t>(0);
    // Every incarnation's Env, kept until teardown because a dead incarnation's fibers
    // keep pointers to it.
    std::vector<std::unique_ptr<NodeEnv>> incarnations;
  };

  // A fault of the random nemesis that is still in effect, with what undoes it.
  struct Fault {
    std::function<void()> undo;
  };

  explicit Rep(const SimulationOptions& o) : options(o) {
    seed = o.seed;
    if (o.seed_from_environment) {
      if (auto s = SeedFromEnvironment()) seed = *s;
    }
    env = std::make_unique<SimEnv>(SimEnvOptions{.seed = seed});
    transport::SimTransportOptions t;
    t.min_latency_micros = o.min_latency_micros;
    t.max_latency_micros = o.max_latency_micros;
    t.loss_probability = o.loss_probability;
    t.duplicate_probability = o.duplicate_probability;
    t.reorder_probability = o.reorder_probability;
    t.max_frame_bytes = o.max_frame_bytes;
    net = std::make_unique<transport::SimTransport>(env.get(), t);
    base_loss = o.loss_probability;
    base_duplicate = o.duplicate_probability;
    base_reorder = o.reorder_probability;
    start_micros = env->NowMicros();
  }

  ~Rep() {
    ++nemesis_generation;
    // A power cut: every running node loses its volatile state while the network and the
    // SimEnv still exist (its crash hook may unregister receivers, resolve promises).
    for (auto& [id, node] : nodes) {
      if (!node.up) continue;
      node.up = false;
      node.incarnations.back()->Kill();
      if (node.hooks.crash) node.hooks.crash(id);
    }
    net.reset();
    // Unwinds every fiber still blocked; they may reference node state and NodeEnvs,
    // which are destroyed after this.
    env.reset();
    nodes.clear();
  }

  void Log(std::string what) {
    std::string line = absl::StrFormat(
        "[%.6fs] %s", static_cast<double>(env->NowMicros() - start_micros) / 1e6, what);
    env->Trace(HashString(line));
    log.push_back(std::move(line));
  }

  Node* Find(NodeId id) {
    auto it = nodes.find(id);
    return it == nodes.end() ? nullptr : &it->second;
  }

  // Starts a new incarnation of `id` and spawns its start hook.
  void StartNode(NodeId id, Node& node) {
    uint64_t incarnation = node.incarnations.size() + 1;
    node.incarnations.push_back(std::make_unique<NodeEnv>(env.get(), id, incarnation, node.skew));
    node.up = true;
    NodeHandle handle{id, node.incarnations.back().get(), net.get(), incarnation};
    node.incarnations.back()->Spawn([start = node.hooks.start, handle] { start(handle); });
  }

  void Crash(NodeId id) {
    Node* node = Find(id);
    if (node == nullptr || !node->up) return;
    node->up = false;
    node->incarnations.back()->Kill();
    net->Crash(id);
    Log(absl::StrCat("crash ", id));
    if (node->hooks.crash) node->hooks.crash(id);
  }

  void Restart(NodeId id) {
    Node* node = Find(id);
    if (node == nullptr || node->up) return;
    node->crashed_by_nemesis = false;
    net->Restart(id);
    Log(absl::StrCat("restart ", id));
    StartNode(id, *node);
  }

  void ApplyRates() {
    net->SetLoss(loss_faults > 0 ? nemesis.loss_probability : base_loss);
    net->SetDuplication(duplicate_faults > 0 ? nemesis.duplicate_probability : base_duplicate);
    net->SetReordering(reorder_faults > 0 ? nemesis.reorder_probability : base_reorder);
  }

  std::vector<NodeId> NemesisNodes() const {
    if (!nemesis.nodes.empty()) return nemesis.nodes;
    std::vector<NodeId> out;
    for (const auto& [id, node] : nodes) out.push_back(id);
    return out;
  }

  uint64_t UniformIn(uint64_t lo, uint64_t hi) {
    return hi <= lo ? lo : lo + env->Uniform(hi - lo + 1);
  }

  void AddFault(uint64_t duration, std::function<void()> undo) {
    uint64_t id = next_fault_id++;
    faults.emplace(id, Fault{std::move(undo)});
    env->ScheduleCallback(duration, [this, id, gen = nemesis_generation] {
      if (gen != nemesis_generation) return;
      // Undoing may spawn fibers (a restart) and send frames; never blocks.
      UndoFault(id);
    });
  }

  void UndoFault(uint64_t id) {
    auto it = faults.find(id);
    if (it == faults.end()) return;
    std::function<void()> undo = std::move(it->second.undo);
    faults.erase(it);
    undo();
  }

  // Picks and applies one random fault.
  void InjectFault() {
    std::vector<NodeId> targets = NemesisNodes();
    if (targets.empty()) return;
    const NemesisOptions& o = nemesis;
    const int weights[] = {o.partition_weight, o.isolate_weight, o.clog_weight,
                           o.crash_weight,     o.skew_weight,    o.loss_weight,
                           o.duplicate_weight, o.reorder_weight};
    int total = 0;
    for (int w : weights) total += std::max(w, 0);
    if (total == 0) return;
    int pick = static_cast<int>(env->Uniform(total));
    int kind = 0;
    while (pick >= std::max(weights[kind], 0)) pick -= std::max(weights[kind++], 0);
    uint64_t duration = UniformIn(o.min_fault_micros, o.max_fault_micros);
    NodeId victim = targets[env->Uniform(targets.size())];
    switch (kind) {
      case 0: {  // Partition into two non-empty groups.
        if (targets.size() < 2) return;
        for (size_t i = targets.size() - 1; i > 0; --i) {
          std::swap(targets[i], targets[env->Uniform(i + 1)]);
        }
        size_t cut = 1 + env->Uniform(targets.size() - 1);
        std::vector<std::vector<NodeId>> groups(2);
        groups[0].assign(targets.begin(), targets.begin() + cut);
        groups[1].assign(targets.begin() + cut, targets.end());
        for (auto& g : groups) std::sort(g.begin(), g.end());
        Log(absl::StrCat("nemesis partition ", GroupsToString(groups), " for ", duration, "us"));
        transport::FilterId f = net->Partition(std::move(groups));
        AddFault(duration, [this, f] {
          net->RemoveFilter(f);
          Log("nemesis heal partition");
        });
        break;
      }
      case 1: {
        Log(absl::StrCat("nemesis isolate ", victim, " for ", duration, "us"));
        transport::FilterId f = net->Isolate(victim);
        AddFault(duration, [this, f, victim] {
          net->RemoveFilter(f);
          Log(absl::StrCat("nemesis heal isolate ", victim));
        });
        break;
      }
      case 2:
        Log(absl::StrCat("nemesis clog ", victim, " for ", duration, "us"));
        net->Clog(victim, duration);
        break;
      case 3: {
        int crashed = 0;
        for (const auto& [id, node] : nodes) crashed += node.crashed_by_nemesis ? 1 : 0;
        int max_crashed =
            o.max_crashed >= 0 ? o.max_crashed : static_cast<int>((targets.size() - 1) / 2);
        Node* node = Find(victim);
        if (node == nullptr || !node->up || crashed >= max_crashed) return;
        Log(absl::StrCat("nemesis crash ", victim, " for ", duration, "us"));
        Crash(victim);
        node->crashed_by_nemesis = true;
        AddFault(duration, [this, victim] { Restart(victim); });
        break;
      }
      case 4: {
        int64_t max = std::max<int64_t>(o.max_skew_micros, 1);
        int64_t delta = static_cast<int64_t>(env->Uniform(2 * max + 1)) - max;
        SkewClock(victim, delta);
        AddFault(duration, [this, victim, delta] { SkewClock(victim, -delta); });
        break;
      }
      case 5:
        ++loss_faults;
        Log(absl::StrCat("nemesis loss ", o.loss_probability, " for ", duration, "us"));
        ApplyRates();
        AddFault(duration, [this] {
          --loss_faults;
          ApplyRates();
          Log("nemesis end loss");
        });
        break;
      case 6:
        ++duplicate_faults;
        Log(absl::StrCat("nemesis duplicate ", o.duplicate_probability, " for ", duration, "us"));
        ApplyRates();
        AddFault(duration, [this] {
          --duplicate_faults;
          ApplyRates();
          Log("nemesis end duplicate");
        });
        break;
      case 7:
        ++reorder_faults;
        Log(absl::StrCat("nemesis reorder ", o.reorder_probability, " for ", duration, "us"));
        ApplyRates();
        AddFault(duration, [this] {
          --reorder_faults;
          ApplyRates();
          Log("nemesis end reorder");
        });
        break;
    }
  }

  void SkewClock(NodeId id, int64_t delta) {
    Node* node = Find(id);
    if (node == nullptr) return;
    *node->skew += delta;
    Log(absl::StrCat("skew ", id, " by ", delta, "us (now ", *node->skew, "us)"));
  }

  void StartNemesis(const NemesisOptions& o) {
    StopNemesis();
    nemesis = o;
    nemesis_running = true;
    uint64_t gen = ++nemesis_generation;
    Log("nemesis start");
    env->Spawn([this, gen] {
      for (;;) {
        env->SleepForMicros(UniformIn(nemesis.min_interval_micros, nemesis.max_interval_micros));
        if (gen != nemesis_generation) return;
        InjectFault();
      }
    });
  }

  void StopNemesis() {
    if (!nemesis_running) return;
    nemesis_running = false;
    ++nemesis_generation;
    // Undo in the order applied, so the log reads as a story.
    while (!faults.empty()) UndoFault(faults.begin()->first);
    loss_faults = duplicate_faults = reorder_faults = 0;
    ApplyRates();
    // Clogs have no undo of their own; this also drops any filters left.
    net->Heal();
    Log("nemesis stop");
  }

  SimulationOptions options;
  uint64_t seed = 0;
  uint64_t start_micros = 0;
  // Declared before the SimEnv and the network so that they are destroyed after them; the
  // destructor orders the teardown explicitly anyway.
  std::map<NodeId, Node> nodes;
  std::unique_ptr<SimEnv> env;
  std::unique_ptr<transport::SimTransport> net;

  std::vector<std::string> log;

  NemesisOptions nemesis;
  bool nemesis_running = false;
  uint64_t nemesis_generation = 0;
  uint64_t next_fault_id = 1;
  std::map<uint64_t, Fault> faults;
  int loss_faults = 0;
  int duplicate_faults = 0;
  int reorder_faults = 0;
  double base_loss = 0;
  double base_duplicate = 0;
  double base_reorder = 0;
};

Simulation::Simulation(uint64_t seed) : Simulation(SimulationOptions{.seed = seed}) {}

Simulation::Simulation(const SimulationOptions& options) : rep_(std::make_unique<Rep>(options)) {}

Simulation::~Simulation() = default;

uint64_t Simulation::seed() const { return rep_->seed; }

SimEnv* Simulation::env() { return rep_->env.get(); }

Transport* Simulation::transport() { return rep_->net.get(); }

absl::Status Simulation::AddNode(NodeId id, NodeHooks hooks) {
  if (id == 0) return absl::InvalidArgumentError("node id 0");
  if (!hooks.start) return absl::InvalidArgumentError("node without a start hook");
  auto [it, inserted] = rep_->nodes.try_emplace(id);
  if (!inserted) return absl::AlreadyExistsError(absl::StrCat("node ", id));
  it->second.hooks = std::move(hooks);
  rep_->StartNode(id, it->second);
  return absl::OkStatus();
}

std::vector<NodeId> Simulation::nodes() const {
  std::vector<NodeId> out;
  for (const auto& [id, node] : rep_->nodes) out.push_back(id);
  return out;
}

Env* Simulation::node_env(NodeId id) {
  Rep::Node* node = rep_->Find(id);
  return node == nullptr ? nullptr : node->incarnations.back().get();
}

bool Simulation::IsUp(NodeId id) const {
  auto it = rep_->nodes.find(id);
  return it != rep_->nodes.end() && it->second.up;
}

void Simulation::RunFor(uint64_t micros) { rep_->env->RunFor(micros); }

bool Simulation::RunUntil(const std::function<bool()>& done, uint64_t timeout_micros) {
  return rep_->env->RunUntil(done, timeout_micros);
}

uint64_t Simulation::NowMicros() { return rep_->env->NowMicros(); }

void Simulation::Partition(std::vector<std::vector<NodeId>> groups) {
  rep_->Log(absl::StrCat("partition ", GroupsToString(groups)));
  rep_->net->Partition(std::move(groups));
}

void Simulation::Isolate(NodeId node) {
  rep_->Log(absl::StrCat("isolate ", node));
  rep_->net->Isolate(node);
}

void Simulation::Clog(NodeId node, uint64_t duration_micros) {
  rep_->Log(absl::StrCat("clog ", node, " for ", duration_micros, "us"));
  rep_->net->Clog(node, duration_micros);
}

void Simulation::Heal() {
  rep_->Log("heal");
  rep_->net->Heal();
}

void Simulation::Crash(NodeId node) { rep_->Crash(node); }

void Simulation::Restart(NodeId node) { rep_->Restart(node); }

void Simulation::SkewClock(NodeId node, int64_t delta_micros) {
  rep_->SkewClock(node, delta_micros);
}

void Simulation::SetLoss(double probability) {
  rep_->Log(absl::StrCat("loss ", probability));
  rep_->base_loss = probability;
  rep_->ApplyRates();
}

void Simulation::SetDuplication(double probability) {
  rep_->Log(absl::StrCat("duplicate ", probability));
  rep_->base_duplicate = probability;
  rep_->ApplyRates();
}

void Simulation::SetReordering(double probability) {
  rep_->Log(absl::StrCat("reorder ", probability));
  rep_->base_reorder = probability;
  rep_->ApplyRates();
}

void Simulation::StartNemesis(const NemesisOptions& options) { rep_->StartNemesis(options); }

void Simulation::StopNemesis() { rep_->StopNemesis(); }

bool Simulation::NemesisRunning() const { return rep_->nemesis_running; }

const std::vector<std::string>& Simulation::NemesisLog() const { return rep_->log; }

uint64_t Simulation::TraceHash() const { return rep_->env->TraceHash(); }

void Simulation::Trace(uint64_t event) { rep_->env->Trace(event); }

transport::SimTransport* GetSimTransport(Simulation& sim) { return sim.rep()->net.get(); }

}  // namespace rutile::testing
