#pragma once
// Convolution and transposed convolution for the U-Net and PatchGAN on the CPU, each pass through
// whichever of two implementations suits the layer's shape; elsewhere (CUDA) the modules' own forward.
//
// oneDNN path. Debian's libtorch 1.13 runs torch::nn::ConvTranspose2d on the CPU through
// slow_conv_transpose2d (im2col + GEMM + col2im), 3-5x slower than oneDNN's convolution at the U-Net's
// up-sampling shapes. A transposed convolution is, by definition, the input gradient of the convolution
// with the same weight (PyTorch docs, torch.nn.ConvTranspose2d: "can be seen as the gradient of Conv2d
// with respect to its input"), so its forward pass is convolution backward-data and its backward pass
// is a forward convolution (input gradient) plus convolution backward-weights (weight gradient), all of
// which oneDNN implements directly.
//
// GEMM path. Where the feature map is small and the weights large (the inner U-Net levels: 512-1024
// channels at 1-8 px for a 256 px image), oneDNN spends its time converting the weights to and from its
// blocked layout on every call: e.g. a 1024->512 transposed convolution at 2x2 px (67 MFLOP, 33 MB of
// weights) took 17 ms forward and 28 ms for the weight gradient. There every pass is one matrix
// product over im2col columns (core/sgemm), which reads or writes the weights once: 2-3 ms each.
//
// Parameters, state-dict names and the ONNX graph stay those of torch::nn::Conv2d / ConvTranspose2d.

#include <torch/nn/modules/conv.h>  // torch::nn::Conv2dImpl, torch::nn::ConvTranspose2dImpl
#include <torch/types.h>            // torch::Tensor

#include <cstdint>   // int64_t
#include <optional>  // std::optional

namespace img2img {

/// How conv2d_fast / conv_transpose2d_fast compute a layer on the CPU.
enum class ConvPath {
  kOneDnn,  ///< at::convolution / at::convolution_backward (oneDNN)
  kGemm,    ///< im2col + one matrix product per pass (core/sgemm)
};

/// Largest batch x positions of the low-resolution side (the output of a convolution, the input of a
/// transposed convolution) computed on the GEMM path. Measured on a 2-core AVX-512 machine (Debian
/// libtorch 1.13, oneDNN 2.6): at 64 positions GEMM is 1.5-6x faster than oneDNN for 512-1024 channels,
/// at 256 the two are within 10%, at 961 oneDNN is faster.
constexpr int64_t kGemmConvMaxPositions = 64;

/// The path for a layer from its shapes alone, so a run's results never depend on timing: kGemm when
/// batch * low_res_positions <= kGemmConvMaxPositions, else kOneDnn.
ConvPath choose_conv_path(int64_t batch, int64_t low_res_positions);

/// Same result as `conv.forward(x)` (to float rounding, ~1e-6 relative) for stride/padding as configured,
/// groups 1, dilation 1, zero padding; differentiable in `x`, `conv.weight` and `conv.bias`.
/// x: [N, C_in, H, W] float32; returns [N, C_out, floor((H + 2p - k) / s) + 1, ...].
/// `path` forces an implementation (tests, bench); by default choose_conv_path(N, H_out * W_out).
/// Off the CPU, for other dtypes or other padding modes it calls `conv.forward(x)`.
/// Throws c10::Error for groups != 1, dilation != 1 or a channel mismatch.
torch::Tensor conv2d_fast(const torch::nn::Conv2dImpl& conv, const torch::Tensor& x,
                          std::optional<ConvPath> path = std::nullopt);

/// Same result as `conv.forward(x)` (to float rounding, ~1e-6 relative) for stride/padding/output
/// padding as configured, groups 1, dilation 1; differentiable in `x`, `conv.weight` and `conv.bias`.
/// x: [N, C_in, H, W] float32; returns [N, C_out, (H-1)s - 2p + k + output_padding, ...].
/// `path` forces an implementation (tests, bench); by default choose_conv_path(N, H * W).
/// Off the CPU or for other dtypes it calls `conv.forward(x)` (cuDNN has a native transposed convolution).
/// Throws c10::Error for groups != 1, dilation != 1 or a channel mismatch.
torch::Tensor conv_transpose2d_fast(const torch::nn::ConvTranspose2dImpl& conv, const torch::Tensor& x,
                                    std::optional<ConvPath> path = std::nullopt);

}  // namespace img2img
