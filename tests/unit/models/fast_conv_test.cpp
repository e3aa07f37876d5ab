#include "img2img/models/fast_conv.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <string>  // std::to_string

namespace img2img {
namespace {

// Largest |a - b| relative to the largest |b|.
double relative_error(const torch::Tensor& a, const torch::Tensor& b) {
  return (a - b).abs().max().item<double>() / b.abs().max().item<double>();
}

const char* path_name(ConvPath p) { return p == ConvPath::kGemm ? "gemm" : "onednn"; }

// conv_transpose2d_fast against LibTorch's own ConvTranspose2d (slow_conv_transpose2d on the CPU),
// forward and all three gradients, for the U-Net's up-sampling settings of kernel 3, 4 and 5, on both paths.
TEST(ConvTransposeFastTest, MatchesConvTranspose2dForwardAndGradients) {
  torch::manual_seed(3);
  for (const ConvPath path : {ConvPath::kOneDnn, ConvPath::kGemm})
    for (const int64_t k : {3, 4, 5}) {
      SCOPED_TRACE(std::string(path_name(path)) + " kernel " + std::to_string(k));
      const int64_t pad = (k - 1) / 2, out_pad = 2 + 2 * pad - k;  // as UnetGenerator
      torch::nn::ConvTranspose2d conv(
          torch::nn::ConvTranspose2dOptions(6, 5, k).stride(2).padding(pad).output_padding(out_pad).bias(true));
      const torch::Tensor x = torch::randn({2, 6, 7, 9}).requires_grad_(true);

      const torch::Tensor expected = conv->forward(x);
      const torch::Tensor grad_out = torch::randn_like(expected);
      const auto expected_grads = torch::autograd::grad({expected}, {x, conv->weight, conv->bias}, {grad_out});

      const torch::Tensor got = conv_transpose2d_fast(*conv, x, path);
      ASSERT_EQ(got.sizes(), expected.sizes());
      EXPECT_EQ(got.size(2), 14);  // doubles H and W for every kernel size
      EXPECT_EQ(got.size(3), 18);
      const auto grads = torch::autograd::grad({got}, {x, conv->weight, conv->bias}, {grad_out});

      EXPECT_LT(relative_error(got, expected), 1e-5);
      EXPECT_LT(relative_error(grads[0], expected_grads[0]), 1e-5) << "input gradient";
      EXPECT_LT(relative_error(grads[1], expected_grads[1]), 1e-5) << "weight gradient";
      EXPECT_LT(relative_error(grads[2], expected_grads[2]), 1e-5) << "bias gradient";
    }
}

TEST(ConvTransposeFastTest, WithoutBiasAndWithoutInputGradient) {
  torch::manual_seed(4);
  for (const ConvPath path : {ConvPath::kOneDnn, ConvPath::kGemm}) {
    SCOPED_TRACE(path_name(path));
    torch::nn::ConvTranspose2d conv(torch::nn::ConvTranspose2dOptions(4, 3, 4).stride(2).padding(1).bias(false));
    const torch::Tensor x = torch::randn({1, 4, 8, 8});  // no requires_grad: only the weight gradient
    const torch::Tensor expected = conv->forward(x);
    const torch::Tensor got = conv_transpose2d_fast(*conv, x, path);
    EXPECT_LT(relative_error(got, expected), 1e-5);
    const auto g_expected = torch::autograd::grad({expected.square().sum()}, {conv->weight})[0];
    const auto g_got = torch::autograd::grad({got.square().sum()}, {conv->weight})[0];
    EXPECT_LT(relative_error(g_got, g_expected), 1e-5);
  }
}

TEST(ConvTransposeFastTest, RejectsWrongChannelCount) {
  torch::nn::ConvTranspose2d conv(torch::nn::ConvTranspose2dOptions(4, 3, 4).stride(2).padding(1));
  EXPECT_THROW(conv_transpose2d_fast(*conv, torch::randn({1, 5, 8, 8})), c10::Error);
}

// conv2d_fast against torch::nn::Conv2d (LibTorch's own convolution), forward and gradients, for the
// down-sampling (stride 2) and PatchGAN (stride 1) settings, kernels 3-5, odd sizes, on both paths.
TEST(Conv2dFastTest, MatchesConv2dForwardAndGradients) {
  torch::manual_seed(5);
  for (const ConvPath path : {ConvPath::kOneDnn, ConvPath::kGemm})
    for (const int64_t k : {3, 4, 5})
      for (const int64_t stride : {1, 2}) {
        SCOPED_TRACE(std::string(path_name(path)) + " kernel " + std::to_string(k) + " stride " +
                     std::to_string(stride));
        torch::nn::Conv2d conv(torch::nn::Conv2dOptions(5, 7, k).stride(stride).padding((k - 1) / 2).bias(true));
        const torch::Tensor x = torch::randn({3, 5, 11, 8}).requires_grad_(true);
        const torch::Tensor expected = conv->forward(x);
        const torch::Tensor grad_out = torch::randn_like(expected);
        const auto expected_grads = torch::autograd::grad({expected}, {x, conv->weight, conv->bias}, {grad_out});

        const torch::Tensor got = conv2d_fast(*conv, x, path);
        ASSERT_EQ(got.sizes(), expected.sizes());
        const auto grads = torch::autograd::grad({got}, {x, conv->weight, conv->bias}, {grad_out});
        EXPECT_LT(relative_error(got, expected), 1e-5);
        EXPECT_LT(relative_error(grads[0], expected_grads[0]), 1e-5) << "input gradient";
        EXPECT_LT(relative_error(grads[1], expected_grads[1]), 1e-5) << "weight gradient";
        EXPECT_LT(relative_error(grads[2], expected_grads[2]), 1e-5) << "bias gradient";
      }
}

// The U-Net's innermost shapes (where the GEMM path is chosen): 512 channels at 2x2 -> 1x1, batch 2,
// and the transposed convolution back, against LibTorch's modules.
TEST(Conv2dFastTest, InnermostUnetShapesOnTheDefaultPath) {
  torch::manual_seed(6);
  torch::nn::Conv2d down(torch::nn::Conv2dOptions(512, 512, 4).stride(2).padding(1).bias(false));
  torch::nn::ConvTranspose2d up(torch::nn::ConvTranspose2dOptions(512, 512, 4).stride(2).padding(1).bias(false));
  const torch::Tensor x = torch::randn({2, 512, 2, 2}).requires_grad_(true);
  ASSERT_EQ(choose_conv_path(2, 1), ConvPath::kGemm);
  const torch::Tensor h = conv2d_fast(*down, x), expected_h = down->forward(x);
  EXPECT_LT(relative_error(h, expected_h), 1e-5);
  const torch::Tensor y = conv_transpose2d_fast(*up, h), expected_y = up->forward(expected_h);
  EXPECT_LT(relative_error(y, expected_y), 1e-5);
  const auto g = torch::autograd::grad({y.square().sum()}, {x, down->weight, up->weight});
  const auto e = torch::autograd::grad({expected_y.square().sum()}, {x, down->weight, up->weight});
  for (int i = 0; i < 3; ++i) EXPECT_LT(relative_error(g[i], e[i]), 1e-4) << "gradient " << i;
}

TEST(Conv2dFastTest, PathRuleDependsOnBatchTimesLowResolutionPositions) {
  EXPECT_EQ(choose_conv_path(1, kGemmConvMaxPositions), ConvPath::kGemm);
  EXPECT_EQ(choose_conv_path(1, kGemmConvMaxPositions + 1), ConvPath::kOneDnn);
  EXPECT_EQ(choose_conv_path(4, 16), ConvPath::kGemm);      // 64 px image, batch 4, innermost levels
  EXPECT_EQ(choose_conv_path(4, 17), ConvPath::kOneDnn);
  EXPECT_EQ(choose_conv_path(1, 31 * 31), ConvPath::kOneDnn);  // PatchGAN's stride-1 layers at 256 px
}

TEST(Conv2dFastTest, RejectsWrongChannelCountAndGroups) {
  torch::nn::Conv2d conv(torch::nn::Conv2dOptions(4, 3, 4).stride(2).padding(1));
  EXPECT_THROW(conv2d_fast(*conv, torch::randn({1, 5, 8, 8})), c10::Error);
  torch::nn::Conv2d grouped(torch::nn::Conv2dOptions(4, 4, 3).padding(1).groups(2));
  EXPECT_THROW(conv2d_fast(*grouped, torch::randn({1, 4, 8, 8})), c10::Error);
}

}  // namespace
}  // namespace img2img
