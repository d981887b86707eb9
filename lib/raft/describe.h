// Human-readable renderings of Raft protos and Ready contents, in the shape etcd-raft's
// interaction traces use ("1->2 MsgApp Term:1 Log:1/2 Commit:2 Entries:[1/3 EntryNormal
// \"\"]"). Used by logging and by the datadriven tests, so changes show up in their
// expected outputs.

#ifndef RUTILE_RAFT_DESCRIBE_H_
#define RUTILE_RAFT_DESCRIBE_H_

#include <string>
#include <vector>

#include "raft.pb.h"

namespace rutile::raft {

const char* MessageTypeName(MessageType t);
const char* EntryTypeName(EntryType t);
std::string DescribeEntry(const Entry& e);
std::string DescribeEntries(const std::vector<Entry>& ents);
std::string DescribeMessage(const Message& m);
std::string DescribeHardState(const HardState& hs);
std::string DescribeConfState(const ConfState& cs);
std::string DescribeSnapshot(const Snapshot& s);
// "v2 l3 r4 u5" for add voter 2, add learner 3, remove 4, update 5.
std::string DescribeConfChanges(const std::vector<ConfChangeSingle>& ccs);
// The changes in a ConfChange or ConfChangeV2 entry.
ConfChangeV2 ConfChangeAsV2(const ConfChange& cc);

bool IsEmptyHardState(const HardState& hs);
bool IsEmptySnapshot(const Snapshot& s);
bool IsLocalMessage(MessageType t);
bool IsResponseMessage(MessageType t);
// MsgVote -> MsgVoteResp, MsgPreVote -> MsgPreVoteResp.
MessageType VoteResponseType(MessageType t);

}  // namespace rutile::raft

#endif  // RUTILE_RAFT_DESCRIBE_H_
