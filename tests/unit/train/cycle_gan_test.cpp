// Unpaired (CycleGAN) training on real photographs: architecture, defaults, learning, outputs.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include <fstream>
#include <set>
#include <sstream>

#include "img2img/config/config_keys.h"
#include "img2img/config/unpaired_defaults.h"
#include "img2img/core/atomic_file.h"
#include "img2img/core/error.h"
#include "img2img/data/image_io.h"
#include "img2img/data/unpaired_dataset.h"
#include "img2img/infer/inference.h"
#include "img2img/models/factory.h"
#include "img2img/run/checkpoint.h"
#include "img2img/models/cycle_gan_model.h"
#include "img2img/train/trainer.h"
#include "img2img/models/image_pool.h"
#include "img2img/train/model_tester.h"
#include "img2img/train/training_state.h"
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
  CycleGanModel model(cycle_gan_options(c), torch::kCPU);
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
  EXPECT_THAT([&] { CycleGanModel(cycle_gan_options(c), torch::kCPU); }, ::testing::Throws<ConfigError>());
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

// Unpaired: the batch is compared with the larger domain, which each iteration covers.
// Also: the data line counts the ignored files (as the paired one does) and the checkpoint line names
// both generators.
TEST_F(CycleGanTest, BatchLargerThanTheLargerDomainIsAWarning) {
  RunConfig c = small_config(write_domains("d", 3, 2, 32));
  write_file_atomic(fs::path(c.data.input_dir) / "notes.txt", "not an image");
  write_file_atomic(fs::path(c.data.reference_dir) / ".hidden.png", "");
  c.data.batch_size = 4;
  c.train.max_iterations = 1;
  c.train.linear_decay = 0;
  c.output.onnx_path = "";
  const TrainSummary s = train_cycle_gan(c);
  std::ifstream in(s.run_dir / "train.log");
  const std::string log((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_THAT(log, HasSubstr("warning: data.batch_size = 4 is more than the 3 images of the larger domain: each "
                             "step uses all 3"));
  EXPECT_THAT(log, HasSubstr("domain B 2 images (8-bit) at 32 px, 3 channel(s); 2 non-image/hidden files ignored\n"));
  EXPECT_THAT(log, HasSubstr("\ncheckpoint: " + (s.run_dir / "checkpoints" / "generator_0_1.pt").string() + ", " +
                             (s.run_dir / "checkpoints" / "generator_1_1.pt").string() + "\n"));
}

TEST_F(CycleGanTest, FourCheckpointsTwoOnnxFilesAndIndexedRoundTrips) {
  RunConfig c = small_config(write_domains("d", 3, 2, 32));
  c.train.max_iterations = 3;
  c.test.enabled = true;
  static_cast<DataSource&>(c.test) = write_domains("test", 2, 2, 32);
  const TrainSummary s = train_cycle_gan(c);
  std::vector<std::string> names;
  for (const auto& p : s.checkpoints) names.push_back(p.filename().string());
  EXPECT_EQ(names, (std::vector<std::string>{"generator_0_2.pt", "discriminator_0_2.pt",
                                             "generator_1_2.pt", "discriminator_1_2.pt",
                                             "generator_0_3.pt", "discriminator_0_3.pt",
                                             "generator_1_3.pt", "discriminator_1_3.pt"}));
  for (int64_t k = 0; k < 2; ++k) {
    fs::path weights;
    const CheckpointMeta meta = read_checkpoint_meta(s.run_dir, &weights, k);
    EXPECT_EQ(meta.index, k);
    EXPECT_EQ(meta.iteration, 3);
    EXPECT_EQ(weights.filename().string(), fmt::format("generator_{}_3.pt", k));
    EXPECT_TRUE(fs::exists(s.run_dir / "onnx" / fmt::format("generator_{}_3.onnx", k)));
    UnetGenerator g(generator_options(checkpoint_config(meta)));
    load_weights(weights, *g);
    g->eval();
    // The ONNX file of index k is generator k: same output as the checkpoint ([0, 1] images in and out).
    const torch::Tensor x = torch::rand({1, 3, 32, 32});
    const torch::Tensor expected = (g(x * 2 - 1) + 1) / 2;
    const fs::path onnx_file = s.run_dir / "onnx" / fmt::format("generator_{}_3.onnx", k);
    const torch::Tensor onnx = test::run_onnx_in_opencv(onnx_file, x);
    EXPECT_LE((onnx - expected).abs().max().item<double>(), 1e-4) << "index " << k;
  }
  EXPECT_THAT([&] { read_checkpoint_meta(s.checkpoints[0], nullptr, 1); },
              ::testing::ThrowsMessage<CheckpointError>(HasSubstr("not index 1")));
  // Test: cycle SSIM of both directions, images input / translated / reconstructed.
  ASSERT_TRUE(s.test_ssim);
  EXPECT_GT(*s.test_ssim, -1.0);
  EXPECT_LE(*s.test_ssim, 1.0);
  EXPECT_TRUE(fs::exists(s.run_dir / "test" / "3" / "000003_A_a00_reconstructed.png"));
  EXPECT_TRUE(fs::exists(s.run_dir / "test" / "3" / "000003_B_b01_translated.png"));
}

// test.size = 2 tests two random images of each domain, drawn once per (train.seed, domain)
// like the paired tester's samples: not the first two by name, another subset for another seed.
TEST_F(CycleGanTest, TestSizeDrawsRandomImagesOfEachDomainPerSeed) {
  RunConfig c = small_config(write_domains("d", 2, 2, 32));
  c.generator.initial_layer_size = 8, c.discriminator.initial_layer_size = 8;
  c.train.max_iterations = 1;
  c.output.model_save_rate = 0, c.output.onnx_path = "";
  c.plot.type = PlotType::kDisabled;
  c.test.enabled = true;
  static_cast<DataSource&>(c.test) = write_domains("test", 6, 6, 32);
  c.test.size = 2, c.test.frequency = 1;
  // The names of the input images tested at iteration 1, e.g. "A_a03", "B_b05".
  auto tested = [&](int64_t seed) {
    c.train.seed = seed;
    c.output.run_dir = (dir_ / fmt::format("seed{}", seed)).string();
    const TrainSummary s = train_cycle_gan(c);
    std::set<std::string> names;
    for (const auto& e : fs::directory_iterator(s.run_dir / "test" / "1")) {
      const std::string name = e.path().filename().string();  // 000001_A_a03_input.png
      if (name.size() > 17 && name.substr(12) == "_input.png") names.insert(name.substr(7, 5));
    }
    return names;
  };
  auto expected = [](int64_t seed) {
    std::set<std::string> names;
    for (int k = 0; k < 2; ++k)
      for (int64_t i : draw_test_samples(6, 2, seed, static_cast<uint32_t>(k)))
        names.insert(fmt::format("{}_{}{:02d}", k == 0 ? "A" : "B", k == 0 ? "a" : "b", i));
    return names;
  };
  const std::set<std::string> first_two{"A_a00", "A_a01", "B_b00", "B_b01"};
  const std::set<std::string> seed3 = tested(3), seed7 = tested(7);
  EXPECT_EQ(seed3.size(), 4u);
  EXPECT_EQ(seed3, expected(3));
  EXPECT_EQ(seed7, expected(7));
  EXPECT_NE(seed3, seed7);
  EXPECT_NE(seed3, first_two);
  EXPECT_NE(seed7, first_two);
  // Domains draw independently: one seed does not pick the same positions in A and B.
  EXPECT_NE(draw_test_samples(6, 2, 3, 0), draw_test_samples(6, 2, 3, 1));
}

void expect_same_weights(const RunConfig& c, const fs::path& a, const fs::path& b);

// The first run_start event of an events file.
nlohmann::json run_start_event(const fs::path& events_file) {
  std::ifstream events(events_file);
  std::string line;
  while (std::getline(events, line)) {
    nlohmann::json e = nlohmann::json::parse(line);
    if (e["event"] == "run_start") return e;
  }
  return nullptr;
}

// Unpaired data over the memory budget is streamed from disk (training and test sets) and trains
// exactly as cached data: the same weights for all four networks and the same test SSIM.
TEST_F(CycleGanTest, StreamedUnpairedDataTrainsLikeCachedData) {
  RunConfig c = small_config(write_domains("d", 3, 2, 32));  // 5 x 3 x 32 x 32 x 4 = 61440 bytes
  c.generator.initial_layer_size = 8, c.discriminator.initial_layer_size = 8;
  c.data.flip_horizontal = 0.5, c.data.crop = 0.8, c.data.rotation = 0.3;  // per-image augmentation draws
  c.train.max_iterations = 2;
  c.output.model_save_rate = 0, c.output.onnx_path = "";
  c.plot.type = PlotType::kDisabled;
  c.test.enabled = true;
  static_cast<DataSource&>(c.test) = write_domains("test", 2, 3, 32);
  c.test.output_dir = "";
  c.output.run_dir = (dir_ / "cached").string();
  const TrainSummary cached = train_cycle_gan(c);
  EXPECT_THAT(read_file(cached.run_dir / "train.log"), HasSubstr("\ndata storage: cached in host memory"));

  c.data.memory_budget_mb = 0.01, c.data.worker_threads = 2;  // 0.01 MiB = 10485 bytes < 61440
  c.test.memory_budget_mb = 0.01, c.test.worker_threads = 1;
  c.output.run_dir = (dir_ / "streamed").string();
  TrainOptions options{0};
  options.events = (dir_ / "events.jsonl").string();
  const TrainSummary streamed = train_cycle_gan(c, options);
  const std::string log = read_file(streamed.run_dir / "train.log");
  EXPECT_THAT(log, HasSubstr("\ndata storage: streamed from disk with 2 worker thread(s) (0.0586 MiB decoded "
                             "exceeds the memory budget of 0.01 MiB, data.memory_budget_mb)"));
  EXPECT_THAT(log, HasSubstr("\ntest data storage: streamed from disk with 1 worker thread(s) (0.0586 MiB decoded "
                             "exceeds the memory budget of 0.01 MiB, test.memory_budget_mb)"));
  const nlohmann::json start = run_start_event(options.events);
  ASSERT_FALSE(start.is_null());
  EXPECT_EQ(start["data_storage"], "streamed");
  EXPECT_EQ(start["test_storage"], "streamed");

  ASSERT_EQ(cached.checkpoints.size(), 4u);
  ASSERT_EQ(streamed.checkpoints.size(), 4u);
  for (size_t i = 0; i < 4; ++i) expect_same_weights(c, cached.checkpoints[i], streamed.checkpoints[i]);
  ASSERT_TRUE(streamed.test_ssim);
  EXPECT_EQ(streamed.test_ssim, cached.test_ssim);
  EXPECT_GT(*streamed.test_ssim, -1.0);
}

TEST_F(CycleGanTest, RunLogsCachedStorageAndReportsItInRunStart) {
  RunConfig c = small_config(write_domains("d", 3, 2, 32));  // 5 x 3 x 32 x 32 x 4 = 61440 bytes
  c.train.max_iterations = 1;
  c.output.model_save_rate = 0, c.output.onnx_path = "";
  c.data.memory_budget_mb = 1.0;
  c.test.enabled = true;
  static_cast<DataSource&>(c.test) = write_domains("test", 2, 2, 32);  // 4 x 12288 = 49152 bytes
  c.test.memory_budget_mb = 0.5;
  TrainOptions options{0};
  options.events = (dir_ / "events.jsonl").string();
  const TrainSummary s = train_cycle_gan(c, options);
  const std::string log = read_file(s.run_dir / "train.log");
  EXPECT_THAT(log, HasSubstr("\ndata storage: cached in host memory (0.0586 MiB of the 1 MiB memory budget)"));
  EXPECT_THAT(log, HasSubstr("\ntest data storage: cached in host memory (0.0469 MiB of the 0.5 MiB memory budget)"));
  std::ifstream events(options.events);
  std::string line;
  nlohmann::json start;
  while (std::getline(events, line) && start.is_null()) {
    nlohmann::json e = nlohmann::json::parse(line);
    if (e["event"] == "run_start") start = e;
  }
  ASSERT_FALSE(start.is_null());
  EXPECT_EQ(start["data_storage"], "cached");
  EXPECT_EQ(start["test_storage"], "cached");
}

// Loads `a` and `b` (weights of the same network kind) and expects every parameter and buffer equal.
void expect_same_weights(const RunConfig& c, const fs::path& a, const fs::path& b) {
  UnetGenerator ga(generator_options(c)), gb(generator_options(c));
  PatchDiscriminator da(discriminator_options(c)), db(discriminator_options(c));
  const bool gen = a.filename().string().rfind("generator", 0) == 0;
  torch::nn::Module& ma = gen ? static_cast<torch::nn::Module&>(*ga) : *da;
  torch::nn::Module& mb = gen ? static_cast<torch::nn::Module&>(*gb) : *db;
  load_weights(a, ma);
  load_weights(b, mb);
  const auto pa = ma.named_parameters(), pb = mb.named_parameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (size_t j = 0; j < pa.size(); ++j)
    EXPECT_TRUE(torch::equal(pa[j].value(), pb[j].value())) << a << " " << pa[j].key();
  const auto ba = ma.named_buffers(), bb = mb.named_buffers();
  for (size_t j = 0; j < ba.size(); ++j)
    EXPECT_TRUE(torch::equal(ba[j].value(), bb[j].value())) << a << " " << ba[j].key();
}

TEST_F(CycleGanTest, TwoPlusResumeTwoEqualsFourForAllNetworks) {
  RunConfig c = small_config(write_domains("d", 3, 2, 32));  // 2 steps per iteration, B drawn at random
  c.generator.initial_layer_size = 8, c.discriminator.initial_layer_size = 8;
  c.data.flip_horizontal = 0.5, c.data.crop = 0.8, c.data.rotation = 0.3;  // per-image augmentation draws
  c.train.pool_size = 3;  // full after the first steps, then swaps: the pools' content matters
  // The learning rate changes across the resume (a step schedule: independent of max_iterations).
  c.train.scheduler = SchedulerKind::kStep, c.train.step_size = 1, c.train.gamma = 0.5;
  c.output.onnx_path = "";
  c.output.model_save_rate = 0;  // the last iteration only
  c.plot.type = PlotType::kDisabled;
  c.train.max_iterations = 4;
  c.output.run_dir = (dir_ / "four").string();
  const TrainSummary four = train_cycle_gan(c);

  c.train.max_iterations = 2;
  c.output.run_dir = (dir_ / "two").string();
  const TrainSummary two = train_cycle_gan(c);
  ASSERT_EQ(two.checkpoints.size(), 4u);
  for (size_t i : {0, 1, 2, 3})  // generator 1 shares generator 0's optimiser but has its own weight average
    EXPECT_TRUE(fs::exists(training_state_path(two.checkpoints[i]))) << two.checkpoints[i];
  {
    torch::serialize::InputArchive state, average, optimizer;
    state.load_from(training_state_path(two.checkpoints[2]).string());
    EXPECT_TRUE(state.try_read("weight_average", average));  // generator.ema_decay (default 0.999)
    EXPECT_FALSE(state.try_read("optimizer", optimizer));
  }
  // The pools are saved full (pool_size images each).
  for (size_t i : {1, 3}) {
    torch::serialize::InputArchive state, pool;
    state.load_from(training_state_path(two.checkpoints[i]).string());
    state.read("image_pool", pool);
    torch::Tensor images;
    pool.read("images", images);
    EXPECT_EQ(images.sizes(), (std::vector<int64_t>{3, 3, 32, 32}));
  }

  TrainOptions options;
  options.interactive = 0;
  options.resume = find_resume_point(two.run_dir);  // the run folder: its newest checkpoint
  EXPECT_TRUE(options.resume->unpaired);
  EXPECT_EQ(options.resume->iteration, 2);
  EXPECT_EQ(options.resume->networks.at("generator_1"), two.checkpoints[2]);
  EXPECT_EQ(options.resume->networks.at("discriminator_1"), two.checkpoints[3]);
  c.train.max_iterations = 4;
  c.output.run_dir = (dir_ / "resumed").string();
  check_resume_config(c, *options.resume);
  const TrainSummary resumed = train_cycle_gan(c, options);
  EXPECT_EQ(resumed.iterations, 4);
  ASSERT_EQ(four.checkpoints.size(), 4u);
  ASSERT_EQ(resumed.checkpoints.size(), 4u);
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(four.checkpoints[i].filename(), resumed.checkpoints[i].filename());  // iteration 4 in the name
    expect_same_weights(c, four.checkpoints[i], resumed.checkpoints[i]);
  }
  // And the resumed run really differs from a fresh one (the check above is not vacuous).
  UnetGenerator g2(generator_options(c)), g4(generator_options(c));
  load_weights(two.checkpoints[0], *g2);
  load_weights(four.checkpoints[0], *g4);
  EXPECT_FALSE(torch::equal(g2->parameters()[0], g4->parameters()[0]));
  // A generator 1 file is not a resume point; the message says what to pass.
  EXPECT_THAT([&] { find_resume_point(two.checkpoints[2]); },
              ::testing::ThrowsMessage<CheckpointError>(HasSubstr("pass generator 0's .pt")));
  // A checkpoint whose discriminator 1 state is gone (a run killed while saving) cannot resume.
  fs::remove(training_state_path(two.checkpoints[3]));
  EXPECT_THAT([&] { find_resume_point(two.checkpoints[0]); },
              ::testing::ThrowsMessage<CheckpointError>(HasSubstr("discriminator_1_2.optim.pt")));
}

TEST_F(CycleGanTest, ResumingAcrossPairedAndUnpairedIsAnErrorNamingBothInputTypes) {
  const RunConfig unpaired = small_config(write_domains("d", 2, 2, 32));
  RunConfig paired;
  paired.train.max_iterations = 4;
  ResumePoint paired_point;  // a paired checkpoint's config, resumed with an unpaired config
  paired_point.config_toml = config_to_toml(paired);
  paired_point.origin = "paired_run";
  EXPECT_THAT([&] { check_resume_config(unpaired, paired_point); },
              ::testing::ThrowsMessage<ConfigError>(
                  HasSubstr("data.input_type = \"multiple_unpaired\" contradicts the checkpoint's data.input_type = "
                            "\"multiple_paired\": a paired (pix2pix) checkpoint cannot continue as unpaired (CycleGAN)")));
  ResumePoint unpaired_point;  // and the other way round
  unpaired_point.config_toml = config_to_toml(unpaired);
  unpaired_point.unpaired = true;
  unpaired_point.origin = "unpaired_run";
  RunConfig paired_now = paired;
  paired_now.generator = unpaired.generator, paired_now.discriminator = unpaired.discriminator;
  paired_now.data.image_size = unpaired.data.image_size;
  paired_now.train.optimizer = unpaired.train.optimizer;
  EXPECT_THAT([&] { check_resume_config(paired_now, unpaired_point); },
              ::testing::ThrowsMessage<ConfigError>(
                  HasSubstr("data.input_type = \"multiple_paired\" contradicts the checkpoint's data.input_type = "
                            "\"multiple_unpaired\": an unpaired (CycleGAN) checkpoint cannot continue as paired")));
  // The trainers refuse too (library callers that skip check_resume_config).
  TrainOptions options;
  options.interactive = 0;
  options.resume = paired_point;
  EXPECT_THAT([&] { train_cycle_gan(unpaired, options); },
              ::testing::ThrowsMessage<CheckpointError>(HasSubstr(
                  "trained with data.input_type = a paired input type (a paired pix2pix model), but this run has "
                  "data.input_type = multiple_unpaired")));
  Pix2PixModel model(pix2pix_options(paired_now), torch::kCPU);
  ModelOptimizers optimizers(model, paired_now.train);
  std::mt19937_64 rng(0);
  EXPECT_THAT([&] { restore_training_state(unpaired_point, model, optimizers, rng, torch::kCPU, /*unpaired_run=*/false); },
              ::testing::ThrowsMessage<CheckpointError>(HasSubstr(
                  "trained with data.input_type = multiple_unpaired (an unpaired CycleGAN model), but this run has "
                  "data.input_type = a paired input type")));
}

}  // namespace
}  // namespace img2img
