// `img2img config`'s file (config_template_toml): keys worked out from other keys are commented out unless
// given, so a printed file that is edited and read back behaves as if the edits had been typed as flags.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>  // std::string
#include <vector>  // std::vector

#include "img2img/config/config_keys.h"
#include "img2img/config/config_template.h"
#include "img2img/config/unpaired_defaults.h"
#include "img2img/config/validate.h"

namespace img2img {
namespace {
using ::testing::HasSubstr;
using ::testing::Not;

// What resolve_config_flags does with `a`: the base for its data.input_type, then `a`, then derived defaults.
RunConfig resolved(const std::vector<ConfigAssignment>& a) { return apply_config(a, base_config_for(a)); }

// The file `img2img config` prints for `flags` (as command-line assignments).
std::string printed(const std::vector<ConfigAssignment>& flags, bool with_comments = true) {
  return config_template_toml(resolved(flags), flags, with_comments);
}

// `text` with its one occurrence of `from` replaced by `to` (the user's edit); fails the test if absent.
std::string edited(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

// The configuration `train --config` resolves for a file with `text`.
RunConfig read_back(const std::string& text) { return resolved(parse_config_text(text, "my.toml")); }

std::vector<ConfigAssignment> flags_of(const std::vector<std::pair<std::string, std::string>>& kv) {
  std::vector<ConfigAssignment> a;
  for (const auto& [k, v] : kv) a.push_back({k, v, "command line"});
  return a;
}

TEST(ConfigTemplateTest, WorkedOutKeysAreCommentedOutWithTheirValueAndRule) {
  const std::string toml = printed(flags_of({{"data.image_size", "64"}, {"train.max_iterations", "10"}}));
  EXPECT_THAT(toml, HasSubstr("\n# linear_decay = 5  # worked out: half of train.max_iterations = 10 (uncomment to "
                              "fix it); linear: iterations of linear decay"));
  EXPECT_THAT(toml, HasSubstr("\n# layers = 6  # worked out: the most layers whose 2^layers divides "
                              "data.image_size = 64, at most 8 (uncomment to fix it); U-Net"));
  // Paired data: the keys whose default differs for unpaired data follow data.input_type.
  EXPECT_THAT(toml, HasSubstr("\n# gan_loss = \"vanilla\"  # worked out: the default for paired data, lsgan for "
                              "data.input_type = multiple_unpaired (uncomment to fix it)"));
  EXPECT_THAT(toml, HasSubstr("\n# l1_lambda = 100.0  # worked out: the default for paired data, 10.0 for"));
  // Given keys and plain defaults are normal lines.
  EXPECT_THAT(toml, HasSubstr("\nimage_size = 64  # square side"));
  EXPECT_THAT(toml, HasSubstr("\nmax_iterations = 10  # iterations"));
  EXPECT_THAT(toml, HasSubstr("\nlearning_rate = 0.0002  # base learning rate\n"));
  EXPECT_THAT(toml, HasSubstr("\ninput_type = \"multiple_paired\"  #"));  // data.input_type: a plain default
  // Exactly the derived keys are commented out: layers, linear_decay and the 6 unpaired-default keys.
  size_t commented = 0;
  for (size_t at = toml.find("\n# "); at != std::string::npos; at = toml.find("\n# ", at + 1)) ++commented;
  EXPECT_EQ(commented, 8u);
  // Without comments the commented-out lines still say where their value comes from.
  const std::string bare = printed(flags_of({{"train.max_iterations", "10"}}), /*with_comments=*/false);
  EXPECT_THAT(bare, HasSubstr("\n# linear_decay = 5  # worked out: half of train.max_iterations = 10 (uncomment to "
                              "fix it)\n"));
  EXPECT_THAT(bare, HasSubstr("\nmax_iterations = 10\n"));
}

TEST(ConfigTemplateTest, ExplicitKeysStayNormalLines) {
  const auto flags = flags_of({{"data.image_size", "64"}, {"generator.layers", "3"}, {"train.linear_decay", "7"},
                               {"train.gan_loss", "lsgan"}});
  const std::string toml = printed(flags);
  EXPECT_THAT(toml, HasSubstr("\nlayers = 3  # U-Net down/up-sampling layers; 2^layers <= data.image_size (worked out "
                              "unless given: the most layers whose 2^layers divides data.image_size = 64, at most 8; "
                              "without this line it follows data.image_size)\n"));
  EXPECT_THAT(toml, HasSubstr("\nlinear_decay = 7  #"));
  EXPECT_THAT(toml, HasSubstr("\ngan_loss = \"lsgan\"  #"));
  EXPECT_THAT(toml, Not(HasSubstr("# layers =")));
  EXPECT_THAT(toml, Not(HasSubstr("# linear_decay =")));
  // Edited image size: the explicit layers stay.
  const RunConfig back = read_back(edited(toml, "\nimage_size = 64 ", "\nimage_size = 128 "));
  EXPECT_EQ(back.data.image_size, 128);
  EXPECT_EQ(back.generator.layers, 3);
  EXPECT_EQ(back.train.linear_decay, 7);
  EXPECT_EQ(back.train.gan_loss, GanLoss::kLsgan);
}

TEST(ConfigTemplateTest, ReadBackGivesTheConfigurationOfTheFlags) {
  const std::vector<std::vector<std::pair<std::string, std::string>>> cases = {
      {},
      {{"data.image_size", "64"}, {"train.max_iterations", "10"}},
      {{"data.image_size", "96"}, {"generator.layers", "4"}, {"train.linear_decay", "0"}},
      {{"data.input_type", "multiple_unpaired"}, {"data.image_size", "128"}, {"generator.l1_lambda", "5"}},
      {{"data.input_type", "composite_paired"}, {"data.composite_dir", "pairs"}, {"test.input_type", "single_paired"}},
  };
  for (const auto& kv : cases) {
    const auto flags = flags_of(kv);
    const RunConfig want = resolved(flags);
    for (const bool comments : {true, false}) {
      const std::string toml = config_template_toml(want, flags, comments);
      const std::vector<ConfigAssignment> file = parse_config_text(toml, "my.toml");
      const RunConfig back = resolved(file);
      // Every key resolves to the same value (config_to_toml writes them all).
      EXPECT_EQ(config_to_toml(back, false), config_to_toml(want, false)) << toml;
      // `img2img config --config my.toml` prints the same file again.
      EXPECT_EQ(config_template_toml(back, file, comments), toml);
    }
  }
}

TEST(ConfigTemplateTest, EditedMaxIterationsMovesLinearDecay) {
  const std::string toml = printed(flags_of({{"data.input_dir", "in"}, {"data.reference_dir", "ref"}}));
  EXPECT_THAT(toml, HasSubstr("\n# linear_decay = 100  #"));
  const RunConfig back = read_back(edited(toml, "\nmax_iterations = 200 ", "\nmax_iterations = 20 "));
  EXPECT_EQ(back.train.max_iterations, 20);
  EXPECT_EQ(back.train.linear_decay, 10);  // as --train.max_iterations=20 would give, not 100
  EXPECT_EQ(back.data.input_dir, "in");
  // The run's record of it keeps the resolved number as a normal line.
  EXPECT_THAT(config_to_toml(back), HasSubstr("\nlinear_decay = 10  #"));
}

TEST(ConfigTemplateTest, EditedImageSizeMovesLayers) {
  const std::string toml = printed(flags_of({{"data.image_size", "64"}}));
  EXPECT_THAT(toml, HasSubstr("\n# layers = 6  #"));
  ValidateOptions v;
  v.check_paths = false;
  for (const auto& [size, layers] : std::vector<std::pair<std::string, int64_t>>{{"128", 7}, {"32", 5}, {"96", 5}}) {
    const RunConfig back = read_back(edited(toml, "\nimage_size = 64 ", "\nimage_size = " + size + " "));
    EXPECT_EQ(back.generator.layers, layers) << size;
    EXPECT_TRUE(config_problems(back, v).empty()) << size;  // 32 px with the old 6 layers would fail
  }
}

TEST(ConfigTemplateTest, EditedInputTypeMovesTheUnpairedDefaults) {
  // Printed for paired data, switched to unpaired in the file: the CycleGAN defaults, as the flag would give.
  const std::string paired = printed(flags_of({{"data.input_dir", "a"}, {"data.reference_dir", "b"}}));
  const RunConfig unpaired = read_back(
      edited(paired, "\ninput_type = \"multiple_paired\"  # single", "\ninput_type = \"multiple_unpaired\"  # single"));
  const RunConfig want = resolved(flags_of(
      {{"data.input_dir", "a"}, {"data.reference_dir", "b"}, {"data.input_type", "multiple_unpaired"}}));
  EXPECT_EQ(config_to_toml(unpaired, false), config_to_toml(want, false));
  EXPECT_EQ(unpaired.train.gan_loss, GanLoss::kLsgan);
  EXPECT_DOUBLE_EQ(unpaired.generator.l1_lambda, 10.0);
  EXPECT_EQ(unpaired.test.input_type, InputType::kMultipleUnpaired);
  // And back: printed for unpaired data, switched to paired.
  const std::string toml = printed(flags_of({{"data.input_type", "multiple_unpaired"}}));
  EXPECT_THAT(toml, HasSubstr("\n# gan_loss = \"lsgan\"  # worked out: the default for data.input_type = "
                              "multiple_unpaired, vanilla for paired data (uncomment to fix it)"));
  const RunConfig back = read_back(edited(toml, "\ninput_type = \"multiple_unpaired\"  # single",
                                          "\ninput_type = \"multiple_paired\"  # single"));
  EXPECT_EQ(config_to_toml(back, false), config_to_toml(RunConfig(), false));
}

TEST(ConfigTemplateTest, RunRecordKeepsEveryValueAsANormalLine) {
  // config.toml of a run (and every checkpoint): --resume, infer and export read the resolved numbers.
  const RunConfig c = resolved(flags_of({{"data.image_size", "64"}, {"train.max_iterations", "10"}}));
  const std::string toml = config_to_toml(c);
  EXPECT_THAT(toml, Not(HasSubstr("\n# ")));
  EXPECT_THAT(toml, HasSubstr("\nlinear_decay = 5  # linear: iterations of linear decay at the end; the last rate is "
                              "learning_rate / (linear_decay + 1) (worked out unless given: half of "
                              "train.max_iterations = 10; without this line it follows train.max_iterations)\n"));
  EXPECT_THAT(toml, HasSubstr("\nnorm = \"batch\"  # normalisation layer (worked out unless given: the default for "
                              "paired data, instance for data.input_type = multiple_unpaired; without this line it "
                              "follows data.input_type)\n"));
  // Read back, everything is given: a later edit of max_iterations keeps this run's linear_decay.
  const RunConfig back = read_back(edited(toml, "\nmax_iterations = 10 ", "\nmax_iterations = 40 "));
  EXPECT_EQ(back.train.linear_decay, 5);
  EXPECT_EQ(back.generator.layers, 6);
}

TEST(ConfigTemplateTest, DerivedDefaultNamesWhatEachKeyFollows) {
  RunConfig c;
  EXPECT_EQ(derived_default("train.linear_decay", c).follows, "train.max_iterations");
  EXPECT_EQ(derived_default("generator.layers", c).follows, "data.image_size");
  for (const char* key : {"train.gan_loss", "generator.l1_lambda", "generator.norm", "generator.dropout",
                          "discriminator.norm", "test.input_type"})
    EXPECT_EQ(derived_default(key, c).follows, "data.input_type") << key;
  for (const char* key : {"data.input_type", "data.image_size", "train.max_iterations", "train.learning_rate", "nope"})
    EXPECT_EQ(derived_default(key, c).follows, "") << key;
}

}  // namespace
}  // namespace img2img
