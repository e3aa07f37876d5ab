// End-to-end paired training on real photographs: learning, reproducibility, checkpoints.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fmt/format.h>
#include <opencv2/core.hpp>

#include <cstdio>
#include <fstream>

#include "img2img/config/config_keys.h"
#include "img2img/core/atomic_file.h"
#include "img2img/core/error.h"
#include "img2img/data/paired_dataset.h"
#include "img2img/data/image_io.h"
#include "img2img/infer/inference.h"
#include "img2img/models/factory.h"
#include "img2img/run/checkpoint.h"
#include "img2img/train/trainer.h"
#include "support/test_support.h"

namespace img2img {
namespace {
namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;
using test::TempDirTest;

// The fixed function the generator must learn: R and B swapped, then inverted (exact, per pixel).
cv::Mat target_of(const cv::Mat& rgb) {
  std::vector<cv::Mat> p;
  cv::split(rgb, p);
  std::swap(p[0], p[2]);
  cv::Mat out;
  cv::merge(p, out);
  return cv::Scalar(1.0, 1.0, 1.0) - out;
}

class Pix2PixTrainingTest : public TempDirTest {
 protected:
  // Writes `count` real photo crops and their targets as 8-bit PNG pairs under dir_/name/{in,ref}.
  DataSource write_pairs(const std::string& name, int count, int size, unsigned seed) {
    DataSource s;
    s.input_dir = (dir_ / name / "in").string(), s.reference_dir = (dir_ / name / "ref").string();
    const auto crops = test::photo_crops(count, size, seed);
    for (size_t i = 0; i < crops.size(); ++i) {
      const std::string file = fmt::format("{:03d}.png", i);
      write_image(fs::path(s.input_dir) / file, crops[i], PixelDepth::k8);
      write_image(fs::path(s.reference_dir) / file, target_of(crops[i]), PixelDepth::k8);
    }
    return s;
  }

  RunConfig small_config(const DataSource& train) {
    RunConfig c;
    static_cast<DataSource&>(c.data) = train;
    c.data.image_size = 32;
    c.data.batch_size = 4;
    c.generator.layers = 5;
    c.generator.initial_layer_size = 16;
    c.discriminator.initial_layer_size = 16;
    c.discriminator.layers = 2;
    c.train.max_iterations = 4;
    c.train.linear_decay = 2;
    c.output.run_dir = (dir_ / "run").string();
    c.output.model_save_rate = 2;
    c.device.device = "cpu";
    c.device.cpu_threads = 1;  // fixed: auto threads follow the free cores, and the last bits with them
    return c;
  }

  // Mean |G(x) - y| over the pairs of `source`, in [0, 1] units, from a checkpoint.
  static double held_out_l1(const fs::path& checkpoint, const DataSource& source) {
    GeneratorRunner runner(checkpoint, "cpu");
    double sum = 0;
    int n = 0;
    for (const auto& f : list_paired_files(source, 0)) {
      const cv::Mat x = read_image(f.input).pixels, y = read_image(f.reference).pixels;
      sum += cv::norm(runner.run(x), y, cv::NORM_L1) / static_cast<double>(y.total() * y.channels());
      ++n;
    }
    return sum / n;
  }
};

TEST_F(Pix2PixTrainingTest, LearnsAFixedFunctionOfRealPhotos) {
  const DataSource train = write_pairs("train", 64, 32, /*seed=*/1);
  const DataSource held_out = write_pairs("test", 16, 32, /*seed=*/2);
  RunConfig c = small_config(train);
  c.train.max_iterations = 12;
  c.train.linear_decay = 4;
  c.train.learning_rate = 0.001;
  c.output.model_save_rate = 0;
  const TrainSummary s = train_pix2pix(c, TrainOptions{0});
  ASSERT_EQ(s.iterations, 12);
  // Untrained generator with the same architecture and seed: save it through the same path.
  torch::manual_seed(0);
  UnetGenerator untrained(generator_options(c));
  init_weights(*untrained, c.train.init, c.train.init_gain);
  CheckpointMeta meta = read_checkpoint_meta(s.final_generator);
  meta.iteration = 0;
  save_checkpoint(dir_ / "untrained/generator_0.pt", *untrained, meta);
  const double before = held_out_l1(dir_ / "untrained/generator_0.pt", held_out);
  const double after = held_out_l1(s.final_generator, held_out);
  // Baseline: predict the input unchanged (the task's inversion makes this poor).
  double identity = 0;
  for (const auto& f : list_paired_files(held_out, 0)) {
    const cv::Mat x = read_image(f.input).pixels, y = read_image(f.reference).pixels;
    identity += cv::norm(x, y, cv::NORM_L1) / static_cast<double>(y.total() * 3) / 16.0;
  }
  std::printf("held-out L1: untrained %.4f, identity %.4f, trained %.4f\n", before, identity, after);
  EXPECT_LT(after, 0.4 * before);
  EXPECT_LT(after, 0.4 * identity);
  EXPECT_LT(after, 0.1);
}

TEST_F(Pix2PixTrainingTest, SameSeedRepeatsBitForBit) {
  const DataSource train = write_pairs("train", 8, 32, 3);
  RunConfig c = small_config(train);
  c.train.max_iterations = 2;
  c.data.flip_horizontal = 0.5;  // augmentation draws come from the seeded RNG too
  c.output.run_dir = (dir_ / "a").string();
  const TrainSummary a = train_pix2pix(c, TrainOptions{0});
  c.output.run_dir = (dir_ / "b").string();
  const TrainSummary b = train_pix2pix(c, TrainOptions{0});
  ASSERT_EQ(a.checkpoints.size(), b.checkpoints.size());
  for (size_t i = 0; i < a.checkpoints.size(); ++i) {
    torch::manual_seed(5);
    UnetGenerator ga(generator_options(c)), gb(generator_options(c));
    PatchDiscriminator da(discriminator_options(c)), db(discriminator_options(c));
    const bool gen = a.checkpoints[i].filename().string().rfind("generator", 0) == 0;
    torch::nn::Module& ma = gen ? static_cast<torch::nn::Module&>(*ga) : *da;
    torch::nn::Module& mb = gen ? static_cast<torch::nn::Module&>(*gb) : *db;
    load_weights(a.checkpoints[i], ma);
    load_weights(b.checkpoints[i], mb);
    const auto pa = ma.parameters(), pb = mb.parameters();
    for (size_t j = 0; j < pa.size(); ++j) EXPECT_TRUE(torch::equal(pa[j], pb[j])) << a.checkpoints[i] << " #" << j;
  }
}

// A batch larger than the data set is one warning at run start naming both numbers: each step uses all pairs.
TEST_F(Pix2PixTrainingTest, BatchLargerThanTheDataSetIsAWarning) {
  EXPECT_EQ(batch_size_warning(3, 3, "training pairs"), "") << "a batch of exactly N needs no warning";
  EXPECT_EQ(batch_size_warning(8, 3, "training pairs"),
            "data.batch_size = 8 is more than the 3 training pairs: each step uses all 3 (one step per iteration, "
            "a batch of 3, not 8). Set --data.batch_size=3 or lower, or add more data.");
  RunConfig c = small_config(write_pairs("train", 3, 32, 4));
  c.data.batch_size = 8;
  c.train.max_iterations = 1;
  c.train.linear_decay = 0;
  c.output.onnx_path = "";
  const TrainSummary s = train_pix2pix(c, TrainOptions{0});
  std::ifstream in(s.run_dir / "train.log");
  const std::string log((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_THAT(log, HasSubstr("warning: data.batch_size = 8 is more than the 3 training pairs: each step uses all 3"));
}

TEST_F(Pix2PixTrainingTest, CheckpointsFollowTheTemplateAndRoundTrip) {
  const DataSource train = write_pairs("train", 8, 32, 4);
  RunConfig c = small_config(train);
  c.train.max_iterations = 3;
  c.output.model_save_rate = 2;  // saves at 2 and at the last (3)
  const TrainSummary s = train_pix2pix(c, TrainOptions{0});
  std::vector<std::string> names;
  for (const auto& p : s.checkpoints) names.push_back(p.filename().string());
  EXPECT_EQ(names, (std::vector<std::string>{"generator_0_2.pt", "discriminator_0_2.pt",
                                             "generator_0_3.pt", "discriminator_0_3.pt"}));
  EXPECT_TRUE(fs::exists(s.run_dir / "config.toml"));
  EXPECT_TRUE(fs::exists(s.run_dir / "train.log"));
  // The stored config reproduces the architecture without flags.
  const CheckpointMeta meta = read_checkpoint_meta(s.final_generator);
  EXPECT_EQ(meta.iteration, 3);
  EXPECT_EQ(checkpoint_config(meta).generator.layers, 5);
  EXPECT_EQ(read_checkpoint_meta(s.run_dir).iteration, 3) << "a run folder resolves to its newest generator";
  // A renamed pair (X.pt + X.json) still loads: the weights file given wins over the recorded name.
  fs::create_directories(dir_ / "renamed");
  fs::copy_file(s.final_generator, dir_ / "renamed/model.pt");
  fs::copy_file(checkpoint_meta_path(s.final_generator), dir_ / "renamed/model.json");
  fs::path renamed_weights;
  read_checkpoint_meta(dir_ / "renamed/model.pt", &renamed_weights);
  EXPECT_EQ(renamed_weights, dir_ / "renamed/model.pt");
  EXPECT_NO_THROW(GeneratorRunner(dir_ / "renamed/model.pt", "cpu"));
  EXPECT_THAT([&] { read_checkpoint_meta(dir_ / "missing.pt"); },
              ::testing::ThrowsMessage<CheckpointError>(HasSubstr("checkpoint '" + (dir_ / "missing.pt").string() +
                                                                  "' does not exist")));
  // save -> load -> identical eval outputs.
  UnetGenerator g(generator_options(c));
  load_weights(s.final_generator, *g);
  g->eval();
  save_checkpoint(dir_ / "copy/generator_0.pt", *g, meta);
  UnetGenerator h(generator_options(c));
  load_weights(dir_ / "copy/generator_0.pt", *h);
  h->eval();
  const auto x = torch::rand({2, 3, 32, 32}) * 2 - 1;
  EXPECT_TRUE(torch::equal(g(x), h(x)));
}

TEST_F(Pix2PixTrainingTest, ForeignArchitectureIsRejectedNamingBothShapes) {
  const DataSource train = write_pairs("train", 4, 32, 5);
  RunConfig c = small_config(train);
  c.train.max_iterations = 1;
  const TrainSummary s = train_pix2pix(c, TrainOptions{0});
  RunConfig other = c;
  other.data.channel_count = 1;
  UnetGenerator g(generator_options(other));
  EXPECT_THAT([&] { load_weights(s.final_generator, *g); },
              ::testing::ThrowsMessage<CheckpointError>(
                  HasSubstr("'down0.weight' has shape [16, 3, 4, 4] in the file but the model expects [16, 1, 4, 4]")));
  // A truncated weights file is reported as such.
  const std::string bytes = read_file(s.final_generator);
  { std::ofstream(dir_ / "cut.pt", std::ios::binary) << bytes.substr(0, bytes.size() / 2); }
  EXPECT_THAT([&] { load_weights(dir_ / "cut.pt", *g); },
              ::testing::ThrowsMessage<CheckpointError>(HasSubstr("truncated or not a PyTorch state dict")));
  // A truncated .json: the byte position, not nlohmann's message quoting the file's text.
  const std::string meta = read_file(checkpoint_meta_path(s.final_generator));
  fs::copy_file(s.final_generator, dir_ / "cut_meta.pt");
  { std::ofstream(dir_ / "cut_meta.json", std::ios::binary) << meta.substr(0, 100); }
  try {
    read_checkpoint_meta(dir_ / "cut_meta.pt");
    FAIL() << "a truncated .json was read";
  } catch (const CheckpointError& e) {
    EXPECT_THAT(e.what(), HasSubstr("is not valid JSON (it ends too early, after 100 bytes): the file is truncated "
                                    "or damaged"));
    EXPECT_THAT(e.what(), Not(HasSubstr(meta.substr(40, 30))));  // no file text in the message
    EXPECT_LT(std::string(e.what()).size(), 400u);
  }
}

TEST_F(Pix2PixTrainingTest, WeightsLoadInPythonTorch) {
  if (test::run_command("/usr/bin/python3 -c 'import torch'") != 0)
    GTEST_SKIP() << "python3-torch (Debian, /usr/bin/python3) is not installed; apt-get install python3-torch";
  const DataSource train = write_pairs("train", 4, 32, 6);
  RunConfig c = small_config(train);
  c.train.max_iterations = 1;
  const TrainSummary s = train_pix2pix(c, TrainOptions{0});
  UnetGenerator g(generator_options(c));
  load_weights(s.final_generator, *g);
  const double expected = g->down[0]->weight.sum().item<double>();
  std::string out;
  const int rc = test::run_command(
      "/usr/bin/python3 -c \"import torch; sd = torch.load('" + s.final_generator.string() +
          "'); print(len(sd), list(sd['down0.weight'].shape), '%.9g' % sd['down0.weight'].double().sum().item(), "
          "'up0.bias' in sd, 'down1_norm.running_mean' in sd)\"",
      &out);
  ASSERT_EQ(rc, 0) << out;
  const size_t expected_entries = g->named_parameters().size() + g->named_buffers().size();
  EXPECT_THAT(out, HasSubstr(std::to_string(expected_entries) + " [16, 3, 4, 4] "));
  EXPECT_THAT(out, HasSubstr("True True"));
  double python_sum = 0;
  ASSERT_EQ(std::sscanf(out.substr(out.find(']') + 1).c_str(), "%lf", &python_sum), 1) << out;
  EXPECT_NEAR(python_sum, expected, 1e-6 * std::max(1.0, std::abs(expected)));
}

}  // namespace
}  // namespace img2img
