// Unpaired (CycleGAN) training on real photographs: architecture, defaults, learning, outputs.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fmt/format.h>
#include <opencv2/core.hpp>

#include <fstream>
#include <sstream>

#include "img2img/config/config_keys.h"
#include "img2img/config/unpaired_defaults.h"
#include "img2img/core/error.h"
#include "img2img/data/image_io.h"
#include "img2img/data/unpaired_dataset.h"
#include "img2img/infer/inference.h"
#include "img2img/models/factory.h"
#include "img2img/train/checkpoint.h"
#include "img2img/train/cycle_gan_model.h"
#include "img2img/train/cycle_gan_trainer.h"
#include "img2img/train/image_pool.h"
#include "support/opencv_onnx.h"
#include "support/test_support.h"

namespace img2img {
namespace {
namespace fs = std::filesystem;
using ::testing::HasSubstr;
using test::TempDirTest;

int64_t parameter_count(torch::nn::Module& m) {
  int64_t n = 0;
  for (const auto& p : m.parameters()) n += p.numel();
  return n;
}

// Mean of every series value of `series` in a tidy plot CSV (iteration,series,value), by iteration.
std::vector<double> csv_series(const fs::path& csv, const std::string& series) {
  std::ifstream in(csv);
  std::string line;
  std::vector<double> values;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::stringstream row(line);
    std::string it, name, value;
    std::getline(row, it, ','), std::getline(row, name, ','), std::getline(row, value, ',');
    if (name == series) values.push_back(std::stod(value));
  }
  return values;
}

class CycleGanTest : public TempDirTest {
 protected:
  // Domain A: darkened photo crops; domain B: lightened crops of other places (different seeds).
  DataSource write_domains(const std::string& name, int count_a, int count_b, int size) {
    DataSource s;
    s.input_type = InputType::kMultipleUnpaired;
    s.input_dir = (dir_ / name / "dark").string(), s.reference_dir = (dir_ / name / "light").string();
    const auto a = test::photo_crops(count_a, size, 11), b = test::photo_crops(count_b, size, 23);
    for (size_t i = 0; i < a.size(); ++i)
      write_image(fs::path(s.input_dir) / fmt::format("a{:02d}.png", i), a[i] * 0.35, PixelDepth::k8);
    for (size_t i = 0; i < b.size(); ++i) {
      cv::Mat light = b[i] * 0.35 + cv::Scalar(0.65, 0.65, 0.65);
      write_image(fs::path(s.reference_dir) / fmt::format("b{:02d}.png", i), light, PixelDepth::k8);
    }
    return s;
  }

  RunConfig small_config(const DataSource& train) {
    RunConfig c = unpaired_defaults();
    static_cast<DataSource&>(c.data) = train;
    c.data.image_size = 32;
    c.data.batch_size = 2;
    c.generator.layers = 4;
    c.generator.initial_layer_size = 16;
    c.discriminator.initial_layer_size = 16;
    c.discriminator.layers = 2;
    c.train.max_iterations = 4;
    c.train.linear_decay = 2;
    c.output.run_dir = (dir_ / "run").string();
    c.output.model_save_rate = 2;
    c.device.device = "cpu";
    c.device.cpu_threads = 1;  // tiny networks: one thread, no spinning against a busy machine
    return c;
  }
};

TEST_F(CycleGanTest, FourNetworksWithExpectedParameterCountsForTheDefaults) {
  RunConfig c = unpaired_defaults();
  CycleGanModel model(c, torch::kCPU);
  // PatchGAN n_layers 3, ndf 64, instance norm (conv biases on), one 3-channel image: the CycleGAN
  // reference's D (2,764,737 parameters).
  for (auto& d : model.discriminators) EXPECT_EQ(parameter_count(*d), 2764737);
  // U-Net, 8 layers, 64..256 channels (cap = image size, the node's rule), instance norm, 3 -> 3.
  for (auto& g : model.generators) EXPECT_EQ(parameter_count(*g), parameter_count(*model.generators[0]));
  EXPECT_EQ(parameter_count(*model.generators[0]), 16658563);
  EXPECT_FALSE(model.generators[0].ptr() == model.generators[1].ptr());
}

TEST_F(CycleGanTest, UnpairedDefaultsApplyBeforeFileAndFlags) {
  const std::vector<ConfigAssignment> unpaired{{"data.input_type", "multiple_unpaired", "test"},
                                               {"generator.l1_lambda", "5", "test"}};
  const RunConfig c = apply_config(unpaired, base_config_for(unpaired));
  EXPECT_EQ(c.train.gan_loss, GanLoss::kLsgan);
  EXPECT_EQ(c.generator.norm, NormKind::kInstance);
  EXPECT_EQ(c.generator.dropout, 0.0);
  EXPECT_EQ(c.generator.l1_lambda, 5.0) << "a given value wins over the unpaired default";
  const std::vector<ConfigAssignment> paired{{"data.input_type", "multiple_paired", "test"}};
  const RunConfig p = apply_config(paired, base_config_for(paired));
  EXPECT_EQ(p.generator.l1_lambda, 100.0);
  EXPECT_EQ(p.train.gan_loss, GanLoss::kVanilla);
}

TEST_F(CycleGanTest, PairedInputIsAConfigErrorThatSaysSo) {
  RunConfig c = small_config(write_domains("d", 2, 2, 32));
  c.data.input_type = InputType::kMultiplePaired;
  EXPECT_THAT([&] { train_cycle_gan(c); },
              ::testing::ThrowsMessage<ConfigError>(HasSubstr("needs data.input_type = multiple_unpaired")));
  EXPECT_THAT([&] { CycleGanModel(c, torch::kCPU); }, ::testing::Throws<ConfigError>());
}

TEST_F(CycleGanTest, ImagePoolReturnsStoredImagesOnceFull) {
  ImagePool pool(2, 0);
  const torch::Tensor first = torch::zeros({2, 1, 4, 4});
  EXPECT_TRUE(torch::equal(pool.query(first), first)) << "filling: the new images come back";
  EXPECT_EQ(pool.size(), 2);
  int old = 0;
  for (int i = 0; i < 20; ++i) old += pool.query(torch::ones({1, 1, 4, 4})).sum().item<float>() == 0 ? 1 : 0;
  EXPECT_GT(old, 0);
  EXPECT_LT(old, 20);
  ImagePool off(0, 0);
  EXPECT_TRUE(torch::equal(off.query(first), first));
}

TEST_F(CycleGanTest, ShortRunLowersCycleLossAndMovesTowardTheTargetDomain) {
  const DataSource train = write_domains("train", 8, 6, 32);  // domains of different sizes
  RunConfig c = small_config(train);
  c.train.max_iterations = 25;
  c.train.linear_decay = 5;
  c.train.learning_rate = 0.001;
  c.output.model_save_rate = 0;
  c.output.onnx_path = "";
  const TrainSummary s = train_cycle_gan(c);
  ASSERT_EQ(s.iterations, 25);
  const auto cycle0 = csv_series(s.run_dir / "plots/loss.csv", "cycle_0");
  const auto cycle1 = csv_series(s.run_dir / "plots/loss.csv", "cycle_1");
  ASSERT_EQ(cycle0.size(), 25u);
  EXPECT_LT(cycle0.back(), 0.5 * cycle0.front());
  EXPECT_LT(cycle1.back(), 0.5 * cycle1.front());

  // Held-out dark crops through generator 0 move toward the light domain's mean, and back.
  const DataSource held = write_domains("held", 3, 3, 32);
  GeneratorRunner to_light(s.run_dir, "cpu", 0), to_dark(s.run_dir, "cpu", 1);
  double in = 0, out = 0, light = 0, back = 0, dark_from_light = 0;
  for (const auto& f : list_image_files(held.input_dir)) {
    const cv::Mat x = read_image(f).pixels;
    in += cv::mean(x)[0], out += cv::mean(to_light.run(x))[0];
  }
  for (const auto& f : list_image_files(held.reference_dir)) {
    const cv::Mat y = read_image(f).pixels;
    light += cv::mean(y)[0], back += cv::mean(to_dark.run(y))[0];
  }
  dark_from_light = back;
  in /= 3, out /= 3, light /= 3, back /= 3, dark_from_light /= 3;
  EXPECT_LT(std::abs(out - light), 0.5 * std::abs(in - light)) << "in " << in << " out " << out << " B " << light;
  EXPECT_LT(std::abs(back - in), 0.5 * std::abs(light - in)) << "B " << light << " -> " << back << " A " << in;
}

TEST_F(CycleGanTest, FourCheckpointsTwoOnnxFilesAndIndexedRoundTrips) {
  RunConfig c = small_config(write_domains("d", 3, 2, 32));
  c.train.max_iterations = 3;
  c.test.enabled = true;
  static_cast<DataSource&>(c.test) = write_domains("test", 2, 2, 32);
  const TrainSummary s = train_cycle_gan(c);
  std::vector<std::string> names;
  for (const auto& p : s.checkpoints) names.push_back(p.filename().string());
  EXPECT_EQ(names, (std::vector<std::string>{"generator_0_000002.pt", "discriminator_0_000002.pt",
                                             "generator_1_000002.pt", "discriminator_1_000002.pt",
                                             "generator_0_000003.pt", "discriminator_0_000003.pt",
                                             "generator_1_000003.pt", "discriminator_1_000003.pt"}));
  for (int64_t k = 0; k < 2; ++k) {
    fs::path weights;
    const CheckpointMeta meta = read_checkpoint_meta(s.run_dir, &weights, k);
    EXPECT_EQ(meta.index, k);
    EXPECT_EQ(meta.iteration, 3);
    EXPECT_EQ(weights.filename().string(), fmt::format("generator_{}_000003.pt", k));
    EXPECT_TRUE(fs::exists(s.run_dir / "onnx" / fmt::format("generator_{}_000003.onnx", k)));
    UnetGenerator g(generator_options(checkpoint_config(meta)));
    load_weights(weights, *g);
    g->eval();
    // The ONNX file of index k is generator k: same output as the checkpoint ([0, 1] images in and out).
    const torch::Tensor x = torch::rand({1, 3, 32, 32});
    const torch::Tensor expected = (g(x * 2 - 1) + 1) / 2;
    const fs::path onnx_file = s.run_dir / "onnx" / fmt::format("generator_{}_000003.onnx", k);
    const torch::Tensor onnx = test::run_onnx_in_opencv(onnx_file, x);
    EXPECT_LE((onnx - expected).abs().max().item<double>(), 1e-4) << "index " << k;
  }
  EXPECT_THAT([&] { read_checkpoint_meta(s.checkpoints[0], nullptr, 1); },
              ::testing::ThrowsMessage<CheckpointError>(HasSubstr("not index 1")));
  // Test: cycle SSIM of both directions, images input / translated / reconstructed.
  EXPECT_GT(s.test_ssim, -1.0);
  EXPECT_LE(s.test_ssim, 1.0);
  EXPECT_TRUE(fs::exists(s.run_dir / "test" / "000003" / "000003_A_a00_reconstructed.png"));
  EXPECT_TRUE(fs::exists(s.run_dir / "test" / "000003" / "000003_B_b01_translated.png"));
  // Resume is not available for unpaired runs yet and says so.
  TrainOptions resume;
  resume.resume = ResumePoint{};
  EXPECT_THAT([&] { train_cycle_gan(c, resume); },
              ::testing::ThrowsMessage<ConfigError>(HasSubstr("resume of unpaired")));
}

}  // namespace
}  // namespace img2img
