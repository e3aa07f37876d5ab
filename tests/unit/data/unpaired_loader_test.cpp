// Unpaired (CycleGAN) data streamed from disk (data.storage = automatic over the memory budget):
// the batches equal the cached ones for the same seed, whatever data.worker_threads is, and equal
// the batches the trainer drew before passes were drawn ahead (checkpoints resume identically).

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fmt/format.h>      // fmt::format
#include <opencv2/core.hpp>  // cv::Mat, cv::RNG

#include <algorithm>  // std::shuffle
#include <fstream>    // std::ofstream
#include <numeric>    // std::iota
#include <random>     // std::mt19937_64
#include <utility>    // std::swap

#include "img2img/core/error.h"
#include "img2img/data/augment.h"
#include "img2img/data/image_io.h"
#include "img2img/data/unpaired_dataset.h"
#include "support/test_support.h"

namespace img2img {
namespace {
namespace fs = std::filesystem;
using ::testing::HasSubstr;

class UnpairedLoaderTest : public test::TempDirTest {
 protected:
  // Domain A: 5 random 16-bit RGB images, domain B: 3 random 8-bit ones, of different sizes
  // (resized to 32 px); batch size 2 (the last batch of a pass is short), all augmentations on.
  DataConfig make_data() {
    DataConfig config;
    config.input_type = InputType::kMultipleUnpaired;
    config.input_dir = (dir_ / "a").string(), config.reference_dir = (dir_ / "b").string();
    cv::RNG rng(5);
    for (int i = 0; i < 5; ++i) {
      cv::Mat x(40, 36 + i, CV_32FC3);
      rng.fill(x, cv::RNG::UNIFORM, 0.0, 1.0);
      write_image(fs::path(config.input_dir) / fmt::format("a{}.png", i), x, PixelDepth::k16);
    }
    for (int i = 0; i < 3; ++i) {
      cv::Mat x(33 + i, 45, CV_32FC3);
      rng.fill(x, cv::RNG::UNIFORM, 0.0, 1.0);
      write_image(fs::path(config.reference_dir) / fmt::format("b{}.png", i), x, PixelDepth::k8);
    }
    config.image_size = 32, config.channel_count = 3, config.batch_size = 2;
    config.crop = 0.7, config.flip_horizontal = 0.5, config.flip_vertical = 0.5, config.rotation = 0.5;
    return config;
  }
};

// 5 + 3 images x 3 x 32 x 32 x 4 bytes = 98304 bytes, over a 0.01 MiB (10485 bytes) budget.
constexpr double kTinyBudgetMb = 0.01;

// The augmented batches {A, B, A, B, ...} of `iterations` passes drawn with seed 42, as the trainer uses them.
std::vector<torch::Tensor> run_passes(const UnpairedDataset& d, const DataConfig& config, int iterations = 2) {
  std::mt19937_64 rng(42);
  UnpairedLoader loader(d);
  std::vector<torch::Tensor> out;
  for (int it = 0; it < iterations; ++it) {
    const std::vector<UnpairedBatch> pass = draw_unpaired_pass(d.domain_a().size(), d.domain_b().size(), config, rng);
    loader.start(pass);
    for (const UnpairedBatch& b : pass) {
      auto [a, bb] = loader.next();
      out.push_back(b.augment_a ? apply_augmentation(a, *b.augment_a, config) : a);
      out.push_back(b.augment_b ? apply_augmentation(bb, *b.augment_b, config) : bb);
    }
    EXPECT_THROW(loader.next(), std::logic_error);
  }
  return out;
}

void expect_same_batches(const std::vector<torch::Tensor>& x, const std::vector<torch::Tensor>& y) {
  ASSERT_EQ(x.size(), y.size());
  for (size_t i = 0; i < x.size(); ++i) {
    ASSERT_EQ(x[i].sizes(), y[i].sizes()) << i;
    EXPECT_TRUE(torch::equal(x[i], y[i])) << "batch tensor " << i;
  }
}

TEST_F(UnpairedLoaderTest, OverTheBudgetStreamsWithBatchesIdenticalToCached) {
  DataConfig config = make_data();
  const UnpairedDataset cached(config, 3, 32, 0);
  EXPECT_EQ(cached.storage_mode(), "cached");
  EXPECT_EQ(cached.decoded_bytes(), 8 * 3 * 32 * 32 * 4);
  config.memory_budget_mb = kTinyBudgetMb;
  const UnpairedDataset streamed(config, 3, 32, 0);
  EXPECT_EQ(streamed.storage_mode(), "streamed");
  EXPECT_TRUE(streamed.streamed());
  EXPECT_EQ(streamed.budget_bytes(), static_cast<int64_t>(kTinyBudgetMb * 1024 * 1024));
  EXPECT_FALSE(streamed.domain_a().images.defined());  // nothing kept in memory
  // Depths are found by the up-front decode check, as when cached.
  EXPECT_EQ(streamed.domain_a().depth, PixelDepth::k16);
  EXPECT_EQ(streamed.domain_b().depth, PixelDepth::k8);
  EXPECT_EQ(cached.domain_a().depth, PixelDepth::k16);
  for (int k = 0; k < 2; ++k)
    for (int64_t i = 0; i < cached.domain(k).size(); ++i)
      EXPECT_TRUE(torch::equal(cached.image(k, i), streamed.image(k, i))) << k << " " << i;

  const std::vector<torch::Tensor> expected = run_passes(cached, config);
  ASSERT_EQ(expected.size(), 2u * 2u * 3u);  // 2 passes x 3 batches (5 A images lead) x {A, B}
  EXPECT_EQ(expected[4].size(0), 1);         // the last batch of a pass is short, on both sides
  EXPECT_EQ(expected[5].size(0), 1);
  // The two passes differ (reshuffled, new draws), so equality below is not vacuous.
  EXPECT_FALSE(torch::equal(expected[0], expected[6]) && torch::equal(expected[1], expected[7]));
  expect_same_batches(run_passes(streamed, config), expected);
}

TEST_F(UnpairedLoaderTest, ZeroAndTwoWorkersGiveIdenticalStreamedBatches) {
  DataConfig config = make_data();
  config.memory_budget_mb = kTinyBudgetMb;
  config.worker_threads = 0;
  const UnpairedDataset zero(config, 3, 32, 0);
  config.worker_threads = 2;
  const UnpairedDataset two(config, 3, 32, 0);
  EXPECT_EQ(two.storage_mode(), "streamed");
  EXPECT_EQ(two.worker_threads(), 2);
  expect_same_batches(run_passes(two, config, 3), run_passes(zero, config, 3));
  // B leading (more B than A images: the folders swapped) takes the same path with the roles swapped.
  std::swap(config.input_dir, config.reference_dir);
  const UnpairedDataset b_leads(config, 3, 32, 0);
  ASSERT_EQ(b_leads.domain_b().size(), 5);
  config.memory_budget_mb = 0;
  const UnpairedDataset b_leads_cached(config, 3, 32, 0);
  EXPECT_EQ(b_leads_cached.storage_mode(), "cached");
  expect_same_batches(run_passes(b_leads, config), run_passes(b_leads_cached, config));
}

// The pass drawn ahead consumes the RNG exactly as the trainer's former per-step drawing (shuffle,
// then per batch: picks of the other domain, A's augmentation, B's augmentation), so batches and
// RNG state after a pass are unchanged and older checkpoints resume identically.
TEST_F(UnpairedLoaderTest, PassDrawnAheadEqualsThePerStepDrawing) {
  DataConfig config = make_data();
  const UnpairedDataset d(config, 3, 32, 0);
  std::mt19937_64 rng(42);
  std::vector<torch::Tensor> per_step;
  const int64_t na = d.domain_a().size(), nb = d.domain_b().size();
  for (int it = 0; it < 2; ++it) {
    std::vector<int64_t> order(static_cast<size_t>(na));
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), rng);
    std::uniform_int_distribution<int64_t> pick(0, nb - 1);
    for (int64_t begin = 0; begin < na; begin += 2) {
      const int64_t end = std::min(na, begin + 2);
      std::vector<int64_t> other;
      for (int64_t i = begin; i < end; ++i) other.push_back(pick(rng));
      const torch::Tensor ia = torch::tensor(std::vector<int64_t>(order.begin() + begin, order.begin() + end));
      auto [a, b] = augment_unpaired(d.domain_a().images.index_select(0, ia),
                                     d.domain_b().images.index_select(0, torch::tensor(other)), config, rng);
      per_step.push_back(a), per_step.push_back(b);
    }
  }
  const uint64_t next_draw = rng();
  expect_same_batches(run_passes(d, config), per_step);
  std::mt19937_64 ahead(42);
  for (int it = 0; it < 2; ++it) draw_unpaired_pass(na, nb, config, ahead);
  EXPECT_EQ(ahead(), next_draw);
  // Without augmentation nothing is drawn for it, as augment_unpaired.
  config.crop = config.flip_horizontal = config.flip_vertical = config.rotation = 0;
  const std::vector<UnpairedBatch> plain = draw_unpaired_pass(na, nb, config, ahead);
  EXPECT_FALSE(plain.front().augment_a.has_value());
  EXPECT_FALSE(plain.front().augment_b.has_value());
}

TEST_F(UnpairedLoaderTest, OneSidedBatchesAndErrorsNameTheFile) {
  DataConfig config = make_data();
  config.memory_budget_mb = kTinyBudgetMb, config.worker_threads = 2;
  const UnpairedDataset d(config, 3, 32, 0);
  UnpairedLoader loader(d);
  UnpairedBatch only_b;
  only_b.b = {2, 0};
  loader.start({only_b});
  const auto [a, b] = loader.next();
  EXPECT_FALSE(a.defined());
  ASSERT_EQ(b.sizes(), (std::vector<int64_t>{2, 3, 32, 32}));
  EXPECT_TRUE(torch::equal(b[0], d.image(1, 2)));
  EXPECT_THROW(loader.start({UnpairedBatch{}}), std::logic_error);
  // A file that became unreadable after the up-front check: the batch that needs it names it.
  const fs::path a3 = fs::path(config.input_dir) / "a3.png";
  std::ofstream(a3, std::ios::trunc) << "not a png";
  UnpairedBatch needs_a3;
  needs_a3.a = {3};
  loader.start({needs_a3});
  EXPECT_THAT([&] { loader.next(); }, ::testing::ThrowsMessage<DataError>(HasSubstr("a3.png")));
  // A streamed set still decodes every file once when opened: a bad file is reported then.
  EXPECT_THAT([&] { UnpairedDataset(config, 3, 32, 0); }, ::testing::ThrowsMessage<DataError>(HasSubstr("a3.png")));
}

}  // namespace
}  // namespace img2img
