#include "img2img/models/conv_transpose.h"

#include <ATen/ops/convolution.h>           // at::convolution
#include <ATen/ops/convolution_backward.h>  // at::convolution_backward
#include <torch/csrc/autograd/custom_function.h>

#include <array>   // std::array
#include <vector>  // std::vector

#include "img2img/core/torch_compat.h"

namespace img2img {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// y = conv_transpose2d(x, w) with w: [C_in, C_out, k, k], i.e. the input gradient of
// conv2d(·, w): [N, C_out, H_out, W_out] -> [N, C_in, H, W] evaluated at grad_output = x.
struct ConvTransposeFunction : torch::autograd::Function<ConvTransposeFunction> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x, const torch::Tensor& weight,
                               std::vector<int64_t> stride, std::vector<int64_t> padding,
                               std::vector<int64_t> output_padding) {
    ctx->save_for_backward({x, weight});
    ctx->saved_data["stride"] = stride;
    ctx->saved_data["padding"] = padding;
    std::vector<int64_t> shape{x.size(0), weight.size(1), 0, 0};
    for (int d = 0; d < 2; ++d)
      shape[2 + d] = (x.size(2 + d) - 1) * stride[d] - 2 * padding[d] + weight.size(2 + d) + output_padding[d];
    // Only the sizes of the convolution's "input" are read for the input gradient.
    const auto like = at::empty(shape, x.options());
    const std::array<bool, 3> mask{true, false, false};
    return std::get<0>(at::convolution_backward(x.contiguous(), like, weight, c10::nullopt, stride, padding,
                                                /*dilation=*/{1, 1}, /*transposed=*/false,
                                                /*output_padding=*/{0, 0}, /*groups=*/1, mask));
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    const auto& x = saved[0];
    const auto& weight = saved[1];
    const auto stride = ctx->saved_data["stride"].toIntVector();
    const auto padding = ctx->saved_data["padding"].toIntVector();
    const auto g = grad_outputs[0].contiguous();  // [N, C_out, H', W']
    torch::Tensor grad_x, grad_w;
    if (ctx->needs_input_grad(0))  // adjoint of the adjoint: the forward convolution
      grad_x = at::convolution(g, weight, {}, stride, padding, {1, 1}, false, {0, 0}, 1);
    if (ctx->needs_input_grad(1)) {  // weight gradient of conv2d(g, w) with grad_output x
      const std::array<bool, 3> mask{false, true, false};
      grad_w = std::get<1>(at::convolution_backward(x.contiguous(), g, weight, c10::nullopt, stride, padding,
                                                    {1, 1}, false, {0, 0}, 1, mask));
    }
    return {grad_x, grad_w, torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor conv_transpose2d_fast(const torch::nn::ConvTranspose2dImpl& conv, const torch::Tensor& x) {
  if (!x.device().is_cpu()) return const_cast<torch::nn::ConvTranspose2dImpl&>(conv).forward(x);
  const auto& o = conv.options;
  TORCH_CHECK(o.groups() == 1 && o.dilation()->at(0) == 1 && o.dilation()->at(1) == 1,
              "conv_transpose2d_fast supports groups 1 and dilation 1 only");
  TORCH_CHECK(x.dim() == 4 && x.size(1) == conv.weight.size(0), "conv_transpose2d_fast expects [N, ",
              conv.weight.size(0), ", H, W], got ", x.sizes());
  const auto* padding = compat::explicit_conv_padding(o.padding());
  TORCH_CHECK(padding != nullptr && o.padding_mode().index() == 0 /* kZeros */,
              "conv_transpose2d_fast needs explicit zero padding");
  const auto as_vector = [](const torch::ExpandingArray<2>& a) { return std::vector<int64_t>(a->begin(), a->end()); };
  auto y = ConvTransposeFunction::apply(x, conv.weight, as_vector(o.stride()), as_vector(*padding),
                                        as_vector(o.output_padding()));
  if (conv.bias.defined()) y = y + conv.bias.view({1, -1, 1, 1});
  return y;
}

}  // namespace img2img
