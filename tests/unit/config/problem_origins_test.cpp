// Range problems of values from a config file name FILE:LINE, as type errors do.

#include "img2img/config/problem_origins.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "img2img/config/config_keys.h"
#include "img2img/config/validate.h"
#include "img2img/core/atomic_file.h"
#include "support/test_support.h"

namespace img2img {
namespace {
namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

class ProblemOriginsTest : public test::TempDirTest {};

TEST_F(ProblemOriginsTest, FileValuesGetTheirLineFlagsAndDefaultsStayAsTheyWere) {
  const fs::path toml = dir_ / "run.toml";
  write_file_atomic(toml, "[data]\n# note\nbatch_size = -2\nimage_size = 3\n[train]\nseed = 1\n");
  std::vector<ConfigAssignment> a = read_config_file(toml.string());
  a.push_back({"data.image_size", "0", "command line"});  // the flag overrides the file's value
  const RunConfig c = apply_config(a);
  ValidateOptions no_paths;
  no_paths.check_paths = false;
  const std::vector<std::string> problems = config_problems(c, no_paths);
  const std::vector<std::string> located = locate_config_problems(problems, a);
  ASSERT_EQ(located.size(), problems.size());
  EXPECT_THAT(located, ::testing::Contains(toml.string() + ":3: data.batch_size = -2: expected >= 1"));
  // The flag's value is named as before (no file:line of the value it replaced).
  EXPECT_THAT(located, ::testing::Contains("data.image_size = 0: expected 4..8192"));
  // A problem not tied to an assigned key, and one of a key left at its default, are unchanged.
  const std::vector<std::string> other = {"test.batch_size = 0: expected >= 1", "something else"};
  EXPECT_EQ(locate_config_problems(other, a), other);
}

TEST_F(ProblemOriginsTest, CliNamesTheFileAndLineOfARangeError) {
  const fs::path toml = dir_ / "bad.toml";
  write_file_atomic(toml, "[data]\n# samples per step\nbatch_size = -2\n");
  std::string out;
  EXPECT_EQ(test::run_command(test::img2img_binary() + " config --config " + toml.string(), &out), 1) << out;
  EXPECT_THAT(out, HasSubstr("error: 1 configuration problem:\n  - " + toml.string() +
                             ":3: data.batch_size = -2: expected >= 1"));
  // The same value as a flag names the flag's key without a file.
  EXPECT_EQ(test::run_command(test::img2img_binary() + " config --config " + toml.string() + " --data.batch_size=-3",
                              &out),
            1)
      << out;
  EXPECT_THAT(out, HasSubstr("  - data.batch_size = -3: expected >= 1"));
  EXPECT_THAT(out, Not(HasSubstr("bad.toml:")));
}

}  // namespace
}  // namespace img2img
