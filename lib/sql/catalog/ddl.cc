// Online index changes through F1's states, run from a DDL job queue in meta keys by the
// DDL owner (TiDB's ddl/ package, reduced).
//
// ADD INDEX:  none -> delete-only -> write-only -> write-reorg (backfill in batches, each
//             one transaction that also records the job's progress) -> public. A unique
//             index that meets a duplicate rolls back: delete-only -> none (entries removed).
// DROP INDEX: public -> write-only -> delete-only -> none (entries removed).
// CREATE TABLE / VIEW: none -> public in one step; the owner checks the name against the
//             store, so of two racing CREATEs of one name one gets 1050.
// DROP TABLE / VIEW: public -> write-only -> delete-only -> none. A table not public is
//             invisible to new statements (1146) but kept by id with a bumped revision,
//             so a transaction that wrote it while public fails the commit rule (8028).
//             At none its meta entries and saved statistics go, and a delete-range
//             record (m"DDLDeleteRanges") names its keys; the owner deletes them when the
//             queue is empty, after every catalog loaded that version (TiDB's
//             gc_delete_range, run by the owner rather than by GC).
// TRUNCATE:   the table under a new id in one step (empty; AUTO_INCREMENT from 1), the old
//             id's keys deleted the same way.
//
// Every state change is one meta transaction bumping the table's revision and the schema
// version, published under the catalog's publish lock, so a DML transaction two states
// behind cannot commit (Catalog::CommitChecked). Backfill batches conflict (Percolator
// write-write) with DML that changes the same index entries, and are retried a bounded
// number of times. Each step first loads (Sync) every change of other catalogs up to its
// snapshot, so the owner's cache never claims a version it has not loaded.
//
// Across catalogs (the schema lease, catalog.h): after each published step the owner
// waits, still holding the step lock, until every live catalog reported the new version
// or one lease passed (TiDB waits for all_schema_versions or two leases), so no catalog
// validates a commit under a state two steps behind the store.
//
// The owner is elected through the m"DDLOwner" lease key (owner id, expiry in timestamp
// units): a catalog becomes owner when the key is empty, its own or expired, and renews it
// in every job step's transaction, so two would-be owners conflict there, and gives it up
// when the queue is empty. Departure from TiDB: the election is not through PD. A
// non-owner waits for the owner to run its job, for up to ten schema leases, and then
// reports it as queued (8214; the owner still runs it).

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "sql/catalog/catalog.h"
#include "sql/catalog/meta.h"
#include "sql/codec/rowcodec.h"
#include "sql/codec/tablecodec.h"
#include "sql/errors.h"
#include "sql/types/context.h"

namespace rutile::sql {
namespace {

// About ten seconds of a TSO timestamp (physical milliseconds << 18).
constexpr uint64_t kOwnerLease = 10'000ull << 18;
// Conflicts in a row with concurrent DML before a DDL statement gives up (the job stays
// queued).
constexpr int kMaxConflictRetries = 1000;

IndexInfo* FindIndex(TableInfo* t, int64_t id) {
  for (IndexInfo& i : t->indexes) {
    if (i.id == id) return &i;
  }
  return nullptr;
}

absl::Status DeleteRange(kv::KvTxn* txn, const std::string& start) {
  auto r = txn->Scan(start, codec::PrefixNext(start), 0, false);
  if (!r.ok()) return r.status();
  for (const kv::Pair& p : *r) txn->Delete(p.key);
  return absl::OkStatus();
}

}  // namespace

// One step of the first queued job, as owner, in one transaction. Sets *published when the
// table changed; *done when the job left the queue.
class DdlWorker {
 public:
  explicit DdlWorker(Catalog* c) : c_(c) {}

  // Returns false when another catalog holds the owner lease.
  absl::StatusOr<bool> Step(bool* idle) {
    *idle = false;
    auto b = c_->store_->Begin();
    if (!b.ok()) return b.status();
    kv::KvTxn* txn = b->get();
    // Load what other catalogs changed up to this snapshot, so the step is published
    // over a cache at the version it bumps.
    absl::Status synced = c_->Sync(txn);
    if (!synced.ok()) {
      txn->Rollback();
      return synced;
    }
    Meta m(txn);
    auto owner = m.Owner();
    if (!owner.ok()) return owner.status();
    if (owner->has_value() && (*owner)->first != c_->owner_id_ &&
        (*owner)->second > txn->start_ts()) {
      txn->Rollback();
      return false;
    }
    m.SetOwner(c_->owner_id_, txn->start_ts() + kOwnerLease);
    auto job = m.FirstJob();
    if (!job.ok()) return job.status();
    if (!job->has_value()) {
      // Nothing queued: give the lease up, so the next DDL of any catalog runs at once.
      m.SetOwner(c_->owner_id_, txn->start_ts());
      *idle = true;
      absl::Status s = txn->Commit();
      if (!s.ok() && !absl::IsAborted(s)) return s;
      return true;
    }
    DdlJob j = **job;
    if (j.type == DdlJobType::kCreateTable || j.type == DdlJobType::kDropTable ||
        j.type == DdlJobType::kTruncateTable || j.type == DdlJobType::kCreateDatabase ||
        j.type == DdlJobType::kDropDatabase) {
      return TableJobStep(txn, &m, &j);
    }
    auto table = m.GetTable(j.db_id, j.table_id);
    std::shared_ptr<TableInfo> t;
    if (table.ok()) {
      t = *table;
    } else if (absl::IsNotFound(table.status())) {
      j.state = DdlJobState::kCancelled;
      j.error_code = kErNoSuchTable;
      j.error = "Table doesn't exist";
      m.FinishJob(j);
      return Finish(txn, nullptr, false, &m);
    } else {
      return table.status();
    }
    bool changed = false;
    absl::Status s;
    switch (j.type) {
      case DdlJobType::kAddIndex:
        s = AddIndexStep(txn, &m, &j, t.get(), &changed);
        break;
      case DdlJobType::kDropIndex:
        s = DropIndexStep(txn, &m, &j, t.get(), &changed);
        break;
      case DdlJobType::kAddColumn:
        s = AddColumnStep(&j, t.get(), &changed);
        break;
      case DdlJobType::kDropColumn:
        s = DropColumnStep(&j, t.get(), &changed);
        break;
      default:
        return absl::InternalError("table job in the column/index path");
    }
    if (!s.ok()) return s;
    if (changed) {
      ++t->revision;
      m.PutTable(j.db_id, *t);
    }
    if (j.state == DdlJobState::kDone || j.state == DdlJobState::kCancelled) {
      m.FinishJob(j);
    } else {
      m.PutJob(j);
    }
    return Finish(txn, t, changed, &m);
  }

 private:
  // CREATE TABLE (none -> public), DROP TABLE (public -> write-only -> delete-only ->
  // none: a table not public is invisible to new statements, and each step bumps its
  // revision so a transaction that wrote it while public cannot commit; at none the meta
  // entries and saved statistics go and a delete-range record is left for the table's
  // keys) and TRUNCATE (the table under a new id, the old id's keys deleted the same way).
  absl::StatusOr<bool> TableJobStep(kv::KvTxn* txn, Meta* m, DdlJob* j) {
    auto cancel = [&](uint16_t code, std::string msg) -> absl::StatusOr<bool> {
      j->state = DdlJobState::kCancelled;
      j->error_code = code;
      j->error = std::move(msg);
      m->FinishJob(*j);
      return Finish(txn, nullptr, false, m);
    };
    auto version = m->SchemaVersion();
    if (!version.ok()) return version.status();
    // The version this step publishes (Finish bumps it): once every catalog loaded it, no
    // transaction can still write a dropped table's keys.
    const int64_t next_version = *version + 1;
    auto delete_range = [&](int64_t table_id) {
      const std::string start = codec::EncodeTablePrefix(table_id);
      m->PutDeleteRange({j->id, next_version, start, codec::PrefixNext(start)});
    };
    std::shared_ptr<TableInfo> put;
    int64_t erase = 0;
    std::shared_ptr<TableInfo> hooked;
    std::optional<DbInfo> put_db;
    int64_t erase_db = 0;
    switch (j->type) {
      case DdlJobType::kCreateDatabase: {
        auto dbs = m->ListDatabases();
        if (!dbs.ok()) return dbs.status();
        for (const DbInfo& d : *dbs) {
          if (LowerName(d.name) == LowerName(j->db_name)) {
            return cancel(kErDbCreateExists, absl::StrCat("Can't create database '", j->db_name,
                                                          "'; database exists"));
          }
        }
        auto id = m->GenGlobalId();
        if (!id.ok()) return id.status();
        DbInfo info;
        info.id = *id;
        info.name = j->db_name;
        m->PutDatabase(info);
        j->db_id = info.id;
        j->schema_state = SchemaState::kPublic;
        j->state = DdlJobState::kDone;
        put_db = info;
        break;
      }
      case DdlJobType::kDropDatabase: {
        auto dbs = m->ListDatabases();
        if (!dbs.ok()) return dbs.status();
        bool found = false;
        for (const DbInfo& d : *dbs) found = found || d.id == j->db_id;
        if (!found) {
          return cancel(kErDbDropExists, absl::StrCat("Can't drop database '", j->db_name,
                                                      "'; database doesn't exist"));
        }
        // Its tables go with it: meta entries and statistics now, their keys through
        // delete-range records committed in this same transaction (so no crash or failed
        // statement can leave the rows behind), deleted once every catalog loaded the
        // version without them.
        auto tables = m->ListTables(j->db_id);
        if (!tables.ok()) return tables.status();
        for (const auto& t : *tables) {
          m->DropTableStats(t->id);
          if (!t->is_view) {
            const std::string start = codec::EncodeTablePrefix(t->id);
            m->PutDeleteRange({j->id, next_version, start, codec::PrefixNext(start), t->id});
          }
        }
        absl::Status dropped = m->DropDatabase(j->db_id);
        if (!dropped.ok()) return dropped;
        j->schema_state = SchemaState::kNone;
        j->state = DdlJobState::kDone;
        erase_db = j->db_id;
        break;
      }
      case DdlJobType::kCreateTable: {
        if (j->table == nullptr) return absl::InternalError("CREATE TABLE job without a table");
        auto dbs = m->ListDatabases();
        if (!dbs.ok()) return dbs.status();
        bool db_found = false;
        for (const DbInfo& d : *dbs) db_found = db_found || d.id == j->db_id;
        if (!db_found)
          return cancel(kErBadDb, absl::StrCat("Unknown database '", j->table->db, "'"));
        auto tables = m->ListTables(j->db_id);
        if (!tables.ok()) return tables.status();
        for (const auto& other : *tables) {
          if (LowerName(other->name) == LowerName(j->table->name)) {
            return cancel(kErTableExists,
                          absl::StrCat("Table '", j->table->name, "' already exists"));
          }
        }
        auto t = std::make_shared<TableInfo>(*j->table);
        if (t->id == 0) {
          auto id = m->GenGlobalId();
          if (!id.ok()) return id.status();
          t->id = *id;
        }
        t->db_id = j->db_id;
        t->revision = 1;
        t->state = SchemaState::kPublic;
        t->next_id = nullptr;
        m->PutTable(j->db_id, *t);
        j->table_id = t->id;
        j->schema_state = SchemaState::kPublic;
        j->state = DdlJobState::kDone;
        put = hooked = t;
        break;
      }
      case DdlJobType::kDropTable: {
        auto table = m->GetTable(j->db_id, j->table_id);
        if (absl::IsNotFound(table.status())) return cancel(kErBadTable, "Unknown table");
        if (!table.ok()) return table.status();
        std::shared_ptr<TableInfo> t = *table;
        j->state = DdlJobState::kRunning;
        if (t->state == SchemaState::kPublic || t->state == SchemaState::kWriteOnly) {
          t->state =
              t->state == SchemaState::kPublic ? SchemaState::kWriteOnly : SchemaState::kDeleteOnly;
          ++t->revision;
          m->PutTable(j->db_id, *t);
          put = hooked = t;
        } else {
          m->DropTable(j->db_id, t->id);
          m->DropTableStats(t->id);
          if (!t->is_view) delete_range(t->id);
          t->state = SchemaState::kNone;
          j->state = DdlJobState::kDone;
          erase = t->id;
          hooked = t;
        }
        j->schema_state = t->state;
        break;
      }
      case DdlJobType::kTruncateTable: {
        auto table = m->GetTable(j->db_id, j->table_id);
        if (absl::IsNotFound(table.status())) {
          return cancel(kErNoSuchTable, "Table doesn't exist");
        }
        if (!table.ok()) return table.status();
        auto id = m->GenGlobalId();
        if (!id.ok()) return id.status();
        auto t = std::make_shared<TableInfo>(**table);
        t->id = *id;
        t->revision = 1;
        m->DropTable(j->db_id, j->table_id);
        m->DropTableStats(j->table_id);
        m->PutTable(j->db_id, *t);
        delete_range(j->table_id);
        j->new_table_id = t->id;
        j->schema_state = SchemaState::kPublic;
        j->state = DdlJobState::kDone;
        erase = j->table_id;
        put = hooked = t;
        break;
      }
      default:
        return absl::InternalError("not a table job");
    }
    if (j->state == DdlJobState::kDone) {
      m->FinishJob(*j);
    } else {
      m->PutJob(*j);
    }
    auto v = m->BumpSchemaVersion();
    if (!v.ok()) return v.status();
    absl::Status s;
    {
      std::unique_lock<SharedMutex> publish(c_->publish_mu_);
      s = txn->Commit();
      if (s.ok()) {
        published_ = *v;
        std::lock_guard<std::mutex> l(c_->mu_);
        // As in Finish: advance only from exactly the version this step bumped.
        if (c_->version_.load() == *v - 1) {
          bool ok = true;
          if (put_db.has_value()) {
            Catalog::Db& d = c_->dbs_[LowerName(put_db->name)];
            d.id = put_db->id;
            d.name = put_db->name;
          }
          if (erase_db != 0) {
            for (auto it = c_->dbs_.begin(); it != c_->dbs_.end(); ++it) {
              if (it->second.id != erase_db) continue;
              std::vector<int64_t> ids;
              for (const auto& [n, t] : it->second.tables) ids.push_back(t->id);
              for (int64_t id : ids) c_->EraseTableLocked(id);
              c_->dbs_.erase(it);
              break;
            }
          }
          if (erase != 0) c_->EraseTableLocked(erase);
          if (put != nullptr) {
            ok = false;
            for (const auto& [lower, d] : c_->dbs_) {
              if (d.id == put->db_id) {
                put->db = d.name;
                ok = true;
              }
            }
            if (ok) c_->ApplyTableLocked(put);
          }
          if (ok) c_->version_.store(*v);
        }
      }
    }
    if (absl::IsAborted(s)) return true;  // A conflict: the step runs again.
    if (!s.ok()) return s;
    if (hooked != nullptr) hooked_ = hooked;
    return true;
  }

  // Commits the step; a table change is published under the publish lock.
  absl::StatusOr<bool> Finish(kv::KvTxn* txn, std::shared_ptr<TableInfo> t, bool changed, Meta* m) {
    absl::Status s;
    if (!changed) {
      s = txn->Commit();
    } else {
      auto v = m->BumpSchemaVersion();
      if (!v.ok()) return v.status();
      std::unique_lock<SharedMutex> publish(c_->publish_mu_);
      s = txn->Commit();
      if (s.ok()) {
        published_ = *v;
        std::lock_guard<std::mutex> l(c_->mu_);
        // Advance only from exactly the version this step bumped (Sync loaded it): a
        // cache behind or ahead of it, or one without the table, is left for the next
        // Sync to reload instead of claiming a version it has not loaded.
        auto old = c_->by_id_.find(t->id);
        if (c_->version_.load() == *v - 1 && old != c_->by_id_.end()) {
          t->db = old->second->db;
          if (c_->PublishLocked(t)) c_->version_.store(*v);
        }
      }
    }
    if (absl::IsAborted(s)) return true;  // A conflict: the step runs again.
    if (!s.ok()) return s;
    if (t != nullptr) hooked_ = t;
    return true;
  }

 public:
  // The table of the last step that committed a change or backfill batch (for the DDL
  // hook, which runs outside every catalog lock), once.
  std::shared_ptr<TableInfo> TakeHooked() { return std::exchange(hooked_, nullptr); }
  // The schema version the last step published, once (0: none).
  int64_t TakePublished() { return std::exchange(published_, 0); }

 private:
  absl::Status AddIndexStep(kv::KvTxn* txn, Meta* m, DdlJob* j, TableInfo* t, bool* changed) {
    IndexInfo* idx = FindIndex(t, j->index.id);
    if (j->state == DdlJobState::kRollback) return RemoveIndex(txn, j, t, idx, changed);
    switch (j->schema_state) {
      case SchemaState::kNone: {
        int64_t max_id = 0;
        bool id_taken = false;
        for (const IndexInfo& i : t->indexes) {
          max_id = std::max(max_id, i.id);
          id_taken = id_taken || i.id == j->index.id;
          if (LowerName(i.name) == LowerName(j->index.name)) {
            j->state = DdlJobState::kCancelled;
            j->error_code = kErDupKeyName;
            j->error = absl::StrCat("Duplicate key name '", j->index.name, "'");
            return absl::OkStatus();
          }
        }
        // The session chose the id from its view: another job queued from the same view
        // may have taken it.
        if (id_taken) {
          j->index.id = max_id + 1;
          j->index_id = j->index.id;
        }
        // Positions come from the current table (a column dropped or added since the
        // session planned the index moved them); a column that is gone fails the job.
        if (!j->index_column_ids.empty()) {
          j->index.columns.clear();
          for (int64_t id : j->index_column_ids) {
            int pos = -1;
            for (size_t i = 0; i < t->columns.size(); ++i) {
              if (t->columns[i].id == id) pos = static_cast<int>(i);
            }
            j->index.columns.push_back(pos);
          }
        }
        for (int c : j->index.columns) {
          if (c < 0 || static_cast<size_t>(c) >= t->columns.size()) {
            j->state = DdlJobState::kCancelled;
            j->error_code = kErKeyColumnDoesNotExist;
            j->error = "Key column doesn't exist in table";
            return absl::OkStatus();
          }
        }
        IndexInfo n = j->index;
        n.state = SchemaState::kDeleteOnly;
        t->indexes.push_back(n);
        j->state = DdlJobState::kRunning;
        j->schema_state = SchemaState::kDeleteOnly;
        *changed = true;
        return absl::OkStatus();
      }
      case SchemaState::kDeleteOnly:
      case SchemaState::kWriteOnly:
        if (idx == nullptr) return absl::InternalError("index of a running job vanished");
        j->schema_state = static_cast<SchemaState>(static_cast<int>(j->schema_state) + 1);
        idx->state = j->schema_state;
        j->reorg_handle = INT64_MIN;
        *changed = true;
        return absl::OkStatus();
      case SchemaState::kWriteReorg:
        if (idx == nullptr) return absl::InternalError("index of a running job vanished");
        return Backfill(txn, j, t, idx, changed);
      case SchemaState::kPublic:
        j->state = DdlJobState::kDone;
        return absl::OkStatus();
    }
    (void)m;
    return absl::OkStatus();
  }

  // One batch of the backfill: rows from the job's reorg handle on.
  absl::Status Backfill(kv::KvTxn* txn, DdlJob* j, TableInfo* t, IndexInfo* idx, bool* changed) {
    const std::string start = j->reorg_handle == INT64_MIN
                                  ? codec::EncodeRecordPrefix(t->id)
                                  : codec::EncodeRowKey(t->id, j->reorg_handle);
    const std::string end = codec::PrefixNext(codec::EncodeRecordPrefix(t->id));
    const size_t batch = static_cast<size_t>(std::max<int64_t>(1, c_->backfill_batch_));
    auto rows = txn->Scan(start, end, batch, false);
    if (!rows.ok()) return rows.status();
    codec::RowDecoder dec = RowDecoderFor(*t);
    txn->BeginStatement();
    int64_t last = INT64_MIN;
    for (const kv::Pair& p : *rows) {
      int64_t tid, handle;
      absl::Status s = codec::DecodeRowKey(p.key, &tid, &handle);
      if (!s.ok()) return s;
      auto row = dec.Decode(p.value, handle);
      if (!row.ok()) return row.status();
      IndexEntry e = MakeIndexEntry(*t, *idx, *row, handle);
      if (e.unique_check) {
        auto v = txn->Get(e.key);
        if (!v.ok()) return v.status();
        if (v->has_value() && HandleFromBytes(**v) != handle) {
          std::vector<std::string> parts;
          for (int c : idx->columns) {
            parts.push_back((*row)[c].IsNull() ? "NULL" : (*row)[c].ToString());
          }
          // Nothing of this batch is written; the index goes back through delete-only.
          txn->RollbackStatement();
          j->state = DdlJobState::kRollback;
          j->error_code = kErDupEntry;
          j->error = absl::StrCat("Duplicate entry '", absl::StrJoin(parts, "-"), "' for key '",
                                  t->name, ".", idx->name, "'");
          return absl::OkStatus();
        }
      }
      txn->Put(e.key, e.value);
      last = handle;
      ++j->row_count;
    }
    if (rows->size() < batch || last == INT64_MAX) {
      idx->state = SchemaState::kPublic;
      j->schema_state = SchemaState::kPublic;
      j->state = DdlJobState::kDone;
      if (idx->unique && idx->columns.size() == 1) {
        t->columns[idx->columns[0]].type.flag |= kUniqueKeyFlag;
      }
      *changed = true;
    } else {
      j->reorg_handle = last + 1;
    }
    return absl::OkStatus();
  }

  // Rollback of ADD INDEX and the tail of DROP INDEX: down to delete-only, then gone.
  absl::Status RemoveIndex(kv::KvTxn* txn, DdlJob* j, TableInfo* t, IndexInfo* idx, bool* changed) {
    if (idx == nullptr) {
      j->state = j->type == DdlJobType::kAddIndex ? DdlJobState::kCancelled : DdlJobState::kDone;
      return absl::OkStatus();
    }
    if (idx->state > SchemaState::kDeleteOnly) {
      idx->state = SchemaState::kDeleteOnly;
      j->schema_state = SchemaState::kDeleteOnly;
      *changed = true;
      return absl::OkStatus();
    }
    const int64_t iid = idx->id;
    t->indexes.erase(t->indexes.begin() + (idx - t->indexes.data()));
    absl::Status s = DeleteRange(txn, codec::EncodeIndexPrefix(t->id, iid));
    if (!s.ok()) return s;
    j->schema_state = SchemaState::kNone;
    j->state = j->type == DdlJobType::kAddIndex ? DdlJobState::kCancelled : DdlJobState::kDone;
    *changed = true;
    return absl::OkStatus();
  }

  absl::Status DropIndexStep(kv::KvTxn* txn, Meta*, DdlJob* j, TableInfo* t, bool* changed) {
    IndexInfo* idx = FindIndex(t, j->index_id);
    j->state = DdlJobState::kRunning;
    if (idx != nullptr && idx->state == SchemaState::kPublic) {
      idx->state = SchemaState::kWriteOnly;
      j->schema_state = SchemaState::kWriteOnly;
      *changed = true;
      return absl::OkStatus();
    }
    return RemoveIndex(txn, j, t, idx, changed);
  }

  static ColumnInfo* FindChanging(TableInfo* t, int64_t id) {
    for (ColumnInfo& c : t->changing_columns) {
      if (c.id == id) return &c;
    }
    return nullptr;
  }

  // ADD COLUMN: none -> delete-only -> write-only -> write-reorg -> public. Rows written
  // before write-only decode the missing column as its default (which the column keeps
  // as its original default), so write-reorg has nothing to backfill.
  absl::Status AddColumnStep(DdlJob* j, TableInfo* t, bool* changed) {
    j->state = DdlJobState::kRunning;
    if (j->schema_state == SchemaState::kNone) {
      const std::string lower = LowerName(j->column.name);
      bool taken = t->FindColumn(j->column.name) >= 0;
      for (const ColumnInfo& c : t->changing_columns) taken = taken || LowerName(c.name) == lower;
      if (taken) {
        j->state = DdlJobState::kCancelled;
        j->error_code = kErDupFieldName;
        j->error = absl::StrCat("Duplicate column name '", j->column.name, "'");
        return absl::OkStatus();
      }
      // The id is the owner's to assign: ids of dropped columns are never reused.
      int64_t max_id = t->max_column_id;
      for (const ColumnInfo& c : t->columns) max_id = std::max(max_id, c.id);
      for (const ColumnInfo& c : t->changing_columns) max_id = std::max(max_id, c.id);
      j->column.id = max_id + 1;
      t->max_column_id = j->column.id;
      ColumnInfo c = j->column;
      c.state = SchemaState::kDeleteOnly;
      t->changing_columns.push_back(c);
      j->schema_state = SchemaState::kDeleteOnly;
      *changed = true;
      return absl::OkStatus();
    }
    ColumnInfo* c = FindChanging(t, j->column.id);
    if (c == nullptr) return absl::InternalError("column of a running job vanished");
    if (j->schema_state == SchemaState::kWriteReorg) {
      ColumnInfo pub = *c;
      pub.state = SchemaState::kPublic;
      t->changing_columns.erase(t->changing_columns.begin() + (c - t->changing_columns.data()));
      t->columns.push_back(pub);
      j->schema_state = SchemaState::kPublic;
      j->state = DdlJobState::kDone;
    } else {
      j->schema_state = static_cast<SchemaState>(static_cast<int>(j->schema_state) + 1);
      c->state = j->schema_state;
    }
    *changed = true;
    return absl::OkStatus();
  }

  // DROP COLUMN: public -> write-only -> delete-only -> none. Rows keep the dropped
  // column's value under its id, which nothing decodes again.
  absl::Status DropColumnStep(DdlJob* j, TableInfo* t, bool* changed) {
    j->state = DdlJobState::kRunning;
    if (j->schema_state == SchemaState::kNone) {
      int idx = -1;
      for (size_t i = 0; i < t->columns.size(); ++i) {
        if (t->columns[i].id == j->column.id) idx = static_cast<int>(i);
      }
      std::string refused;
      if (idx < 0) {
        refused = "the column is gone";
      } else if (idx == t->handle_col || t->columns.size() == 1) {
        refused = "the column is the handle or the last one";
      } else {
        for (const IndexInfo& i : t->indexes) {
          if (std::find(i.columns.begin(), i.columns.end(), idx) != i.columns.end()) {
            refused = "the column is indexed";
          }
        }
      }
      if (!refused.empty()) {
        j->state = DdlJobState::kCancelled;
        j->error_code = kErCantDropFieldOrKey;
        j->error = absl::StrCat("Can't DROP '", j->column.name, "'; ", refused);
        return absl::OkStatus();
      }
      ColumnInfo c = t->columns[idx];
      c.state = SchemaState::kWriteOnly;
      t->max_column_id = std::max(t->max_column_id, c.id);
      t->columns.erase(t->columns.begin() + idx);
      if (t->handle_col > idx) --t->handle_col;
      for (IndexInfo& i : t->indexes) {
        for (int& ic : i.columns) {
          if (ic > idx) --ic;
        }
      }
      t->changing_columns.push_back(c);
      j->schema_state = SchemaState::kWriteOnly;
      *changed = true;
      return absl::OkStatus();
    }
    ColumnInfo* c = FindChanging(t, j->column.id);
    if (c == nullptr) {
      j->state = DdlJobState::kDone;
      return absl::OkStatus();
    }
    if (c->state == SchemaState::kWriteOnly) {
      c->state = SchemaState::kDeleteOnly;
      j->schema_state = SchemaState::kDeleteOnly;
    } else {
      t->changing_columns.erase(t->changing_columns.begin() + (c - t->changing_columns.data()));
      j->schema_state = SchemaState::kNone;
      j->state = DdlJobState::kDone;
    }
    *changed = true;
    return absl::OkStatus();
  }

  Catalog* c_;
  std::shared_ptr<TableInfo> hooked_;
  int64_t published_ = 0;
};

absl::Status Catalog::RunJobs(int64_t job_id, DdlJobResult* result) {
  DdlWorker w(this);
  int aborted_in_a_row = 0;
  uint64_t wait_start = 0;
  // The job once finished (nullopt while queued or running).
  auto history = [&]() -> absl::StatusOr<std::optional<DdlJob>> {
    auto b = store_->Begin();
    if (!b.ok()) return b.status();
    auto h = Meta(b->get()).HistoryJob(job_id);
    // A finished job's changes are in this snapshot: load them before the statement
    // returns, so the session's next statement sees them.
    if (h.ok() && h->has_value()) {
      absl::Status synced = Sync(b->get());
      if (!synced.ok()) h = synced;
    }
    (*b)->Rollback();
    return h;
  };
  auto outcome = [result](const DdlJob& h) -> absl::Status {
    if (h.state != DdlJobState::kCancelled) {
      if (result != nullptr) {
        result->table_id = h.type == DdlJobType::kTruncateTable ? h.new_table_id : h.table_id;
      }
      return absl::OkStatus();
    }
    absl::StatusCode code = absl::StatusCode::kFailedPrecondition;
    const char* state = "42000";
    switch (h.error_code) {
      case kErDupEntry:
        code = absl::StatusCode::kAlreadyExists;
        state = "23000";
        break;
      case kErDupFieldName:
        state = "42S21";
        break;
      case kErTableExists:
        code = absl::StatusCode::kAlreadyExists;
        state = "42S01";
        break;
      case kErBadTable:
      case kErNoSuchTable:
        code = absl::StatusCode::kNotFound;
        state = "42S02";
        break;
      case kErBadDb:
        code = absl::StatusCode::kNotFound;
        break;
      case kErDbCreateExists:
        code = absl::StatusCode::kAlreadyExists;
        state = "HY000";
        break;
      case kErDbDropExists:
        code = absl::StatusCode::kNotFound;
        state = "HY000";
        break;
      default:
        break;
    }
    return MakeMySqlStatus(code, {h.error_code, state, h.error});
  };
  for (int steps = 0;; ++steps) {
    bool idle = false;
    absl::StatusOr<bool> owner;
    {
      MutexLock ddl(ddl_mu_);
      owner = w.Step(&idle);
      // Every catalog loads this state before the next one is published.
      if (int64_t v = w.TakePublished(); v != 0) {
        absl::Status synced = WaitSchemaSynced(v);
        if (!synced.ok() && owner.ok()) owner = synced;
      }
    }
    // Outside ddl_mu_, as catalog.h promises: the hook may run DML and DDL of its own.
    if (auto t = w.TakeHooked(); t != nullptr && ddl_hook_) ddl_hook_(*t);
    // A step that met a lock or a conflict (concurrent DML) left nothing behind: run it
    // again, after letting other fibers of this thread run. The job stays queued if that
    // keeps failing; the next DDL resumes it.
    if (absl::IsAborted(owner.status())) {
      if (++aborted_in_a_row < kMaxConflictRetries) {
        env_->Yield();
        continue;
      }
      return MakeMySqlStatus(
          absl::StatusCode::kAborted,
          {1213, "40001",
           absl::StrCat("DDL job ", job_id, " met concurrent DML ", kMaxConflictRetries,
                        " times in a row and stays queued (the next DDL resumes it): ",
                        owner.status().message())});
    }
    if (!owner.ok()) return owner.status();
    aborted_in_a_row = 0;
    if (!*owner) {
      // Another catalog is the owner and runs this job too: wait for it in the history
      // (as TiDB's non-owners do), for up to ten leases, then report it queued.
      if (wait_start == 0) wait_start = Now();
      auto h = history();
      if (!h.ok()) return h.status();
      if (h->has_value()) return outcome(**h);
      if (Now() - wait_start < 10 * lease_micros_) {
        // Keep loading (and reporting) the owner's steps meanwhile: the owner waits for
        // this catalog's report at each one.
        (void)EnsureFresh();
        env_->SleepForMicros(refresh_micros_);
        continue;
      }
      return MySqlErrorStatus(
          8214, absl::StrCat("DDL job ", job_id, " is queued; another catalog is the DDL owner"));
    }
    wait_start = 0;
    if (!idle && steps < 1'000'000) continue;
    // The queue is empty: delete what dropped tables left (every catalog has loaded the
    // versions without them, WaitSchemaSynced above). A failure leaves the records for
    // the next owner run.
    (void)ProcessDeleteRanges();
    auto h = history();
    if (!h.ok()) return h.status();
    if (!h->has_value()) return absl::InternalError(absl::StrCat("DDL job ", job_id, " vanished"));
    return outcome(**h);
  }
}

static absl::StatusOr<int64_t> Enqueue(kv::KvStore* store, DdlJob job) {
  for (int attempt = 0;; ++attempt) {
    auto b = store->Begin();
    if (!b.ok()) return b.status();
    Meta m(b->get());
    auto id = m.GenJobId();
    if (!id.ok()) return id.status();
    job.id = *id;
    m.PutJob(job);
    absl::Status s = (*b)->Commit();
    if (s.ok()) return job.id;
    if (!absl::IsAborted(s) || attempt >= 20) return s;
  }
}

absl::StatusOr<DdlJobResult> Catalog::RunJob(DdlJob job) {
  auto id = Enqueue(store_, std::move(job));
  if (!id.ok()) return id.status();
  DdlJobResult result;
  absl::Status s = RunJobs(*id, &result);
  if (!s.ok()) return s;
  return result;
}

absl::Status Catalog::ProcessDeleteRanges() {
  std::vector<DeleteRangeRecord> records;
  {
    auto b = store_->Begin();
    if (!b.ok()) return b.status();
    auto r = Meta(b->get()).ListDeleteRanges();
    (*b)->Rollback();
    if (!r.ok()) return r.status();
    records = *std::move(r);
  }
  constexpr size_t kBatch = 1024;
  for (const DeleteRangeRecord& rec : records) {
    absl::Status s = WaitSchemaSynced(rec.version);
    if (!s.ok()) return s;
    std::string next = rec.start;
    for (int attempt = 0;;) {
      auto b = store_->Begin();
      if (!b.ok()) return b.status();
      auto rows = (*b)->Scan(next, rec.end, kBatch, false);
      if (!rows.ok()) return rows.status();
      if (rows->empty()) {
        (*b)->Rollback();
        break;
      }
      for (const kv::Pair& p : *rows) (*b)->Delete(p.key);
      s = (*b)->Commit();
      if (absl::IsAborted(s) && ++attempt < 20) continue;
      if (!s.ok()) return s;
      next = rows->back().key;
      next.push_back('\0');
    }
    for (int attempt = 0;; ++attempt) {
      auto b = store_->Begin();
      if (!b.ok()) return b.status();
      Meta(b->get()).RemoveDeleteRange(rec.job_id, rec.element);
      s = (*b)->Commit();
      if (s.ok()) break;
      if (!absl::IsAborted(s) || attempt >= 20) return s;
    }
  }
  return absl::OkStatus();
}

absl::Status Catalog::AddIndexOnline(const TablePtr& t, IndexInfo index) {
  DdlJob job;
  job.type = DdlJobType::kAddIndex;
  job.db_id = t->db_id;
  job.table_id = t->id;
  index.state = SchemaState::kNone;
  for (int c : index.columns) {
    if (c < 0 || static_cast<size_t>(c) >= t->columns.size()) {
      return absl::InvalidArgumentError("index column out of range");
    }
    job.index_column_ids.push_back(t->columns[c].id);
  }
  job.index_id = index.id;
  job.index = std::move(index);
  auto id = Enqueue(store_, std::move(job));
  if (!id.ok()) return id.status();
  return RunJobs(*id);
}

absl::Status Catalog::DropIndexOnline(const TablePtr& t, int64_t index_id) {
  DdlJob job;
  job.type = DdlJobType::kDropIndex;
  job.db_id = t->db_id;
  job.table_id = t->id;
  job.index_id = index_id;
  auto id = Enqueue(store_, std::move(job));
  if (!id.ok()) return id.status();
  return RunJobs(*id);
}

absl::Status Catalog::AddColumnOnline(const TablePtr& t, ColumnInfo column) {
  DdlJob job;
  job.type = DdlJobType::kAddColumn;
  job.db_id = t->db_id;
  job.table_id = t->id;
  column.id = 0;
  column.state = SchemaState::kNone;
  job.column = std::move(column);
  auto id = Enqueue(store_, std::move(job));
  if (!id.ok()) return id.status();
  return RunJobs(*id);
}

absl::Status Catalog::DropColumnOnline(const TablePtr& t, int64_t column_id) {
  DdlJob job;
  job.type = DdlJobType::kDropColumn;
  job.db_id = t->db_id;
  job.table_id = t->id;
  for (const ColumnInfo& c : t->columns) {
    if (c.id == column_id) job.column = c;
  }
  job.column.id = column_id;
  auto id = Enqueue(store_, std::move(job));
  if (!id.ok()) return id.status();
  return RunJobs(*id);
}

absl::Status Catalog::CheckIndexes(const TablePtr& table) {
  auto b = store_->Begin();
  if (!b.ok()) return b.status();
  kv::KvTxn* txn = b->get();
  const std::string rows_start = codec::EncodeRecordPrefix(table->id);
  auto rows = txn->Scan(rows_start, codec::PrefixNext(rows_start), 0, false);
  if (!rows.ok()) return rows.status();
  codec::RowDecoder dec = RowDecoderFor(*table);
  std::map<int64_t, std::map<std::string, std::string>> want;  // index id -> key -> value
  for (const kv::Pair& p : *rows) {
    int64_t tid, handle;
    absl::Status s = codec::DecodeRowKey(p.key, &tid, &handle);
    if (!s.ok()) return s;
    auto row = dec.Decode(p.value, handle);
    if (!row.ok()) return row.status();
    for (const IndexInfo& idx : table->indexes) {
      if (!idx.Public()) continue;
      IndexEntry e = MakeIndexEntry(*table, idx, *row, handle);
      if (!want[idx.id].emplace(e.key, e.value).second) {
        return absl::DataLossError(absl::StrCat("index ", idx.name, ": two rows share an entry"));
      }
    }
  }
  for (const IndexInfo& idx : table->indexes) {
    if (!idx.Public()) continue;
    const std::string start = codec::EncodeIndexPrefix(table->id, idx.id);
    auto got = txn->Scan(start, codec::PrefixNext(start), 0, false);
    if (!got.ok()) return got.status();
    std::map<std::string, std::string>& w = want[idx.id];
    for (const kv::Pair& p : *got) {
      auto it = w.find(p.key);
      if (it == w.end()) {
        return absl::DataLossError(
            absl::StrCat("index ", idx.name, " has a dangling entry (no row has it)"));
      }
      if (it->second != p.value) {
        return absl::DataLossError(
            absl::StrCat("index ", idx.name, " entry points at the wrong handle"));
      }
      w.erase(it);
    }
    if (!w.empty()) {
      return absl::DataLossError(
          absl::StrCat("index ", idx.name, " misses ", w.size(), " entries of existing rows"));
    }
  }
  txn->Rollback();
  return absl::OkStatus();
}

}  // namespace rutile::sql
