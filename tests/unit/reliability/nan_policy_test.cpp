// train.nan_policy: a batch with a huge pixel (3e38 in one float TIFF input: finite, so it passes the
// loader's NaN/inf check, but inf once scaled to [-1, 1]) makes the losses NaN.
// stop (default) ends the run naming the iteration, step and term; skip drops that batch's update
// (weights and batch-norm statistics stay finite), logs a warning event and goes on, until
// train.nan_max_skips consecutive skips stop the run.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fmt/format.h>       // fmt::format
#include <nlohmann/json.hpp>  // nlohmann::json
#include <opencv2/core.hpp>   // cv::Mat, cv::RNG

#include <sstream>  // std::istringstream

#include "img2img/config/unpaired_defaults.h"
#include "img2img/core/atomic_file.h"
#include "img2img/core/error.h"
#include "img2img/data/image_io.h"
#include "img2img/infer/inference.h"
#include "img2img/train/trainer.h"
#include "img2img/train/trainer.h"
#include "support/test_support.h"

namespace img2img {
namespace {
namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

class NanPolicyTest : public test::TempDirTest {
 protected:
  // 8 pairs of 16 px; input 0 is a float TIFF with one 3e38 sample (sorted first: batch 1 of every
  // iteration when not shuffled).
  void SetUp() override {
    TempDirTest::SetUp();
    cv::RNG rng(5);
    for (int i = 0; i < 8; ++i) {
      cv::Mat x(16, 16, CV_32FC3);
      rng.fill(x, cv::RNG::UNIFORM, 0.0, 1.0);
      write_image(dir_ / "ref" / fmt::format("{}.png", i), cv::Scalar(1, 1, 1) - x, PixelDepth::k8);
      if (i == 0) {
        x.at<cv::Vec3f>(5, 7)[1] = 3e38f;  // NaN would be rejected at load (non_finite_pixels_test)
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
  // The iteration means are over the batch used: G_L1 = 100 x L1 of a near-zero output vs references
  // uniform in [-1, 1], about 50 (counting the dropped batch as 0 would halve it), and each
  // iteration event and the run's end count the skipped steps.
  const auto iterations = events("iteration");
  ASSERT_EQ(iterations.size(), 3u);
  for (const auto& it : iterations) {
    EXPECT_EQ(it["skipped_steps"], 1);
    EXPECT_GT(it["g_l1"].get<double>(), 40.0) << it.dump();
    EXPECT_GT(it["score_real"].get<double>() + it["score_fake"].get<double>(), 0.8) << it.dump();
  }
  EXPECT_EQ(events("run_end").at(0)["skipped_steps"], 3);
  const std::string log = read_file(s.run_dir / "train.log");
  EXPECT_THAT(log, HasSubstr("(1 of 2 step(s) skipped)"));
  EXPECT_THAT(log, HasSubstr("done: 3 iterations"));
  EXPECT_THAT(log, HasSubstr("; 3 step(s) skipped for non-finite losses (train.nan_policy = skip)"));
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
  c.plot.type = PlotType::kCsv;
  c.plot.rate = 1;
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
  EXPECT_EQ(events("run_end").at(0)["skipped_steps"], 2);
  // Iterations 1 and 2 used no batch: no made-up zeros, null losses in the event, no plot points.
  const auto iterations = events("iteration");
  ASSERT_EQ(iterations.size(), 2u);
  for (const auto& it : iterations) {
    EXPECT_EQ(it["skipped_steps"], 1);
    for (const char* key : {"g_gan", "g_l1", "d_real", "d_fake", "score_real", "score_fake", "train_ssim"})
      EXPECT_TRUE(it[key].is_null()) << key << " in " << it.dump();
  }
  const std::string log = read_file(dir_ / "run" / "train.log");
  EXPECT_THAT(log, HasSubstr("iteration 1/5  lr 9.9e-06  losses skipped: all 1 step(s) had non-finite losses"));
  EXPECT_THAT(log, Not(HasSubstr("G_L1 0.0000")));
  // No point at all (counted as 0, iterations 1 and 2 would have rows "1,g_gan,0" ...).
  for (const char* plot : {"loss.csv", "score.csv", "ssim.csv"}) {
    const fs::path csv = dir_ / "run" / "plots" / plot;
    EXPECT_TRUE(!fs::exists(csv) || read_file(csv) == "iteration,series,value\n") << read_file(csv);
  }
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
  // Means over the batch used: cycle = l1_lambda (100, from the paired generator settings) x L1 of a
  // reconstruction near 0 vs images uniform in [-1, 1], about 50; counting the dropped batch as 0
  // would halve it.
  for (const auto& it : events("iteration")) {
    EXPECT_EQ(it["skipped_steps"], 1);
    EXPECT_GT(it["cycle"][0].get<double>(), 40.0) << it.dump();
  }
  EXPECT_EQ(events("run_end").at(0)["skipped_steps"], 2);
  GeneratorRunner runner(s.final_generator, "cpu");
  const cv::Mat y = runner.run(cv::Mat(16, 16, CV_32FC3, cv::Scalar(0.3, 0.5, 0.7)));
  EXPECT_TRUE(cv::checkRange(y)) << "non-finite generator output";
}

}  // namespace
}  // namespace img2img
