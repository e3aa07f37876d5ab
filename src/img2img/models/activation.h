#pragma once

#include <torch/types.h>  // torch::Tensor

#include <string>  // std::string

#include "img2img/models/kinds.h"

namespace img2img {

class OnnxGraph;

/// Applies `kind` element-wise (shape preserved). leaky_relu uses slope 0.2 (pix2pix); elu alpha 1,
/// gelu exact (erf) form, as PyTorch's defaults.
torch::Tensor apply_activation(Activation kind, const torch::Tensor& x);

/// Emits `kind` on value `x` as ONNX nodes named after `hint` (opsets 11-17); returns the output
/// value name. gelu has no op before opset 20: 0.5 x (1 + Erf(x / sqrt 2)); silu: x Sigmoid(x).
std::string emit_activation_onnx(OnnxGraph& graph, Activation kind, const std::string& x, const std::string& hint);

}  // namespace img2img
