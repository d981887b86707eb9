// The MySQL client/server protocol's building blocks: constants, a bounds-checked reader
// for incoming payloads, writers for OK/ERR/EOF packets, column definitions and rows in
// both the text and the binary protocol, and mysql_native_password.
//
// Nothing here does I/O; the connection code (server.cc) frames payloads into packets.
// Every decoder returns an error on truncated or malformed input and never reads past
// the payload, so a hostile client gets a clean error.
//
// Thread safety: all functions are pure.

#ifndef RUTILE_SERVER_PROTOCOL_H_
#define RUTILE_SERVER_PROTOCOL_H_

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "rutile/sql.h"

namespace rutile::server {

// Capability flags (CLIENT_*).
inline constexpr uint32_t kClientLongPassword = 1;
inline constexpr uint32_t kClientFoundRows = 2;
inline constexpr uint32_t kClientLongFlag = 4;
inline constexpr uint32_t kClientConnectWithDb = 8;
inline constexpr uint32_t kClientProtocol41 = 0x200;
inline constexpr uint32_t kClientInteractive = 0x400;
inline constexpr uint32_t kClientSsl = 0x800;
inline constexpr uint32_t kClientIgnoreSigpipe = 0x1000;
inline constexpr uint32_t kClientTransactions = 0x2000;
inline constexpr uint32_t kClientSecureConnection = 0x8000;
inline constexpr uint32_t kClientMultiStatements = 0x10000;
inline constexpr uint32_t kClientMultiResults = 0x20000;
inline constexpr uint32_t kClientPsMultiResults = 0x40000;
inline constexpr uint32_t kClientPluginAuth = 0x80000;
inline constexpr uint32_t kClientConnectAttrs = 0x100000;
inline constexpr uint32_t kClientPluginAuthLenencData = 0x200000;

// What this server offers; a connection uses client ∧ server.
inline constexpr uint32_t kServerCapabilities =
    kClientLongPassword | kClientFoundRows | kClientLongFlag | kClientConnectWithDb |
    kClientProtocol41 | kClientInteractive | kClientIgnoreSigpipe | kClientTransactions |
    kClientSecureConnection | kClientMultiStatements | kClientMultiResults | kClientPsMultiResults |
    kClientPluginAuth | kClientConnectAttrs | kClientPluginAuthLenencData;

// Server status flags.
inline constexpr uint16_t kStatusInTrans = 1;
inline constexpr uint16_t kStatusAutocommit = 2;
inline constexpr uint16_t kStatusMoreResultsExist = 8;

// Commands (COM_*).
enum Command : uint8_t {
  kComSleep = 0x00,
  kComQuit = 0x01,
  kComInitDb = 0x02,
  kComQuery = 0x03,
  kComFieldList = 0x04,
  kComStatistics = 0x09,
  kComProcessInfo = 0x0a,
  kComPing = 0x0e,
  kComChangeUser = 0x11,
  kComStmtPrepare = 0x16,
  kComStmtExecute = 0x17,
  kComStmtSendLongData = 0x18,
  kComStmtClose = 0x19,
  kComStmtReset = 0x1a,
  kComSetOption = 0x1b,
  kComStmtFetch = 0x1c,
  kComResetConnection = 0x1f,
};

// Column types (MYSQL_TYPE_*).
enum FieldType : uint8_t {
  kTypeDecimal = 0,
  kTypeTiny = 1,
  kTypeShort = 2,
  kTypeLong = 3,
  kTypeFloat = 4,
  kTypeDouble = 5,
  kTypeNull = 6,
  kTypeTimestamp = 7,
  kTypeLongLong = 8,
  kTypeInt24 = 9,
  kTypeDate = 10,
  kTypeTime = 11,
  kTypeDatetime = 12,
  kTypeYear = 13,
  kTypeNewDate = 14,
  kTypeVarchar = 15,
  kTypeBit = 16,
  kTypeJson = 245,
  kTypeNewDecimal = 246,
  kTypeEnum = 247,
  kTypeSet = 248,
  kTypeTinyBlob = 249,
  kTypeMediumBlob = 250,
  kTypeLongBlob = 251,
  kTypeBlob = 252,
  kTypeVarString = 253,
  kTypeString = 254,
  kTypeGeometry = 255,
};

inline constexpr uint32_t kUnsignedFlag = 32;

// MySQL error codes the server itself raises.
inline constexpr uint16_t kErUnknownError = 1105;          // (HY000).
inline constexpr uint16_t kErConCount = 1040;              // Too many connections (08004).
inline constexpr uint16_t kErHandshake = 1043;             // Bad handshake (08S01).
inline constexpr uint16_t kErAccessDenied = 1045;          // Access denied (28000).
inline constexpr uint16_t kErUnknownCom = 1047;            // Unknown command (08S01).
inline constexpr uint16_t kErNetPacketTooLarge = 1153;     // max_allowed_packet (08S01).
inline constexpr uint16_t kErUnknownStmtHandler = 1243;    // (HY000).
inline constexpr uint16_t kErPsManyParam = 1390;           // > 65535 placeholders (HY000).
inline constexpr uint16_t kErMaxPreparedStmtCount = 1461;  // (42000).
inline constexpr uint16_t kErMalformedPacket = 1835;       // (HY000).

// The largest payload of one packet; longer payloads continue in the next packet.
inline constexpr size_t kMaxPacketChunk = 0xFFFFFF;

// Reads protocol fields from one payload, never past its end.
class PayloadReader {
 public:
  explicit PayloadReader(std::string_view data) : data_(data) {}

  size_t remaining() const { return data_.size() - pos_; }
  bool empty() const { return remaining() == 0; }

  absl::StatusOr<uint8_t> U8();
  absl::StatusOr<uint16_t> U16();
  absl::StatusOr<uint32_t> U24();
  absl::StatusOr<uint32_t> U32();
  absl::StatusOr<uint64_t> U64();
  // A length-encoded integer; nullopt for the NULL marker 0xFB.
  absl::StatusOr<std::optional<uint64_t>> LenencInt();
  absl::StatusOr<std::string_view> Bytes(size_t n);
  // Up to (and consuming) the next NUL; the rest of the payload if there is none and
  // `allow_eof` is true.
  absl::StatusOr<std::string_view> NulString(bool allow_eof = false);
  absl::StatusOr<std::string_view> LenencString();
  std::string_view Rest();

 private:
  std::string_view data_;
  size_t pos_ = 0;
};

// Appenders for building payloads.
void PutU8(std::string* out, uint8_t v);
void PutU16(std::string* out, uint16_t v);
void PutU24(std::string* out, uint32_t v);
void PutU32(std::string* out, uint32_t v);
void PutU64(std::string* out, uint64_t v);
void PutLenencInt(std::string* out, uint64_t v);
void PutLenencString(std::string* out, std::string_view s);
void PutNulString(std::string* out, std::string_view s);

// OK, ERR and EOF payloads (CLIENT_PROTOCOL_41 layout).
std::string OkPayload(uint64_t affected_rows, uint64_t last_insert_id, uint16_t status,
                      uint16_t warnings, std::string_view info = {});
std::string ErrPayload(uint16_t code, std::string_view sqlstate, std::string_view message);
std::string EofPayload(uint16_t status, uint16_t warnings);

// A column definition (Protocol::ColumnDefinition41). `field_list` appends the default
// value field that COM_FIELD_LIST responses carry.
std::string ColumnDefinitionPayload(const sql::ColumnMeta& column, bool field_list = false);

// One text-protocol row.
std::string TextRowPayload(const sql::Row& row);

// One binary-protocol row: each value converted from its text form to the binary form of
// its column's type. InvalidArgument if a value does not parse as its column's type.
absl::StatusOr<std::string> BinaryRowPayload(const std::vector<sql::ColumnMeta>& columns,
                                             const sql::Row& row);

// Decodes one binary-protocol parameter value of `type` (low byte the MYSQL_TYPE, bit 15
// the unsigned flag) from `reader`.
absl::StatusOr<sql::Value> DecodeBinaryParam(uint16_t type, PayloadReader* reader);

// A HandshakeResponse41, as parsed by ParseHandshakeResponse. The views point into the
// payload passed in.
struct HandshakeResponse {
  uint32_t capabilities = 0;  // The client's flags ∧ kServerCapabilities.
  std::string_view user;
  std::string_view auth_response;
  std::string_view database;  // Empty when none was sent.
  std::string_view plugin;    // Empty when none was sent.
};

// Parses the client's handshake response. InvalidArgument (the message says why) when it
// is truncated, not protocol 4.1, or asks for SSL, which this server does not offer.
absl::StatusOr<HandshakeResponse> ParseHandshakeResponse(std::string_view payload);

// COM_CHANGE_USER's fields; the views point into the payload passed in.
struct ChangeUserRequest {
  std::string_view user;
  std::string_view auth_response;
  std::string_view database;
  std::string_view plugin;
};

// Parses COM_CHANGE_USER's payload after the command byte, for a connection with
// capabilities `caps`. InvalidArgument when truncated.
absl::StatusOr<ChangeUserRequest> ParseChangeUser(std::string_view payload, uint32_t caps);

// Decodes the parameter block of COM_STMT_EXECUTE (after the statement id, flags and
// iteration count) for a statement with `params` parameters: the NULL bitmap, the
// new-params-bound flag, the 2-byte types when bound, then one value per parameter that
// is neither NULL nor in `long_data` (those sent with COM_STMT_SEND_LONG_DATA, whose value
// is the accumulated string). When the types are not sent, *types holds those of an earlier
// execute. On success *types holds the types used; on error it is unchanged.
absl::StatusOr<std::vector<sql::Value>> DecodeExecuteParams(
    PayloadReader* reader, size_t params, std::vector<uint16_t>* types,
    const std::map<uint16_t, std::string>& long_data);

// SHA-1 of `data`.
std::array<uint8_t, 20> Sha1(std::string_view data);

// Whether `auth_response` proves knowledge of `password` for mysql_native_password with
// the 20-byte `scramble`. An empty password matches only an empty response.
bool CheckNativePassword(std::string_view password, std::string_view scramble,
                         std::string_view auth_response);

// What a client sends for mysql_native_password (used by tests).
std::string NativePasswordResponse(std::string_view password, std::string_view scramble);

}  // namespace rutile::server

#endif  // RUTILE_SERVER_PROTOCOL_H_
