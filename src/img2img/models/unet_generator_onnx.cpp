#include "img2img/models/unet_generator.h"
// ONNX emission, kept apart from forward() so the LibTorch-only build (IMG2IMG_TORCH_ONLY) can leave it out.

#include <string>  // std::to_string
#include <vector>  // std::vector

#include "img2img/models/activation.h"
#include "img2img/models/norm_layer.h"

#include "img2img/onnx/onnx_graph.h"

namespace img2img {

// Mirrors forward() node for node; eval mode, so dropout is the identity and is not emitted.
std::string UnetGeneratorImpl::emit_onnx(OnnxGraph& graph, const std::string& x) const {
  const int64_t n = static_cast<int64_t>(down.size());
  std::vector<std::string> skips;
  std::string h = x;  // [N, C_in, H, W]
  for (int64_t i = 0; i < n; ++i) {
    const std::string level = "down" + std::to_string(i);
    h = graph.add_conv2d(level, *down[i], h);  // [N, C_i, H/2^(i+1), W/2^(i+1)]
    h = emit_norm_onnx(graph, down_norm[i], h, level + "_norm");
    if (i < n - 1) {
      h = emit_activation_onnx(graph, options.down_activation(), h, level + "_act");
      skips.push_back(h);
    }
  }
  for (int64_t i = n - 1; i >= 0; --i) {
    const std::string level = "up" + std::to_string(i);
    if (i < n - 1)
      h = graph.add_node("Concat", level + "_cat", {skips[i], h}, {OnnxAttribute::make_int("axis", 1)});  // [N, 2 C_i, ...]
    h = emit_activation_onnx(graph, options.up_activation(), h, level + "_act");
    h = graph.add_conv_transpose2d(level, *up[i], h);  // [N, C_{i-1}, H/2^i, W/2^i]
    if (i == 0) return graph.add_node("Tanh", "tanh", {h});  // [N, C_out, H, W] in [-1, 1]
    h = emit_norm_onnx(graph, up_norm[i], h, level + "_norm");
  }
  return h;  // unreachable
}

}  // namespace img2img
