#include "testutil/datadriven.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "gtest/gtest-spi.h"
#include "gtest/gtest.h"

namespace rutile::testutil {
namespace {

std::string WriteTemp(const std::string& name, const std::string& text) {
  std::string path = (std::filesystem::temp_directory_path() / name).string();
  std::ofstream(path, std::ios::trunc) << text;
  return path;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(DatadrivenTest, ParsesCommandLineArguments) {
  std::string cmd, err;
  std::vector<CmdArg> args;
  ASSERT_TRUE(
      ParseCommandLine("add-nodes 3 voters=(1, 2,3) index=2 learners=()", &cmd, &args, &err));
  EXPECT_EQ(cmd, "add-nodes");
  ASSERT_EQ(args.size(), 4u);
  EXPECT_EQ(args[0].key, "3");
  EXPECT_TRUE(args[0].vals.empty());
  EXPECT_EQ(args[1].key, "voters");
  EXPECT_EQ(args[1].vals, (std::vector<std::string>{"1", "2", "3"}));
  EXPECT_EQ(args[2].vals, (std::vector<std::string>{"2"}));
  EXPECT_TRUE(args[3].vals.empty());
  EXPECT_FALSE(ParseCommandLine("x a=(1,2", &cmd, &args, &err));
}

TEST(DatadrivenTest, ParsesScriptWithInputCommentsAndDoubleSeparator) {
  std::vector<TestData> ds;
  std::string err;
  ASSERT_TRUE(
      ParseScript("# comment\n\necho a=1\nline1\nline2\n----\nout1\nout2\n\n"
                  "blank\n----\n----\nx\n\ny\n----\n----\n",
                  "f.txt", &ds, &err))
      << err;
  ASSERT_EQ(ds.size(), 2u);
  EXPECT_EQ(ds[0].cmd, "echo");
  EXPECT_EQ(ds[0].pos, "f.txt:3");
  EXPECT_EQ(ds[0].input, "line1\nline2");
  EXPECT_EQ(ds[0].expected, "out1\nout2");
  uint64_t a = 0;
  EXPECT_TRUE(ds[0].ScanUint("a", &a));
  EXPECT_EQ(a, 1u);
  EXPECT_EQ(ds[1].expected, "x\n\ny");
  EXPECT_FALSE(ParseScript("cmd\nno separator\n", "f.txt", &ds, &err));
}

std::string Echo(const TestData& d) {
  if (d.cmd == "blank") return "p\n\nq\n";
  return d.input + "!";
}

TEST(DatadrivenTest, PassingScriptPasses) {
  std::string p =
      WriteTemp("dd_pass.txt", "echo\nhi\n----\nhi!\n\nblank\n----\n----\np\n\nq\n----\n----\n");
  RunTest(p, Echo);
}

TEST(DatadrivenTest, MismatchFails) {
  std::string p = WriteTemp("dd_fail.txt", "echo\nhi\n----\nwrong\n");
  EXPECT_NONFATAL_FAILURE(RunTest(p, Echo), "expected:\nwrong");
}

TEST(DatadrivenTest, RewriteReplacesOutputsAndKeepsTheRest) {
  std::string p = WriteTemp("dd_rewrite.txt",
                            "# keep me\necho\nhi\n----\nstale\nstale2\n\nblank\n----\nold\n\n"
                            "echo\n----\n");
  setenv("RUTILE_REWRITE", "1", 1);
  RunTest(p, Echo);
  unsetenv("RUTILE_REWRITE");
  EXPECT_EQ(ReadAll(p),
            "# keep me\necho\nhi\n----\nhi!\n\nblank\n----\n----\np\n\nq\n----\n----\n\n"
            "echo\n----\n!\n");
  // The rewritten file passes as is.
  RunTest(p, Echo);
}

}  // namespace
}  // namespace rutile::testutil
