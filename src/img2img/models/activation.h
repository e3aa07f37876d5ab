#pragma once

#include <torch/types.h>  // torch::Tensor

#include "img2img/config/run_config.h"

namespace img2img {

/// Applies `kind` element-wise (shape preserved). leaky_relu uses slope 0.2 (pix2pix); elu alpha 1,
/// gelu exact (erf) form, as PyTorch's defaults.
torch::Tensor apply_activation(Activation kind, const torch::Tensor& x);

}  // namespace img2img
