// Parses and round-trips every applicable statement and query of the sqllogictest corpus
// (see slt_corpus.h) and prints the coverage numbers. About 4 s in a Release build; about
// a minute unoptimised, hence the slow label.

#include "slt_corpus.h"

namespace rutile::sql::slt {
namespace {

TEST(SltParseTest, EveryApplicableStatementParsesAndRoundTrips) { RunCorpus(1); }

}  // namespace
}  // namespace rutile::sql::slt
