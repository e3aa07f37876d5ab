#include "img2img/models/activation.h"

#include <torch/nn/functional/activation.h>  // torch::nn::functional::gelu ...

namespace img2img {

torch::Tensor apply_activation(Activation kind, const torch::Tensor& x) {
  switch (kind) {
    case Activation::kRelu: return torch::relu(x);
    case Activation::kLeakyRelu: return torch::leaky_relu(x, /*negative_slope=*/0.2);
    case Activation::kElu: return torch::elu(x);
    case Activation::kSelu: return torch::selu(x);
    case Activation::kGelu: return torch::gelu(x);
    case Activation::kTanh: return torch::tanh(x);
    case Activation::kSigmoid: return torch::sigmoid(x);
    case Activation::kSilu: return torch::silu(x);
  }
  TORCH_CHECK(false, "unknown activation ", static_cast<int>(kind));
}

}  // namespace img2img
