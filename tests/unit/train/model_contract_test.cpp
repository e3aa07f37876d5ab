// The model contract (models/gan_model.h): a third model of a few lines, unknown to the loop, runs
// through the one training loop with checkpoints, --resume and early stop, proving the loop does not
// know which model it runs.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fmt/format.h>
#include <opencv2/core.hpp>
#include <torch/nn/functional/loss.h>

#include "img2img/core/atomic_file.h"
#include "img2img/data/image_io.h"
#include "img2img/models/factory.h"
#include "img2img/models/gan_model.h"
#include "img2img/run/checkpoint.h"
#include "img2img/run/resume_point.h"
#include "img2img/train/training_loop.h"
#include "support/test_support.h"

namespace img2img {
namespace {
namespace fs = std::filesystem;
using ::testing::HasSubstr;
using test::TempDirTest;

// A generator alone trained with L1 to the reference: no discriminator, one parameter group.
class L1OnlyModel : public GanModel {
 public:
  L1OnlyModel(const UnetGeneratorOptions& options, const torch::Device& device) : g_(options) { g_->to(device); }
  std::vector<NamedNetwork> networks() override { return {{"generator", 0, g_.ptr()}}; }
  std::vector<ParameterGroup> parameter_groups() override { return {{"generator", g_->parameters()}}; }
  std::vector<StatisticInfo> statistics() const override { return {{"l1", "L1", 4, "l1", "loss", "l1", true}}; }
  std::vector<double> train_step(const std::vector<torch::Tensor>& batch, StepUpdater& updater) override {
    updater.zero_grad(0);
    const torch::Tensor loss = torch::nn::functional::l1_loss(g_(batch[0]), batch[1]);
    loss.backward();
    updater.step(0);
    return {loss.item<double>()};
  }
  std::vector<UnetGenerator> exported_generators() override { return {g_}; }

 private:
  UnetGenerator g_;
};

class ModelContractTest : public TempDirTest {
 protected:
  // 8 pairs of 16 px: a real photo crop -> a flat mid-grey image (easy to learn: SSIM rises fast).
  RunConfig config() {
    const fs::path in = dir_ / "data" / "in", ref = dir_ / "data" / "ref";
    const auto crops = test::photo_crops(8, 16, /*seed=*/3);
    for (size_t i = 0; i < crops.size(); ++i) {
      const std::string file = fmt::format("{:02d}.png", i);
      write_image(in / file, crops[i], PixelDepth::k8);
      write_image(ref / file, cv::Mat(16, 16, CV_32FC3, cv::Scalar(0.5, 0.5, 0.5)), PixelDepth::k8);
    }
    RunConfig c;
    c.data.input_dir = in.string(), c.data.reference_dir = ref.string();
    c.data.image_size = 16, c.data.batch_size = 4;
    c.generator.layers = 2, c.generator.initial_layer_size = 4, c.generator.dropout = 0;
    c.train.max_iterations = 4, c.train.learning_rate = 0.01;
    c.train.scheduler = SchedulerKind::kStep, c.train.step_size = 1000;  // constant: 2 + resume 2 == 4
    c.output.model_save_rate = 1;
    c.plot.type = PlotType::kCsv;
    c.device.device = "cpu", c.device.cpu_threads = 1;
    return c;
  }

  static ModelRecipe l1_recipe() {
    ModelRecipe r = pix2pix_recipe();  // the paired data and test
    r.model = [](const RunConfig& c, const torch::Device& d) {
      return std::make_unique<L1OnlyModel>(generator_options(c), d);
    };
    return r;
  }

  static TrainOptions quiet() {
    TrainOptions o;
    o.interactive = 0;
    return o;
  }
};

TEST_F(ModelContractTest, AThirdModelTrainsSavesAndResumesBitForBit) {
  RunConfig c = config();
  c.output.run_dir = (dir_ / "four").string();
  const TrainSummary four = run_training(c, quiet(), l1_recipe());
  EXPECT_EQ(four.iterations, 4);
  ASSERT_EQ(four.checkpoints.size(), 4u);  // one network, saved every iteration
  EXPECT_EQ(read_checkpoint_meta(four.checkpoints.back()).network, "generator");
  ASSERT_TRUE(four.last.count("l1"));
  EXPECT_LT(four.last.at("l1"), 0.5);
  EXPECT_FALSE(four.final_onnx.empty());
  EXPECT_TRUE(fs::exists(four.final_onnx));
  EXPECT_THAT(read_file(four.run_dir / "train.log"), HasSubstr("final L1 "));
  EXPECT_THAT(read_file(four.run_dir / "plots" / "loss.csv"), HasSubstr("l1"));

  c.train.max_iterations = 2;
  c.output.run_dir = (dir_ / "two").string();
  const TrainSummary two = run_training(c, quiet(), l1_recipe());
  TrainOptions resume = quiet();
  resume.resume = find_resume_point(two.run_dir);
  EXPECT_EQ(resume.resume->networks.size(), 1u);
  c.train.max_iterations = 4;
  c.output.run_dir = (dir_ / "resumed").string();
  const TrainSummary resumed = run_training(c, resume, l1_recipe());
  EXPECT_EQ(resumed.iterations, 4);
  UnetGenerator a(generator_options(c)), b(generator_options(c)), at_two(generator_options(c));
  load_weights(four.final_generator, *a);
  load_weights(resumed.final_generator, *b);
  load_weights(two.final_generator, *at_two);
  for (size_t i = 0; i < a->parameters().size(); ++i)
    EXPECT_TRUE(torch::equal(a->parameters()[i], b->parameters()[i])) << "parameter " << i;
  EXPECT_FALSE(torch::equal(a->parameters()[0], at_two->parameters()[0])) << "resume trained nothing";
}

TEST_F(ModelContractTest, AThirdModelStopsEarlyAtTheTargetSsim) {
  RunConfig c = config();
  c.output.run_dir = (dir_ / "run").string();
  c.train.max_iterations = 40;
  c.test.enabled = true;
  c.test.input_dir = c.data.input_dir, c.test.reference_dir = c.data.reference_dir;
  c.test.target_ssim = 0.5;
  const TrainSummary s = run_training(c, quiet(), l1_recipe());
  ASSERT_TRUE(s.stopped_early) << "last test SSIM " << s.test_ssim.value_or(-2);
  EXPECT_LT(s.iterations, 40);
  ASSERT_TRUE(s.test_ssim);
  EXPECT_GE(*s.test_ssim, 0.5);
  EXPECT_THAT(s.stop_reason, HasSubstr("reached test.target_ssim 0.5"));
  // The final outputs are written at the early stop.
  EXPECT_EQ(read_checkpoint_meta(s.final_generator).iteration, s.iterations);
}

}  // namespace
}  // namespace img2img
