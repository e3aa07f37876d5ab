// Keys of a data source that the input type in effect does not read (notes, and the hint of the "is empty"
// error), and one folder given for both sides of the data (an error for unpaired data, a warning for paired).

#include "img2img/config/source_keys.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>  // std::ofstream

#include "img2img/config/config_keys.h"
#include "img2img/config/problem_origins.h"
#include "img2img/config/unpaired_defaults.h"
#include "img2img/config/validate.h"
#include "img2img/core/atomic_file.h"
#include "support/test_support.h"

namespace img2img {
namespace {
namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

class SourceKeysTest : public test::TempDirTest {
 protected:
  // A folder dir_/name holding one (never decoded) image file: enough for the path checks.
  std::string image_folder(const std::string& name) {
    fs::create_directories(dir_ / name);
    std::ofstream(dir_ / name / "a.png") << "x";
    return (dir_ / name).string();
  }
};

// The notes of `assignments` applied on their base (unpaired defaults where they ask for them), one line each.
std::vector<std::string> notes_of(const std::vector<ConfigAssignment>& assignments,
                                  const std::string& ignore_origin = "") {
  std::vector<std::string> lines;
  const RunConfig config = apply_config(assignments, base_config_for(assignments));
  for (const ConfigProblem& n : unused_source_key_notes(config, assignments, ignore_origin))
    lines.push_back(format_config_problem(n));
  return lines;
}

// Every problem of `config` with the paths checked, one line each.
std::vector<std::string> path_problems(const RunConfig& config) {
  std::vector<std::string> lines;
  for (const ConfigProblem& p : config_problems(config)) lines.push_back(format_config_problem(p));
  return lines;
}

TEST_F(SourceKeysTest, EachInputTypeReadsItsOwnKeys) {
  EXPECT_TRUE(source_reads_key(InputType::kSinglePaired, "input_image"));
  EXPECT_FALSE(source_reads_key(InputType::kSinglePaired, "input_dir"));
  EXPECT_TRUE(source_reads_key(InputType::kMultipleUnpaired, "reference_dir"));
  EXPECT_FALSE(source_reads_key(InputType::kMultiplePaired, "composite_dir"));
  EXPECT_TRUE(source_reads_key(InputType::kCompositePaired, "composite_dir"));
  EXPECT_FALSE(source_reads_key(InputType::kCompositePaired, "reference_dir"));
  EXPECT_FALSE(source_reads_key(InputType::kMultiplePaired, "batch_size"));
}

// A key of another input type, from a file or a flag: a note naming the key, its value and origin, the input
// type in effect and what it reads, and both fixes.
TEST_F(SourceKeysTest, KeyOfAnotherInputTypeGetsANoteNamingTheFix) {
  EXPECT_THAT(notes_of({{"data.input_dir", "a", "run.toml:2"},
                        {"data.reference_dir", "b", "run.toml:3"},
                        {"data.composite_dir", "pairs", "run.toml:4"},
                        {"data.input_image", "one.png", "command line"}}),
              ElementsAre("data.input_image = 'one.png' is ignored: data.input_type = multiple_paired reads "
                          "data.input_dir and data.reference_dir. Set --data.input_type=single_paired to use it, or "
                          "remove it.",
                          "run.toml:4: data.composite_dir = 'pairs' is ignored: data.input_type = multiple_paired "
                          "reads data.input_dir and data.reference_dir. Set --data.input_type=composite_paired to use "
                          "it, or remove it."));
  // Folders with composite_paired, where data.input_type was set names that line too.
  EXPECT_THAT(notes_of({{"data.input_type", "composite_paired", "c.toml:2"},
                        {"data.composite_dir", "pairs", "c.toml:3"},
                        {"data.input_dir", "a", "c.toml:4"}}),
              ElementsAre("c.toml:4: data.input_dir = 'a' is ignored: data.input_type = composite_paired reads "
                          "data.composite_dir. Set --data.input_type=multiple_paired (or multiple_unpaired for "
                          "unpaired training) to use it, or remove it. (data.input_type is set at c.toml:2)"));
  // Unpaired training: a single image is another (paired) input type; its test data has no composite form.
  EXPECT_THAT(notes_of({{"data.input_type", "multiple_unpaired", "command line"},
                        {"data.input_dir", "a", "command line"},
                        {"data.reference_dir", "b", "command line"},
                        {"data.reference_image", "r.png", "command line"},
                        {"test.enabled", "true", "command line"},
                        {"test.input_dir", "ta", "command line"},
                        {"test.reference_dir", "tb", "command line"},
                        {"test.composite_dir", "tc", "command line"}}),
              ElementsAre("data.reference_image = 'r.png' is ignored: data.input_type = multiple_unpaired reads "
                          "data.input_dir and data.reference_dir. Set --data.input_type=single_paired to use it, or "
                          "remove it.",
                          "test.composite_dir = 'tc' is ignored: unpaired training tests on test.input_dir and "
                          "test.reference_dir only (test.input_type = multiple_unpaired). Remove it."));
}

// Test data given without test.enabled is never read: a note says so, with the input type to set where the
// key needs another one.
TEST_F(SourceKeysTest, TestKeysWhileTestingIsOffGetANote) {
  EXPECT_THAT(notes_of({{"test.input_dir", "ta", "t.toml:2"}, {"test.composite_dir", "tc", "t.toml:3"}}),
              ElementsAre("t.toml:2: test.input_dir = 'ta' is ignored: test.enabled = false. Set --test.enabled=true "
                          "to test on it, or remove it.",
                          "t.toml:3: test.composite_dir = 'tc' is ignored: test.enabled = false. Set "
                          "--test.enabled=true and --test.input_type=composite_paired to test on it, or remove it."));
  EXPECT_THAT(notes_of({{"test.enabled", "true", "f"}, {"test.input_dir", "ta", "f"}, {"test.reference_dir", "tb", "f"}}),
              IsEmpty());
}

// `img2img config` prints every key, the empty ones too: that file read back gives no note, nor does a file
// that sets keys the input type reads. A stray key it carries is noted again (at its line).
TEST_F(SourceKeysTest, PrintedConfigReadBackGivesNoNotesForEmptyKeys) {
  RunConfig c;
  c.data.input_dir = "a", c.data.reference_dir = "b";
  EXPECT_THAT(notes_of(parse_config_text(config_to_toml(c), "printed.toml")), IsEmpty());
  RunConfig unpaired = unpaired_defaults();
  unpaired.data.input_dir = "a", unpaired.data.reference_dir = "b";
  EXPECT_THAT(notes_of(parse_config_text(config_to_toml(unpaired), "printed.toml")), IsEmpty());
  c.data.composite_dir = "pairs";
  const std::vector<std::string> again = notes_of(parse_config_text(config_to_toml(c), "printed.toml"));
  ASSERT_EQ(again.size(), 1u);
  EXPECT_THAT(again[0], HasSubstr("data.composite_dir = 'pairs' is ignored"));
}

// A resumed run's own configuration (the checkpoint's) was noted when the run started: no note again. A flag
// given with the resume still gets one.
TEST_F(SourceKeysTest, ResumedConfigurationGivesNoNotesButNewFlagsDo) {
  RunConfig c;
  c.data.input_dir = "a", c.data.reference_dir = "b", c.data.composite_dir = "pairs", c.test.input_dir = "t";
  std::vector<ConfigAssignment> a = parse_config_text(config_to_toml(c), "checkpoint runs/x");
  EXPECT_THAT(notes_of(a, "checkpoint runs/x"), IsEmpty());
  a.push_back({"data.input_image", "one.png", "command line"});
  EXPECT_THAT(notes_of(a, "checkpoint runs/x"),
              ElementsAre(HasSubstr("data.input_image = 'one.png' is ignored: data.input_type = multiple_paired")));
}

// --data.composite_dir without --data.input_type=composite_paired: one error naming the input type that
// reads it, not "data.input_dir is empty" and "data.reference_dir is empty".
TEST_F(SourceKeysTest, OnlyAnotherInputTypesKeysSetNamesThatInputType) {
  RunConfig c;
  c.output.run_dir = (dir_ / "runs").string();
  c.data.composite_dir = image_folder("pairs");
  EXPECT_THAT(path_problems(c),
              ElementsAre("data.input_dir and data.reference_dir are empty but data.input_type = multiple_paired "
                          "needs them. data.composite_dir is set: to train on it, set "
                          "--data.input_type=composite_paired. Otherwise set --data.input_dir=PATH and "
                          "--data.reference_dir=PATH."));
  // One file of a single pair: the other file is named too.
  c.data.composite_dir.clear();
  c.data.input_image = "one.png";
  EXPECT_THAT(path_problems(c),
              ElementsAre(HasSubstr("data.input_image is set: to train on it, set --data.input_type=single_paired and "
                                    "--data.reference_image=FILE.")));
  // composite_paired with the folders given: multiple_paired; the test source of paired training likewise.
  RunConfig f;
  f.output.run_dir = c.output.run_dir;
  f.data.input_type = InputType::kCompositePaired;
  f.data.input_dir = image_folder("in"), f.data.reference_dir = image_folder("ref");
  f.test.enabled = true;
  f.test.input_image = "t.png", f.test.reference_image = "r.png";
  EXPECT_THAT(path_problems(f),
              ElementsAre("data.composite_dir is empty but data.input_type = composite_paired needs it. "
                          "data.input_dir and data.reference_dir are set: to train on them, set "
                          "--data.input_type=multiple_paired (or multiple_unpaired for unpaired training). Otherwise "
                          "set --data.composite_dir=PATH.",
                          "test.input_dir and test.reference_dir are empty but test.input_type = multiple_paired "
                          "needs them. test.input_image and test.reference_image are set: to test on them, set "
                          "--test.input_type=single_paired. Otherwise set --test.input_dir=PATH and "
                          "--test.reference_dir=PATH."));
  // One key of the input type's own given: the usual "is empty" for the other.
  c.data.input_dir = image_folder("in");
  EXPECT_THAT(path_problems(c),
              ElementsAre("data.reference_dir is empty but data.input_type = multiple_paired needs it. Set "
                          "--data.reference_dir=PATH."));
  // The combined problem names where the other keys were set.
  const std::vector<ConfigAssignment> a = {{"data.composite_dir", image_folder("pairs"), "run.toml:3"},
                                           {"output.run_dir", c.output.run_dir, "command line"}};
  std::vector<std::string> located;
  for (const ConfigProblem& p : locate_config_problems(config_problems(apply_config(a)), a))
    located.push_back(format_config_problem(p));
  EXPECT_THAT(located, ElementsAre(HasSubstr("Otherwise set --data.input_dir=PATH and --data.reference_dir=PATH. "
                                             "(data.composite_dir is set at run.toml:3)")));
}

// Unpaired training with one folder for both domains is an error: it would learn an identity mapping. Also
// when the two paths only differ in spelling ("./x") or one is a symlink to the other, and for test data.
TEST_F(SourceKeysTest, UnpairedDataFromOneFolderIsAnError) {
  RunConfig c = unpaired_defaults();
  c.output.run_dir = (dir_ / "runs").string();
  const std::string photos = image_folder("photos");
  c.data.input_dir = photos;
  c.data.reference_dir = (dir_ / "." / "photos").string();
  const std::string expected =
      "data.input_dir and data.reference_dir are the same folder ('" + photos + "' and '" + c.data.reference_dir +
      "'): unpaired training learns to turn images like data.input_dir's (domain A) into images like "
      "data.reference_dir's (domain B), so with one folder for both the generators learn to copy their input: hours "
      "of training for an identity mapping. Give the two domains as two folders (e.g. --data.input_dir=photos "
      "--data.reference_dir=paintings).";
  EXPECT_THAT(path_problems(c), ElementsAre(expected));
  fs::create_directory_symlink(photos, dir_ / "link");
  c.data.reference_dir = (dir_ / "link").string();
  EXPECT_THAT(path_problems(c), ElementsAre(HasSubstr("are the same folder ('" + photos + "' and '" +
                                                      c.data.reference_dir + "')")));
  c.data.reference_dir = image_folder("paintings");
  EXPECT_THAT(path_problems(c), IsEmpty());
  c.test.enabled = true;
  c.test.input_dir = image_folder("test_a");
  c.test.reference_dir = c.test.input_dir;
  EXPECT_THAT(path_problems(c),
              ElementsAre(HasSubstr("test.input_dir and test.reference_dir are the same folder")));
  // Paired data from one folder is not an error (a warning at the start of the run).
  RunConfig paired;
  paired.output.run_dir = c.output.run_dir;
  paired.data.input_dir = photos, paired.data.reference_dir = (dir_ / "link").string();
  EXPECT_THAT(path_problems(paired), IsEmpty());
}

TEST_F(SourceKeysTest, PairedDataFromOneFolderOrFileGetsAWarning) {
  DataSource s;
  s.input_dir = image_folder("photos");
  s.reference_dir = (dir_ / "photos" / ".").string();
  EXPECT_EQ(same_source_warning(s, "data"),
            "data.input_dir and data.reference_dir are the same folder ('" + s.input_dir + "' and '" +
                s.reference_dir +
                "'): every image is paired with itself, so the model learns to copy its input. Put the images the "
                "outputs should look like in their own folder and give it as --data.reference_dir.");
  EXPECT_THAT(same_source_warning(s, "test"), HasSubstr("so the test SSIM measures how well the model copies its input"));
  s.reference_dir = image_folder("other");
  EXPECT_EQ(same_source_warning(s, "data"), "");
  s.input_type = InputType::kSinglePaired;
  s.input_image = s.reference_image = (dir_ / "photos" / "a.png").string();
  EXPECT_THAT(same_source_warning(s, "data"), HasSubstr("data.input_image and data.reference_image are the same file"));
  s.input_type = InputType::kMultipleUnpaired;  // an error there (config_problems), no warning
  s.input_dir = s.reference_dir;
  EXPECT_EQ(same_source_warning(s, "data"), "");
  // Missing paths are not the same path.
  EXPECT_FALSE(same_existing_path((dir_ / "none").string(), (dir_ / "none").string()));
  EXPECT_FALSE(same_existing_path("", ""));
}

}  // namespace
}  // namespace img2img
