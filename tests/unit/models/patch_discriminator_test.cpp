#include "img2img/models/patch_discriminator.h"

#include <gtest/gtest.h>

#include "img2img/config/run_config.h"
#include "img2img/models/factory.h"
#include "img2img/models/shape_rules.h"

namespace img2img {
namespace {

int64_t count_parameters(torch::nn::Module& m) {
  int64_t n = 0;
  for (const auto& p : m.parameters()) n += p.numel();
  return n;
}

TEST(PatchDiscriminatorTest, Pix2PixBasicParameterCount) {
  // pix2pix define_D('basic', ndf=64, n_layers=3, norm='batch') for 6 input channels: 2,768,705.
  PatchDiscriminator d(PatchDiscriminatorOptions(6));
  EXPECT_EQ(count_parameters(*d), 2768705);
}

TEST(PatchDiscriminatorTest, SeventyPixelPatchesGiveThirtyByThirtyAt256) {
  torch::manual_seed(0);
  PatchDiscriminator d(PatchDiscriminatorOptions(6));
  const auto y = d(torch::rand({2, 6, 256, 256}));
  EXPECT_EQ(y.sizes().vec(), (std::vector<int64_t>{2, 1, 30, 30}));
  DiscriminatorConfig config;
  EXPECT_EQ(patch_output_size(config.layers, config.kernel_size, 256), 30);
}

TEST(PatchDiscriminatorTest, ChannelsDoubleUpToEightTimesInitial) {
  PatchDiscriminator d(PatchDiscriminatorOptions(2).layers(5).initial_layer_size(4));
  std::vector<int64_t> out;
  for (const auto& c : d->convs) out.push_back(c->weight.size(0));
  EXPECT_EQ(out, (std::vector<int64_t>{4, 8, 16, 32, 32, 32, 1}));
}

TEST(PatchDiscriminatorTest, OutputSizeFormulaMatchesForwardForEveryKernel) {
  for (int64_t k : {3, 4, 5}) {
    for (int64_t layers : {1, 2, 3}) {
      DiscriminatorConfig config;
      config.layers = layers, config.kernel_size = k, config.initial_layer_size = 4;
      PatchDiscriminator d(PatchDiscriminatorOptions(2).layers(layers).kernel_size(k).initial_layer_size(4));
      const auto y = d(torch::rand({1, 2, 64, 64}));
      EXPECT_EQ(y.size(2), patch_output_size(config.layers, config.kernel_size, 64))
          << "k=" << k << " layers=" << layers;
    }
  }
}

}  // namespace
}  // namespace img2img
