// MySqlServer: the accept loop and one fiber per connection speaking the MySQL protocol.

#include "server/server.h"

#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <cctype>
#include <mutex>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "server/privileges.h"
#include "server/protocol.h"
#include "sql/errors.h"
#include "sql/parser/parser.h"
#include "sql/session/session_access.h"
#include "util/env_internal.h"
#include "util/failpoint.h"
#include "util/logging.h"
#include "util/metrics.h"
#include "util/sync.h"

namespace rutile::server {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

struct ServerMetrics {
  metrics::Gauge* connections;
  metrics::Counter* connections_total;
  metrics::Counter* rejected_total;
  metrics::Family<metrics::Counter>* commands;
  metrics::Counter* errors_total;
  metrics::Histogram* query_seconds;
};

const ServerMetrics& Metrics() {
  static const ServerMetrics m = [] {
    auto& r = metrics::Registry::Default();
    ServerMetrics x;
    x.connections =
        r.AddGauge("rutile_server_connections", "Open MySQL protocol connections.").value();
    x.connections_total =
        r.AddCounter("rutile_server_connections_total", "MySQL connections accepted.").value();
    x.rejected_total = r.AddCounter("rutile_server_connections_rejected_total",
                                    "MySQL connections refused (limit or failed login).")
                           .value();
    x.commands = r.AddCounterFamily("rutile_server_commands_total",
                                    "MySQL protocol commands by command.", {"command"})
                     .value();
    x.errors_total =
        r.AddCounter("rutile_server_errors_total", "ERR packets sent to clients.").value();
    x.query_seconds = r.AddHistogram("rutile_server_statement_duration_seconds",
                                     "Time to run one statement (COM_QUERY or COM_STMT_EXECUTE).",
                                     metrics::ExponentialBuckets(0.00005, 2, 18))
                          .value();
    return x;
  }();
  return m;
}

const char* CommandName(uint8_t c) {
  switch (c) {
    case kComQuit:
      return "quit";
    case kComInitDb:
      return "init_db";
    case kComQuery:
      return "query";
    case kComFieldList:
      return "field_list";
    case kComStatistics:
      return "statistics";
    case kComPing:
      return "ping";
    case kComChangeUser:
      return "change_user";
    case kComStmtPrepare:
      return "stmt_prepare";
    case kComStmtExecute:
      return "stmt_execute";
    case kComStmtSendLongData:
      return "stmt_send_long_data";
    case kComStmtClose:
      return "stmt_close";
    case kComStmtReset:
      return "stmt_reset";
    case kComSetOption:
      return "set_option";
    case kComResetConnection:
      return "reset_connection";
    default:
      return "other";
  }
}

// The per-command counter, resolved once per command byte: Family::WithLabels takes the
// family's lock and allocates, too much for every command of every connection.
metrics::Counter* CommandCounter(uint8_t c) {
  static const std::array<metrics::Counter*, 256> counters = [] {
    std::array<metrics::Counter*, 256> a{};
    for (size_t i = 0; i < a.size(); ++i) {
      a[i] = Metrics().commands->WithLabels({CommandName(static_cast<uint8_t>(i))});
    }
    return a;
  }();
  return counters[c];
}

std::string QuoteIdent(std::string_view name) {
  return absl::StrCat("`", absl::StrReplaceAll(std::string(name), {{"`", "``"}}), "`");
}

constexpr char kNativePlugin[] = "mysql_native_password";

// The largest packet accepted before the login completes. A handshake response is a few
// hundred bytes (a few KB with many connection attributes), so a client that has not
// authenticated cannot make the server buffer max_allowed_packet bytes.
constexpr size_t kMaxLoginPacket = 16 << 10;

// The most placeholders one prepared statement may have: COM_STMT_PREPARE_OK carries the
// count in 2 bytes.
constexpr size_t kMaxPlaceholders = 0xFFFF;

// How long a connection of an account created by SQL uses its grants before reading them
// again (changes through this server apply at once).
constexpr uint64_t kGrantsRefreshMicros = 1'000'000;

}  // namespace

class Connection;

struct MySqlServer::Impl : std::enable_shared_from_this<MySqlServer::Impl> {
  sql::Database* db = nullptr;
  ServerOptions options;
  Env* env = nullptr;
  std::unique_ptr<Env> net_env;
  asio::io_context io;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  tcp::acceptor acceptor{io};
  uint16_t port = 0;
  uint64_t start_micros = 0;
  Notification io_done;
  WaitGroup fibers;

  std::atomic<uint32_t> next_connection_id{1};
  std::atomic<uint64_t> active{0};
  std::atomic<uint64_t> total{0};
  std::atomic<uint64_t> questions{0};

  // Accounts created by SQL (privileges.h), and a counter bumped by every account statement
  // this server runs, so its connections reload their grants at once (changes made through
  // other servers are picked up within kGrantsRefreshMicros).
  std::unique_ptr<AccountStore> accounts;
  std::atomic<uint64_t> grants_generation{0};

  std::mutex mu;  // Guards stopping and sockets. Never held across a fiber wait.
  bool stopping = false;
  std::set<std::shared_ptr<tcp::socket>> sockets;

  void AcceptLoop();
  void Serve(std::shared_ptr<tcp::socket> socket, uint32_t id, bool over_limit);
};

namespace {

using IoResult = std::pair<boost::system::error_code, size_t>;

// Packet framing and socket I/O of one connection. Every socket operation is started on
// the io_context's thread (asio::post), so a socket is only ever touched by that thread;
// the fiber waits for the completion on a Future.
class PacketIo {
 public:
  PacketIo(asio::io_context* io, std::shared_ptr<tcp::socket> socket, size_t max_packet)
      : io_(io), socket_(std::move(socket)), max_packet_(max_packet) {}

  // Reads one logical packet (joining continuation packets). NotFound on a clean close,
  // Unavailable on a socket error, ResourceExhausted when it exceeds max_packet.
  absl::StatusOr<std::string> ReadPacket() {
    std::string payload;
    for (;;) {
      absl::Status s = Fill(4);
      if (!s.ok()) return s;
      const auto* h = reinterpret_cast<const uint8_t*>(in_.data() + in_pos_);
      const size_t len = h[0] | (h[1] << 8) | (h[2] << 16);
      seq_ = static_cast<uint8_t>(h[3] + 1);
      in_pos_ += 4;
      if (payload.size() + len > max_packet_) {
        return absl::ResourceExhaustedError("Got a packet bigger than 'max_allowed_packet' bytes");
      }
      s = Fill(len);
      if (!s.ok()) return s;
      payload.append(in_.data() + in_pos_, len);
      in_pos_ += len;
      if (len < kMaxPacketChunk) return payload;
    }
  }

  // Queues one logical packet (split into chunks as needed) with the next sequence ids.
  absl::Status Write(std::string_view payload) {
    size_t pos = 0;
    for (;;) {
      const size_t n = std::min(kMaxPacketChunk, payload.size() - pos);
      PutU24(&out_, static_cast<uint32_t>(n));
      PutU8(&out_, seq_++);
      out_.append(payload.substr(pos, n));
      pos += n;
      if (n < kMaxPacketChunk) break;
    }
    if (out_.size() >= (1u << 20)) return Flush();
    return absl::OkStatus();
  }

  // Writes what Write queued. First straight from the calling fiber (the socket is
  // non-blocking and no other operation is pending on it: a connection reads only while it
  // is not writing, and shutdowns from other threads leave the descriptor valid), which
  // answers most commands without a hop to the I/O thread; what the kernel does not take
  // at once is written by the I/O thread.
  absl::Status Flush() {
    if (out_.empty()) return absl::OkStatus();
    std::string data = std::move(out_);
    out_.clear();
    size_t written = 0;
    if (direct_) {
      boost::system::error_code ec;
      written = socket_->write_some(asio::buffer(data), ec);
      if (ec && ec != asio::error::would_block && ec != asio::error::try_again) {
        return absl::UnavailableError(ec.message());
      }
      if (ec) written = 0;
      if (written == data.size()) return absl::OkStatus();
    }
    Promise<IoResult> done;
    Future<IoResult> result = done.GetFuture();
    asio::post(*io_, [socket = socket_, buf = asio::buffer(data) + written, done]() mutable {
      asio::async_write(*socket, buf,
                        [done](const boost::system::error_code& ec, size_t n) mutable {
                          done.Set({ec, n});
                        });
    });
    const IoResult& r = result.Get();
    if (r.first) return absl::UnavailableError(r.first.message());
    return absl::OkStatus();
  }

  // Makes the socket non-blocking so Flush and Fill can try it from the fiber first. Call
  // before any I/O is started.
  void EnableDirectIo() {
    boost::system::error_code ec;
    socket_->non_blocking(true, ec);
    direct_ = !ec;
  }

  void set_seq(uint8_t seq) { seq_ = seq; }
  void set_max_packet(size_t max_packet) { max_packet_ = max_packet; }

  const std::shared_ptr<tcp::socket>& socket() const { return socket_; }

 private:
  // Makes at least `n` unread bytes available in in_.
  absl::Status Fill(size_t n) {
    while (in_.size() - in_pos_ < n) {
      if (in_pos_ > 0) {
        in_.erase(0, in_pos_);
        in_pos_ = 0;
      }
      const size_t have = in_.size();
      const size_t want = std::max<size_t>(n - have, 16 * 1024);
      in_.resize(have + want);
      if (direct_) {
        // What has arrived already is read without a hop to the I/O thread.
        boost::system::error_code ec;
        const size_t k = socket_->read_some(asio::buffer(in_.data() + have, want), ec);
        if (!ec) {
          in_.resize(have + k);
          continue;
        }
        if (ec != asio::error::would_block && ec != asio::error::try_again) {
          in_.resize(have);
          if (ec == asio::error::eof) return absl::NotFoundError("connection closed");
          return absl::UnavailableError(ec.message());
        }
      }
      Promise<IoResult> done;
      Future<IoResult> result = done.GetFuture();
      char* buf = in_.data() + have;
      asio::post(*io_, [socket = socket_, buf, want, done]() mutable {
        socket->async_read_some(asio::buffer(buf, want),
                                [done](const boost::system::error_code& ec, size_t k) mutable {
                                  done.Set({ec, k});
                                });
      });
      const IoResult& r = result.Get();
      in_.resize(have + (r.first ? 0 : r.second));
      if (r.first == asio::error::eof) return absl::NotFoundError("connection closed");
      if (r.first) return absl::UnavailableError(r.first.message());
    }
    return absl::OkStatus();
  }

  asio::io_context* io_;
  std::shared_ptr<tcp::socket> socket_;
  size_t max_packet_;
  std::string in_;
  size_t in_pos_ = 0;
  std::string out_;
  uint8_t seq_ = 0;
  bool direct_ = false;
};

}  // namespace

// One client connection: handshake, then commands until COM_QUIT or the socket closes.
class Connection {
 public:
  Connection(MySqlServer::Impl* server, std::shared_ptr<tcp::socket> socket, uint32_t id)
      : server_(server), io_(&server->io, std::move(socket), kMaxLoginPacket), id_(id) {
    // No I/O on the socket has been started yet, so reading its peer here is safe.
    io_.EnableDirectIo();
    boost::system::error_code ec;
    const auto peer = io_.socket()->remote_endpoint(ec);
    if (!ec) {
      peer_ip_ = peer.address().to_string();
      if (!peer.address().is_loopback()) peer_host_ = peer_ip_;
    }
  }

  void Run() {
    if (!Handshake()) return;
    for (;;) {
      auto packet = io_.ReadPacket();
      if (!packet.ok()) {
        if (absl::IsResourceExhausted(packet.status())) {
          SendError(kErNetPacketTooLarge, "08S01", std::string(packet.status().message()));
          (void)io_.Flush();
        }
        return;
      }
      server_->questions.fetch_add(1, std::memory_order_relaxed);
      bool quit = false;
      Dispatch(*packet, &quit);
      if (!io_.Flush().ok() || quit) return;
    }
  }

  // Sends ERR 1040 as the first packet and returns.
  void RejectTooMany() {
    SendError(kErConCount, "08004", "Too many connections");
    (void)io_.Flush();
  }

 private:
  struct Stmt {
    size_t params = 0;
    std::vector<uint16_t> types;    // Bound at the first execute that sends them.
    std::vector<Requirement> reqs;  // Privileges it needs (checked at each execute),
    std::string reqs_db;            // with unqualified names in this database
                                    // (non-built-in accounts only).
    std::map<uint16_t, std::string> long_data;
    size_t long_data_bytes = 0;       // Sum over long_data.
    bool long_data_overflow = false;  // Some SEND_LONG_DATA was refused; execute fails.
  };

  // Drops a statement's long data, keeping long_data_bytes_ in step.
  void ResetLongData(Stmt* stmt) {
    long_data_bytes_ -= stmt->long_data_bytes;
    stmt->long_data.clear();
    stmt->long_data_bytes = 0;
    stmt->long_data_overflow = false;
  }

  void ClearStmts() {
    stmts_.clear();
    long_data_bytes_ = 0;
  }

  uint16_t Status(bool more = false) const {
    uint16_t s = kStatusAutocommit;
    if (session_ && session_->InTransaction()) s |= kStatusInTrans;
    if (more) s |= kStatusMoreResultsExist;
    return s;
  }

  void SendError(uint16_t code, std::string_view sqlstate, std::string_view message) {
    Metrics().errors_total->Increment();
    (void)io_.Write(ErrPayload(code, sqlstate, message));
  }

  void SendStatus(const absl::Status& status) {
    sql::MySqlErrorInfo e = sql::MySqlErrorOf(status);
    SendError(e.code, e.sqlstate, e.message);
  }

  void SendOk(uint64_t affected = 0, uint64_t insert_id = 0, uint16_t warnings = 0,
              bool more = false) {
    (void)io_.Write(OkPayload(affected, insert_id, Status(more), warnings));
  }

  // Sends a statement's outcome: OK, or a text or binary result set.
  void SendResult(const sql::ResultSet& rs, bool more, bool binary) {
    if (!rs.has_rows) {
      SendOk(rs.affected_rows, rs.last_insert_id, static_cast<uint16_t>(rs.warnings), more);
      return;
    }
    std::vector<std::string> rows;
    rows.reserve(rs.rows.size());
    for (const auto& row : rs.rows) {
      if (binary) {
        auto p = BinaryRowPayload(rs.columns, row);
        if (!p.ok()) {
          SendError(kErMalformedPacket, "HY000", std::string(p.status().message()));
          return;
        }
        rows.push_back(*std::move(p));
      } else {
        rows.push_back(TextRowPayload(row));
      }
    }
    std::string count;
    PutLenencInt(&count, rs.columns.size());
    (void)io_.Write(count);
    for (const auto& c : rs.columns) (void)io_.Write(ColumnDefinitionPayload(c));
    (void)io_.Write(EofPayload(Status(more), 0));
    for (const auto& r : rows) (void)io_.Write(r);
    (void)io_.Write(EofPayload(Status(more), static_cast<uint16_t>(rs.warnings)));
  }

  std::string NewScramble() {
    std::string s(20, '\0');
    Env* env = server_->env;
    for (auto& c : s) c = static_cast<char>(1 + env->Uniform(126));  // Printable, no NUL.
    return s;
  }

  // Reads an auth response after asking the client to switch to mysql_native_password.
  absl::StatusOr<std::string> AuthSwitch() {
    std::string p;
    PutU8(&p, 0xFE);
    PutNulString(&p, kNativePlugin);
    PutNulString(&p, scramble_);
    (void)io_.Write(p);
    absl::Status s = io_.Flush();
    if (!s.ok()) return s;
    return io_.ReadPacket();
  }

  // Checks the login of `user`; on success sets grants_ and account_host_. Built-in
  // accounts (ServerOptions::users) are superusers; others come from the system tables.
  bool Authenticate(std::string_view user, std::string_view auth) {
    auto it = server_->options.users.find(std::string(user));
    if (it != server_->options.users.end()) {
      if (CheckNativePassword(it->second, scramble_, auth)) {
        grants_ = Grants::Superuser();
        account_host_ = "%";
        return true;
      }
    } else {
      auto account = server_->accounts->Find(user, peer_ip_);
      if (!account.ok()) {
        SendStatus(account.status());
        return false;
      }
      if (account->has_value() && CheckNativePasswordHash((*account)->auth, scramble_, auth)) {
        auto grants = server_->accounts->LoadGrants(user, (*account)->host);
        if (!grants.ok()) {
          SendStatus(grants.status());
          return false;
        }
        grants_ = *std::move(grants);
        account_host_ = (*account)->host;
        grants_generation_ = server_->grants_generation.load();
        grants_loaded_micros_ = server_->env->NowMicros();
        return true;
      }
    }
    Metrics().rejected_total->Increment();
    SendError(kErAccessDenied, "28000",
              absl::StrCat("Access denied for user '", std::string(user), "'@'", peer_host_,
                           "' (using password: ", auth.empty() ? "NO" : "YES", ")"));
    return false;
  }

  // Opens a fresh session, optionally in `db`. On failure sends the error.
  bool OpenSession(std::string_view user, std::string_view db) {
    session_ = server_->db->NewSession();
    session_->SetConnectionInfo(id_, user, peer_host_);
    if (!grants_->superuser()) {
      // SHOW and information_schema list what the account holds some privilege on (the
      // grants as last read: a failed read leaves none).
      sql::SessionAccess::SetVisibility(session_.get(),
                                        [this](std::string_view db, std::string_view table) {
                                          return grants_->Visible(db, table);
                                        });
    }
    ClearStmts();
    if (!db.empty()) {
      if (absl::Status st = CheckDatabaseAccess(db); !st.ok()) {
        SendStatus(st);
        return false;
      }
      auto r = session_->Execute(absl::StrCat("USE ", QuoteIdent(db)));
      if (!r.ok()) {
        SendStatus(r.status());
        return false;
      }
    }
    return true;
  }

  // Runs the login under options.handshake_timeout_micros: when the timer fires first it
  // closes the socket, which fails the pending read.
  bool Handshake() {
    std::shared_ptr<MySqlServer::Impl> server = server_->shared_from_this();
    std::shared_ptr<tcp::socket> socket = io_.socket();
    const TimerId timer =
        server_->env->ScheduleCallback(server_->options.handshake_timeout_micros, [server, socket] {
          // Shutdown, not close: the connection's fiber may be writing to the socket
          // directly (PacketIo::Flush); the socket is closed once that fiber is done.
          asio::post(server->io, [socket] {
            boost::system::error_code ignored;
            socket->shutdown(tcp::socket::shutdown_both, ignored);
          });
        });
    const bool ok = HandshakeSteps();
    server_->env->Cancel(timer);
    return ok;
  }

  bool HandshakeSteps() {
    scramble_ = NewScramble();
    std::string p;
    PutU8(&p, 10);
    PutNulString(&p, server_->options.server_version);
    PutU32(&p, id_);
    p.append(scramble_.substr(0, 8));
    PutU8(&p, 0);
    PutU16(&p, static_cast<uint16_t>(kServerCapabilities & 0xFFFF));
    PutU8(&p, 45);  // utf8mb4_general_ci.
    PutU16(&p, kStatusAutocommit);
    PutU16(&p, static_cast<uint16_t>(kServerCapabilities >> 16));
    PutU8(&p, 21);
    p.append(10, '\0');
    PutNulString(&p, scramble_.substr(8));
    PutNulString(&p, kNativePlugin);
    (void)io_.Write(p);
    if (!io_.Flush().ok()) return false;

    auto packet = io_.ReadPacket();
    if (!packet.ok()) {
      if (absl::IsResourceExhausted(packet.status())) {
        SendError(kErNetPacketTooLarge, "08S01", std::string(packet.status().message()));
        (void)io_.Flush();
      }
      return false;
    }
    auto bad = [&](std::string_view why) {
      SendError(kErHandshake, "08S01", absl::StrCat("Bad handshake: ", std::string(why)));
      (void)io_.Flush();
      return false;
    };
    auto response = ParseHandshakeResponse(*packet);
    if (!response.ok()) return bad(std::string(response.status().message()));
    caps_ = response->capabilities;
    const std::string_view db = response->database;
    const std::string_view plugin = response->plugin;
    const std::string_view user = response->user;
    std::string auth_data(response->auth_response);
    if (!plugin.empty() && plugin != kNativePlugin) {
      auto switched = AuthSwitch();
      if (!switched.ok()) return false;
      auth_data = *std::move(switched);
    }
    user_ = std::string(user);
    if (!Authenticate(user_, auth_data) || !OpenSession(user_, db)) {
      (void)io_.Flush();
      return false;
    }
    io_.set_max_packet(server_->options.max_allowed_packet);
    SendOk();
    return io_.Flush().ok();
  }

  void Dispatch(std::string_view payload, bool* quit) {
    if (payload.empty()) {
      SendError(kErMalformedPacket, "HY000", "Malformed communication packet: empty command");
      return;
    }
    const uint8_t command = static_cast<uint8_t>(payload[0]);
    CommandCounter(command)->Increment();
    PayloadReader r(payload.substr(1));
    switch (command) {
      case kComQuit:
        *quit = true;
        return;
      case kComPing:
        SendOk();
        return;
      case kComInitDb: {
        const std::string_view db = r.Rest();
        if (absl::Status st = CheckDatabaseAccess(db); !st.ok()) return SendStatus(st);
        auto res = session_->Execute(absl::StrCat("USE ", QuoteIdent(db)));
        if (!res.ok()) return SendStatus(res.status());
        SendOk();
        return;
      }
      case kComQuery:
        return Query(r.Rest());
      case kComFieldList:
        return FieldList(&r);
      case kComStatistics:
        return Statistics();
      case kComChangeUser:
        return ChangeUser(&r, quit);
      case kComResetConnection: {
        if (OpenSession(user_, session_->CurrentDatabase())) SendOk();
        return;
      }
      case kComSetOption: {
        auto option = r.U16();
        if (!option.ok() || *option > 1) {
          SendError(kErUnknownCom, "08S01", "Unknown COM_SET_OPTION option");
          return;
        }
        if (*option == 0) {
          caps_ |= kClientMultiStatements;
        } else {
          caps_ &= ~kClientMultiStatements;
        }
        (void)io_.Write(EofPayload(Status(), 0));
        return;
      }
      case kComStmtPrepare:
        return Prepare(r.Rest());
      case kComStmtExecute:
        return Execute(&r);
      case kComStmtSendLongData:
        return SendLongData(&r);
      case kComStmtClose: {
        auto id = r.U32();
        if (!id.ok()) return;
        auto it = stmts_.find(*id);
        if (it == stmts_.end()) return;
        ResetLongData(&it->second);
        stmts_.erase(it);
        (void)session_->ClosePrepared(*id);
        return;  // No response, as in MySQL.
      }
      case kComStmtReset: {
        auto id = r.U32();
        if (!id.ok()) return Malformed(id.status());
        auto it = stmts_.find(*id);
        if (it == stmts_.end()) return UnknownStmt(*id, "mysqld_stmt_reset");
        ResetLongData(&it->second);
        SendOk();
        return;
      }
      default:
        SendError(kErUnknownCom, "08S01", "Unknown command");
        return;
    }
  }

  void Malformed(const absl::Status& s) {
    SendError(kErMalformedPacket, "HY000",
              absl::StrCat("Malformed communication packet: ", s.message()));
  }

  void UnknownStmt(uint32_t id, std::string_view where) {
    SendError(kErUnknownStmtHandler, "HY000",
              absl::StrCat("Unknown prepared statement handler (", id, ") given to ",
                           std::string(where)));
  }

  void Query(std::string_view sql_text) {
    std::vector<std::string_view> statements;
    if (caps_ & kClientMultiStatements) {
      statements = sql::SplitStatements(sql_text);
    } else {
      statements.push_back(sql_text);
    }
    if (statements.empty()) {
      SendError(1065, "42000", "Query was empty");
      return;
    }
    for (size_t i = 0; i < statements.size(); ++i) {
      const uint64_t start = server_->env->NowMicros();
      absl::StatusOr<sql::ResultSet> rs = ExecuteChecked(statements[i]);
      Metrics().query_seconds->Observe((server_->env->NowMicros() - start) / 1e6);
      if (!rs.ok()) return SendStatus(rs.status());
      SendResult(*rs, i + 1 < statements.size(), /*binary=*/false);
    }
  }

  void FieldList(PayloadReader* r) {
    auto table = r->NulString(true);
    if (!table.ok()) return Malformed(table.status());
    if (!grants_->superuser()) {
      if (absl::Status st = RefreshGrants(); !st.ok()) return SendStatus(st);
      const std::string db = session_->CurrentDatabase();
      if (!db.empty()) {
        const std::vector<Requirement> reqs = {
            Requirement{kGlobalPrivs, db, absl::AsciiStrToLower(std::string(*table)), true}};
        absl::Status st = CheckPrivileges(*grants_, reqs, user_, peer_host_);
        if (!st.ok()) return SendStatus(st);
      }
    }
    auto rs = session_->Execute(absl::StrCat("SELECT * FROM ", QuoteIdent(*table), " LIMIT 0"));
    if (!rs.ok()) return SendStatus(rs.status());
    for (const auto& c : rs->columns) (void)io_.Write(ColumnDefinitionPayload(c, true));
    (void)io_.Write(EofPayload(Status(), 0));
  }

  void Statistics() {
    const uint64_t uptime = (server_->env->NowMicros() - server_->start_micros) / 1'000'000;
    const uint64_t q = server_->questions.load();
    (void)io_.Write(absl::StrFormat(
        "Uptime: %d  Threads: %d  Questions: %d  Slow queries: 0  Opens: 0  Open tables: 0  "
        "Queries per second avg: %.3f",
        uptime, server_->active.load(), q, uptime == 0 ? 0.0 : static_cast<double>(q) / uptime));
  }

  void ChangeUser(PayloadReader* r, bool* quit) {
    auto request = ParseChangeUser(r->Rest(), caps_);
    if (!request.ok()) return Malformed(request.status());
    const std::string_view plugin = request->plugin;
    std::string auth_data(request->auth_response);
    std::string db_name(request->database);
    if (!plugin.empty() && plugin != kNativePlugin) {
      auto switched = AuthSwitch();
      if (!switched.ok()) {
        *quit = true;
        return;
      }
      auth_data = *std::move(switched);
    }
    std::string new_user(request->user);
    // A failed change of user ends the connection, as in MySQL.
    if (!Authenticate(new_user, auth_data)) {
      *quit = true;
      return;
    }
    user_ = new_user;
    if (!OpenSession(new_user, db_name)) {
      *quit = true;
      return;
    }
    SendOk();
  }

  void Prepare(std::string_view sql_text) {
    const size_t max_stmts = server_->options.max_prepared_statements;
    if (stmts_.size() >= max_stmts) {
      SendError(kErMaxPreparedStmtCount, "42000",
                absl::StrCat("Can't create more than max_prepared_stmt_count statements "
                             "(current value: ",
                             max_stmts, ")"));
      return;
    }
    auto id = session_->Prepare(sql_text);
    if (!id.ok()) return SendStatus(id.status());
    // Checked on the tree the session prepared, which is what each execute runs.
    const sql::Stmt* tree = sql::SessionAccess::Prepared(*session_, *id);
    if (tree == nullptr || AccountStore::Handles(*tree)) {
      (void)session_->ClosePrepared(*id);
      SendError(1295, "HY000",
                "This command is not supported in the prepared statement protocol yet");
      return;
    }
    std::vector<Requirement> reqs;
    if (!grants_->superuser()) {
      reqs = RequiredPrivileges(*tree, session_->CurrentDatabase());
      absl::Status st = RefreshGrants();
      if (st.ok()) st = CheckPrivileges(*grants_, reqs, user_, peer_host_);
      if (!st.ok()) {
        (void)session_->ClosePrepared(*id);
        return SendStatus(st);
      }
    }
    auto params = session_->ParamCount(*id);
    if (!params.ok()) {
      (void)session_->ClosePrepared(*id);
      return SendStatus(params.status());
    }
    if (*params > kMaxPlaceholders) {
      // COM_STMT_PREPARE_OK cannot announce the count; refuse, as MySQL does.
      (void)session_->ClosePrepared(*id);
      SendError(kErPsManyParam, "HY000", "Prepared statement contains too many placeholders");
      return;
    }
    Stmt& stmt = stmts_[*id];
    stmt = Stmt();
    stmt.params = *params;
    stmt.reqs = std::move(reqs);
    if (!grants_->superuser()) stmt.reqs_db = session_->CurrentDatabase();
    // The result columns as bound with NULL parameters. Clients that cannot see them here
    // (sysbench decides from them whether to fetch) lose sync otherwise; when binding
    // needs real values, announce none and let the execute response carry them.
    std::vector<sql::ColumnMeta> columns;
    if (auto c = session_->PreparedColumns(*id); c.ok()) columns = *std::move(c);
    // More columns than the 2-byte count can carry: announce none; the execute response
    // carries them.
    if (columns.size() > 0xFFFF) columns.clear();
    std::string p;
    PutU8(&p, 0x00);
    PutU32(&p, *id);
    PutU16(&p, static_cast<uint16_t>(columns.size()));
    PutU16(&p, static_cast<uint16_t>(stmt.params));
    PutU8(&p, 0);
    PutU16(&p, 0);
    (void)io_.Write(p);
    if (stmt.params > 0) {
      sql::ColumnMeta param;
      param.name = "?";
      param.type = kTypeVarString;
      param.collation_id = 63;
      for (size_t i = 0; i < stmt.params; ++i) (void)io_.Write(ColumnDefinitionPayload(param));
      (void)io_.Write(EofPayload(Status(), 0));
    }
    if (!columns.empty()) {
      for (const auto& c : columns) (void)io_.Write(ColumnDefinitionPayload(c));
      (void)io_.Write(EofPayload(Status(), 0));
    }
  }

  void Execute(PayloadReader* r) {
    auto id = r->U32();
    if (!id.ok()) return Malformed(id.status());
    auto it = stmts_.find(*id);
    if (it == stmts_.end()) return UnknownStmt(*id, "mysqld_stmt_execute");
    Stmt& stmt = it->second;
    auto flags = r->U8();
    auto iterations = r->U32();
    if (!flags.ok() || !iterations.ok()) return Malformed(absl::InvalidArgumentError("truncated"));
    if (stmt.long_data_overflow) {
      ResetLongData(&stmt);
      SendError(kErUnknownError, "HY000",
                "Parameter of prepared statement which is set through mysql_send_long_data() "
                "is longer than 'max_allowed_packet' bytes");
      return;
    }
    auto values = DecodeExecuteParams(r, stmt.params, &stmt.types, stmt.long_data);
    ResetLongData(&stmt);
    if (!values.ok()) return Malformed(values.status());
    if (!grants_->superuser()) {
      if (absl::Status st = RefreshGrants(); !st.ok()) return SendStatus(st);
      // Unqualified names bind in the current database at each execute.
      if (std::string db = session_->CurrentDatabase(); db != stmt.reqs_db) {
        const sql::Stmt* tree = sql::SessionAccess::Prepared(*session_, *id);
        if (tree == nullptr) return UnknownStmt(*id, "mysqld_stmt_execute");
        stmt.reqs = RequiredPrivileges(*tree, db);
        stmt.reqs_db = std::move(db);
      }
      if (absl::Status st = CheckPrivileges(*grants_, stmt.reqs, user_, peer_host_); !st.ok()) {
        return SendStatus(st);
      }
    }
    const uint64_t start = server_->env->NowMicros();
    auto rs = session_->ExecutePrepared(*id, *values);
    Metrics().query_seconds->Observe((server_->env->NowMicros() - start) / 1e6);
    if (!rs.ok()) return SendStatus(rs.status());
    SendResult(*rs, false, /*binary=*/true);
  }

  void SendLongData(PayloadReader* r) {
    // No response, as in MySQL; problems surface at execute (ERR 1105, as MySQL reports a
    // parameter longer than max_long_data_size).
    auto id = r->U32();
    auto param = r->U16();
    if (!id.ok() || !param.ok()) return;
    auto it = stmts_.find(*id);
    if (it == stmts_.end() || *param >= it->second.params) return;
    Stmt& stmt = it->second;
    if (stmt.long_data_overflow) return;
    std::string_view data = r->Rest();
    // The long data of all of a connection's statements together is capped at
    // max_allowed_packet, so a client cannot grow the server's memory without bound (one
    // statement could otherwise hold that much per parameter, and a connection many
    // statements); the statement's next execute reports the refusal.
    if (long_data_bytes_ + data.size() > server_->options.max_allowed_packet) {
      ResetLongData(&stmt);
      stmt.long_data_overflow = true;
      return;
    }
    stmt.long_data[*param].append(data);
    stmt.long_data_bytes += data.size();
    long_data_bytes_ += data.size();
  }

  // Reloads the grants of an account created by SQL when this server changed accounts
  // or they are older than kGrantsRefreshMicros. When they cannot be read the account
  // holds nothing until a read succeeds (a REVOKE made elsewhere must not be missed):
  // the error says why the statement is refused.
  absl::Status RefreshGrants() {
    if (grants_->superuser()) return absl::OkStatus();
    const uint64_t gen = server_->grants_generation.load();
    const uint64_t now = server_->env->NowMicros();
    if (grants_valid_ && gen == grants_generation_ &&
        now - grants_loaded_micros_ < kGrantsRefreshMicros) {
      return absl::OkStatus();
    }
    auto g = server_->accounts->LoadGrants(user_, account_host_);
    if (!g.ok()) {
      grants_ = std::make_shared<Grants>();
      grants_valid_ = false;
      return sql::MakeMySqlStatus(
          absl::StatusCode::kUnavailable,
          sql::MySqlError{
              1105, "HY000",
              absl::StrCat("Cannot read the privileges of '", user_, "'@'", account_host_,
                           "' from mysql.grants (", g.status().message(), "); statement refused")});
    }
    grants_ = *std::move(g);
    grants_valid_ = true;
    grants_generation_ = gen;
    grants_loaded_micros_ = now;
    return absl::OkStatus();
  }

  absl::Status CheckDatabaseAccess(std::string_view db) {
    if (grants_->superuser()) return absl::OkStatus();
    if (absl::Status st = RefreshGrants(); !st.ok()) return st;
    const std::string lower = absl::AsciiStrToLower(std::string(db));
    if (lower == "information_schema") return absl::OkStatus();
    const std::vector<Requirement> reqs = {Requirement{0, lower, "", true}};
    return CheckPrivileges(*grants_, reqs, user_, peer_host_);
  }

  // Runs one statement of COM_QUERY: account statements here, the rest in the session
  // after the privilege check (accounts created by SQL only). The statement is parsed
  // once, with the session's sql_mode, and the tree checked is the tree that runs; text
  // that does not parse returns the syntax error and runs nothing.
  absl::StatusOr<sql::ResultSet> ExecuteChecked(std::string_view text) {
    auto parsed = sql::SessionAccess::Parse(session_.get(), text);
    if (!parsed.ok()) return parsed.status();
    if (AccountStore::Handles(**parsed)) {
      if (absl::Status st = RefreshGrants(); !st.ok()) return st;
      auto rs = server_->accounts->Execute(**parsed, *grants_, user_, account_host_,
                                           session_->CurrentDatabase());
      if (rs.ok() && !rs->has_rows) server_->grants_generation.fetch_add(1);
      return rs;
    }
    if (!grants_->superuser()) {
      if (absl::Status st = RefreshGrants(); !st.ok()) return st;
      absl::Status st = CheckPrivileges(
          *grants_, RequiredPrivileges(**parsed, session_->CurrentDatabase()), user_, peer_host_);
      if (!st.ok()) return st;
    }
    return sql::SessionAccess::Run(session_.get(), **parsed);
  }

  MySqlServer::Impl* server_;
  PacketIo io_;
  const uint32_t id_;
  std::string peer_host_ = "localhost";  // The client's address, "localhost" for loopback.
  std::string peer_ip_ = "127.0.0.1";
  std::shared_ptr<const Grants> grants_ = std::make_shared<Grants>();
  std::string account_host_;  // The host pattern of the account logged in as.
  uint64_t grants_generation_ = 0;
  uint64_t grants_loaded_micros_ = 0;
  bool grants_valid_ = true;  // False after a failed read: the next check reads again.
  std::string scramble_;
  std::string user_;
  uint32_t caps_ = 0;
  std::unique_ptr<sql::Session> session_;
  std::map<uint32_t, Stmt> stmts_;
  size_t long_data_bytes_ = 0;  // Sum of every statement's long_data_bytes.
};

void MySqlServer::Impl::AcceptLoop() {
  for (;;) {
    auto socket = std::make_shared<tcp::socket>(io);
    Promise<boost::system::error_code> done;
    Future<boost::system::error_code> result = done.GetFuture();
    asio::post(io, [this, socket, done]() mutable {
      acceptor.async_accept(*socket,
                            [done](const boost::system::error_code& ec) mutable { done.Set(ec); });
    });
    const boost::system::error_code ec = result.Get();
    {
      std::lock_guard<std::mutex> lock(mu);
      if (stopping) {
        asio::post(io, [socket] {
          boost::system::error_code ignored;
          socket->close(ignored);
        });
        return;
      }
      if (!ec) sockets.insert(socket);
    }
    if (ec) {
      // Out of descriptors or similar: back off instead of spinning.
      RUTILE_LOG_WARN("mysql server: accept failed: {}", ec.message());
      env->SleepForMicros(100'000);
      continue;
    }
    // Counted here, not in the connection's fiber, so a burst of accepts before those
    // fibers run cannot exceed the limit. Only this loop increments `active`.
    const bool over = active.load() >= options.max_connections;
    if (!over) active.fetch_add(1);
    const uint32_t id = next_connection_id.fetch_add(1);
    fibers.Add(1);
    env->Spawn([this, socket, id, over] { Serve(socket, id, over); });
  }
}

void MySqlServer::Impl::Serve(std::shared_ptr<tcp::socket> socket, uint32_t id, bool over_limit) {
  // Lets a test hold connection fibers back while the accept loop takes a burst.
  RUTILE_FAIL_POINT("mysql_server_before_serve");
  {
    Connection conn(this, socket, id);
    if (over_limit) {
      Metrics().rejected_total->Increment();
      conn.RejectTooMany();
    } else {
      total.fetch_add(1);
      Metrics().connections->Increment();
      Metrics().connections_total->Increment();
      conn.Run();
      active.fetch_sub(1);
      Metrics().connections->Decrement();
    }
  }
  {
    std::lock_guard<std::mutex> lock(mu);
    sockets.erase(socket);
  }
  asio::post(io, [socket] {
    boost::system::error_code ignored;
    socket->shutdown(tcp::socket::shutdown_both, ignored);
    socket->close(ignored);
  });
  fibers.Done();
}

MySqlServer::MySqlServer(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

MySqlServer::~MySqlServer() { Stop(); }

absl::StatusOr<std::unique_ptr<MySqlServer>> MySqlServer::Start(sql::Database* db,
                                                                const ServerOptions& options) {
  auto impl = std::make_shared<Impl>();
  impl->db = db;
  impl->options = options;
  impl->accounts = std::make_unique<AccountStore>(db);
  impl->env = options.env != nullptr ? options.env : Env::Default();
  impl->start_micros = impl->env->NowMicros();
  boost::system::error_code ec;
  auto address = asio::ip::make_address(options.host, ec);
  if (ec) {
    return absl::InvalidArgumentError(absl::StrCat("bad listen address '", options.host, "'"));
  }
  tcp::endpoint endpoint(address, options.port);
  impl->acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(endpoint, ec);
  if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options.host, ":", options.port, ": ", ec.message()));
  }
  impl->port = impl->acceptor.local_endpoint().port();
  impl->work.emplace(impl->io.get_executor());
  ThreadedEnvOptions net;
  net.worker_threads = 1;
  net.io_threads = 1;
  impl->net_env = NewThreadedEnv(net);
  Impl* raw = impl.get();
  raw->net_env->Spawn([raw] {
    raw->net_env->RunBlocking([raw] { raw->io.run(); });
    raw->io_done.Notify();
  });
  raw->fibers.Add(1);
  raw->env->Spawn([raw] {
    raw->AcceptLoop();
    raw->fibers.Done();
  });
  return std::unique_ptr<MySqlServer>(new MySqlServer(std::move(impl)));
}

void MySqlServer::Stop() {
  Impl* impl = impl_.get();
  {
    std::lock_guard<std::mutex> lock(impl->mu);
    if (impl->stopping) return;
    impl->stopping = true;
    std::vector<std::shared_ptr<tcp::socket>> sockets(impl->sockets.begin(), impl->sockets.end());
    asio::post(impl->io, [impl, sockets] {
      boost::system::error_code ignored;
      impl->acceptor.close(ignored);
      for (const auto& s : sockets) {
        // Closed by each connection's Serve once its fiber is done (see Handshake).
        s->shutdown(tcp::socket::shutdown_both, ignored);
      }
    });
  }
  impl->fibers.Wait();
  impl->work.reset();
  impl->io.stop();
  impl->io_done.Wait();
  impl->net_env.reset();
}

uint16_t MySqlServer::port() const { return impl_->port; }

MySqlServer::Stats MySqlServer::GetStats() const {
  Stats s;
  s.connections = impl_->active.load();
  s.total_connections = impl_->total.load();
  s.questions = impl_->questions.load();
  s.uptime_seconds = (impl_->env->NowMicros() - impl_->start_micros) / 1'000'000;
  return s;
}

}  // namespace rutile::server
