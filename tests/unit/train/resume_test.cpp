// img2img train --resume: 3 iterations + resume 3 == 6 in one go (bit for bit, CPU), and flags that
// contradict the checkpoint's architecture are errors naming both values.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fmt/format.h>       // fmt::format
#include <opencv2/core.hpp>   // cv::Mat, cv::randu

#include "img2img/core/error.h"
#include "img2img/data/image_io.h"
#include "img2img/models/factory.h"
#include "img2img/train/checkpoint.h"
#include "img2img/train/trainer.h"
#include "img2img/train/training_state.h"
#include "support/test_support.h"

namespace img2img {
namespace {
namespace fs = std::filesystem;
using ::testing::HasSubstr;

class ResumeTest : public test::TempDirTest {
 protected:
  // 8 random 32 px RGB pairs (reference = a fixed function of the input), 8-bit PNG.
  RunConfig small_config() {
    RunConfig c;
    c.data.input_dir = (dir_ / "in").string(), c.data.reference_dir = (dir_ / "ref").string();
    cv::RNG rng(12345);
    for (int i = 0; i < 8; ++i) {
      cv::Mat x(32, 32, CV_32FC3);
      rng.fill(x, cv::RNG::UNIFORM, 0.0, 1.0);
      write_image(fs::path(c.data.input_dir) / fmt::format("{:02d}.png", i), x, PixelDepth::k8);
      write_image(fs::path(c.data.reference_dir) / fmt::format("{:02d}.png", i), cv::Scalar(1, 1, 1) - x,
                  PixelDepth::k8);
    }
    c.data.image_size = 32, c.data.batch_size = 3;  // 3 steps per iteration, the last one short
    c.data.flip_horizontal = 0.5, c.data.crop = 0.8, c.data.rotation = 0.3;  // mt19937_64 draws
    c.generator.layers = 5, c.generator.initial_layer_size = 8;  // dropout 0.5: torch RNG draws
    c.discriminator.layers = 2, c.discriminator.initial_layer_size = 8;
    c.train.scheduler = SchedulerKind::kStep, c.train.step_size = 2, c.train.gamma = 0.5;
    c.train.seed = 7;
    c.output.model_save_rate = 100;  // only the last iteration
    c.output.onnx_path = "";
    c.plot.type = PlotType::kDisabled;
    c.device.device = "cpu";
    return c;
  }

  static void expect_same_weights(const RunConfig& c, const fs::path& a, const fs::path& b) {
    UnetGenerator ga(generator_options(c)), gb(generator_options(c));
    PatchDiscriminator da(discriminator_options(c)), db(discriminator_options(c));
    const bool gen = a.filename().string().rfind("generator", 0) == 0;
    torch::nn::Module& ma = gen ? static_cast<torch::nn::Module&>(*ga) : *da;
    torch::nn::Module& mb = gen ? static_cast<torch::nn::Module&>(*gb) : *db;
    load_weights(a, ma);
    load_weights(b, mb);
    const auto pa = ma.named_parameters(), pb = mb.named_parameters();
    for (size_t j = 0; j < pa.size(); ++j)
      EXPECT_TRUE(torch::equal(pa[j].value(), pb[j].value())) << a << " " << pa[j].key();
    const auto ba = ma.named_buffers(), bb = mb.named_buffers();
    for (size_t j = 0; j < ba.size(); ++j)
      EXPECT_TRUE(torch::equal(ba[j].value(), bb[j].value())) << a << " " << ba[j].key();
  }
};

TEST_F(ResumeTest, ThreePlusThreeEqualsSix) {
  RunConfig c = small_config();
  for (OptimizerKind kind : {OptimizerKind::kAdam, OptimizerKind::kAsgd}) {
    SCOPED_TRACE(static_cast<int>(kind));
    c.train.optimizer = kind;
    c.train.max_iterations = 6;
    c.output.run_dir = (dir_ / fmt::format("six{}", static_cast<int>(kind))).string();
    const TrainSummary six = train_pix2pix(c, TrainOptions{0});

    c.train.max_iterations = 3;
    c.output.run_dir = (dir_ / fmt::format("three{}", static_cast<int>(kind))).string();
    const TrainSummary three = train_pix2pix(c, TrainOptions{0});
    ASSERT_TRUE(fs::exists(training_state_path(three.final_generator)));

    TrainOptions options{0};
    options.resume = find_resume_point(three.run_dir);  // a run folder: its newest checkpoint
    EXPECT_EQ(options.resume->iteration, 3);
    c.train.max_iterations = 6;
    c.output.run_dir = (dir_ / fmt::format("resumed{}", static_cast<int>(kind))).string();
    check_resume_config(c, *options.resume);
    const TrainSummary resumed = train_pix2pix(c, options);
    EXPECT_EQ(resumed.iterations, 6);
    ASSERT_EQ(six.checkpoints.size(), 2u);
    ASSERT_EQ(resumed.checkpoints.size(), 2u);
    EXPECT_EQ(six.checkpoints[0].filename(), resumed.checkpoints[0].filename());  // iteration 6 in the name
    for (size_t i = 0; i < 2; ++i) expect_same_weights(c, six.checkpoints[i], resumed.checkpoints[i]);
  }
}

TEST_F(ResumeTest, ContradictingArchitectureNamesBothValues) {
  RunConfig c = small_config();
  c.train.max_iterations = 1;
  c.output.run_dir = (dir_ / "run").string();
  const TrainSummary s = train_pix2pix(c, TrainOptions{0});
  const ResumePoint point = find_resume_point(s.final_generator);
  RunConfig changed = c;
  changed.train.max_iterations = 2;
  changed.generator.layers = 4;
  changed.train.optimizer = OptimizerKind::kSgd;
  try {
    check_resume_config(changed, point);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), HasSubstr("generator.layers = 4 contradicts the checkpoint's generator.layers = 5"));
    EXPECT_THAT(e.what(), HasSubstr("train.optimizer = \"sgd\" contradicts the checkpoint's train.optimizer = \"adam\""));
  }
  changed = c;  // same architecture, but nothing left to do
  EXPECT_THROW(check_resume_config(changed, point), ConfigError);
  changed.train.max_iterations = 2;
  EXPECT_NO_THROW(check_resume_config(changed, point));
}

TEST_F(ResumeTest, CheckpointWithoutTrainingStateIsRejected) {
  RunConfig c = small_config();
  c.train.max_iterations = 1;
  c.output.run_dir = (dir_ / "run").string();
  const TrainSummary s = train_pix2pix(c, TrainOptions{0});
  fs::remove(training_state_path(s.final_generator));
  EXPECT_THROW(find_resume_point(s.final_generator), CheckpointError);
}

}  // namespace
}  // namespace img2img
