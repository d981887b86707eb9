// Datadriven scheduler decision scripts (testdata/*.txt): set up stores and regions, ask a
// scheduler or checker, print the operator it chooses; run the coordinator and follow the
// operators to completion on the modelled cluster. Regenerate with RUTILE_REWRITE=1 and
// read the diff: every decision in the expected output was checked by hand.
//
// Commands:
//   config <name>=<value>...            SetConfigOption for each
//   store id=<n> [labels=(k=v,..)] [state=offline|tombstone] [dead]
//   region id=<n> [start=<k>] [end=<k>] stores=(..) [leader=<store>] [size=<MiB>]
//       [keys=<n>] [learners=(..)] [pending=(..)] [down=(store:seconds,..)]
//       [version=<n>] [conf-ver=<n>]
//   regions count=<n> stores=(..) [size=<MiB>] [first-id=<n>] [leader=<store>]
//       (leaders round robin over `stores` unless `leader` is given)
//   kill store=<n>                      stops the store's heartbeats
//   advance seconds=<n>                 moves time; live stores heartbeat
//   stores | regions-view               PD's view
//   balance-leader | balance-region     one decision, not added
//   check-replica region=<n> | check-merge region=<n>
//   run [rounds=<n>]                    coordinator rounds, added operators printed
//   settle                              carry out operators until none progresses
//   converge [rounds=<n>]               run + settle until quiet; prints rounds used
//   admin                               each input line through Admin::Execute

#include <map>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "pd/checkers.h"
#include "pd/schedulers.h"
#include "pd_test_util.h"
#include "testutil/datadriven.h"

namespace rutile::pd {
namespace {

using testing::kSecond;
using testing::MakeRegion;
using testutil::TestData;

uint64_t ToUint(const std::string& s) {
  uint64_t v = 0;
  EXPECT_TRUE(absl::SimpleAtoi(s, &v)) << s;
  return v;
}

std::vector<uint64_t> UintList(const TestData& d, const std::string& key) {
  std::vector<uint64_t> out;
  if (const testutil::CmdArg* a = d.Arg(key)) {
    for (const std::string& v : a->vals) out.push_back(ToUint(v));
  }
  return out;
}

class Script {
 public:
  std::string Handle(const TestData& d) {
    if (d.cmd == "config") {
      for (const testutil::CmdArg& a : d.cmd_args) {
        absl::Status s =
            SetConfigOption(&h_.config(), a.key, a.vals.empty() ? "" : absl::StrJoin(a.vals, ","));
        if (!s.ok()) return s.ToString();
      }
      return "ok";
    }
    if (d.cmd == "store") return Store(d);
    if (d.cmd == "region") return Region(d);
    if (d.cmd == "regions") return Regions(d);
    if (d.cmd == "kill") {
      uint64_t id;
      d.ScanUint("store", &id);
      h_.KillStore(id);
      return "ok";
    }
    if (d.cmd == "advance") {
      uint64_t secs;
      d.ScanUint("seconds", &secs);
      h_.Advance(secs * kSecond);
      h_.HeartbeatStores();
      return "ok";
    }
    if (d.cmd == "stores") return Stores();
    if (d.cmd == "regions-view") return RegionsView();
    if (d.cmd == "balance-leader") return Show(BalanceLeader(h_.Context()));
    if (d.cmd == "balance-region") return Show(BalanceRegion(h_.Context()));
    if (d.cmd == "check-replica" || d.cmd == "check-merge") {
      uint64_t id;
      d.ScanUint("region", &id);
      const RegionInfo* r = h_.cluster().GetRegion(id);
      if (r == nullptr) return "no such region";
      if (d.cmd == "check-replica") return Show(CheckReplicas(h_.Context(), *r));
      std::vector<std::unique_ptr<Operator>> ops = CheckMerge(h_.Context(), *r);
      if (ops.empty()) return "no operator";
      std::string out;
      for (const auto& op : ops) absl::StrAppend(&out, op->ToString(), "\n");
      return out;
    }
    if (d.cmd == "run") {
      uint64_t rounds = 1;
      d.ScanUint("rounds", &rounds);
      std::string out;
      for (uint64_t i = 0; i < rounds; ++i) {
        for (const std::string& s : h_.coordinator().RunOnce(h_.now())) {
          absl::StrAppend(&out, s, "\n");
        }
      }
      return out.empty() ? "no operator" : out;
    }
    if (d.cmd == "settle") {
      size_t before = h_.operators().History().size();
      int steps = 0;
      while (int n = h_.Tick()) steps += n;
      std::string out = absl::StrCat("steps: ", steps, "\n");
      const auto& hist = h_.operators().History();
      for (size_t i = before; i < hist.size(); ++i) absl::StrAppend(&out, hist[i], "\n");
      for (const Operator* op : h_.operators().GetOperators()) {
        absl::StrAppend(&out, "still running: ", op->ToString(), "\n");
      }
      return out;
    }
    if (d.cmd == "converge") {
      uint64_t rounds = 100;
      d.ScanUint("rounds", &rounds);
      size_t before = h_.operators().History().size();
      int used = h_.RunUntilQuiet(static_cast<int>(rounds));
      return absl::StrCat("quiet after ", used, " rounds, ",
                          h_.operators().History().size() - before, " operators\n", Stores());
    }
    if (d.cmd == "admin") {
      std::string out;
      for (absl::string_view line : absl::StrSplit(d.input, '\n', absl::SkipEmpty())) {
        absl::StatusOr<std::string> r = h_.admin().Execute(std::string(line));
        absl::StrAppend(&out, "> ", line, "\n", r.ok() ? *r : r.status().ToString() + "\n");
      }
      return out;
    }
    ADD_FAILURE() << d.pos << ": unknown command " << d.cmd;
    return "";
  }

 private:
  static std::string Show(const std::unique_ptr<Operator>& op) {
    return op == nullptr ? "no operator" : op->ToString();
  }

  std::string Store(const TestData& d) {
    uint64_t id;
    d.ScanUint("id", &id);
    std::vector<std::pair<std::string, std::string>> labels;
    if (const testutil::CmdArg* a = d.Arg("labels")) {
      for (const std::string& kv : a->vals) {
        std::pair<std::string, std::string> p = absl::StrSplit(kv, absl::MaxSplits('=', 1));
        labels.push_back(p);
      }
    }
    h_.AddStore(id, labels);
    std::string state;
    if (d.ScanString("state", &state)) {
      absl::Status s =
          h_.cluster().SetStoreState(id, state == "offline" ? metapb::OFFLINE : metapb::TOMBSTONE);
      if (!s.ok()) return s.ToString();
    }
    if (d.HasArg("dead")) h_.KillStore(id);
    return "ok";
  }

  std::string Region(const TestData& d) {
    uint64_t id, leader = 0, size = 10, version = 1, conf_ver = 1;
    d.ScanUint("id", &id);
    d.ScanUint("leader", &leader);
    d.ScanUint("size", &size);
    d.ScanUint("version", &version);
    d.ScanUint("conf-ver", &conf_ver);
    std::string start, end;
    d.ScanString("start", &start);
    d.ScanString("end", &end);
    RegionInfo r =
        MakeRegion(id, start, end, UintList(d, "stores"), leader, size * kMiB, version, conf_ver);
    uint64_t keys;
    if (d.ScanUint("keys", &keys)) r.approximate_keys = keys;
    for (uint64_t s : UintList(d, "learners")) {
      *r.meta.add_peers() = testing::MakePeer(testing::PeerId(id, s), s, /*learner=*/true);
    }
    for (uint64_t s : UintList(d, "pending")) r.pending_peers.push_back(*r.PeerOnStore(s));
    if (const testutil::CmdArg* a = d.Arg("down")) {
      for (const std::string& v : a->vals) {
        std::pair<std::string, std::string> p = absl::StrSplit(v, ':');
        DownPeer dp;
        dp.peer = *r.PeerOnStore(ToUint(p.first));
        dp.down_seconds = ToUint(p.second);
        r.down_peers.push_back(dp);
      }
    }
    h_.AddRegion(r);
    return "ok";
  }

  std::string Regions(const TestData& d) {
    uint64_t count, size = 10, first = 1;
    d.ScanUint("count", &count);
    d.ScanUint("size", &size);
    d.ScanUint("first-id", &first);
    uint64_t leader = 0;
    d.ScanUint("leader", &leader);
    std::vector<uint64_t> stores = UintList(d, "stores");
    for (uint64_t i = 0; i < count; ++i) {
      h_.AddRegion(MakeRegion(first + i, testing::RegionKey(static_cast<int>(i), count),
                              testing::RegionKey(static_cast<int>(i + 1), count), stores,
                              leader != 0 ? leader : stores[i % stores.size()], size * kMiB));
    }
    return "ok";
  }

  std::string Stores() {
    std::string out;
    for (const StoreInfo* s : h_.cluster().GetStores()) {
      absl::StrAppend(&out, DescribeStore(*s), "\n");
    }
    return out;
  }

  std::string RegionsView() {
    std::string out;
    for (const RegionInfo* r : h_.cluster().GetRegions()) {
      absl::StrAppend(&out, DescribeRegion(*r), "\n");
    }
    return out;
  }

  testing::PdHarness h_;
};

TEST(SchedulerDatadrivenTest, Scripts) {
  std::vector<std::string> scripts = testutil::ListScripts(testutil::TestDataDir("pd/testdata"));
  ASSERT_FALSE(scripts.empty());
  for (const std::string& path : scripts) {
    SCOPED_TRACE(path);
    Script script;
    testutil::RunTest(path, [&](const TestData& d) { return script.Handle(d); });
  }
}

}  // namespace
}  // namespace rutile::pd
