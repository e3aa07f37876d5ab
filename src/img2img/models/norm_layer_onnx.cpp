#include "img2img/models/norm_layer.h"
// ONNX emission, kept apart from forward() so the LibTorch-only build (IMG2IMG_TORCH_ONLY) can leave it out.

#include <torch/nn/modules/batchnorm.h>     // torch::nn::BatchNorm2d
#include <torch/nn/functional/instancenorm.h>  // needed by the module header in 1.13
#include <torch/nn/modules/instancenorm.h>    // torch::nn::InstanceNorm2d

#include "img2img/core/error.h"

#include "img2img/onnx/onnx_graph.h"

namespace img2img {

std::string emit_norm_onnx(OnnxGraph& graph, const torch::nn::AnyModule& norm, const std::string& x,
                           const std::string& hint) {
  if (norm.is_empty()) return x;
  const auto module = norm.ptr();
  if (const auto* bn = module->as<torch::nn::BatchNorm2dImpl>()) {
    const auto& o = bn->options;
    TORCH_CHECK(o.track_running_stats(), "ONNX export of ", hint, ": BatchNorm2d without running stats");
    const int64_t c = o.num_features();
    const torch::Tensor scale = o.affine() ? bn->weight : torch::ones({c});
    const torch::Tensor bias = o.affine() ? bn->bias : torch::zeros({c});
    return graph.add_node("BatchNormalization", hint,
                          {x, graph.add_initializer(hint + ".weight", scale), graph.add_initializer(hint + ".bias", bias),
                           graph.add_initializer(hint + ".running_mean", bn->running_mean),
                           graph.add_initializer(hint + ".running_var", bn->running_var)},
                          {OnnxAttribute::make_float("epsilon", o.eps())});
  }
  if (const auto* in = module->as<torch::nn::InstanceNorm2dImpl>()) {
    const auto& o = in->options;
    // Eval mode uses running stats only when they are tracked; ours never are (pix2pix / CycleGAN).
    TORCH_CHECK(!o.track_running_stats(), "ONNX export of ", hint, ": InstanceNorm2d with running stats");
    const int64_t c = o.num_features();
    const torch::Tensor scale = o.affine() ? in->weight : torch::ones({c});
    const torch::Tensor bias = o.affine() ? in->bias : torch::zeros({c});
    return graph.add_node("InstanceNormalization", hint,
                          {x, graph.add_initializer(hint + ".weight", scale), graph.add_initializer(hint + ".bias", bias)},
                          {OnnxAttribute::make_float("epsilon", o.eps())});
  }
  throw ExportError("ONNX export of " + hint + ": norm layer " + module->name() + " has no ONNX export");
}

}  // namespace img2img
