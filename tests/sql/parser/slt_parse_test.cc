// Parses and round-trips a deterministic sample of the sqllogictest corpus: every 10th
// applicable record of each file and all of evidence/ (see slt_corpus.h). The whole
// corpus runs in slt_parse_slow_test.cc.

#include "slt_corpus.h"

namespace rutile::sql::slt {
namespace {

TEST(SltParseTest, SampleParsesAndRoundTrips) { RunCorpus(10); }

}  // namespace
}  // namespace rutile::sql::slt
