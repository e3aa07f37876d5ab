// train.nan_policy: a batch with a NaN pixel (one float TIFF input) makes the losses NaN.
// stop (default) ends the run naming the iteration, step and term; skip drops that batch's update
// (weights and batch-norm statistics stay finite), logs a warning event and goes on, until
// train.nan_max_skips consecutive skips stop the run.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fmt/format.h>       // fmt::format
#include <nlohmann/json.hpp>  // nlohmann::json
#include <opencv2/core.hpp>   // cv::Mat, cv::RNG

#include <cmath>    // NAN
#include <sstream>  // std::istringstream

#include "img2img/config/unpaired_defaults.h"
#include "img2img/core/atomic_file.h"
#include "img2img/core/error.h"
#include "img2img/data/image_io.h"
#include "img2img/infer/inference.h"
#include "img2img/train/cycle_gan_trainer.h"
#include "img2img/train/trainer.h"
#include "support/test_support.h"

namespace img2img {
namespace {
namespace fs = std::filesystem;
using ::testing::HasSubstr;

class NanPolicyTest : public test::TempDirTest {
 protected:
  // 8 pairs of 16 px; input 0 is a float TIFF with one NaN pixel (sorted first: batch 1 of every
  // iteration when not shuffled).
  void SetUp() override {
    TempDirTest::SetUp();
    cv::RNG rng(5);
    for (int i = 0; i < 8; ++i) {
      cv::Mat x(16, 16, CV_32FC3);
      rng.fill(x, cv::RNG::UNIFORM, 0.0, 1.0);
      write_image(dir_ / "ref" / fmt::format("{}.png", i), cv::Scalar(1, 1, 1) - x, PixelDepth::k8);
      if (i == 0) {
        x.at<cv::Vec3f>(5, 7)[1] = NAN;
        write_image(dir_ / "in" / "0.tif", x, PixelDepth::kFloat);
      } else {
        write_image(dir_ / "in" / fmt::format("{}.png", i), x, PixelDepth::k8);
      }
    }
  }

  RunConfig config(int64_t iterations, int64_t batch) {
    RunConfig c;
    c.data.input_dir = (dir_ / "in").string(), c.data.reference_dir = (dir_ / "ref").string();
    c.data.image_size = 16, c.data.batch_size = batch, c.data.shuffle = false;
    c.generator.layers = 4, c.generator.initial_layer_size = 4;
    c.discriminator.layers = 1, c.discriminator.initial_layer_size = 4;
    c.train.max_iterations = iterations;
    c.output.run_dir = (dir_ / "run").string();
    c.output.model_save_rate = 1;
    c.output.onnx_path = "";
    c.plot.type = PlotType::kDisabled;
    c.device.device = "cpu";
    return c;
  }

  // The events of type `type` in dir_/events.jsonl.
  std::vector<nlohmann::json> events(const std::string& type) const {
    std::vector<nlohmann::json> out;
    std::istringstream lines(read_file(dir_ / "events.jsonl"));
    for (std::string line; std::getline(lines, line);) {
      const auto j = nlohmann::json::parse(line);
      if (j["event"] == type) out.push_back(j);
    }
    return out;
  }

  TrainOptions options() const {
    TrainOptions o{0};
    o.events = (dir_ / "events.jsonl").string();
    return o;
  }
};

TEST_F(NanPolicyTest, StopIsTheDefaultAndNamesIterationStepAndTerm) {
  const RunConfig c = config(3, 4);
  EXPECT_EQ(c.train.nan_policy, NanPolicy::kStop);
  try {
    train_pix2pix(c, options());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("iteration 1, step 1: the discriminator fake loss became nan"));
  }
  EXPECT_TRUE(events("warning").empty());
}

TEST_F(NanPolicyTest, SkipDropsTheBatchAndTrainsOn) {
  RunConfig c = config(3, 4);
  c.train.nan_policy = NanPolicy::kSkip;
  const TrainSummary s = train_pix2pix(c, options());
  EXPECT_EQ(s.iterations, 3);
  // One skipped batch (step 1) per iteration, each a warning event naming it.
  const auto warnings = events("warning");
  ASSERT_EQ(warnings.size(), 3u);
  for (int64_t i = 0; i < 3; ++i) {
    EXPECT_EQ(warnings[i]["iteration"], i + 1);
    EXPECT_EQ(warnings[i]["step"], 1);
    EXPECT_THAT(warnings[i]["message"].get<std::string>(),
                HasSubstr(fmt::format("iteration {}, step 1: the discriminator fake loss is not finite; batch skipped",
                                      i + 1)));
  }
  EXPECT_EQ(events("run_end").at(0)["status"], "finished");
  // Every checkpoint was written (written only when all weights and buffers are finite), and the
  // final generator gives finite output.
  EXPECT_EQ(s.checkpoints.size(), 6u);
  GeneratorRunner runner(s.final_generator, "cpu");
  cv::Mat x(16, 16, CV_32FC3, cv::Scalar(0.3, 0.5, 0.7));
  const cv::Mat y = runner.run(x);
  EXPECT_TRUE(cv::checkRange(y)) << "non-finite generator output";
}

TEST_F(NanPolicyTest, TooManyConsecutiveSkipsStop) {
  // One batch of all 8 samples: every step has the NaN pixel.
  RunConfig c = config(5, 8);
  c.train.nan_policy = NanPolicy::kSkip;
  c.train.nan_max_skips = 3;
  try {
    train_pix2pix(c, options());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("iteration 3, step 1: the discriminator fake loss became nan"));
    EXPECT_THAT(e.what(), HasSubstr("3 consecutive steps were skipped"));
    EXPECT_THAT(e.what(), HasSubstr("train.nan_max_skips = 3"));
  }
  EXPECT_EQ(events("warning").size(), 2u);
  EXPECT_EQ(events("run_end").at(0)["status"], "failed");
}

TEST_F(NanPolicyTest, SkipWorksForUnpairedRuns) {
  // in/ and ref/ as the two domains: batch 1 of domain A holds the NaN pixel in every iteration.
  RunConfig c = unpaired_defaults();
  const RunConfig paired = config(2, 4);
  c.data.input_type = InputType::kMultipleUnpaired;
  c.data.input_dir = paired.data.input_dir, c.data.reference_dir = paired.data.reference_dir;
  c.data.image_size = 16, c.data.batch_size = 4, c.data.shuffle = false;
  c.generator = paired.generator;
  c.discriminator = paired.discriminator;
  c.train.max_iterations = 2;
  c.train.nan_policy = NanPolicy::kSkip;
  c.output = paired.output;
  c.plot.type = PlotType::kDisabled;
  c.device.device = "cpu";
  c.device.cpu_threads = 1;
  const TrainSummary s = train_cycle_gan(c, options());
  EXPECT_EQ(s.iterations, 2);
  const auto warnings = events("warning");
  ASSERT_EQ(warnings.size(), 2u);
  for (const auto& w : warnings) {
    EXPECT_EQ(w["step"], 1);
    EXPECT_THAT(w["message"].get<std::string>(), HasSubstr("the generator 0 GAN loss is not finite; batch skipped"));
  }
  GeneratorRunner runner(s.final_generator, "cpu");
  const cv::Mat y = runner.run(cv::Mat(16, 16, CV_32FC3, cv::Scalar(0.3, 0.5, 0.7)));
  EXPECT_TRUE(cv::checkRange(y)) << "non-finite generator output";
}

}  // namespace
}  // namespace img2img
