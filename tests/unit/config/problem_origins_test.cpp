// Range problems of values from a config file name FILE:LINE, as type errors do: each problem carries
// its keys as values, and locate_config_problems fills their origins from the assignments.

#include "img2img/config/problem_origins.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "img2img/config/config_keys.h"
#include "img2img/config/unpaired_defaults.h"
#include "img2img/config/validate.h"
#include "img2img/core/atomic_file.h"
#include "support/test_support.h"

namespace img2img {
namespace {
namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

class ProblemOriginsTest : public test::TempDirTest {};

// One rendered line per problem, as the CLI prints them.
std::vector<std::string> lines_of(const std::vector<ConfigProblem>& problems) {
  std::vector<std::string> out;
  for (const auto& p : problems) out.push_back(format_config_problem(p));
  return out;
}

ValidateOptions no_paths() {
  ValidateOptions v;
  v.check_paths = false;
  return v;
}

TEST_F(ProblemOriginsTest, FileValuesGetTheirLineFlagsAndDefaultsStayAsTheyWere) {
  const fs::path toml = dir_ / "run.toml";
  write_file_atomic(toml, "[data]\n# note\nbatch_size = -2\nimage_size = 3\n[train]\nseed = 1\n");
  std::vector<ConfigAssignment> a = read_config_file(toml.string());
  a.push_back({"data.image_size", "0", "command line"});  // the flag overrides the file's value
  const RunConfig c = apply_config(a);
  const std::vector<ConfigProblem> problems = config_problems(c, no_paths());
  const std::vector<std::string> located = lines_of(locate_config_problems(problems, a));
  ASSERT_EQ(located.size(), problems.size());
  EXPECT_THAT(located, ::testing::Contains(toml.string() + ":3: data.batch_size = -2: expected >= 1"));
  // The flag's value is named as before (no file:line of the value it replaced).
  EXPECT_THAT(located, ::testing::Contains("data.image_size = 0: expected 4..8192"));
  // A problem not tied to an assigned key, and one of a key left at its default, are unchanged.
  const std::vector<ConfigProblem> other = {{"test.batch_size", "", "test.batch_size = 0: expected >= 1", {}},
                                            {"", "", "something else", {}}};
  EXPECT_EQ(lines_of(locate_config_problems(other, a)),
            (std::vector<std::string>{"test.batch_size = 0: expected >= 1", "something else"}));
}

// A problem that mixes two keys names the origin of each (only the leading key's was found when the key
// was parsed back out of the message).
TEST_F(ProblemOriginsTest, BothKeysOfACombinationAreLocated) {
  const fs::path toml = dir_ / "mix.toml";
  write_file_atomic(toml, "[generator]\nlayers = 7\n[data]\nimage_size = 64\n");
  const std::vector<ConfigAssignment> a = read_config_file(toml.string());
  const auto located = lines_of(locate_config_problems(config_problems(apply_config(a), no_paths()), a));
  EXPECT_THAT(located, ::testing::Contains(toml.string() +
                                           ":2: generator.layers = 7 needs 2^7 = 128 <= data.image_size = 64; the "
                                           "largest allowed value for this image size is 6. (data.image_size is set "
                                           "at " +
                                           toml.string() + ":4)"));
  // The leading key from a flag (no prefix, as before), the other from the file (now located).
  std::vector<ConfigAssignment> b = {{"generator.layers", "6", toml.string() + ":2"},
                                     {"data.image_size", "96", "command line"}};
  EXPECT_THAT(lines_of(locate_config_problems(config_problems(apply_config(b), no_paths()), b)),
              ::testing::Contains("data.image_size = 96 is not divisible by 2^generator.layers = 64; each layer "
                                  "halves the size exactly. Use an image size that is a multiple of 64. "
                                  "(generator.layers is set at " +
                                  toml.string() + ":2)"));
}

TEST_F(ProblemOriginsTest, TargetSsimWithoutTestingNamesBothLines) {
  const fs::path toml = dir_ / "ssim.toml";
  write_file_atomic(toml, "[test]\ntarget_ssim = 0.5\nenabled = false\n");
  const std::vector<ConfigAssignment> a = read_config_file(toml.string());
  const auto located = lines_of(locate_config_problems(config_problems(apply_config(a), no_paths()), a));
  ASSERT_EQ(located.size(), 1u);
  EXPECT_EQ(located[0], toml.string() +
                            ":2: test.target_ssim = 0.5 has no effect with test.enabled = false: early stopping "
                            "compares the test SSIM, which is measured only when testing is on. Set test.enabled = "
                            "true with test data, or turn early stopping off with --test.target_ssim=0 (also for a "
                            "--resume of a run that saved it). (test.enabled is set at " +
                            toml.string() + ":3)");
}

TEST_F(ProblemOriginsTest, AnOriginAlreadyGivenIsKept) {
  const std::vector<ConfigAssignment> a = {{"data.image_size", "x", "a.toml:4"}};
  std::vector<ConfigProblem> problems;
  (void)apply_config(a, {}, &problems);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].key, "data.image_size");
  EXPECT_EQ(problems[0].origin, "a.toml:4");
  problems[0].origin = "elsewhere:1";
  EXPECT_EQ(locate_config_problems(problems, a)[0].origin, "elsewhere:1");
}

// A value rejected as a type error was not applied: a combination that shows that key's default says so,
// instead of "(data.image_size is set at FILE:4)" pointing at the rejected line.
TEST_F(ProblemOriginsTest, ARejectedValueIsNotNamedAsTheOneInUse) {
  const fs::path toml = dir_ / "bad.toml";
  write_file_atomic(toml, "[generator]\nlayers = 9\n[data]\nimage_size = \"abc\"\n");
  const std::vector<ConfigAssignment> a = read_config_file(toml.string());
  std::vector<ConfigProblem> rejected;
  const RunConfig c = apply_config(a, RunConfig(), &rejected);
  ASSERT_EQ(rejected.size(), 1u);
  EXPECT_EQ(c.data.image_size, 256) << "the default stays";
  const auto located = lines_of(locate_config_problems(config_problems(c, no_paths()), a, rejected));
  EXPECT_THAT(located, ::testing::Contains(toml.string() +
                                           ":2: generator.layers = 9 needs 2^9 = 512 <= data.image_size = 256; the "
                                           "largest allowed value for this image size is 8. (data.image_size's "
                                           "value at " +
                                           toml.string() + ":4 was rejected: its default is used)"));
  // Set earlier in the file and rejected later: the earlier, applied line is named.
  std::vector<ConfigAssignment> b = a;
  b.insert(b.begin(), {"data.image_size", "128", "first.toml:1"});
  std::vector<ConfigProblem> rejected_b;
  const RunConfig cb = apply_config(b, RunConfig(), &rejected_b);
  EXPECT_THAT(lines_of(locate_config_problems(config_problems(cb, no_paths()), b, rejected_b)),
              ::testing::Contains(::testing::HasSubstr("(data.image_size is set at first.toml:1)")));
}

// Problems are listed in the order of the file's lines (type errors used to come before range errors of
// earlier lines), then the command line's, then those without an origin, each group keeping its order.
TEST_F(ProblemOriginsTest, ProblemsAreSortedByFileAndLine) {
  const std::vector<ConfigProblem> given = {{"", "b.toml:9", "unknown key", {}},
                                            {"", "", "combination", {}},
                                            {"", "command line", "unknown flag", {}},
                                            {"data.crop", "b.toml:10", "crop", {}},
                                            {"", "b.toml:2", "type", {}},
                                            {"", "a.toml", "no line", {}},
                                            {"", "a.toml:3", "a3", {}},
                                            {"", "", "flag value", {}}};
  EXPECT_EQ(lines_of(sort_config_problems(given)),
            (std::vector<std::string>{"b.toml:2: type", "b.toml:9: unknown key", "b.toml:10: crop", "a.toml: no line",
                                      "a.toml:3: a3", "command line: unknown flag", "combination", "flag value"}));
}

// Every validation problem is tagged with real keys, and its message starts with its key (what the
// origin used to be parsed back from).
TEST_F(ProblemOriginsTest, EveryProblemNamesRealKeys) {
  const std::vector<ConfigAssignment> a = {{"data.batch_size", "0", "f"},
                                           {"data.image_size", "96", "f"},
                                           {"generator.layers", "6", "f"},
                                           {"discriminator.layers", "9", "f"},
                                           {"data.input_type", "multiple_unpaired", "f"},
                                           {"test.enabled", "true", "f"},
                                           {"test.input_type", "multiple_paired", "f"},
                                           {"test.batch_size", "0", "f"},
                                           {"output.model_path", "x/{network}.pt", "f"},
                                           {"output.onnx_path", "y.onnx", "f"},
                                           {"output.run_dir", "runs/{nope}", "f"},
                                           {"train.beta1", "2", "f"},
                                           {"device.device", "gpu", "f"}};
  const std::vector<ConfigProblem> problems = config_problems(apply_config(a, base_config_for(a)), ValidateOptions{});
  ASSERT_GE(problems.size(), 10u);
  size_t with_related = 0;
  for (const auto& p : problems) {
    EXPECT_NE(find_config_key(p.key), nullptr) << p.message;
    EXPECT_EQ(p.message.rfind(p.key, 0), 0u) << p.key << " vs " << p.message;
    EXPECT_TRUE(p.origin.empty()) << p.message;
    for (const auto& r : p.related) EXPECT_NE(find_config_key(r.key), nullptr) << r.key << " in " << p.message;
    with_related += p.related.empty() ? 0 : 1;
  }
  EXPECT_GE(with_related, 3u);  // image_size / layers, test / data input_type, {index} / input_type
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
