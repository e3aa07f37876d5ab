#pragma once

#include <torch/arg.h>                          // TORCH_ARG
#include <torch/nn/cloneable.h>                 // torch::nn::Cloneable
#include <torch/nn/modules/container/any.h>     // torch::nn::AnyModule
#include <torch/nn/modules/conv.h>              // torch::nn::Conv2d, ConvTranspose2d
#include <torch/nn/pimpl.h>                     // TORCH_MODULE

#include <string>  // std::string
#include <vector>  // std::vector

#include "img2img/models/kinds.h"

namespace img2img {

class OnnxGraph;

/// Options for `UnetGenerator`.
/// Example: `UnetGenerator g(UnetGeneratorOptions(3, 3).channels({64, 128, 256, 256}));`
struct UnetGeneratorOptions {
  UnetGeneratorOptions(int64_t in_channels, int64_t out_channels)
      : in_channels_(in_channels), out_channels_(out_channels) {}
  TORCH_ARG(int64_t, in_channels);   ///< C_in (1-4)
  TORCH_ARG(int64_t, out_channels);  ///< C_out (1-4)
  /// Output channels of each down-sampling layer, outermost first; its length is the number of
  /// layers (pix2pix unet_256: 64, 128, 256, 512, 512, 512, 512, 512).
  TORCH_ARG(std::vector<int64_t>, channels) = std::vector<int64_t>{64, 128, 256, 512, 512, 512, 512, 512};
  TORCH_ARG(int64_t, kernel_size) = 4;  ///< stride 2, padding (k-1)/2: sizes halve / double exactly
  TORCH_ARG(Activation, down_activation) = Activation::kLeakyRelu;  ///< pix2pix: LeakyReLU(0.2)
  TORCH_ARG(Activation, up_activation) = Activation::kRelu;         ///< pix2pix: ReLU
  TORCH_ARG(NormKind, norm) = NormKind::kBatch;                     ///< pix2pix: batch
  /// Dropout probability in the decoder layers of the 3 levels just outside the innermost (pix2pix: 0.5).
  TORCH_ARG(double, dropout) = 0.5;
};

/// pix2pix U-Net (Isola et al. 2017; reference `UnetGenerator`): encoder-decoder with a skip
/// connection at every scale; the skip holds the down-activated encoder features, concatenated
/// before the decoder output as in the reference. Parameter names: down{i}, down{i}_norm, up{i},
/// up{i}_norm (level i = 0 outermost). forward: [N, C_in, H, W] in [-1, 1] -> [N, C_out, H, W] in
/// [-1, 1] (tanh); H and W must be multiples of 2^layers.
class UnetGeneratorImpl : public torch::nn::Cloneable<UnetGeneratorImpl> {
 public:
  explicit UnetGeneratorImpl(UnetGeneratorOptions options);
  void reset() override;  ///< registers all submodules; used by clone()
  torch::Tensor forward(const torch::Tensor& x);
  /// Emits forward()'s eval-mode graph (dropout removed) as ONNX nodes on value `x` ([N, C_in, H, W]
  /// float32 in [-1, 1], H and W multiples of 2^layers); returns the output value ([N, C_out, H, W]
  /// in [-1, 1]). Throws ExportError for a layer without an export. Parameters may be on any device.
  std::string emit_onnx(OnnxGraph& graph, const std::string& x) const;

  UnetGeneratorOptions options;
  std::vector<torch::nn::Conv2d> down;           ///< level i: C_{i-1} -> C_i, stride 2
  std::vector<torch::nn::AnyModule> down_norm;   ///< empty at level 0, the innermost, and norm none
  std::vector<torch::nn::ConvTranspose2d> up;    ///< level i: (i innermost ? C_i : 2 C_i) -> C_{i-1}
  std::vector<torch::nn::AnyModule> up_norm;     ///< empty at level 0 and norm none
  std::vector<bool> up_dropout;                  ///< whether level i's decoder applies dropout
};
TORCH_MODULE(UnetGenerator);

/// Number of levels with decoder dropout, counted outward from just outside the innermost (pix2pix).
constexpr int64_t kUnetDropoutLevels = 3;

}  // namespace img2img
