#pragma once

#include <torch/nn/modules/container/any.h>  // torch::nn::AnyModule

#include <string>  // std::string

#include "img2img/models/kinds.h"

namespace img2img {

class OnnxGraph;

/// The normalisation layer for `channels` feature maps, as pix2pix's get_norm_layer:
/// batch -> BatchNorm2d(affine, running stats); instance -> InstanceNorm2d(affine=false, no running
/// stats); none -> an empty AnyModule (check `is_empty()`).
torch::nn::AnyModule make_norm_layer(NormKind kind, int64_t channels);

/// Emits the eval-mode ONNX nodes of a layer made by make_norm_layer on value `x` ([N, C, H, W]);
/// returns the output value name (`x` itself when `norm` is empty). BatchNorm2d -> BatchNormalization
/// with the running statistics; InstanceNorm2d -> InstanceNormalization (scale 1, bias 0 when not
/// affine). Throws ExportError for another module type.
std::string emit_norm_onnx(OnnxGraph& graph, const torch::nn::AnyModule& norm, const std::string& x,
                           const std::string& hint);

/// Whether a convolution followed by this norm has a bias: only when the norm does not cancel it
/// (pix2pix: use_bias = norm is instance; here also for none).
inline bool conv_bias_for(NormKind kind) { return kind != NormKind::kBatch; }

}  // namespace img2img
