#include <gtest/gtest.h>
#include <torch/torch.h>

#include <string>  // std::to_string
#include <vector>  // std::vector

#include "img2img/models/fast_conv.h"

namespace img2img {
namespace {

// Largest |a - b| relative to the largest |b| (b the float64 reference).
double relative_error(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kDouble) - b).abs().max().item<double>() / b.abs().max().item<double>();
}

struct Shape {
  int64_t batch, in, out, size, kernel;
};

// The GEMM path at the inner U-Net shapes it is chosen for (512-1024 channels, 1-8 px, batch 1-4, up to
// batch x positions = 64), against a float64 reference: LibTorch's double-precision convolutions run on
// its own slow_conv2d / slow_conv_transpose2d, not on oneDNN or dnnl_sgemm, so this is independent of
// both paths of fast_conv (fast_conv_test compares with the float modules, mostly at small channel counts).
TEST(FastConvReferenceTest, GemmPathMatchesFloat64AtInnerUnetShapes) {
  torch::manual_seed(11);
  // batch x positions 64 with batch folded into the columns; 1024 input channels, odd kernel; 1 px.
  const std::vector<Shape> shapes = {{4, 512, 256, 4, 4}, {2, 1024, 256, 2, 5}, {3, 512, 512, 1, 3}};
  for (const Shape& s : shapes) {
    SCOPED_TRACE("batch " + std::to_string(s.batch) + ", " + std::to_string(s.in) + "->" + std::to_string(s.out) +
                 " at " + std::to_string(s.size) + " px, kernel " + std::to_string(s.kernel));
    const int64_t k = s.kernel, pad = (k - 1) / 2, out_pad = 2 + 2 * pad - k;  // as UnetGenerator
    torch::nn::Conv2d down(torch::nn::Conv2dOptions(s.in, s.out, k).stride(2).padding(pad).bias(true));
    torch::nn::ConvTranspose2d up(
        torch::nn::ConvTranspose2dOptions(s.in, s.out, k).stride(2).padding(pad).output_padding(out_pad).bias(true));
    namespace F = torch::nn::functional;
    {  // down: [N, in, 2s, 2s] -> [N, out, s, s]; batch x positions = N s^2 <= 64
      ASSERT_EQ(choose_conv_path(s.batch, s.size * s.size), ConvPath::kGemm);
      const torch::Tensor x = torch::randn({s.batch, s.in, 2 * s.size, 2 * s.size}).requires_grad_(true);
      const torch::Tensor y = conv2d_fast(*down, x);
      const torch::Tensor gy = torch::randn_like(y);
      const auto g = torch::autograd::grad({y}, {x, down->weight, down->bias}, {gy});
      const torch::Tensor xd = x.detach().to(torch::kDouble).requires_grad_(true);
      const torch::Tensor wd = down->weight.detach().to(torch::kDouble).requires_grad_(true);
      const torch::Tensor bd = down->bias.detach().to(torch::kDouble).requires_grad_(true);
      const torch::Tensor yd = F::conv2d(xd, wd, F::Conv2dFuncOptions().bias(bd).stride(2).padding(pad));
      const auto gd = torch::autograd::grad({yd}, {xd, wd, bd}, {gy.to(torch::kDouble)});
      ASSERT_EQ(y.sizes(), yd.sizes());
      EXPECT_LT(relative_error(y, yd), 1e-5) << "conv2d forward";
      EXPECT_LT(relative_error(g[0], gd[0]), 1e-5) << "conv2d input gradient";
      EXPECT_LT(relative_error(g[1], gd[1]), 1e-5) << "conv2d weight gradient";
      EXPECT_LT(relative_error(g[2], gd[2]), 1e-5) << "conv2d bias gradient";
    }
    {  // up: [N, in, s, s] -> [N, out, 2s, 2s]
      ASSERT_EQ(choose_conv_path(s.batch, s.size * s.size), ConvPath::kGemm);
      const torch::Tensor x = torch::randn({s.batch, s.in, s.size, s.size}).requires_grad_(true);
      const torch::Tensor y = conv_transpose2d_fast(*up, x);
      const torch::Tensor gy = torch::randn_like(y);
      const auto g = torch::autograd::grad({y}, {x, up->weight, up->bias}, {gy});
      const torch::Tensor xd = x.detach().to(torch::kDouble).requires_grad_(true);
      const torch::Tensor wd = up->weight.detach().to(torch::kDouble).requires_grad_(true);
      const torch::Tensor bd = up->bias.detach().to(torch::kDouble).requires_grad_(true);
      const torch::Tensor yd = F::conv_transpose2d(
          xd, wd, F::ConvTranspose2dFuncOptions().bias(bd).stride(2).padding(pad).output_padding(out_pad));
      const auto gd = torch::autograd::grad({yd}, {xd, wd, bd}, {gy.to(torch::kDouble)});
      ASSERT_EQ(y.sizes(), yd.sizes());
      EXPECT_EQ(y.size(2), 2 * s.size);
      EXPECT_LT(relative_error(y, yd), 1e-5) << "conv_transpose2d forward";
      EXPECT_LT(relative_error(g[0], gd[0]), 1e-5) << "conv_transpose2d input gradient";
      EXPECT_LT(relative_error(g[1], gd[1]), 1e-5) << "conv_transpose2d weight gradient";
      EXPECT_LT(relative_error(g[2], gd[2]), 1e-5) << "conv_transpose2d bias gradient";
    }
  }
}

}  // namespace
}  // namespace img2img
