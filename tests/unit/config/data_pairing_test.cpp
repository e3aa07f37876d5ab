// Paired folders must pair up by file name: checked by config validation (pair_image_files, the data
// set's own rule) with every other problem, naming both keys and folders, before any run folder exists.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>  // std::filesystem
#include <fstream>     // std::ofstream

#include "img2img/config/validate.h"
#include "img2img/core/error.h"
#include "img2img/core/image_pairs.h"
#include "support/test_support.h"

namespace img2img {
namespace {
namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

class DataPairingTest : public test::TempDirTest {
 protected:
  // An (undecodable) "image" file: only names matter here.
  static void touch(const fs::path& p) {
    fs::create_directories(p.parent_path());
    std::ofstream(p) << "x";
  }
  // Files `names` in dir_/folder.
  fs::path folder(const std::string& name, const std::vector<std::string>& names) {
    for (const auto& n : names) touch(dir_ / name / n);
    return dir_ / name;
  }
  // The problems of `c` with path checks on, each on one line (format_config_problem).
  static std::vector<ConfigProblem> problems(const RunConfig& c) { return config_problems(c, ValidateOptions{}); }
  RunConfig config(const fs::path& in, const fs::path& ref) {
    RunConfig c;
    c.data.input_dir = in.string(), c.data.reference_dir = ref.string();
    c.output.run_dir = (dir_ / "run").string();
    return c;
  }
};

TEST_F(DataPairingTest, PairsByStemAcrossExtensionsSortedByName) {
  const fs::path in = folder("in", {"b.png", "a.png", "c.jpg"}), ref = folder("ref", {"c.tif", "a.png", "b.exr"});
  const std::vector<ImagePair> pairs = pair_image_files(in, ref);
  ASSERT_EQ(pairs.size(), 3u);
  EXPECT_EQ(pairs[0].name, "a");
  EXPECT_EQ(pairs[1].input, in / "b.png");
  EXPECT_EQ(pairs[1].reference, ref / "b.exr");
  EXPECT_EQ(pairs[2].reference, ref / "c.tif");
}

TEST_F(DataPairingTest, NamesOnOneSideAreAConfigProblemNamingBothKeysAndFolders) {
  const fs::path in = folder("in", {"a.png", "Dune.jpg"}), ref = folder("ref", {"a.png", "Dune2.jpg"});
  RunConfig c = config(in, ref);
  c.data.batch_size = 0;  // reported with it, at once
  const std::vector<ConfigProblem> p = problems(c);
  ASSERT_EQ(p.size(), 2u) << format_config_problems(p);
  EXPECT_EQ(p[0].key, "data.batch_size");
  EXPECT_EQ(p[1].key, "data.input_dir");
  ASSERT_EQ(p[1].related.size(), 1u);
  EXPECT_EQ(p[1].related[0].key, "data.reference_dir");
  EXPECT_EQ(p[1].message, "data.input_dir and data.reference_dir: input and reference folders do not pair up by "
                          "file name:\n      1 only in '" + in.string() + "': Dune.jpg\n      1 only in '" +
                              ref.string() + "': Dune2.jpg\n    Rename or remove them so each input has a reference "
                              "with the same name.");
  try {
    validate_config(c);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), HasSubstr("2 configuration problems"));
    EXPECT_THAT(e.what(), HasSubstr("do not pair up by file name"));
  }
  EXPECT_FALSE(fs::exists(dir_ / "run"));  // validation creates no run folder
}

TEST_F(DataPairingTest, TestFoldersArePairedToo) {
  const fs::path in = folder("in", {"a.png"}), ref = folder("ref", {"a.png"});
  const fs::path tin = folder("tin", {"x.png", "y.png", "z.png"}), tref = folder("tref", {"x.png"});
  RunConfig c = config(in, ref);
  c.test.enabled = true;
  c.test.input_dir = tin.string(), c.test.reference_dir = tref.string();
  const std::vector<ConfigProblem> p = problems(c);
  ASSERT_EQ(p.size(), 1u) << format_config_problems(p);
  EXPECT_EQ(p[0].key, "test.input_dir");
  EXPECT_THAT(p[0].message, HasSubstr("test.input_dir and test.reference_dir: input and reference folders do not "
                                      "pair up by file name:\n      2 only in '" + tin.string() + "': y.png, z.png"));
  EXPECT_THAT(p[0].message, Not(HasSubstr("only in '" + tref.string())));
  // Testing off: the test folders are not looked at.
  c.test.enabled = false;
  EXPECT_TRUE(problems(c).empty()) << format_config_problems(problems(c));
}

TEST_F(DataPairingTest, AFolderProblemIsReportedAloneAndUnpairedFoldersAreNotPaired) {
  const fs::path in = folder("in", {"a.png"});
  fs::create_directories(dir_ / "empty");
  const std::vector<ConfigProblem> p = problems(config(in, dir_ / "empty"));
  ASSERT_EQ(p.size(), 1u) << format_config_problems(p);  // "has no images", not also "do not pair up"
  EXPECT_EQ(p[0].key, "data.reference_dir");
  EXPECT_THAT(p[0].message, HasSubstr("has no images"));
  // Unpaired domains need no common names.
  RunConfig u = config(in, folder("other", {"b.png", "c.png"}));
  u.data.input_type = InputType::kMultipleUnpaired;
  EXPECT_TRUE(problems(u).empty()) << format_config_problems(problems(u));
}

}  // namespace
}  // namespace img2img
