// data.worker_threads never changes results: 0 and 4 workers give identical decoded tensors and,
// with a fixed seed, identical shuffled and augmented batches (16-bit PNG pairs).

#include <gtest/gtest.h>

#include <fmt/format.h>      // fmt::format
#include <opencv2/core.hpp>  // cv::Mat, cv::RNG

#include <algorithm>  // std::shuffle
#include <numeric>    // std::iota
#include <random>     // std::mt19937_64

#include "img2img/data/augment.h"
#include "img2img/data/image_io.h"
#include "img2img/data/paired_dataset.h"
#include "support/test_support.h"

namespace img2img {
namespace {
namespace fs = std::filesystem;

class LoaderWorkersTest : public test::TempDirTest {};

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

TEST_F(LoaderWorkersTest, ZeroAndFourWorkersGiveIdenticalBatches) {
  DataConfig config;
  config.input_dir = (dir_ / "in").string(), config.reference_dir = (dir_ / "ref").string();
  cv::RNG rng(3);
  for (int i = 0; i < 11; ++i) {
    cv::Mat x(48, 40 + i, CV_32FC3);  // different sizes: resized to 32 px
    rng.fill(x, cv::RNG::UNIFORM, 0.0, 1.0);
    write_image(fs::path(config.input_dir) / fmt::format("{:02d}.png", i), x, PixelDepth::k16);
    write_image(fs::path(config.reference_dir) / fmt::format("{:02d}.png", i), x * 0.5, PixelDepth::k16);
  }
  config.crop = 0.7, config.flip_horizontal = 0.5, config.flip_vertical = 0.5, config.rotation = 0.5;
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

}  // namespace
}  // namespace img2img
