#include "img2img/models/conv_transpose.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace img2img {
namespace {

// Largest |a - b| relative to the largest |b|.
double relative_error(const torch::Tensor& a, const torch::Tensor& b) {
  return (a - b).abs().max().item<double>() / b.abs().max().item<double>();
}

// conv_transpose2d_fast against LibTorch's own ConvTranspose2d (slow_conv_transpose2d on the CPU),
// forward and all three gradients, for the U-Net's up-sampling settings of kernel 3, 4 and 5.
TEST(ConvTransposeFastTest, MatchesConvTranspose2dForwardAndGradients) {
  torch::manual_seed(3);
  for (const int64_t k : {3, 4, 5}) {
    SCOPED_TRACE("kernel " + std::to_string(k));
    const int64_t pad = (k - 1) / 2, out_pad = 2 + 2 * pad - k;  // as UnetGenerator
    torch::nn::ConvTranspose2d conv(
        torch::nn::ConvTranspose2dOptions(6, 5, k).stride(2).padding(pad).output_padding(out_pad).bias(true));
    const torch::Tensor x = torch::randn({2, 6, 7, 9}).requires_grad_(true);

    const torch::Tensor expected = conv->forward(x);
    const torch::Tensor grad_out = torch::randn_like(expected);
    const auto expected_grads = torch::autograd::grad({expected}, {x, conv->weight, conv->bias}, {grad_out});

    const torch::Tensor got = conv_transpose2d_fast(*conv, x);
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
  torch::nn::ConvTranspose2d conv(torch::nn::ConvTranspose2dOptions(4, 3, 4).stride(2).padding(1).bias(false));
  const torch::Tensor x = torch::randn({1, 4, 8, 8});  // no requires_grad: only the weight gradient
  const torch::Tensor expected = conv->forward(x);
  const torch::Tensor got = conv_transpose2d_fast(*conv, x);
  EXPECT_LT(relative_error(got, expected), 1e-5);
  const auto g_expected = torch::autograd::grad({expected.square().sum()}, {conv->weight})[0];
  const auto g_got = torch::autograd::grad({got.square().sum()}, {conv->weight})[0];
  EXPECT_LT(relative_error(g_got, g_expected), 1e-5);
}

TEST(ConvTransposeFastTest, RejectsWrongChannelCount) {
  torch::nn::ConvTranspose2d conv(torch::nn::ConvTranspose2dOptions(4, 3, 4).stride(2).padding(1));
  EXPECT_THROW(conv_transpose2d_fast(*conv, torch::randn({1, 5, 8, 8})), c10::Error);
}

}  // namespace
}  // namespace img2img
