#include "img2img/models/activation.h"
// ONNX emission, kept apart from forward() so the LibTorch-only build (IMG2IMG_TORCH_ONLY) can leave it out.

#include <cmath>  // std::sqrt

#include "img2img/onnx/onnx_graph.h"

namespace img2img {

std::string emit_activation_onnx(OnnxGraph& graph, Activation kind, const std::string& x, const std::string& hint) {
  switch (kind) {
    case Activation::kRelu: return graph.add_node("Relu", hint, {x});
    case Activation::kLeakyRelu:
      return graph.add_node("LeakyRelu", hint, {x}, {OnnxAttribute::make_float("alpha", 0.2)});
    case Activation::kElu: return graph.add_node("Elu", hint, {x}, {OnnxAttribute::make_float("alpha", 1.0)});
    case Activation::kSelu:  // torch's constants (ONNX's defaults are the same in float32)
      return graph.add_node("Selu", hint, {x},
                            {OnnxAttribute::make_float("alpha", 1.6732632423543772848170429916717),
                             OnnxAttribute::make_float("gamma", 1.0507009873554804934193349852946)});
    case Activation::kGelu: {
      const std::string scaled = graph.add_node("Mul", hint + "/scale", {x, graph.add_scalar(hint + "/inv_sqrt2", 1.0 / std::sqrt(2.0))});
      const std::string erf = graph.add_node("Erf", hint + "/erf", {scaled});
      const std::string one_plus = graph.add_node("Add", hint + "/add", {erf, graph.add_scalar(hint + "/one", 1.0)});
      const std::string half_x = graph.add_node("Mul", hint + "/half_x", {x, graph.add_scalar(hint + "/half", 0.5)});
      return graph.add_node("Mul", hint, {half_x, one_plus});
    }
    case Activation::kTanh: return graph.add_node("Tanh", hint, {x});
    case Activation::kSigmoid: return graph.add_node("Sigmoid", hint, {x});
    case Activation::kSilu: return graph.add_node("Mul", hint, {x, graph.add_node("Sigmoid", hint + "/sigmoid", {x})});
  }
  TORCH_CHECK(false, "unknown activation ", static_cast<int>(kind));
}

}  // namespace img2img
