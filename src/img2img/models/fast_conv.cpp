#include "img2img/models/fast_conv.h"

#include <ATen/ops/col2im.h>                // at::col2im
#include <ATen/ops/convolution.h>           // at::convolution
#include <ATen/ops/convolution_backward.h>  // at::convolution_backward
#include <ATen/ops/empty.h>                 // at::empty
#include <ATen/ops/im2col.h>                // at::im2col
#include <torch/csrc/autograd/custom_function.h>

#include <array>   // std::array
#include <vector>  // std::vector

#include "img2img/core/sgemm.h"
#include "img2img/core/torch_compat.h"

namespace img2img {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Stride and zero padding of a 2-d convolution (dilation 1, groups 1); the kernel size is the weight's.
struct Geometry {
  std::vector<int64_t> stride, padding;
};

// ---- GEMM path: im2col columns, one matrix product per pass ------------------------------------
// A convolution weight w [C_out, C_in, kh, kw] is the matrix W [C_out, K], K = C_in kh kw; the
// im2col columns of x [N, C_in, H, W] form U [K, N L] (L = output positions per image), so
// conv2d(x, w) = W U, its input gradient is col2im(W^T G) and its weight gradient is G U^T, with
// G [C_out, N L] the output gradient. The batch is folded into the columns, so the weights are read
// (or the weight gradient written) once per pass whatever N is.

// a b for 2-d contiguous float32 tensors. Every product here is a plain one: with a transposed
// operand dnnl_sgemm ran 2-10x slower at these skinny shapes (<= 64 rows or columns).
torch::Tensor product(const torch::Tensor& a, const torch::Tensor& b) {
  const int64_t m = a.size(0), k = a.size(1), n = b.size(1);
  torch::Tensor c = at::empty({m, n}, a.options());
  sgemm(false, false, m, n, k, 1.0f, a.data_ptr<float>(), k, b.data_ptr<float>(), n, 0.0f, c.data_ptr<float>(), n);
  return c;
}

// [N, C, H, W] -> [C, N H W].
torch::Tensor channel_rows(const torch::Tensor& t) { return t.transpose(0, 1).reshape({t.size(1), -1}).contiguous(); }

// [C, N H W] -> [N, C, H, W].
torch::Tensor from_channel_rows(const torch::Tensor& m, int64_t n, int64_t h, int64_t w) {
  return m.view({m.size(0), n, h, w}).transpose(0, 1).contiguous();
}

// im2col of x [N, C, H, W] for kernel kh x kw: [N, K, L].
torch::Tensor im2col(const torch::Tensor& x, int64_t kh, int64_t kw, const Geometry& g) {
  return at::im2col(x.contiguous(), {kh, kw}, {1, 1}, g.padding, g.stride);
}

// U = im2col columns as [K, N L].
torch::Tensor unfold_rows(const torch::Tensor& x, int64_t kh, int64_t kw, const Geometry& g) {
  const torch::Tensor cols = im2col(x, kh, kw, g);
  return cols.transpose(0, 1).reshape({cols.size(1), -1}).contiguous();
}

// U^T = im2col columns as [N L, K] (for the weight gradient G U^T as a plain product).
torch::Tensor unfold_cols(const torch::Tensor& x, int64_t kh, int64_t kw, const Geometry& g) {
  const torch::Tensor cols = im2col(x, kh, kw, g);
  return cols.transpose(1, 2).reshape({-1, cols.size(1)}).contiguous();
}

// Adjoint of unfold_cols: sums the columns of U^T [N L, K] back into [N, C, h, w].
torch::Tensor fold_cols(const torch::Tensor& u_t, int64_t n, int64_t h, int64_t w, int64_t kh, int64_t kw,
                        const Geometry& g) {
  const torch::Tensor cols = u_t.view({n, -1, u_t.size(1)}).transpose(1, 2).contiguous();  // [N, K, L]
  return at::col2im(cols, {h, w}, {kh, kw}, {1, 1}, g.padding, g.stride);
}

// ---- The three passes of a convolution (no bias), on either path ------------------------------

// conv2d(x, w): x [N, C_in, H, W], w [C_out, C_in, kh, kw] -> [N, C_out, H_out, W_out].
torch::Tensor conv_forward(const torch::Tensor& x, const torch::Tensor& w, const Geometry& g, ConvPath path) {
  if (path == ConvPath::kOneDnn)
    return at::convolution(x, w, {}, g.stride, g.padding, {1, 1}, /*transposed=*/false, {0, 0}, /*groups=*/1);
  const int64_t kh = w.size(2), kw = w.size(3);
  const int64_t ho = (x.size(2) + 2 * g.padding[0] - kh) / g.stride[0] + 1;
  const int64_t wo = (x.size(3) + 2 * g.padding[1] - kw) / g.stride[1] + 1;
  const torch::Tensor y = product(w.contiguous().view({w.size(0), -1}), unfold_rows(x, kh, kw, g));
  return from_channel_rows(y, x.size(0), ho, wo);
}

// Input gradient of conv2d(·, w) with output gradient gy [N, C_out, H_out, W_out]: [N, C_in, in_h, in_w].
// With gy = x and (in_h, in_w) the output size this is conv_transpose2d(x, w).
torch::Tensor conv_input_grad(const torch::Tensor& gy, const torch::Tensor& w, int64_t in_h, int64_t in_w,
                              const Geometry& g, ConvPath path) {
  if (path == ConvPath::kOneDnn) {
    // Only the sizes of the convolution's input are read.
    const torch::Tensor like = at::empty({gy.size(0), w.size(1), in_h, in_w}, gy.options());
    const std::array<bool, 3> mask{true, false, false};
    return std::get<0>(at::convolution_backward(gy.contiguous(), like, w, c10::nullopt, g.stride, g.padding, {1, 1},
                                                false, {0, 0}, 1, mask));
  }
  // The columns W^T G, computed as their transpose G^T W (a plain product).
  const torch::Tensor g_t = gy.permute({0, 2, 3, 1}).reshape({-1, gy.size(1)}).contiguous();  // [N L, C_out]
  const torch::Tensor cols_t = product(g_t, w.contiguous().view({w.size(0), -1}));  // [N L, K]
  return fold_cols(cols_t, gy.size(0), in_h, in_w, w.size(2), w.size(3), g);
}

// Weight gradient of conv2d(x, ·) with output gradient gy: [C_out, C_in, kh, kw] like w.
torch::Tensor conv_weight_grad(const torch::Tensor& x, const torch::Tensor& gy, const torch::Tensor& w,
                               const Geometry& g, ConvPath path) {
  if (path == ConvPath::kOneDnn) {
    const std::array<bool, 3> mask{false, true, false};
    return std::get<1>(at::convolution_backward(gy.contiguous(), x.contiguous(), w, c10::nullopt, g.stride,
                                                g.padding, {1, 1}, false, {0, 0}, 1, mask));
  }
  return product(channel_rows(gy), unfold_cols(x, w.size(2), w.size(3), g)).view(w.sizes());
}

// y = conv2d(x, w), or with `transposed` y = conv_transpose2d(x, w) = conv_input_grad(x, w) (w then
// [C_in, C_out, kh, kw], out_hw the output size incl. output padding); differentiable in x and w.
struct ConvFunction : torch::autograd::Function<ConvFunction> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x, const torch::Tensor& weight,
                               std::vector<int64_t> stride, std::vector<int64_t> padding, bool transposed,
                               std::vector<int64_t> out_hw, int64_t path) {
    ctx->save_for_backward({x, weight});
    ctx->saved_data["stride"] = stride;
    ctx->saved_data["padding"] = padding;
    ctx->saved_data["transposed"] = transposed;
    ctx->saved_data["path"] = path;
    const Geometry g{std::move(stride), std::move(padding)};
    const auto p = static_cast<ConvPath>(path);
    return transposed ? conv_input_grad(x, weight, out_hw[0], out_hw[1], g, p) : conv_forward(x, weight, g, p);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor& x = saved[0];
    const torch::Tensor& weight = saved[1];
    const Geometry g{ctx->saved_data["stride"].toIntVector(), ctx->saved_data["padding"].toIntVector()};
    const bool transposed = ctx->saved_data["transposed"].toBool();
    const auto p = static_cast<ConvPath>(ctx->saved_data["path"].toInt());
    const torch::Tensor gy = grad_outputs[0].contiguous();  // [N, C_out, H_out, W_out]
    torch::Tensor grad_x, grad_w;
    if (ctx->needs_input_grad(0))  // adjoint of the adjoint of a transposed convolution: the convolution
      grad_x = transposed ? conv_forward(gy, weight, g, p) : conv_input_grad(gy, weight, x.size(2), x.size(3), g, p);
    if (ctx->needs_input_grad(1))  // a transposed convolution's weight gradient: conv2d(gy, ·) at output gradient x
      grad_w = transposed ? conv_weight_grad(gy, x, weight, g, p) : conv_weight_grad(x, gy, weight, g, p);
    return {grad_x, grad_w, torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

std::vector<int64_t> as_vector(const torch::ExpandingArray<2>& a) { return std::vector<int64_t>(a->begin(), a->end()); }

bool single_group_undilated(const torch::ExpandingArray<2>& dilation, int64_t groups) {
  return groups == 1 && dilation->at(0) == 1 && dilation->at(1) == 1;
}

}  // namespace

ConvPath choose_conv_path(int64_t batch, int64_t low_res_positions) {
  return batch * low_res_positions <= kGemmConvMaxPositions ? ConvPath::kGemm : ConvPath::kOneDnn;
}

torch::Tensor conv2d_fast(const torch::nn::Conv2dImpl& conv, const torch::Tensor& x, std::optional<ConvPath> path) {
  const auto& o = conv.options;
  const auto* padding = compat::explicit_conv_padding(o.padding());
  auto& module = const_cast<torch::nn::Conv2dImpl&>(conv);
  if (!x.device().is_cpu() || x.scalar_type() != torch::kFloat || padding == nullptr ||
      o.padding_mode().index() != 0 /* kZeros */)
    return module.forward(x);
  TORCH_CHECK(single_group_undilated(o.dilation(), o.groups()), "conv2d_fast supports groups 1 and dilation 1 only");
  TORCH_CHECK(x.dim() == 4 && x.size(1) == conv.weight.size(1), "conv2d_fast expects [N, ", conv.weight.size(1),
              ", H, W], got ", x.sizes());
  const auto stride = as_vector(o.stride()), pad = as_vector(*padding);
  const int64_t ho = (x.size(2) + 2 * pad[0] - conv.weight.size(2)) / stride[0] + 1;
  const int64_t wo = (x.size(3) + 2 * pad[1] - conv.weight.size(3)) / stride[1] + 1;
  TORCH_CHECK(ho > 0 && wo > 0, "conv2d_fast: input ", x.sizes(), " is smaller than the kernel");
  const ConvPath p = path.value_or(choose_conv_path(x.size(0), ho * wo));
  auto y = ConvFunction::apply(x, conv.weight, stride, pad, false, std::vector<int64_t>{ho, wo},
                               static_cast<int64_t>(p));
  if (conv.bias.defined()) y = y + conv.bias.view({1, -1, 1, 1});
  return y;
}

torch::Tensor conv_transpose2d_fast(const torch::nn::ConvTranspose2dImpl& conv, const torch::Tensor& x,
                                    std::optional<ConvPath> path) {
  const auto& o = conv.options;
  if (!x.device().is_cpu() || x.scalar_type() != torch::kFloat)
    return const_cast<torch::nn::ConvTranspose2dImpl&>(conv).forward(x);
  TORCH_CHECK(single_group_undilated(o.dilation(), o.groups()),
              "conv_transpose2d_fast supports groups 1 and dilation 1 only");
  TORCH_CHECK(x.dim() == 4 && x.size(1) == conv.weight.size(0), "conv_transpose2d_fast expects [N, ",
              conv.weight.size(0), ", H, W], got ", x.sizes());
  const auto* padding = compat::explicit_conv_padding(o.padding());
  TORCH_CHECK(padding != nullptr && o.padding_mode().index() == 0 /* kZeros */,
              "conv_transpose2d_fast needs explicit zero padding");
  const auto stride = as_vector(o.stride()), pad = as_vector(*padding), out_pad = as_vector(o.output_padding());
  std::vector<int64_t> out_hw(2);
  for (int d = 0; d < 2; ++d)
    out_hw[d] = (x.size(2 + d) - 1) * stride[d] - 2 * pad[d] + conv.weight.size(2 + d) + out_pad[d];
  const ConvPath p = path.value_or(choose_conv_path(x.size(0), x.size(2) * x.size(3)));
  auto y = ConvFunction::apply(x, conv.weight, stride, pad, true, out_hw, static_cast<int64_t>(p));
  if (conv.bias.defined()) y = y + conv.bias.view({1, -1, 1, 1});
  return y;
}

}  // namespace img2img
