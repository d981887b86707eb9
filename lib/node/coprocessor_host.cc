#include "node/coprocessor_host.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "raftstore/errors.h"
#include "sql/coprocessor/dag.h"
#include "txn/errors.h"
#include "txn/mvcc_reader.h"
#include "txn/reads.h"
#include "util/failpoint.h"

namespace rutile::node {
namespace {

// Scans one region snapshot through Percolator's scanner, handing each row to the DAG in
// place (txn::ScanEach: no copy of a key or value per row).
class MvccSnapshotReader final : public sql::coprocessor::SnapshotReader {
 public:
  MvccSnapshotReader(std::shared_ptr<txn::RegionView> view, uint64_t region_id, txn::TimeStamp ts,
                     txn::TxnReadOptions opts)
      : view_(std::move(view)), region_id_(region_id), ts_(ts), opts_(std::move(opts)) {}

  sql::coprocessor::CacheKey cache_key() const override {
    sql::coprocessor::CacheKey k;
    k.region_id = region_id_;
    k.data_version = view_->data_version();
    k.epoch_version = view_->epoch_version();
    k.read_ts = ts_;
    // A build traces the lock CF, which only snapshot isolation reads.
    k.may_build = opts_.isolation == txn::IsolationLevel::kSI;
    return k;
  }

  absl::Status ScanLatest(std::string_view start, std::string_view end,
                          absl::FunctionRef<bool(std::string_view, std::string_view)> fn,
                          bool* latest, uint64_t* max_commit_ts) override {
    txn::ScanOptions o;
    o.start_key = std::string(start);
    o.end_key = std::string(end);
    o.ts = ts_;
    o.read = opts_;
    txn::MvccReader reader(view_->engine(), nullptr);
    txn::ScanTrace trace;
    absl::Status s = txn::ScanEach(&reader, o, fn, &trace);
    *latest = s.ok() && !trace.lock_seen && !trace.newer_seen;
    *max_commit_ts = trace.max_commit_ts;
    return s;
  }

  absl::Status Scan(std::string_view start, std::string_view end, bool reverse,
                    absl::FunctionRef<bool(std::string_view, std::string_view)> fn) override {
    txn::ScanOptions o;
    o.start_key = std::string(start);
    o.end_key = std::string(end);
    o.ts = ts_;
    o.reverse = reverse;
    o.read = opts_;
    txn::MvccReader reader(view_->engine(), nullptr);
    // A locked key ends the scan with every lock met in the next keys, so the client
    // resolves them together.
    return txn::ScanEach(&reader, o, fn);
  }

 private:
  std::shared_ptr<txn::RegionView> view_;
  const uint64_t region_id_;
  const txn::TimeStamp ts_;
  const txn::TxnReadOptions opts_;
};

}  // namespace

absl::StatusOr<coprocessor::Response> RunCoprocessor(txn::RegionTxnStore* store,
                                                     const txn::RegionContext& ctx,
                                                     const coprocessor::Request& req,
                                                     sql::coprocessor::ColumnCache* cache) {
  // Fault injection (tests): a request whose ranges hold the raw key given in hex answers
  // ServerIsBusy, a region error its client retries until its deadline.
  if (std::optional<std::string> v = RUTILE_FAIL_POINT_VALUE("coprocessor_busy_key")) {
    const std::string key = absl::HexStringToBytes(*v);
    for (const coprocessor::KeyRange& r : req.ranges()) {
      if (r.start() <= key && key < r.end()) {
        return raftstore::ServerIsBusyError("failpoint coprocessor_busy_key");
      }
    }
  }
  txn::TxnReadOptions opts;
  opts.isolation = req.read_committed() ? txn::IsolationLevel::kRC : txn::IsolationLevel::kSI;
  opts.bypass_locks.assign(req.bypass_locks().begin(), req.bypass_locks().end());
  opts.resolved_locks.assign(req.resolved_locks().begin(), req.resolved_locks().end());
  std::vector<std::pair<std::string, std::string>> ranges;
  for (const coprocessor::KeyRange& r : req.ranges()) ranges.emplace_back(r.start(), r.end());
  absl::StatusOr<std::shared_ptr<txn::RegionView>> view =
      store->SnapshotForRead(ctx, ranges, req.start_ts(), opts);
  if (!view.ok()) return view.status();
  MvccSnapshotReader reader(*std::move(view), ctx.region_id, req.start_ts(), std::move(opts));
  coprocessor::Response resp;
  absl::Status s = sql::coprocessor::RunDag(req, &reader, &resp, cache);
  if (!s.ok()) return s;
  return resp;
}

}  // namespace rutile::node
