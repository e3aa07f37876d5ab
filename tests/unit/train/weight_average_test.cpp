// The moving average of the generator's weights (generator.ema_decay, train/weight_average.h): the
// formula against a reference computed here in float64 from recorded weights, the swap, what a run's
// checkpoint, training state and ONNX file hold, and bit-exact resume (also ResumeTest and
// CycleGanTest, which train with the default average).

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fmt/format.h>                      // fmt::format
#include <opencv2/core.hpp>                  // cv::Mat, cv::RNG
#include <torch/csrc/autograd/grad_mode.h>  // torch::NoGradGuard
#include <torch/nn/modules/batchnorm.h>      // torch::nn::BatchNorm1d
#include <torch/nn/modules/linear.h>         // torch::nn::Linear
#include <torch/optim/sgd.h>                 // torch::optim::SGD
#include <torch/serialize/archive.h>         // torch::serialize::InputArchive

#include <algorithm>   // std::min
#include <functional>  // std::function
#include <utility>     // std::pair
#include <vector>      // std::vector

#include "img2img/config/validate.h"
#include "img2img/core/atomic_file.h"
#include "img2img/core/error.h"
#include "img2img/data/image_io.h"
#include "img2img/models/factory.h"
#include "img2img/models/pix2pix_model.h"
#include "img2img/run/checkpoint.h"
#include "img2img/run/resume_point.h"
#include "img2img/train/trainer.h"
#include "img2img/train/weight_average.h"
#include "support/opencv_onnx.h"
#include "support/test_support.h"

namespace img2img {
namespace {
namespace fs = std::filesystem;
using ::testing::HasSubstr;

// A module with parameters, floating buffers (running mean/var) and an integer buffer.
struct TinyNetImpl : torch::nn::Module {
  TinyNetImpl() : linear(register_module("linear", torch::nn::Linear(3, 4))),
                  norm(register_module("norm", torch::nn::BatchNorm1d(4))) {}
  torch::Tensor forward(const torch::Tensor& x) { return norm(linear(x)); }
  torch::nn::Linear linear;
  torch::nn::BatchNorm1d norm;
};
TORCH_MODULE(TinyNet);

// The module's parameters then floating buffers, as float64 copies.
std::vector<torch::Tensor> snapshot(torch::nn::Module& m) {
  std::vector<torch::Tensor> out;
  for (const torch::Tensor& p : m.parameters()) out.push_back(p.detach().to(torch::kFloat64).clone());
  for (const torch::Tensor& b : m.buffers())
    if (b.is_floating_point()) out.push_back(b.detach().to(torch::kFloat64).clone());
  return out;
}

class WeightAverageTest : public test::TempDirTest {};

TEST_F(WeightAverageTest, DecayWarmsUpAsTensorFlow) {
  EXPECT_DOUBLE_EQ(average_decay_at(0.999, 0), 0.1);          // (1 + 0) / (10 + 0)
  EXPECT_DOUBLE_EQ(average_decay_at(0.999, 90), 91.0 / 100);  // still warming up
  EXPECT_DOUBLE_EQ(average_decay_at(0.6, 20), 0.6);           // 21 / 30 = 0.7 > 0.6
}

TEST_F(WeightAverageTest, EqualsAReferenceComputationAfterKSteps) {
  TinyNet net;
  const double decay = 0.6;  // reached at t = 13.5: both sides of the min within 30 steps
  WeightAverage average(net.ptr(), decay);
  std::vector<torch::Tensor> expected = snapshot(*net);  // the average starts at the initial weights
  torch::optim::SGD sgd(net->parameters(), torch::optim::SGDOptions(0.1));
  for (int64_t t = 0; t < 30; ++t) {
    sgd.zero_grad();
    net(torch::randn({5, 3})).pow(2).mean().backward();  // also moves the running statistics
    sgd.step();
    average.update();
    const std::vector<torch::Tensor> w = snapshot(*net);
    const double d = std::min(decay, (1.0 + static_cast<double>(t)) / (10.0 + static_cast<double>(t)));
    for (size_t i = 0; i < w.size(); ++i) expected[i] = d * expected[i] + (1 - d) * w[i];
  }
  EXPECT_EQ(average.steps(), 30);
  ASSERT_EQ(average.averaged().size(), expected.size());
  ASSERT_EQ(expected.size(), 2u + 2u + 2u);  // linear weight, bias; norm weight, bias; running mean, var
  double moved = 0;  // how far the average is from the last weights (it is not a copy of them)
  for (size_t i = 0; i < expected.size(); ++i) {
    const torch::Tensor got = average.averaged()[i].to(torch::kFloat64);
    EXPECT_TRUE(torch::allclose(got, expected[i], /*rtol=*/1e-6, /*atol=*/1e-7))
        << i << ": " << (got - expected[i]).abs().max().item<double>();
    moved = std::max(moved, (got - snapshot(*net)[i]).abs().max().item<double>());
  }
  EXPECT_GT(moved, 1e-3);
  EXPECT_EQ(average.averaged_buffers().size(), 2u);
}

TEST_F(WeightAverageTest, SwapInAndRestoreAreExact) {
  TinyNet net;
  WeightAverage average(net.ptr(), 0.9);
  {
    torch::NoGradGuard no_grad;
    for (const torch::Tensor& p : net->parameters()) p.add_(torch::randn_like(p));
  }
  average.update();
  const std::vector<torch::Tensor> trained = snapshot(*net);
  const int64_t batches = net->norm->num_batches_tracked.item<int64_t>();
  {
    std::vector<WeightAverage> one;
    one.push_back(average);
    const AveragedWeights scope(one);
    const std::vector<torch::Tensor> now = snapshot(*net);
    for (size_t i = 0; i < now.size(); ++i) EXPECT_TRUE(torch::equal(now[i], one[0].averaged()[i].to(torch::kFloat64)));
    EXPECT_THROW(one[0].update(), Error);
  }
  const std::vector<torch::Tensor> back = snapshot(*net);
  for (size_t i = 0; i < back.size(); ++i) EXPECT_TRUE(torch::equal(back[i], trained[i])) << i;
  EXPECT_EQ(net->norm->num_batches_tracked.item<int64_t>(), batches);
}

TEST_F(WeightAverageTest, BadDecayNamesKeyAndFix) {
  RunConfig c;
  c.data.input_dir = c.data.reference_dir = dir_.string();
  for (double bad : {1.0, 0.3, -0.1}) {
    c.generator.ema_decay = bad;
    try {
      validate_config(c);
      FAIL() << "expected ConfigError for " << bad;
    } catch (const ConfigError& e) {
      EXPECT_THAT(e.what(), HasSubstr(fmt::format("generator.ema_decay = {}", bad)));
      EXPECT_THAT(e.what(), HasSubstr("expected 0 (off) or a decay in [0.5, 1)"));
      EXPECT_THAT(e.what(), HasSubstr("--generator.ema_decay=0.999"));
    }
  }
}

// A run's checkpoints against the formula: with one step per iteration, X.pt of iteration 1 is
// 0.1 w0 + 0.9 w1 (w0: the seeded initial weights, rebuilt here; w1: the trained weights kept in the
// training state), and of iteration 2 is d1 avg1 + (1 - d1) w2 with d1 = 2 / 11.
class WeightAverageRunTest : public test::TempDirTest {
 protected:
  RunConfig config() {
    RunConfig c;
    c.data.input_dir = (dir_ / "in").string(), c.data.reference_dir = (dir_ / "ref").string();
    cv::RNG rng(4321);
    for (int i = 0; i < 4; ++i) {
      cv::Mat x(32, 32, CV_32FC3);
      rng.fill(x, cv::RNG::UNIFORM, 0.0, 1.0);
      write_image(fs::path(c.data.input_dir) / fmt::format("{:02d}.png", i), x, PixelDepth::k8);
      write_image(fs::path(c.data.reference_dir) / fmt::format("{:02d}.png", i), cv::Scalar(1, 1, 1) - x,
                  PixelDepth::k8);
    }
    c.data.image_size = 32, c.data.batch_size = 4;  // one step per iteration
    c.generator.layers = 5, c.generator.initial_layer_size = 8, c.generator.ema_decay = 0.999;
    c.discriminator.layers = 2, c.discriminator.initial_layer_size = 8;
    c.train.seed = 3, c.train.max_iterations = 2, c.train.scheduler = SchedulerKind::kStep;
    c.output.model_save_rate = 1;
    c.output.run_dir = (dir_ / "run").string();
    c.plot.type = PlotType::kDisabled;
    c.device.device = "cpu", c.device.cpu_threads = 1;
    return c;
  }

  // The trained generator weights (parameters, floating buffers) kept in the training state of `pt`.
  static std::vector<torch::Tensor> trained_weights(const fs::path& pt) {
    torch::serialize::InputArchive state, own;
    state.load_from(training_state_path(pt).string());
    EXPECT_TRUE(state.try_read("weight_average", own));
    c10::IValue count;
    own.read("count", count);
    std::vector<torch::Tensor> out;
    for (int64_t i = 0; i < count.toInt(); ++i) {
      torch::Tensor t;
      own.read("trained_" + std::to_string(i), t, /*is_buffer=*/true);
      out.push_back(t.to(torch::kFloat64));
    }
    return out;
  }

  // Trains `c` for 4 iterations in one go and for 2, then resumes the 2 to 4 with `change` applied to
  // the configuration (folder "resumed"); returns {one go, resumed}.
  std::pair<TrainSummary, TrainSummary> four_and_two_plus_two(RunConfig c, const std::function<void(RunConfig&)>& change) {
    c.train.max_iterations = 4;
    c.output.run_dir = (dir_ / "four").string();
    TrainSummary four = train_pix2pix(c, TrainOptions{0});
    c.train.max_iterations = 2;
    c.output.run_dir = (dir_ / "two").string();
    const TrainSummary two = train_pix2pix(c, TrainOptions{0});
    TrainOptions options{0};
    options.resume = find_resume_point(two.run_dir);
    c.train.max_iterations = 4;
    c.output.run_dir = (dir_ / "resumed").string();
    change(c);
    return {std::move(four), train_pix2pix(c, options)};
  }

  static std::vector<torch::Tensor> file_weights(const RunConfig& c, const fs::path& pt) {
    UnetGenerator g(generator_options(c));
    load_weights(pt, *g);
    return snapshot(*g);
  }
};

TEST_F(WeightAverageRunTest, CheckpointsHoldTheAverageOfTheTrainedWeights) {
  RunConfig c = config();
  const TrainSummary run = train_pix2pix(c, TrainOptions{0});
  const fs::path pt1 = run.checkpoints.at(0), pt2 = run.checkpoints.at(2);
  ASSERT_EQ(pt1.filename(), "generator_0_1.pt");
  ASSERT_EQ(pt2.filename(), "generator_0_2.pt");
  EXPECT_EQ(read_checkpoint_meta(pt2).average_steps, 2);
  EXPECT_DOUBLE_EQ(read_checkpoint_meta(pt2).average_decay, 0.999);

  torch::manual_seed(static_cast<uint64_t>(c.train.seed));  // as the loop: seed, then build the model
  Pix2PixModel initial(pix2pix_options(c), torch::kCPU);
  const std::vector<torch::Tensor> w0 = snapshot(*initial.generator), w1 = trained_weights(pt1), w2 = trained_weights(pt2);
  const std::vector<torch::Tensor> avg1 = file_weights(c, pt1), avg2 = file_weights(c, pt2);
  ASSERT_EQ(w0.size(), avg1.size());
  ASSERT_EQ(w1.size(), avg1.size());
  const double d1 = 2.0 / 11.0;
  double moved = 0;
  for (size_t i = 0; i < w0.size(); ++i) {
    EXPECT_TRUE(torch::allclose(avg1[i], 0.1 * w0[i] + 0.9 * w1[i], 1e-5, 1e-6)) << i;
    EXPECT_TRUE(torch::allclose(avg2[i], d1 * avg1[i] + (1 - d1) * w2[i], 1e-5, 1e-6)) << i;
    moved = std::max(moved, (avg2[i] - w2[i]).abs().max().item<double>());
  }
  EXPECT_GT(moved, 1e-4);  // X.pt is not the trained weights

  // The run's ONNX file and `infer` use the average: both match the generator loaded from X.pt.
  UnetGenerator averaged(generator_options(c)), trained(generator_options(c));
  load_weights(pt2, *averaged);
  load_weights(pt2, *trained);
  {
    torch::NoGradGuard no_grad;
    const auto t = trained->parameters();
    for (size_t i = 0; i < t.size(); ++i) t[i].copy_(w2[i]);
    const auto b = trained->buffers();
    size_t k = t.size();
    for (const torch::Tensor& buffer : b)
      if (buffer.is_floating_point()) buffer.copy_(w2[k++]);
  }
  averaged->eval();
  trained->eval();
  torch::NoGradGuard no_grad;
  const torch::Tensor x = torch::rand({1, 3, 32, 32});
  const torch::Tensor want = averaged(x * 2 - 1), other = trained(x * 2 - 1);
  ASSERT_GT((want - other).abs().max().item<double>(), 1e-4);
  const torch::Tensor onnx = test::run_onnx_in_opencv(run.final_onnx, x) * 2 - 1;  // [0, 1] graph
  EXPECT_LT((onnx - want).abs().max().item<double>(), 1e-4);
  EXPECT_GT((onnx - other).abs().max().item<double>(), 1e-4);
}

TEST_F(WeightAverageRunTest, ResumeContinuesTheAverageBitForBit) {
  RunConfig c = config();
  c.data.batch_size = 2;  // two steps per iteration
  const auto [four, resumed] = four_and_two_plus_two(c, [](RunConfig&) {});
  const fs::path a = four.final_generator, b = resumed.final_generator;
  ASSERT_EQ(a.filename(), b.filename());
  EXPECT_EQ(read_checkpoint_meta(b).average_steps, 8);
  const std::vector<torch::Tensor> avg_a = file_weights(c, a), avg_b = file_weights(c, b);
  const std::vector<torch::Tensor> w_a = trained_weights(a), w_b = trained_weights(b);
  for (size_t i = 0; i < avg_a.size(); ++i) {
    EXPECT_TRUE(torch::equal(avg_a[i], avg_b[i])) << i;
    EXPECT_TRUE(torch::equal(w_a[i], w_b[i])) << i;
  }
}

// Turned off on resume, training goes on from the trained weights (not the average in X.pt): the
// final X.pt equals the trained weights of a run that kept the average all along (the average does
// not change training), bit for bit; train.log says what changed. Turned on again, the average
// restarts from the resumed weights.
TEST_F(WeightAverageRunTest, ResumeWithTheAverageOffGoesOnFromTheTrainedWeights) {
  RunConfig c = config();
  const auto [four, off] = four_and_two_plus_two(c, [](RunConfig& r) { r.generator.ema_decay = 0; });
  EXPECT_EQ(read_checkpoint_meta(off.final_generator).average_decay, 0);
  const std::vector<torch::Tensor> want = trained_weights(four.final_generator), got = file_weights(c, off.final_generator);
  ASSERT_EQ(want.size(), got.size());
  for (size_t i = 0; i < want.size(); ++i) EXPECT_TRUE(torch::equal(want[i], got[i])) << i;
  EXPECT_THAT(read_file(off.run_dir / "train.log"),
              HasSubstr("generator.ema_decay = 0 (the checkpoint's generator is a moving average, decay 0.999): "
                        "training goes on from the trained weights"));

  TrainOptions again{0};  // and on again from the off run's checkpoint of iteration 4: a fresh average
  again.resume = find_resume_point(off.run_dir);
  c.train.max_iterations = 5;
  c.generator.ema_decay = 0.999;
  c.output.run_dir = (dir_ / "on").string();
  const TrainSummary on = train_pix2pix(c, again);
  EXPECT_EQ(read_checkpoint_meta(on.final_generator).average_steps, 1);
  EXPECT_THAT(read_file(on.run_dir / "train.log"),
              HasSubstr("generator.ema_decay = 0.999 (the checkpoint's generator holds its trained weights, no "
                        "average): the moving average starts from the resumed weights"));
}

TEST_F(WeightAverageRunTest, OffSavesTheTrainedWeights) {
  RunConfig c = config();
  c.generator.ema_decay = 0;
  c.train.max_iterations = 1;
  const TrainSummary run = train_pix2pix(c, TrainOptions{0});
  EXPECT_EQ(read_checkpoint_meta(run.final_generator).average_decay, 0);
  torch::serialize::InputArchive state, own;
  state.load_from(training_state_path(run.final_generator).string());
  EXPECT_FALSE(state.try_read("weight_average", own));
}

}  // namespace
}  // namespace img2img
