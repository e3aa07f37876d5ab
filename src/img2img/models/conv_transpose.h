#pragma once
// Transposed convolution computed with the convolution primitives of the backend.
//
// Debian's libtorch 1.13 runs torch::nn::ConvTranspose2d on the CPU through slow_conv_transpose2d
// (im2col + GEMM + col2im), 3-5x slower than oneDNN's convolution at the U-Net's up-sampling shapes.
// A transposed convolution is, by definition, the input gradient of the convolution with the same
// weight (PyTorch docs, torch.nn.ConvTranspose2d: "can be seen as the gradient of Conv2d with respect
// to its input"), so its forward pass is convolution backward-data and its backward pass is a forward
// convolution (input gradient) plus convolution backward-weights (weight gradient), all of which
// oneDNN implements directly. Parameters, state-dict names and the ONNX graph stay those of
// torch::nn::ConvTranspose2d.

#include <torch/nn/modules/conv.h>  // torch::nn::ConvTranspose2dImpl
#include <torch/types.h>            // torch::Tensor

namespace img2img {

/// Same result as `conv.forward(x)` (to float rounding, ~1e-6 relative) for stride/padding/output
/// padding as configured, groups 1, dilation 1; differentiable in `x`, `conv.weight` and `conv.bias`.
/// On the CPU it goes through at::convolution_backward (oneDNN backward-data); elsewhere it calls
/// `conv.forward(x)` (cuDNN has a native transposed convolution).
/// x: [N, C_in, H, W] float32; returns [N, C_out, (H-1)s - 2p + k + output_padding, ...].
/// Throws c10::Error for groups != 1, dilation != 1 or a channel mismatch.
torch::Tensor conv_transpose2d_fast(const torch::nn::ConvTranspose2dImpl& conv, const torch::Tensor& x);

}  // namespace img2img
