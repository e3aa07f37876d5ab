#include "img2img/models/unet_generator.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/nn/modules/batchnorm.h>

#include "img2img/config/enum_names.h"
#include "img2img/models/factory.h"

namespace img2img {
namespace {

int64_t count_parameters(torch::nn::Module& m) {
  int64_t n = 0;
  for (const auto& p : m.parameters()) n += p.numel();
  return n;
}

class UnetGeneratorTest : public ::testing::Test {
 protected:
  void SetUp() override { torch::manual_seed(0); }
};

TEST_F(UnetGeneratorTest, Pix2PixUnet256ParameterCount) {
  // pix2pix define_G('unet_256', ngf=64, norm='batch') for 3 -> 3 channels: 54,413,955 parameters.
  RunConfig config;
  config.data.image_size = 256;
  config.generator.layers = 8;
  config.generator.initial_layer_size = 64;
  config.generator.max_layer_size = 512;
  UnetGenerator g(generator_options(config));
  EXPECT_EQ(count_parameters(*g), 54413955);
}

TEST_F(UnetGeneratorTest, NodeDefaultChannelsAreCappedAtImageSize) {
  // The node's documented example: 256 px, 8 layers -> 64, 128, 256, 256, 256, 256, 256, 256.
  RunConfig config;
  EXPECT_EQ(generator_options(config).channels(), (std::vector<int64_t>{64, 128, 256, 256, 256, 256, 256, 256}));
  config.generator.max_layer_size = 512;
  EXPECT_EQ(generator_options(config).channels(), (std::vector<int64_t>{64, 128, 256, 512, 512, 512, 512, 512}));
}

TEST_F(UnetGeneratorTest, PreservesSpatialSizeAndMapsChannels) {
  UnetGenerator g(UnetGeneratorOptions(3, 1).channels({8, 16, 32, 32, 32}));
  const auto y = g(torch::rand({2, 3, 64, 64}) * 2 - 1);
  EXPECT_EQ(y.sizes().vec(), (std::vector<int64_t>{2, 1, 64, 64}));
  EXPECT_LE(y.abs().max().item<float>(), 1.0f);  // tanh range
  EXPECT_GT(y.std().item<float>(), 0.0f);
}

TEST_F(UnetGeneratorTest, EveryKernelSizeHalvesAndDoublesExactly) {
  for (int64_t k : {1, 2, 3, 4, 5, 7}) {
    UnetGenerator g(UnetGeneratorOptions(4, 4).channels({4, 8, 8}).kernel_size(k));
    g->eval();
    const auto y = g(torch::rand({1, 4, 24, 40}));
    EXPECT_EQ(y.sizes().vec(), (std::vector<int64_t>{1, 4, 24, 40})) << "kernel " << k;
    EXPECT_EQ(g->down[0]->weight.size(2), k);
  }
}

TEST_F(UnetGeneratorTest, EveryActivationRunsAndDiffers) {
  const torch::Tensor x = torch::rand({1, 3, 32, 32}) * 2 - 1;
  std::vector<torch::Tensor> outputs;
  for (const auto& [act, name] : enum_names<Activation>()) {
    torch::manual_seed(1);  // same weights for every activation
    UnetGenerator g(UnetGeneratorOptions(3, 3).channels({8, 16, 16}).down_activation(act).up_activation(act));
    g->eval();
    const auto y = g(x);
    EXPECT_TRUE(torch::isfinite(y).all().item<bool>()) << name;
    for (const auto& other : outputs) EXPECT_FALSE(torch::allclose(y, other)) << name << " equals another activation";
    outputs.push_back(y);
  }
  EXPECT_EQ(outputs.size(), 8u);
}

TEST_F(UnetGeneratorTest, DropoutOnlyInThreeLevelsOutsideTheInnermost) {
  UnetGenerator g(UnetGeneratorOptions(3, 3).channels({8, 8, 8, 8, 8, 8, 8, 8}));
  EXPECT_EQ(g->up_dropout, (std::vector<bool>{false, false, false, false, true, true, true, false}));
  UnetGenerator off(UnetGeneratorOptions(3, 3).channels({8, 8, 8, 8}).dropout(0.0));
  for (bool d : off->up_dropout) EXPECT_FALSE(d);
  // In eval mode dropout is off: two passes agree; in train mode they differ.
  g->eval();
  const auto x = torch::rand({1, 3, 256, 256});
  EXPECT_TRUE(torch::equal(g(x), g(x)));
}

TEST_F(UnetGeneratorTest, BatchNormConvsHaveNoBiasInstanceNormConvsDo) {
  UnetGenerator b(UnetGeneratorOptions(3, 3).channels({8, 16, 16}).norm(NormKind::kBatch));
  EXPECT_FALSE(b->down[1]->bias.defined());
  EXPECT_TRUE(b->up[0]->bias.defined());  // outermost up conv always has a bias (pix2pix)
  UnetGenerator i(UnetGeneratorOptions(3, 3).channels({8, 16, 16}).norm(NormKind::kInstance));
  EXPECT_TRUE(i->down[1]->bias.defined());
  // instance: conv biases 8+16+16 (down) + 16+8 (up) = 64; batch: BN affine 2*16 (down1) + 2*16 (up2) + 2*8 (up1) = 80.
  EXPECT_EQ(count_parameters(*i) - count_parameters(*b), 64 - 80);
}

TEST_F(UnetGeneratorTest, RejectsSizeNotDivisibleByTwoToTheLayers) {
  UnetGenerator g(UnetGeneratorOptions(3, 3).channels({8, 8, 8, 8, 8}));
  try {
    g(torch::zeros({1, 3, 40, 40}));
    FAIL() << "expected c10::Error";
  } catch (const c10::Error& e) {
    EXPECT_THAT(e.what_without_backtrace(), ::testing::HasSubstr("divisible by 32"));
  }
}

}  // namespace
}  // namespace img2img
