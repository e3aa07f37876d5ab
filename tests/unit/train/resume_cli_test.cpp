// `img2img train --resume` on the command line (issue review of #4/#8): an empty value is an error,
// a contradiction from a --config file names FILE:LINE, and relative data folders of the checkpoint's
// saved configuration, resolved from another folder, get a note saying where they came from.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fmt/format.h>      // fmt::format
#include <opencv2/core.hpp>  // cv::Mat, cv::RNG

#include "img2img/core/atomic_file.h"
#include "img2img/data/image_io.h"
#include "support/test_support.h"

namespace img2img {
namespace {
namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

class ResumeCliTest : public test::TempDirTest {
 protected:
  void SetUp() override {
    test::TempDirTest::SetUp();
    cv::RNG rng(7);
    for (int i = 0; i < 4; ++i) {
      cv::Mat x(32, 32, CV_32FC3);
      rng.fill(x, cv::RNG::UNIFORM, 0.0, 1.0);
      write_image(dir_ / "in" / fmt::format("{}.png", i), x, PixelDepth::k8);
      write_image(dir_ / "ref" / fmt::format("{}.png", i), x, PixelDepth::k8);
    }
    // A tiny run's config with relative data folders and run folder (relative to dir_).
    write_file_atomic(dir_ / "base.toml",
                      "[data]\ninput_dir = \"in\"\nreference_dir = \"ref\"\nimage_size = 32\n"
                      "[train]\nmax_iterations = 1\n"
                      "[generator]\nlayers = 5\ninitial_layer_size = 8\n"
                      "[discriminator]\nlayers = 2\ninitial_layer_size = 8\n"
                      "[test]\nenabled = false\n"
                      "[output]\nrun_dir = \"runs/r\"\nonnx_path = \"\"\n"
                      "[plot]\ntype = \"disabled\"\n"
                      "[device]\ndevice = \"cpu\"\n");
  }

  // `img2img train --plain-progress ARGS`, run in folder `cwd`; returns the exit code.
  static int train_in(const fs::path& cwd, const std::string& args, std::string* out) {
    return test::run_command(fmt::format("cd '{}' && {} train --plain-progress {}", cwd.string(),
                                         test::img2img_binary(), args),
                             out);
  }
};

// `--resume=` / `--resume ''` (an unset variable) with a valid --config: an error, not a new run.
TEST_F(ResumeCliTest, EmptyResumeIsAnError) {
  for (const char* flag : {"--resume=", "--resume ''", "--resume ' '"}) {
    SCOPED_TRACE(flag);
    std::string out;
    EXPECT_EQ(train_in(dir_, fmt::format("{} --config base.toml", flag), &out), 1) << out;
    EXPECT_THAT(out, HasSubstr("error: --resume needs a run folder or checkpoint file, got an empty value")) << out;
    EXPECT_FALSE(fs::exists(dir_ / "runs")) << out;
  }
}

TEST_F(ResumeCliTest, ContradictionsNameTheConfigLineAndRelativePathsTheirSource) {
  std::string out;
  ASSERT_EQ(train_in(dir_, "--config base.toml", &out), 0) << out;
  // A --config file that contradicts the checkpoint: FILE:LINE and both values.
  write_file_atomic(dir_ / "bigger.toml", "[train]\nmax_iterations = 2\n[data]\nimage_size = 64\n");
  EXPECT_EQ(train_in(dir_, "--resume runs/r --config bigger.toml", &out), 1) << out;
  EXPECT_THAT(out, HasSubstr("data.image_size = 64 (from bigger.toml:4) contradicts the checkpoint's "
                             "data.image_size = 32"));
  EXPECT_THAT(out, HasSubstr("remove the contradicting settings (bigger.toml:4)"));
  // Only max_iterations left to fix: no architecture advice.
  EXPECT_EQ(train_in(dir_, "--resume runs/r", &out), 1) << out;
  EXPECT_THAT(out, HasSubstr("train.max_iterations = 1 (from the checkpoint's saved config) but the checkpoint "
                             "already completed 1 iterations"));
  EXPECT_THAT(out, Not(HasSubstr("contradicting")));
  // From another folder the checkpoint's relative data folders do not exist: say where they came from.
  fs::create_directories(dir_ / "elsewhere");
  EXPECT_EQ(train_in(dir_ / "elsewhere", "--resume ../runs/r --train.max_iterations=2", &out), 1) << out;
  EXPECT_THAT(out, HasSubstr("data.input_dir = 'in': no such folder"));
  EXPECT_THAT(out, HasSubstr("Note: data.input_dir = 'in', data.reference_dir = 'ref' are relative paths from the "
                             "checkpoint's saved configuration"));
  EXPECT_THAT(out, HasSubstr("--data.input_dir=PATH --data.reference_dir=PATH"));
  // Giving them works.
  EXPECT_EQ(train_in(dir_ / "elsewhere",
                     "--resume ../runs/r --train.max_iterations=2 --data.input_dir=../in --data.reference_dir=../ref",
                     &out),
            0)
      << out;
}

// A relative --resume names the run's files as the first run (relative output.run_dir) did: relative
// paths, not absolute ones (issue 17's note).
TEST_F(ResumeCliTest, ResumedRunNamesItsFilesAsTheFirstRunDid) {
  std::string first, resumed;
  ASSERT_EQ(train_in(dir_, "--config base.toml --device.cpu_threads=1", &first), 0) << first;
  EXPECT_THAT(first, HasSubstr("\ncheckpoint: runs/r/checkpoints/generator_0_1.pt\n"));
  EXPECT_THAT(first, HasSubstr("\noutputs: runs/r/outputs.json\n"));
  ASSERT_EQ(train_in(dir_, "--resume runs/r --train.max_iterations=2 --device.cpu_threads=1", &resumed), 0)
      << resumed;
  EXPECT_THAT(resumed, HasSubstr("run folder: runs/r\n"));
  EXPECT_THAT(resumed, HasSubstr("continuing run runs/r after iteration 1"));
  EXPECT_THAT(resumed, HasSubstr("\ncheckpoint: runs/r/checkpoints/generator_0_2.pt\n"));
  EXPECT_THAT(resumed, HasSubstr("\nreport: runs/r/report.html\n"));
  EXPECT_THAT(resumed, HasSubstr("\noutputs: runs/r/outputs.json\n"));
  EXPECT_THAT(resumed, Not(HasSubstr(dir_.string()))) << resumed;
}

}  // namespace
}  // namespace img2img
