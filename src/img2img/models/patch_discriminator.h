#pragma once

#include <torch/arg.h>                       // TORCH_ARG
#include <torch/nn/cloneable.h>              // torch::nn::Cloneable
#include <torch/nn/modules/container/any.h>  // torch::nn::AnyModule
#include <torch/nn/modules/conv.h>           // torch::nn::Conv2d
#include <torch/nn/pimpl.h>                  // TORCH_MODULE

#include <vector>  // std::vector

#include "img2img/models/kinds.h"

namespace img2img {

/// Options for `PatchDiscriminator`.
/// Example: `PatchDiscriminator d(PatchDiscriminatorOptions(6).layers(3));`
struct PatchDiscriminatorOptions {
  explicit PatchDiscriminatorOptions(int64_t in_channels) : in_channels_(in_channels) {}
  TORCH_ARG(int64_t, in_channels);          ///< paired: C_in + C_out (input and output concatenated)
  TORCH_ARG(int64_t, layers) = 3;           ///< stride-2 convolutions (pix2pix n_layers_D: 3)
  TORCH_ARG(int64_t, initial_layer_size) = 64;  ///< ndf; doubled per layer up to 8 x ndf
  TORCH_ARG(int64_t, kernel_size) = 4;      ///< padding (k-1)/2 (pix2pix: 4, padding 1)
  TORCH_ARG(Activation, activation) = Activation::kLeakyRelu;  ///< pix2pix: LeakyReLU(0.2)
  TORCH_ARG(NormKind, norm) = NormKind::kBatch;
};

/// PatchGAN discriminator (pix2pix `NLayerDiscriminator`): `layers` stride-2 convolutions, one
/// stride-1 convolution, then a stride-1 convolution to one logit per patch. No norm after the
/// first conv; convs before batch norm have no bias. Parameter names: conv{i}, conv{i}_norm.
/// forward: [N, in_channels, H, W] in [-1, 1] -> [N, 1, H', W'] raw logits (70x70 patches at the defaults).
class PatchDiscriminatorImpl : public torch::nn::Cloneable<PatchDiscriminatorImpl> {
 public:
  explicit PatchDiscriminatorImpl(PatchDiscriminatorOptions options);
  void reset() override;
  torch::Tensor forward(const torch::Tensor& x);

  PatchDiscriminatorOptions options;
  std::vector<torch::nn::Conv2d> convs;     ///< layers + 2 convolutions
  std::vector<torch::nn::AnyModule> norms;  ///< empty for the first and the last conv, and norm none
};
TORCH_MODULE(PatchDiscriminator);

}  // namespace img2img
