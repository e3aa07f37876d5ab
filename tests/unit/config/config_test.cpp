#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>

#include "img2img/config/config_keys.h"
#include "img2img/config/unpaired_defaults.h"
#include "img2img/config/validate.h"
#include "img2img/core/error.h"
#include "img2img/core/path_template.h"

namespace img2img {
namespace {
using ::testing::HasSubstr;
using ::testing::Not;

// Type and range problems of `a`, one rendered line each (range problems without origins).
std::string problems_of(const std::vector<ConfigAssignment>& a, bool check_paths = false) {
  std::vector<ConfigProblem> problems;
  const RunConfig c = apply_config(a, {}, &problems);
  ValidateOptions v;
  v.check_paths = check_paths;
  for (const auto& p : config_problems(c, v)) problems.push_back(p);
  std::string all;
  for (const auto& p : problems) all += format_config_problem(p) + "\n";
  return all;
}

TEST(ConfigTest, DefaultsAreValidAndFollowTheSpec) {
  RunConfig c;
  ValidateOptions v;
  v.check_paths = false;
  EXPECT_TRUE(config_problems(c, v).empty());
  EXPECT_EQ(c.data.image_size, 256);
  EXPECT_EQ(c.data.batch_size, 1);
  EXPECT_DOUBLE_EQ(c.train.learning_rate, 0.0002);
  EXPECT_DOUBLE_EQ(c.train.beta1, 0.5);
  EXPECT_DOUBLE_EQ(c.generator.l1_lambda, 100.0);
  EXPECT_EQ(c.discriminator.layers, 3);
  EXPECT_EQ(c.generator.down_activation, Activation::kLeakyRelu);
}

TEST(ConfigTest, TomlRoundTripReproducesEveryKey) {
  RunConfig c;
  c.data.image_size = 128;
  c.data.input_dir = "some dir/with spaces";
  c.data.crop = 0.75;
  c.generator.down_activation = Activation::kSilu;
  c.train.learning_rate = 1.5e-5;
  c.output.onnx_dynamic_axes = false;
  const std::string toml = config_to_toml(c);
  const RunConfig back = apply_config(parse_config_text(toml, "round trip"));
  EXPECT_EQ(config_to_toml(back), toml);
  EXPECT_EQ(back.data.input_dir, "some dir/with spaces");
  EXPECT_DOUBLE_EQ(back.train.learning_rate, 1.5e-5);
  EXPECT_EQ(back.generator.down_activation, Activation::kSilu);
  EXPECT_FALSE(back.output.onnx_dynamic_axes);
}

TEST(ConfigTest, SectionsMapToKeys) {
  const auto a = parse_config_text("[data]\nimage_size = 64\n[generator]\nlayers = 5 # comment\nnorm = 'instance'\n", "t");
  const RunConfig c = apply_config(a);
  EXPECT_EQ(c.data.image_size, 64);
  EXPECT_EQ(c.generator.layers, 5);
  EXPECT_EQ(c.generator.norm, NormKind::kInstance);
}

TEST(ConfigTest, UnknownKeySuggestsTheClosest) {
  const std::string p = problems_of({{"data.imag_size", "64", "cfg.toml"}, {"layers", "3", "cfg.toml"}});
  EXPECT_THAT(p, HasSubstr("cfg.toml: unknown key 'data.imag_size'; did you mean 'data.image_size'?"));
  EXPECT_THAT(p, HasSubstr("unknown key 'layers'; did you mean 'generator.layers'?"));
}

// Names users bring along map to our key, not to the nearest spelling: the reference pix2pix code's
// options ("lr" used to suggest train.rho), a key in the wrong section, dashes for underscores.
TEST(ConfigTest, UnknownKeyFromPix2pixOrAnotherSectionNamesOurKey) {
  const std::string p = problems_of({{"train.lr", "0.001", "cfg.toml:2"},
                                     {"lambda_L1", "50", "command line"},
                                     {"train.batch_size", "4", "cfg.toml:3"},
                                     {"image-size", "64", "command line"},
                                     {"n_epochs", "5", "command line"},
                                     {"continue_train", "true", "command line"}});
  EXPECT_THAT(p, HasSubstr("unknown key 'train.lr'; did you mean 'train.learning_rate'? (pix2pix's --lr)"));
  EXPECT_THAT(p, HasSubstr("unknown key 'lambda_L1'; did you mean 'generator.l1_lambda'? (pix2pix's --lambda_L1)"));
  EXPECT_THAT(p, HasSubstr("unknown key 'train.batch_size'; did you mean 'data.batch_size'?"));
  EXPECT_THAT(p, HasSubstr("unknown key 'image-size'; did you mean 'data.image_size'?"));
  EXPECT_THAT(p, HasSubstr("did you mean 'train.max_iterations'? (pix2pix's --n_epochs: max_iterations is the "
                           "total, pix2pix's n_epochs + n_epochs_decay)"));
  EXPECT_THAT(p, HasSubstr("unknown key 'continue_train'; pix2pix's --continue_train is `img2img train --resume "
                           "RUN_FOLDER` here"));
  EXPECT_THAT(p, Not(HasSubstr("train.rho")));
}

// Every Houdini node label in docs/houdini-parameters.md that is unique there and has a key in its row
// leads to that key when typed as a flag ("--input-batch-size"): the table is the reference.
TEST(ConfigTest, EveryHoudiniLabelLeadsToTheKeyOfItsRow) {
  std::ifstream in(std::filesystem::path(IMG2IMG_SOURCE_DIR) / "docs" / "houdini-parameters.md");
  ASSERT_TRUE(in) << "docs/houdini-parameters.md";
  std::vector<std::pair<std::string, std::string>> rows;  // label, key
  std::map<std::string, int> label_count;
  const std::regex row(R"(^\| *[0-9]+ *\| *([^|]+?) *\| *`([a-z_]+\.[a-z_0-9]+)`)");
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (!std::regex_search(line, m, row) || find_config_key(m[2]) == nullptr) continue;
    rows.emplace_back(m[1], m[2]);
    ++label_count[m[1]];
  }
  ASSERT_GE(rows.size(), 50u) << "the table's rows were not found";
  int checked = 0;
  for (const auto& [label, key] : rows) {
    if (label_count[label] > 1) continue;  // "Layers", "Kernel Size": one label in two sections
    std::string flag = label.substr(0, label.find(" ("));  // "Algorithm (optimizer)": the label is "Algorithm"
    for (char& c : flag) c = c == ' ' ? '-' : c;
    EXPECT_THAT(suggest_config_key(flag), HasSubstr("'" + key + "'")) << "label '" << label << "'";
    ++checked;
  }
  EXPECT_GE(checked, 40);
}

TEST(ConfigTest, WrongTypesNameTheExpectedType) {
  const std::string p = problems_of({{"data.image_size", "big", "f"},
                                     {"data.shuffle", "maybe", "f"},
                                     {"train.learning_rate", "nan", "f"},
                                     {"generator.norm", "group", "f"}});
  EXPECT_THAT(p, HasSubstr("data.image_size = 'big': expected an integer 4..8192; default 256\n"));
  EXPECT_THAT(p, HasSubstr("data.shuffle = 'maybe': expected true or false\n"));
  EXPECT_THAT(p, HasSubstr("train.learning_rate = 'nan': expected a finite number > 0; default 0.0002\n"));
  EXPECT_THAT(p, HasSubstr("generator.norm = 'group': expected one of: batch, instance, none\n"));
}

// A value that is not a number names what the key accepts, in the words of its range check, and its default:
// integers and numbers, from a file (KEY = 'VALUE') and from the command line (--KEY 'VALUE').
TEST(ConfigTest, NotANumberNamesTheRangeAndTheDefault) {
  const std::string file = problems_of({{"train.learning_rate", "abc", "f"},
                                        {"data.batch_size", "two", "f"},
                                        {"data.flip_horizontal", "often", "f"},
                                        {"generator.layers", "7.5", "f"}});
  EXPECT_THAT(file, HasSubstr("f: train.learning_rate = 'abc': expected a number > 0; default 0.0002\n"));
  EXPECT_THAT(file, HasSubstr("f: data.batch_size = 'two': expected an integer >= 1; default 1\n"));
  EXPECT_THAT(file, HasSubstr("f: data.flip_horizontal = 'often': expected a number: a probability in [0, 1] "
                              "(0 = off); default 0.0\n"));
  // A derived default says what it follows.
  EXPECT_THAT(file,
              HasSubstr("f: generator.layers = '7.5': expected an integer 1..16; default follows data.image_size"));
  const std::string flags = problems_of({{"train.beta1", "half", "command line"},
                                         {"device.cpu_threads", "all", "command line"},
                                         {"distributed.timeout", "5m", "command line"}});
  EXPECT_THAT(flags, HasSubstr("command line: --train.beta1 'half': expected a number [0, 1); default 0.5\n"));
  EXPECT_THAT(flags, HasSubstr("command line: --device.cpu_threads 'all': expected an integer 0..1024; default 0\n"));
  // A check that names the default already is not followed by a second one.
  EXPECT_THAT(flags, HasSubstr("command line: --distributed.timeout '5m': expected a number: seconds in [1, 604800] "
                               "(default 300)\n"));
  // 0 is in generator.max_layer_size's range (its check used to state 1..8192 only).
  EXPECT_THAT(problems_of({{"generator.max_layer_size", "wide", "f"}}),
              HasSubstr("generator.max_layer_size = 'wide': expected an integer 0..8192 (0 = data.image_size); "
                        "default 0\n"));
  EXPECT_THAT(problems_of({{"generator.max_layer_size", "-1", "f"}}),
              HasSubstr("generator.max_layer_size = -1: expected 0..8192 (0 = data.image_size)\n"));
  EXPECT_EQ(problems_of({{"generator.max_layer_size", "0", "f"}, {"generator.max_layer_size", "8192", "f"}}), "");
  // The default is that of the base the values apply to (unpaired runs: l1_lambda 10).
  std::vector<ConfigProblem> problems;
  apply_config({{"generator.l1_lambda", "x", "f"}}, unpaired_defaults(), &problems);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].message, "generator.l1_lambda = 'x': expected a number >= 0; default 10.0");
}

// Type and range problems still come all at once, the not-a-number ones beside the out-of-range ones.
TEST(ConfigTest, NotANumberIsReportedWithTheOtherProblems) {
  std::vector<ConfigAssignment> a = parse_config_text("[train]\nlearning_rate = \"abc\"\n[data]\nimage_size = 3\n",
                                                      "my.toml");
  a.push_back({"output.onnx_opset", "new", "command line"});
  std::vector<ConfigProblem> problems;
  const RunConfig c = apply_config(a, RunConfig(), &problems);
  ValidateOptions v;
  v.check_paths = false;
  for (const auto& p : config_problems(c, v)) problems.push_back(p);
  std::string all;
  for (const auto& p : problems) all += format_config_problem(p) + "\n";
  EXPECT_EQ(all,
            "my.toml: train.learning_rate = 'abc': expected a number > 0; default 0.0002\n"
            "command line: --output.onnx_opset 'new': expected an integer 11..17; default 17\n"
            "data.image_size = 3: expected 4..8192\n");
}

// Every integer and number key has a range check that config_key_range finds, so every not-a-number error
// names one; a key of another type has none.
TEST(ConfigTest, EveryNumericKeyHasARange) {
  int numeric = 0;
  for (const ConfigKey& k : config_keys()) {
    if (k.type != "integer" && k.type != "number") {
      EXPECT_EQ(config_key_range(k.name), "") << k.name;
      continue;
    }
    ++numeric;
    const std::string range = config_key_range(k.name);
    EXPECT_FALSE(range.empty()) << k.name;
    EXPECT_EQ(range.find("expected"), std::string::npos) << k.name << ": " << range;
  }
  EXPECT_GT(numeric, 30);
  EXPECT_EQ(config_key_range("train.learning_rate"), "> 0");
  EXPECT_EQ(config_key_range("test.batch_size"), ">= 1");  // checked only with testing on
  EXPECT_EQ(config_key_range("no.such_key"), "");
}

TEST(ConfigTest, AllRangeProblemsAreReportedAtOnce) {
  const std::string p = problems_of({{"data.crop", "1.5", "f"},
                                     {"data.flip_horizontal", "-0.1", "f"},
                                     {"data.channel_count", "5", "f"},
                                     {"train.learning_rate", "-1", "f"},
                                     {"output.onnx_opset", "9", "f"},
                                     {"device.device", "gpu", "f"}});
  EXPECT_THAT(p, HasSubstr("data.crop = 1.5"));
  EXPECT_THAT(p, HasSubstr("data.flip_horizontal = -0.1: expected a probability in [0, 1]"));
  EXPECT_THAT(p, HasSubstr("data.channel_count = 5: expected 1..4"));
  EXPECT_THAT(p, HasSubstr("train.learning_rate = -1: expected > 0"));
  EXPECT_THAT(p, HasSubstr("output.onnx_opset = 9: expected 11..17"));
  EXPECT_THAT(p, HasSubstr("device.device = 'gpu'"));
}

// Budgets above 2^40 MiB (whose bytes would overflow int64_t: 1e15 MiB logged as a negative budget)
// are rejected with the range (NaN by the parser), for data.* and test.* alike; 2^40 MiB itself is accepted.
TEST(ConfigTest, MemoryBudgetAboveTwoToTheFortyMiBIsRejected) {
  const std::string p = problems_of({{"data.memory_budget_mb", "1e15", "f"},
                                     {"test.enabled", "true", "f"},
                                     {"test.memory_budget_mb", "1e30", "f"}});
  EXPECT_THAT(p, HasSubstr("data.memory_budget_mb = 1000000000000000: expected 0..1099511627776 MiB (0 = half of the "
                           "machine's memory; the maximum is 2^40 MiB)"));
  EXPECT_THAT(p, HasSubstr("test.memory_budget_mb = 1e+30: expected 0..1099511627776 MiB"));
  EXPECT_THAT(problems_of({{"data.memory_budget_mb", "nan", "f"}}),
              HasSubstr("data.memory_budget_mb = 'nan': expected a finite number 0..1099511627776 MiB"));
  EXPECT_THAT(problems_of({{"data.memory_budget_mb", "-1", "f"}}), HasSubstr("data.memory_budget_mb = -1: expected"));
  EXPECT_EQ(problems_of({{"data.memory_budget_mb", "1099511627776", "f"}}), "");
  EXPECT_EQ(problems_of({{"data.memory_budget_mb", "0.01", "f"}}), "");
}

// Adadelta's rho is a decay in [0, 1] (not an off switch); a negative seed would wrap to 2^64 - n.
TEST(ConfigTest, RhoAndSeedRangesAreNamed) {
  const std::string p = problems_of({{"train.rho", "1.5", "f"}, {"train.seed", "-1", "f"}});
  EXPECT_THAT(p, HasSubstr("train.rho = 1.5: expected [0, 1] (Adadelta's decay of its running averages; PyTorch "
                           "default 0.9)"));
  EXPECT_THAT(p, ::testing::Not(HasSubstr("0 = off")));
  EXPECT_THAT(p, HasSubstr("train.seed = -1: expected 0..9223372036854775807"));
  EXPECT_EQ(problems_of({{"train.seed", "9223372036854775807", "f"}, {"train.momentum", "2", "f"}}), "");
}

TEST(ConfigTest, TooManyLayersNamesTheLargestAllowed) {
  const std::string p = problems_of({{"data.image_size", "64", "f"}, {"generator.layers", "7", "f"}});
  EXPECT_THAT(p, HasSubstr("generator.layers = 7 needs 2^7 = 128 <= data.image_size = 64; the largest allowed value "
                           "for this image size is 6."));
  const std::string q = problems_of({{"data.image_size", "96", "f"}, {"generator.layers", "6", "f"}});
  EXPECT_THAT(q, HasSubstr("data.image_size = 96 is not divisible by 2^generator.layers = 64"));
}

// An odd size names the image size and even sizes, not a generator.layers the user never set.
TEST(ConfigTest, OddImageSizeSaysItMustBeEven) {
  const std::string p = problems_of({{"data.image_size", "65", "f"}});
  EXPECT_THAT(p, HasSubstr("data.image_size = 65 is odd; every U-Net layer halves the image exactly, so it must be "
                           "even, best a multiple of 32 or more (e.g. 64 or 96)."));
  EXPECT_THAT(p, ::testing::Not(HasSubstr("2^generator.layers")));
  // Below 32 there is one multiple of 32 to offer, named once (it said "e.g. 32 or 32").
  const std::string q = problems_of({{"data.image_size", "7", "f"}});
  EXPECT_THAT(q, HasSubstr("data.image_size = 7 is odd; every U-Net layer halves the image exactly, so it must be "
                           "even, best a multiple of 32 or more (e.g. 32)."));
  EXPECT_THAT(problems_of({{"data.image_size", "33", "f"}}), HasSubstr("(e.g. 32 or 64)."));
}

// A PatchGAN that shrinks the image to nothing: the fixes offered must each work (it said "use at most
// 1 layers" when 1 layer did not fit either).
TEST(ConfigTest, TooSmallForTheDiscriminatorOffersFixesThatWork) {
  const std::string p = problems_of({{"data.image_size", "4", "f"}, {"generator.layers", "2", "f"},
                                     {"discriminator.layers", "1", "f"}});
  EXPECT_THAT(p, HasSubstr("discriminator.layers = 1 with kernel_size 4 shrinks a 4 px image to nothing; use "
                           "discriminator.kernel_size <= 3, or data.image_size >= 8."));  // a multiple of 2^2
  const std::string q = problems_of({{"data.image_size", "8", "f"}, {"generator.layers", "2", "f"}});
  EXPECT_THAT(q, HasSubstr("discriminator.layers = 3 with kernel_size 4 shrinks a 8 px image to nothing; use "
                           "discriminator.layers <= 1, discriminator.kernel_size <= 3, or data.image_size >= 24."));
  // Each offered value passes.
  for (const auto& fix : std::vector<std::pair<std::string, std::string>>{
           {"discriminator.kernel_size", "3"}, {"discriminator.layers", "1"}, {"data.image_size", "24"}})
    EXPECT_EQ(problems_of({{"data.image_size", "8", "f"}, {"generator.layers", "2", "f"}, {fix.first, fix.second, "f"}}),
              "")
        << fix.first;
  EXPECT_EQ(problems_of({{"data.image_size", "4", "f"}, {"generator.layers", "2", "f"},
                         {"discriminator.layers", "1", "f"}, {"discriminator.kernel_size", "3", "f"}}),
            "");
}

// Early stopping needs the test SSIM: a target with testing off was silently ignored.
TEST(ConfigTest, TargetSsimWithoutTestingIsAProblemNamingBothKeysAndTheFix) {
  EXPECT_EQ(problems_of({{"test.target_ssim", "0.8", "f"}}),
            "test.target_ssim = 0.8 has no effect with test.enabled = false: early stopping compares the test SSIM, "
            "which is measured only when testing is on. Set test.enabled = true with test data, or turn early "
            "stopping off with --test.target_ssim=0 (also for a --resume of a run that saved it).\n");
  EXPECT_EQ(problems_of({{"test.target_ssim", "0.8", "f"}, {"test.enabled", "true", "f"}}), "");
  EXPECT_EQ(problems_of({{"test.target_ssim", "0", "f"}, {"test.enabled", "false", "f"}}), "");
  // Out of range and testing off: both problems at once.
  const std::string p = problems_of({{"test.target_ssim", "1.5", "f"}});
  EXPECT_THAT(p, HasSubstr("test.target_ssim = 1.5: expected [0, 1] (0 = off)"));
  EXPECT_THAT(p, HasSubstr("test.target_ssim = 1.5 has no effect with test.enabled = false"));
}

TEST(ConfigTest, UnknownTemplateNameIsAnError) {
  const std::string p = problems_of({{"output.model_path", "out/{netwrk}_{iteration}.pt", "f"}});
  EXPECT_THAT(p, HasSubstr("output.model_path = 'out/{netwrk}_{iteration}.pt': unknown {netwrk}; allowed: {run_dir}, "
                           "{network}, {index}, {iteration}"));
  const std::string q = problems_of({{"output.run_dir", "runs/{iteration}", "f"}});
  EXPECT_THAT(q, HasSubstr("unknown {iteration}; allowed: {date}, {time}"));
}

TEST(ConfigTest, MissingDataPathsAreReported) {
  const std::string p = problems_of({{"data.input_dir", "/no/such/folder", "f"}}, /*check_paths=*/true);
  EXPECT_THAT(p, HasSubstr("data.input_dir = '/no/such/folder': no such folder"));
  EXPECT_THAT(p, HasSubstr("data.reference_dir is empty but data.input_type = multiple_paired needs it"));
}

TEST(ConfigTest, ApplyConfigThrowsOneErrorListingAll) {
  try {
    apply_config({{"a.b", "1", "x"}, {"data.image_size", "q", "x"}});
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), HasSubstr("2 configuration problems"));
  }
}

// The message of the ConfigError that parse_config_text throws for `text`, or "" if it parses.
std::string syntax_error_of(const std::string& text) {
  try {
    parse_config_text(text, "bad.toml");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(ConfigSyntaxTest, BrokenLinesNameTheFileTheLineAndTheFix) {
  EXPECT_THAT(syntax_error_of("# c\n[data\nimage_size = 64\n"),
              HasSubstr("cannot parse config 'bad.toml', line 2: section header '[data' has no closing ']'; "
                        "write '[data]'"));
  EXPECT_THAT(syntax_error_of("[data]\nimage_size = 64\nbatch_size = 2\nimage_size = 32\n"),
              HasSubstr("'bad.toml', line 4: duplicate key 'data.image_size' (first set on line 2); keep one"));
  EXPECT_THAT(syntax_error_of("[data]\ninput_dir = \"abc\nimage_size = 64\n"),
              HasSubstr("'bad.toml', line 2: 'input_dir = \"abc': the string has no closing double (\") quote"));
  EXPECT_THAT(syntax_error_of("[data]\n\nimage_size 64\n"),
              HasSubstr("'bad.toml', line 3: 'image_size 64' is not 'key = value' (no '='); write 'image_size = 64'"));
  EXPECT_THAT(syntax_error_of("[train]\nseed =\n"), HasSubstr("line 2: 'seed =' has no value after '='"));
  EXPECT_THAT(syntax_error_of("[[data]]\n"), HasSubstr("line 1: '[[data]]': arrays of tables"));
  EXPECT_THAT(syntax_error_of("[data] x\n"), HasSubstr("line 1: unexpected 'x' after the section header '[data]'"));
  // Several problems are listed together, each with its line.
  EXPECT_THAT(syntax_error_of("[data\nimage_size 64\n"),
              HasSubstr("'bad.toml': 2 syntax problems:\n  - line 1: section header '[data'"));
}

TEST(ConfigSyntaxTest, ValidTomlStillParses) {
  // Comments after headers and values, quotes of both kinds, '=' without spaces, blank lines,
  // a multi-line array, a dotted key at the top level.
  const auto a = parse_config_text(
      "output.run_dir = \"r\"  # top-level dotted key\n[data] # inputs\ninput_dir = \"x y\" # c\n"
      "reference_dir='z'\n\n  image_size=64\n[train]\nscheduler = [\"linear\",\n]\n",
      "ok.toml");
  ASSERT_EQ(a.size(), 5u);
  EXPECT_EQ(a[0].key, "output.run_dir");
  EXPECT_EQ(a[1].key, "data.input_dir");
  EXPECT_EQ(a[1].value, "x y");
  EXPECT_EQ(a[2].value, "z");
  EXPECT_EQ(a[3].key, "data.image_size");
  EXPECT_EQ(a[3].value, "64");
  EXPECT_EQ(a[4].key, "train.scheduler");
  EXPECT_EQ(syntax_error_of(config_to_toml(RunConfig{})), "");
}

TEST(ConfigSyntaxTest, ByteOrderMarkNulBytesAndFolders) {
  // A UTF-8 BOM (Windows editors) is skipped; the first line still parses.
  const auto a = parse_config_text("\xEF\xBB\xBF[data]\nimage_size = 64\n", "bom.toml");
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].key, "data.image_size");
  EXPECT_EQ(a[0].value, "64");
  // A binary file is named as such, with the line of its first NUL byte.
  EXPECT_THAT(syntax_error_of(std::string("[data]\nimage_size = 6\0\x01\n", 24)),
              HasSubstr("config 'bad.toml' is not a text file: it holds a NUL byte on line 2"));
  // A folder given as --config is named as a folder.
  const auto dir = std::filesystem::temp_directory_path() / "img2img_config_folder_test";
  std::filesystem::create_directories(dir);
  try {
    read_config_file(dir.string());
    ADD_FAILURE() << "a folder was read as a config file";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), HasSubstr("config file '" + dir.string() + "' is a folder; --config expects a TOML file"));
  }
  std::filesystem::remove_all(dir);
}

TEST(ConfigSyntaxTest, HashInsideAStringIsPartOfTheValue) {
  // CLI11 2.1 alone cuts "a#b" to "a"; a path with '#' written by `img2img config` or saved with a
  // checkpoint must read back whole.
  const auto a = parse_config_text("[data]\ninput_dir = \"/d/#1\" # a comment\nreference_dir = 'r#2'\n", "h.toml");
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a[0].value, "/d/#1");
  EXPECT_EQ(a[1].value, "r#2");
  RunConfig c;
  c.data.input_dir = "in#put";
  c.output.run_dir = "runs/#{iteration}";
  const RunConfig back = apply_config(parse_config_text(config_to_toml(c), "round trip"));
  EXPECT_EQ(back.data.input_dir, "in#put");
  EXPECT_EQ(back.output.run_dir, "runs/#{iteration}");
}

TEST(ConfigSyntaxTest, FileAssignmentsCarryTheirLine) {
  const auto dir = std::filesystem::temp_directory_path() / "img2img_config_lines_test";
  std::filesystem::create_directories(dir);
  const auto path = (dir / "lines.toml").string();
  std::ofstream(path) << "[data]\n\nimage_size = 64\nimag_size = 3\n";
  const auto a = read_config_file(path);
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a[1].origin, path + ":4");
  EXPECT_THAT(problems_of(a), HasSubstr(path + ":4: unknown key 'data.imag_size'; did you mean 'data.image_size'?"));
  std::filesystem::remove_all(dir);
}

TEST(PathTemplateTest, ExpandsNamesAndEnvironment) {
  ::setenv("IMG2IMG_TEST_ROOT", "/tmp/root", 1);
  const std::string out = expand_template("$IMG2IMG_TEST_ROOT/${IMG2IMG_TEST_ROOT}/{network}_{iteration}.pt",
                                          {{"network", "generator"}, {"iteration", "12"}});
  EXPECT_EQ(out, "/tmp/root//tmp/root/generator_12.pt");
  EXPECT_THROW(expand_template("{nope}", {{"network", "g"}}), ConfigError);
  EXPECT_THROW(expand_template("$IMG2IMG_SURELY_UNSET_VAR/x", {}), ConfigError);
}

}  // namespace
}  // namespace img2img
