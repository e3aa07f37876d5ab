// Bad input through the `img2img` binary: each case exits 1 with an "error:" line naming the file
// or value (never "internal error", an abort or a backtrace); odd but valid images train.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fmt/format.h>      // fmt::format
#include <opencv2/core.hpp>  // cv::Mat, cv::RNG

#include <fstream>  // std::ofstream

#include "img2img/core/atomic_file.h"
#include "img2img/data/image_io.h"
#include "support/test_support.h"

namespace img2img {
namespace {
namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

class BadInputCliTest : public test::TempDirTest {
 protected:
  void SetUp() override {
    TempDirTest::SetUp();
    in_ = dir_ / "in", ref_ = dir_ / "ref";
    for (int i = 0; i < 3; ++i) add_pair(fmt::format("{}", i), 32, 32, 3);
  }

  // A random image pair `name`.png of w x h pixels and `channels` channels in in/ and ref/.
  void add_pair(const std::string& name, int w, int h, int channels, PixelDepth depth = PixelDepth::k8,
                const std::string& ext = ".png") {
    cv::Mat x(h, w, CV_32FC(channels));
    cv::RNG rng(static_cast<uint64_t>(w * 131 + h * 7 + channels));
    rng.fill(x, cv::RNG::UNIFORM, 0.0, 1.0);
    write_image(in_ / (name + ext), x, depth);
    write_image(ref_ / (name + ext), x, depth);
  }

  static void write_bytes(const fs::path& path, const std::string& bytes) {
    fs::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary) << bytes;
  }

  // Runs `img2img train` on the tiny model with `flags` appended (a --key=value there replaces the
  // default one); returns the exit code.
  int train(const std::string& flags, std::string* out) {
    const std::vector<std::pair<std::string, std::string>> defaults = {
        {"--data.input_dir", in_.string()},
        {"--data.reference_dir", ref_.string()},
        {"--data.image_size", "32"},
        {"--generator.layers", "5"},
        {"--generator.initial_layer_size", "8"},
        {"--discriminator.layers", "2"},
        {"--discriminator.initial_layer_size", "8"},
        {"--train.max_iterations", "1"},
        {"--output.run_dir", (dir_ / "run").string()},
        {"--output.onnx_path", "''"},
        {"--plot.type", "disabled"},
        {"--test.enabled", "false"},
        {"--device.device", "cpu"}};
    std::string cmd = test::img2img_binary() + " train --plain-progress";
    for (const auto& [key, value] : defaults)
      if (flags.find(key + "=") == std::string::npos) cmd += " " + key + " " + value;
    return test::run_command(cmd + " " + flags, out);
  }

  // A user error: exit 1, "error: " plus every expected fragment, no crash markers.
  static void expect_user_error(int code, const std::string& out, const std::vector<std::string>& fragments) {
    EXPECT_EQ(code, 1) << out;
    EXPECT_THAT(out, HasSubstr("error: ")) << out;
    for (const auto& f : fragments) EXPECT_THAT(out, HasSubstr(f)) << out;
    expect_no_crash(out);
  }
  static void expect_no_crash(const std::string& out) {
    for (const char* bad : {"internal error", "terminate called", "Exception raised from", "Aborted", "Segmentation"})
      EXPECT_THAT(out, Not(HasSubstr(bad))) << out;
  }

  fs::path in_, ref_;
};

TEST_F(BadInputCliTest, MissingAndEmptyFoldersAreNamed) {
  std::string out;
  expect_user_error(train("--data.input_dir=" + (dir_ / "nope").string(), &out), out, {(dir_ / "nope").string()});
  fs::create_directories(dir_ / "empty");
  // The error names the config key of the empty folder (it named the folder alone), every one at once.
  expect_user_error(train("--data.input_dir=" + (dir_ / "empty").string(), &out), out,
                    {"data.input_dir: folder '" + (dir_ / "empty").string() + "' has no images"});
  expect_user_error(train("--data.reference_dir=" + (dir_ / "empty").string() + " --test.enabled=true " +
                              "--test.input_dir=" + (dir_ / "empty").string() + " --test.reference_dir=" + ref_.string(),
                          &out),
                    out,
                    {"2 configuration problems", "data.reference_dir: folder '" + (dir_ / "empty").string() +
                     "' has no images", "test.input_dir: folder '" + (dir_ / "empty").string() + "' has no images"});
  EXPECT_FALSE(fs::exists(dir_ / "run")) << "the run folder was made before the empty folder was found";
}

TEST_F(BadInputCliTest, ClutterOnlyFolderHasNoImages) {
  const fs::path clutter = dir_ / "clutter";
  for (const char* name : {".DS_Store", "._0.png", "Thumbs.db", "notes.txt", ".hidden.png"})
    write_bytes(clutter / name, "x");
  std::string out;
  expect_user_error(train("--data.input_dir=" + clutter.string(), &out), out, {clutter.string(), "no images"});
}

TEST_F(BadInputCliTest, ClutterIsIgnoredAndCounted) {
  for (const char* name : {".DS_Store", "._0.png", "Thumbs.db", "notes.txt"}) write_bytes(in_ / name, "x");
  std::string out;
  EXPECT_EQ(train("", &out), 0) << out;
  EXPECT_THAT(read_file(dir_ / "run" / "train.log"), HasSubstr("ignored"));
}

TEST_F(BadInputCliTest, UnmatchedNamesListUpToTenAndTheCount) {
  for (int i = 0; i < 12; ++i) add_pair(fmt::format("only{:02d}", i), 32, 32, 3);
  for (int i = 0; i < 12; ++i) fs::remove(ref_ / fmt::format("only{:02d}.png", i));
  std::string out;
  // A configuration problem naming both keys and folders, found before any run folder is made.
  expect_user_error(train("", &out), out,
                    {"1 configuration problem:", "data.input_dir and data.reference_dir: input and reference "
                     "folders do not pair up by file name:", "12 only in '" + in_.string() + "': only00.png",
                     "only09.png, ... (12 in all)", "Rename or remove them"});
  EXPECT_THAT(out, Not(HasSubstr("only11"))) << out;
  EXPECT_THAT(out, Not(HasSubstr("run folder:"))) << out;
  EXPECT_FALSE(fs::exists(dir_ / "run"));
}

// The report's case: the default output.run_dir (runs/{date}-{time}), one name differing (a config problem:
// no run folder), then a truncated JPEG in both folders (found while decoding, after "run folder: ..."):
// the folder is removed again and the error's last line says so. runs/ holds no run folder either time.
TEST_F(BadInputCliTest, DataProblemsLeaveNoRunFolder) {
  fs::copy(in_, dir_ / "a");  // 0.png 1.png 2.png
  fs::copy(ref_, dir_ / "b");
  fs::rename(dir_ / "b" / "2.png", dir_ / "b" / "2b.png");
  const std::string cmd = fmt::format(
      "cd '{}' && {} train --plain-progress --data.input_dir=a --data.reference_dir=b --data.image_size=32 "
      "--generator.layers=5 --generator.initial_layer_size=8 --discriminator.layers=2 "
      "--discriminator.initial_layer_size=8 --train.max_iterations=2 --output.onnx_path= --plot.type=disabled "
      "--device.device=cpu",
      dir_.string(), test::img2img_binary());
  std::string out;
  expect_user_error(test::run_command(cmd, &out), out,
                    {"data.input_dir and data.reference_dir: input and reference folders do not pair up by file "
                     "name:", "1 only in 'a': 2.png", "1 only in 'b': 2b.png"});
  EXPECT_THAT(out, Not(HasSubstr("run folder:"))) << out;
  EXPECT_FALSE(fs::exists(dir_ / "runs"));

  fs::rename(dir_ / "b" / "2b.png", dir_ / "b" / "2.png");
  cv::Mat x(32, 32, CV_32FC3, cv::Scalar(0.2, 0.4, 0.6));
  write_image(dir_ / "x.jpg", x, PixelDepth::k8);
  const std::string jpeg = read_file(dir_ / "x.jpg");
  write_bytes(dir_ / "a" / "x.jpg", jpeg.substr(0, jpeg.size() / 2));
  write_bytes(dir_ / "b" / "x.jpg", jpeg.substr(0, jpeg.size() / 2));
  expect_user_error(test::run_command(cmd, &out), out, {"x.jpg", "run folder: runs/"});
  // The last line names the folder the first line named.
  const size_t named = out.find("run folder: runs/") + 12;
  const std::string folder = out.substr(named, out.find('\n', named) - named);
  EXPECT_THAT(out, ::testing::EndsWith("The run folder '" + folder + "' was removed.\n")) << out;
  ASSERT_TRUE(fs::is_directory(dir_ / "runs"));
  EXPECT_TRUE(fs::is_empty(dir_ / "runs")) << "a run folder was left behind";
}

TEST_F(BadInputCliTest, SameStemDifferentExtensionsIsAnError) {
  add_pair("dup", 32, 32, 3);
  fs::copy_file(in_ / "dup.png", in_ / "dup.tif");
  std::string out;
  expect_user_error(train("", &out), out, {"dup.png", "dup.tif"});
}

TEST_F(BadInputCliTest, EmptyTruncatedCorruptAndUnsupportedFilesAreNamed) {
  const std::string png = read_file(in_ / "0.png");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"empty.png", ""},
      {"truncated.png", png.substr(0, png.size() / 2)},
      {"corrupt.png", std::string(300, '\x5a')},
      {"gif.png", std::string("GIF89a\x01\x00\x01\x00\x00\x00\x00;", 19)},
  };
  for (const auto& [name, bytes] : cases) {
    SCOPED_TRACE(name);
    write_bytes(in_ / name, bytes);
    fs::copy_file(in_ / "0.png", ref_ / name, fs::copy_options::overwrite_existing);
    std::string out;
    expect_user_error(train("", &out), out, {name, "The run folder '" + (dir_ / "run").string() + "' was removed."});
    EXPECT_FALSE(fs::exists(dir_ / "run"));  // the run trained nothing: the folder it made is gone
    fs::remove(in_ / name);
    fs::remove(ref_ / name);
  }
}

TEST_F(BadInputCliTest, MixedChannelsDepthsAndSizesTrain) {
  // 1-4 channels, 16-bit and float, non-square, odd-sized and smaller than image_size: all valid.
  add_pair("gray", 32, 32, 1);
  write_bytes(in_ / "two.png", test::gray_alpha_png(32, 32));
  write_bytes(ref_ / "two.png", test::gray_alpha_png(32, 32));
  ASSERT_EQ(read_image(in_ / "two.png").channels, 2);  // grey + alpha
  add_pair("rgba", 32, 32, 4);
  add_pair("deep", 32, 32, 3, PixelDepth::k16);
  add_pair("float", 32, 32, 3, PixelDepth::kFloat, ".tif");
  add_pair("wide", 45, 21, 3);
  add_pair("small", 9, 9, 3);
  std::string out;
  EXPECT_EQ(train("--data.channel_count=3", &out), 0) << out;
  expect_no_crash(out);
}

TEST_F(BadInputCliTest, PairWithDifferentAspectIsNamed) {
  add_pair("odd", 32, 32, 3);
  write_image(ref_ / "odd.png", cv::Mat(16, 40, CV_32FC3, cv::Scalar(0.5, 0.5, 0.5)), PixelDepth::k8);
  std::string out;
  expect_user_error(train("", &out), out, {"odd.png", "aspect"});
}

TEST_F(BadInputCliTest, CompositeWithOddWidthIsNamed) {
  write_image(dir_ / "comp" / "a.png", cv::Mat(32, 63, CV_32FC3, cv::Scalar(0.5, 0.5, 0.5)), PixelDepth::k8);
  std::string out;
  expect_user_error(
      train("--data.input_type=composite_paired --data.composite_dir=" + (dir_ / "comp").string(), &out), out,
      {"a.png", "odd width"});
}

TEST_F(BadInputCliTest, ConfigProblemsAreAllNamed) {
  const fs::path toml = dir_ / "bad.toml";
  write_file_atomic(toml, "[train]\nlearning_rat = 0.1\n[nosuchsection]\nx = 1\n");
  std::string out;
  expect_user_error(train("--config " + toml.string(), &out), out, {"learning_rat", "nosuchsection"});
  write_file_atomic(toml, "[train]\nmax_iterations = \"many\"\n");
  expect_user_error(train("--config " + toml.string(), &out), out, {"train.max_iterations"});

  const std::vector<std::pair<std::string, std::string>> flags = {
      {"--train.learning_rate=nan", "train.learning_rate"},
      {"--train.learning_rate=inf", "train.learning_rate"},
      {"--train.learning_rate=-1", "train.learning_rate"},
      {"--data.flip_horizontal=1.5", "data.flip_horizontal"},
      {"--data.crop=-0.5", "data.crop"},
      {"--data.crop=1", "data.crop"},
      {"--generator.layers=9", "generator.layers"},
      {"--output.model_path={run_dir}/{nosuch}.pt", "{nosuch}"},
      {"--train.max_iterations=abc", "train.max_iterations"},
  };
  for (const auto& [flag, fragment] : flags) {
    SCOPED_TRACE(flag);
    const int code = train(flag, &out);
    EXPECT_NE(code, 0) << out;
    EXPECT_THAT(out, HasSubstr(fragment)) << out;
    expect_no_crash(out);
  }
}

TEST_F(BadInputCliTest, UnwritableRunDirIsReportedBeforeTraining) {
  write_bytes(dir_ / "afile", "x");
  std::string out;
  expect_user_error(train("--output.run_dir=" + (dir_ / "afile" / "run").string(), &out), out,
                    {"output.run_dir", (dir_ / "afile").string()});
  EXPECT_THAT(out, Not(HasSubstr("iteration 1/")));
}

TEST_F(BadInputCliTest, BadCheckpointsAreNamed) {
  std::string out;
  ASSERT_EQ(train("", &out), 0) << out;
  fs::path generator;
  for (const auto& e : fs::recursive_directory_iterator(dir_ / "run"))
    if (e.path().filename().string().rfind("generator", 0) == 0 && e.path().extension() == ".pt" &&
        e.path().string().find(".optim") == std::string::npos)
      generator = e.path();
  ASSERT_FALSE(generator.empty());
  const std::string bin = test::img2img_binary();
  const fs::path image = in_ / "0.png", outdir = dir_ / "out";

  // A file that is no checkpoint at all.
  expect_user_error(test::run_command(fmt::format("{} export --checkpoint {} --output {}", bin, image.string(),
                                                  (dir_ / "g.onnx").string()),
                                      &out),
                    out, {image.string()});
  // Truncated weights beside valid metadata.
  const std::string bytes = read_file(generator);
  write_file_atomic(generator, bytes.substr(0, bytes.size() / 3));
  expect_user_error(test::run_command(fmt::format("{} export --checkpoint {} --output {}", bin, generator.string(),
                                                  (dir_ / "g.onnx").string()),
                                      &out),
                    out, {generator.string()});
  expect_user_error(train("--resume " + generator.string() + " --train.max_iterations=3", &out), out,
                    {generator.string()});
  // Another architecture: the contradicting key is named with both values.
  write_file_atomic(generator, bytes);
  expect_user_error(train("--resume " + generator.string() + " --train.max_iterations=3 --generator.layers=4", &out),
                    out, {"generator.layers = 4", "generator.layers = 5"});
}

}  // namespace
}  // namespace img2img
