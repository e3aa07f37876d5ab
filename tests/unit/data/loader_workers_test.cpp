// data.worker_threads never changes results: 0 and 4 workers give identical decoded tensors and,
// with a fixed seed, identical shuffled and augmented batches (16-bit PNG pairs). Neither does
// data.storage = automatic over the memory budget (streamed from disk) change them.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>  // nlohmann::json

#include <fmt/format.h>      // fmt::format
#include <opencv2/core.hpp>  // cv::Mat, cv::RNG

#include <algorithm>  // std::shuffle
#include <fstream>    // std::ofstream
#include <limits>     // std::numeric_limits
#include <numeric>    // std::iota
#include <map>        // std::map
#include <random>     // std::mt19937_64

#include <unistd.h>  // sysconf

#include "img2img/core/atomic_file.h"
#include "img2img/core/error.h"
#include "img2img/data/augment.h"
#include "img2img/data/image_io.h"
#include "img2img/data/paired_dataset.h"
#include "img2img/train/trainer.h"
#include "support/test_support.h"

namespace img2img {
namespace {
namespace fs = std::filesystem;

using ::testing::HasSubstr;

class LoaderWorkersTest : public test::TempDirTest {
 protected:
  // 11 random 16-bit RGB pairs of different sizes (resized to 32 px), with augmentation on.
  DataConfig make_data() {
    DataConfig config;
    config.input_dir = (dir_ / "in").string(), config.reference_dir = (dir_ / "ref").string();
    cv::RNG rng(3);
    for (int i = 0; i < 11; ++i) {
      cv::Mat x(48, 40 + i, CV_32FC3);
      rng.fill(x, cv::RNG::UNIFORM, 0.0, 1.0);
      write_image(fs::path(config.input_dir) / fmt::format("{:02d}.png", i), x, PixelDepth::k16);
      write_image(fs::path(config.reference_dir) / fmt::format("{:02d}.png", i), x * 0.5, PixelDepth::k16);
    }
    config.crop = 0.7, config.flip_horizontal = 0.5, config.flip_vertical = 0.5, config.rotation = 0.5;
    return config;
  }
};

// The batches of one shuffled, augmented pass over `d` with batch size 3 and seed 42.
std::vector<torch::Tensor> batches(const PairedDataset& d, const DataConfig& config) {
  std::mt19937_64 rng(42);
  std::vector<int64_t> order(static_cast<size_t>(d.size()));
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), rng);
  std::vector<torch::Tensor> out;
  for (int64_t begin = 0; begin < d.size(); begin += 3) {
    const int64_t end = std::min(d.size(), begin + 3);
    const torch::Tensor idx = torch::tensor(std::vector<int64_t>(order.begin() + begin, order.begin() + end));
    auto [a, b] = augment_pair(d.inputs().index_select(0, idx), d.references().index_select(0, idx), config, rng);
    out.push_back(torch::cat({a, b}, 1));
  }
  return out;
}

// Two shuffled, augmented passes (seed 42, batch 3) through a PairedLoader, as the trainer runs them.
std::vector<torch::Tensor> loader_batches(const PairedDataset& d, const DataConfig& config) {
  std::mt19937_64 rng(42);
  std::vector<int64_t> order(static_cast<size_t>(d.size()));
  std::vector<torch::Tensor> out;
  PairedLoader loader(d);
  for (int pass = 0; pass < 2; ++pass) {
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), rng);
    loader.start(order, 3);
    for (int64_t begin = 0; begin < d.size(); begin += 3) {
      auto [x, y] = loader.next();
      auto [a, b] = augment_pair(x, y, config, rng);
      out.push_back(torch::cat({a, b}, 1));
    }
  }
  return out;
}

TEST_F(LoaderWorkersTest, ZeroAndFourWorkersGiveIdenticalBatches) {
  DataConfig config = make_data();
  config.worker_threads = 0;
  const PairedDataset serial(config, 3, 32, 0);
  config.worker_threads = 4;
  const PairedDataset parallel(config, 3, 32, 0);
  EXPECT_EQ(serial.input_depth(), PixelDepth::k16);
  EXPECT_TRUE(torch::equal(serial.inputs(), parallel.inputs()));
  EXPECT_TRUE(torch::equal(serial.references(), parallel.references()));
  const auto a = batches(serial, config), b = batches(parallel, config);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(torch::equal(a[i], b[i])) << "batch " << i;
}

// A memory budget below the decoded size streams the set from disk: the same batches as the cache
// (0, 1 and 4 workers), the bit depths still known, and the mode reported.
TEST_F(LoaderWorkersTest, StreamedBatchesEqualCachedBatches) {
  DataConfig config = make_data();
  const PairedDataset cached(config, 3, 32, 0);
  EXPECT_FALSE(cached.streamed());
  EXPECT_EQ(cached.storage_mode(), "cached");
  EXPECT_EQ(cached.decoded_bytes(), 2 * 11 * 3 * 32 * 32 * 4);
  const auto expected = loader_batches(cached, config);
  ASSERT_EQ(expected.size(), 8u);
  const auto direct = batches(cached, config);  // the loader's cached path = plain index_select
  for (size_t i = 0; i < direct.size(); ++i) EXPECT_TRUE(torch::equal(direct[i], expected[i])) << i;

  config.memory_budget_mb = static_cast<double>(cached.decoded_bytes()) / (1024.0 * 1024.0);
  EXPECT_FALSE(PairedDataset(config, 3, 32, 0).streamed());  // exactly fits
  config.memory_budget_mb = 0.25;                              // 262144 < 270336 bytes
  for (int64_t workers : {0, 1, 4}) {
    SCOPED_TRACE(workers);
    config.worker_threads = workers;
    const PairedDataset streamed(config, 3, 32, 0);
    EXPECT_TRUE(streamed.streamed());
    EXPECT_EQ(streamed.storage_mode(), "streamed");
    EXPECT_FALSE(streamed.inputs().defined());
    EXPECT_EQ(streamed.input_depth(), PixelDepth::k16);
    EXPECT_EQ(streamed.budget_bytes(), 262144);
    const auto got = loader_batches(streamed, config);
    ASSERT_EQ(got.size(), expected.size());
    for (size_t i = 0; i < got.size(); ++i) EXPECT_TRUE(torch::equal(got[i], expected[i])) << "batch " << i;
  }
}

TEST(MemoryBudget, ConfiguredOrHalfOfMemory) {
  EXPECT_EQ(memory_budget_bytes(2.0), 2 * 1024 * 1024);
  const int64_t automatic = memory_budget_bytes(0.0);
  const int64_t physical = static_cast<int64_t>(::sysconf(_SC_PHYS_PAGES)) * ::sysconf(_SC_PAGE_SIZE);
  EXPECT_GT(automatic, 0);
  EXPECT_LE(automatic, physical / 2);
}

// Values validation rejects never overflow: 1e15 and 1e30 MiB (and inf) clamp to 2^40 MiB = 2^60 bytes.
TEST(MemoryBudget, HugeValuesClampToTwoToTheSixtyBytes) {
  EXPECT_EQ(memory_budget_bytes(kMaxMemoryBudgetMb), int64_t{1} << 60);
  EXPECT_EQ(memory_budget_bytes(1e15), int64_t{1} << 60);
  EXPECT_EQ(memory_budget_bytes(1e30), int64_t{1} << 60);
  EXPECT_EQ(memory_budget_bytes(std::numeric_limits<double>::infinity()), int64_t{1} << 60);
  EXPECT_EQ(memory_budget_bytes(0.01), 10485);
}

// The storage log line: small budgets keep three significant digits (0.01 MiB, not 0.0), large ones
// whole MiB without an exponent, and the streamed line names the key that sets the budget.
TEST(MemoryBudget, StorageDescriptionPrintsTheBudgetReadably) {
  EXPECT_EQ(describe_storage("streamed", 61440, memory_budget_bytes(0.01), 2, "test.memory_budget_mb"),
            "streamed from disk with 2 worker thread(s) (0.0586 MiB decoded exceeds the memory budget of 0.01 MiB, "
            "test.memory_budget_mb)");
  EXPECT_EQ(describe_storage("cached", 49152, memory_budget_bytes(0.5), 0, "data.memory_budget_mb"),
            "cached in host memory (0.0469 MiB of the 0.5 MiB memory budget)");
  EXPECT_EQ(describe_storage("cached", 3 << 20, memory_budget_bytes(64000.4), 0, "data.memory_budget_mb"),
            "cached in host memory (3 MiB of the 64000 MiB memory budget)");
  EXPECT_EQ(describe_storage("device", 12 << 20, 0, 0, "data.memory_budget_mb"),
            "device (all 12 MiB on the training device)");
}

// A file that becomes unreadable after the up-front check: the batch holding it throws a DataError
// naming it (no crash, no hang), with and without worker threads.
TEST_F(LoaderWorkersTest, FileUnreadableWhileStreamingNamesIt) {
  DataConfig config = make_data();
  config.memory_budget_mb = 0.01;
  for (int64_t workers : {0, 4}) {
    SCOPED_TRACE(workers);
    config.worker_threads = workers;
    const PairedDataset streamed(config, 3, 32, 0);
    ASSERT_TRUE(streamed.streamed());
    const fs::path broken = fs::path(config.reference_dir) / "07.png";
    const std::string bytes = read_file(broken);
    { std::ofstream(broken, std::ios::trunc) << "not a png any more"; }
    PairedLoader loader(streamed);
    std::vector<int64_t> order(11);
    std::iota(order.begin(), order.end(), 0);
    loader.start(order, 3);
    loader.next(), loader.next();  // samples 0..5
    try {
      loader.next();  // 6, 7, 8
      FAIL() << "expected DataError";
    } catch (const DataError& e) {
      EXPECT_THAT(e.what(), HasSubstr("07.png"));
    }
    write_file_atomic(broken, bytes);
  }
}

// The trainer with streamed training and test data gives the same losses and test SSIM as with
// cached data, and says which mode it chose in train.log and the run_start event.
TEST_F(LoaderWorkersTest, StreamedTrainingEqualsCachedTraining) {
  RunConfig c;
  static_cast<DataConfig&>(c.data) = make_data();
  c.data.image_size = 32, c.data.batch_size = 3, c.data.worker_threads = 2;
  c.generator.layers = 5, c.generator.initial_layer_size = 8;
  c.discriminator.layers = 2, c.discriminator.initial_layer_size = 8;
  c.train.max_iterations = 2, c.train.seed = 5;
  c.test.enabled = true, c.test.size = 4, c.test.batch_size = 3, c.test.worker_threads = 2;
  c.test.input_dir = c.data.input_dir, c.test.reference_dir = c.data.reference_dir;
  c.output.onnx_path = "", c.output.model_path = "";
  c.plot.type = PlotType::kCsv;
  c.device.device = "cpu";
  c.device.cpu_threads = 1;  // fixed: auto threads follow the free cores, and the last bits with them
  std::map<std::string, TrainSummary> runs;
  for (const char* mode : {"cached", "streamed"}) {
    c.output.run_dir = (dir_ / mode).string();
    c.data.memory_budget_mb = c.test.memory_budget_mb = std::string(mode) == "cached" ? 0.0 : 0.01;
    TrainOptions options{0};
    options.events = (dir_ / (std::string(mode) + ".jsonl")).string();
    runs[mode] = train_pix2pix(c, options);
    std::ifstream events(options.events);
    std::string first;
    std::getline(events, first);
    const nlohmann::json start = nlohmann::json::parse(first);
    ASSERT_EQ(start["event"], "run_start");
    EXPECT_EQ(start["data_storage"], mode);
    EXPECT_EQ(start["test_storage"], mode);
  }
  EXPECT_THAT(read_file(runs["streamed"].run_dir / "train.log"), HasSubstr("data storage: streamed from disk with 2"));
  EXPECT_THAT(read_file(runs["cached"].run_dir / "train.log"), HasSubstr("data storage: cached in host memory"));
  ASSERT_TRUE(runs["streamed"].test_ssim);
  EXPECT_EQ(runs["streamed"].test_ssim, runs["cached"].test_ssim);
  for (const char* plot : {"loss.csv", "ssim.csv", "score.csv"})
    EXPECT_EQ(read_file(runs["streamed"].run_dir / "plots" / plot), read_file(runs["cached"].run_dir / "plots" / plot));
}

}  // namespace
}  // namespace img2img
