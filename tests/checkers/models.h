// Ready-made sequential models for the linearizability checker.
//
// RegisterModel: one register holding an integer, initially absent, with
// read / write / compare-and-set. It is Jepsen's (and porcupine's) etcd model
// and the one Raft tests use for a replicated register.
//
// KvModel: a map from string keys to string values with get / put / append /
// compare-and-set; the history is partitioned by key (P-compositionality), so
// each partition is checked as a single register. It covers porcupine's kv
// model (append concatenates, a missing key reads as "") and Jepsen's register
// workload (a missing key reads as nil).

#ifndef RUTILE_TESTS_CHECKERS_MODELS_H_
#define RUTILE_TESTS_CHECKERS_MODELS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "checkers/linearizability.h"

namespace rutile::checkers {

struct RegisterInput {
  enum class Kind { kRead, kWrite, kCas };
  Kind kind = Kind::kRead;
  // Written value; for kCas the new value.
  int64_t value = 0;
  // For kCas: the value the register must hold for the swap to happen.
  int64_t expected = 0;

  static RegisterInput Read() { return {Kind::kRead, 0, 0}; }
  static RegisterInput Write(int64_t v) { return {Kind::kWrite, v, 0}; }
  static RegisterInput Cas(int64_t from, int64_t to) { return {Kind::kCas, to, from}; }
};

struct RegisterOutput {
  // For kRead: the value read, std::nullopt when the register is absent.
  std::optional<int64_t> value;
  // For kCas: whether the swap happened.
  bool ok = true;

  static RegisterOutput ReadResult(std::optional<int64_t> v) { return {v, true}; }
  static RegisterOutput Done() { return {std::nullopt, true}; }
  static RegisterOutput CasResult(bool swapped) { return {std::nullopt, swapped}; }
};

using RegisterOp = Operation<RegisterInput, RegisterOutput>;

class RegisterModel final : public Model<std::optional<int64_t>, RegisterInput, RegisterOutput> {
 public:
  std::optional<int64_t> Init() const override { return std::nullopt; }
  bool Step(const std::optional<int64_t>& state, const RegisterInput& input,
            const RegisterOutput* output, std::optional<int64_t>* next) const override;
  std::string DescribeOperation(const RegisterInput& input,
                                const RegisterOutput* output) const override;
  std::string DescribeState(const std::optional<int64_t>& state) const override;
};

struct KvInput {
  enum class Kind { kGet, kPut, kAppend, kCas };
  Kind kind = Kind::kGet;
  std::string key;
  // Put / appended value; for kCas the new value.
  std::string value;
  // For kCas: the value the key must hold (std::nullopt: must be absent).
  std::optional<std::string> expected;
};

struct KvOutput {
  // For kGet: the value read, std::nullopt when absent.
  std::optional<std::string> value;
  // For kCas: whether the swap happened.
  bool ok = true;
};

using KvOp = Operation<KvInput, KvOutput>;

class KvModel final : public Model<std::optional<std::string>, KvInput, KvOutput> {
 public:
  // With `absent_reads_empty`, an absent key and "" are indistinguishable to
  // get (porcupine's kv semantics); otherwise a get of an absent key must
  // return std::nullopt.
  explicit KvModel(bool absent_reads_empty = false) : absent_reads_empty_(absent_reads_empty) {}

  std::optional<std::string> Init() const override { return std::nullopt; }
  bool Step(const std::optional<std::string>& state, const KvInput& input, const KvOutput* output,
            std::optional<std::string>* next) const override;
  std::vector<std::vector<size_t>> Partition(absl::Span<const KvOp> history) const override;
  std::string DescribeOperation(const KvInput& input, const KvOutput* output) const override;
  std::string DescribeState(const std::optional<std::string>& state) const override;

 private:
  bool absent_reads_empty_;
};

}  // namespace rutile::checkers

#endif  // RUTILE_TESTS_CHECKERS_MODELS_H_
