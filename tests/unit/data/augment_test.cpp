// data.crop / flip_* / rotation: paired consistency, flip probabilities, no samples from outside
// the source after rotation.

#include "img2img/data/augment.h"

#include <gtest/gtest.h>
#include <torch/nn/functional/vision.h>  // affine_grid

#include <cmath>  // std::sqrt

namespace img2img {
namespace {

DataConfig all_augmentations() {
  DataConfig c;
  c.crop = 0.5, c.flip_horizontal = 0.5, c.flip_vertical = 0.5, c.rotation = 0.5;
  return c;
}

TEST(AugmentTest, IdenticalPairStaysIdentical) {
  torch::manual_seed(0);
  const torch::Tensor x = torch::rand({16, 3, 32, 32}) * 2 - 1;
  std::mt19937_64 rng(7);
  for (const DataConfig& config : {all_augmentations(), [] { DataConfig c; c.crop = 0.3; return c; }(),
                                   [] { DataConfig c; c.rotation = 1; return c; }(),
                                   [] { DataConfig c; c.flip_horizontal = 1; c.flip_vertical = 1; return c; }()}) {
    const auto [a, b] = augment_pair(x, x.clone(), config, rng);
    EXPECT_EQ(a.sizes(), x.sizes());
    EXPECT_TRUE(torch::equal(a, b));
    EXPECT_FALSE(torch::equal(a, x));  // something happened
  }
}

TEST(AugmentTest, PairedSidesGetTheSameDraw) {
  // reference = 2 * input stays 2 * input (every op is linear per pixel and shared).
  torch::manual_seed(1);
  const torch::Tensor x = torch::rand({8, 1, 24, 24}) - 0.5;
  std::mt19937_64 rng(3);
  const auto [a, b] = augment_pair(x, x * 2, all_augmentations(), rng);
  EXPECT_TRUE(torch::allclose(b, a * 2, /*rtol=*/1e-5, /*atol=*/1e-6));
}

TEST(AugmentTest, FlipProbabilitiesWithinBinomialBounds) {
  // Each sample is [[-1, 1], [-0.5, 1.5]].
  const int64_t n = 4000;
  torch::Tensor x = torch::tensor({-1.0f, 1.0f, -0.5f, 1.5f}).reshape({1, 1, 2, 2}).repeat({n, 1, 1, 1});
  DataConfig config;
  config.flip_horizontal = 0.3, config.flip_vertical = 0.6;
  std::mt19937_64 rng(11);
  const auto [a, b] = augment_pair(x, x, config, rng);
  // Left column positive <=> flipped left-right; top row mean 0.5 (else 0) <=> flipped top-bottom.
  const double h = (a.select(1, 0).select(2, 0).select(1, 0) > 0).sum().item<double>();
  const double v = (a.select(1, 0).select(1, 0).mean({1}) > 0.25).sum().item<double>();
  for (const auto& [count, p] : {std::pair<double, double>{h, 0.3}, {v, 0.6}}) {
    const double sigma = std::sqrt(n * p * (1 - p));
    EXPECT_NEAR(count, n * p, 4.5 * sigma) << "p = " << p;
  }
}

TEST(AugmentTest, RotationSamplesOnlyInsideTheSource) {
  DataConfig config;
  config.rotation = 1.0, config.crop = 0.4;
  std::mt19937_64 rng(5);
  const int64_t n = 2000, s = 64;
  const AugmentDraw d = draw_augmentation(n, config, rng);
  ASSERT_TRUE(d.any_warp);
  // Every output pixel centre maps into the source square [-1, 1]^2 (normalised, align_corners
  // false: the outer edge of the outer pixels), so no pixel comes from outside the image.
  const torch::Tensor grid = torch::nn::functional::affine_grid(d.theta.to(torch::kFloat64), {n, 1, s, s},
                                                                /*align_corners=*/false);
  EXPECT_LE(grid.abs().max().item<double>(), 1.0 + 1e-6);
  // The corner pixels get close to the source edge (the zoom is not larger than needed).
  EXPECT_GT(grid.abs().max().item<double>(), 0.95);
  // Angles are spread over the full circle.
  const torch::Tensor angle = torch::atan2(d.theta.select(1, 1).select(1, 0), d.theta.select(1, 0).select(1, 0));
  EXPECT_LT(angle.min().item<double>(), -3.0);
  EXPECT_GT(angle.max().item<double>(), 3.0);
}

TEST(AugmentTest, RotatedConstantImageHasNoEmptyCorners) {
  // Zero padding would darken any output pixel that samples outside the source.
  const int64_t s = 32;
  DataConfig config;
  config.rotation = 1.0;
  std::mt19937_64 rng(9);
  const AugmentDraw d = draw_augmentation(64, config, rng);
  namespace F = torch::nn::functional;
  const torch::Tensor grid = F::affine_grid(d.theta, {64, 1, s, s}, /*align_corners=*/false);
  // Sample a constant image that is 1 inside the source and 0 outside (zeros padding), with
  // nearest sampling so the half-pixel rim counts as inside.
  const torch::Tensor out = F::grid_sample(torch::ones({64, 1, s, s}), grid,
                                           F::GridSampleFuncOptions().mode(torch::kNearest).padding_mode(torch::kZeros).align_corners(false));
  EXPECT_EQ(out.min().item<float>(), 1.0f);
}

TEST(AugmentTest, NothingEnabledDrawsNothing) {
  std::mt19937_64 rng(1), untouched(1);
  const torch::Tensor x = torch::zeros({2, 1, 4, 4});
  const auto [a, b] = augment_pair(x, x, DataConfig{}, rng);
  EXPECT_TRUE(torch::equal(a, x));
  EXPECT_EQ(rng(), untouched());
}

TEST(AugmentTest, UnpairedSidesGetTheirOwnDrawsReproducibly) {
  // Unpaired A and B images of a batch position are unrelated: each gets its own flip. Same
  // sample layout as FlipProbabilitiesWithinBinomialBounds: left column positive <=> flipped.
  const int64_t n = 2000;
  const torch::Tensor x = torch::tensor({-1.0f, 1.0f, -0.5f, 1.5f}).reshape({1, 1, 2, 2}).repeat({n, 1, 1, 1});
  DataConfig config;
  config.flip_horizontal = 0.5;
  auto flipped = [](const torch::Tensor& t) { return t.select(1, 0).select(2, 0).select(1, 0) > 0; };  // [N]
  std::mt19937_64 rng(21);
  const auto [a, b] = augment_unpaired(x, x, config, rng);
  const torch::Tensor fa = flipped(a), fb = flipped(b);
  // Independent draws with p = 0.5 disagree with probability 0.5; a shared draw never would.
  const double disagree = (fa != fb).sum().item<double>(), sigma = std::sqrt(n * 0.25);
  EXPECT_NEAR(disagree, n * 0.5, 4.5 * sigma);
  EXPECT_NEAR(fa.sum().item<double>(), n * 0.5, 4.5 * sigma);
  EXPECT_NEAR(fb.sum().item<double>(), n * 0.5, 4.5 * sigma);
  // The paired path keeps one shared draw: never a disagreement.
  std::mt19937_64 paired_rng(21);
  const auto [pa, pb] = augment_pair(x, x, config, paired_rng);
  EXPECT_EQ((flipped(pa) != flipped(pb)).sum().item<int64_t>(), 0);
  // Reproducible with the seed: the same seed gives the same draws; A's come first, then B's.
  std::mt19937_64 again(21);
  const auto [a2, b2] = augment_unpaired(x, x, config, again);
  EXPECT_TRUE(torch::equal(a, a2));
  EXPECT_TRUE(torch::equal(b, b2));
  std::mt19937_64 a_only(21);
  EXPECT_TRUE(torch::equal(augment_images(x, config, a_only), a));
  EXPECT_TRUE(torch::equal(augment_images(x, config, a_only), b));
  std::mt19937_64 other_seed(22);
  EXPECT_FALSE(torch::equal(augment_unpaired(x, x, config, other_seed).first, a));
}

}  // namespace
}  // namespace img2img
