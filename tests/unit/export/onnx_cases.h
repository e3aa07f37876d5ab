#pragma once
// The matrix of generator configurations whose ONNX export is verified against LibTorch: in
// OpenCV DNN (onnx_export_test.cpp) and in onnxruntime (tests/onnxruntime). Header-only so both the
// unit tests and the onnxruntime case writer use the same list.

#include <torch/nn/modules/batchnorm.h>  // torch::nn::BatchNorm2dImpl
#include <torch/types.h>                 // torch::Tensor

#include <algorithm>  // std::max, std::min
#include <ostream>    // std::ostream
#include <string>     // std::string
#include <vector>     // std::vector

#include "img2img/config/enum_names.h"
#include "img2img/export/onnx_export.h"
#include "img2img/models/unet_generator.h"

namespace img2img::test {

/// One exported generator configuration.
struct OnnxCase {
  Activation down_activation = Activation::kLeakyRelu;
  Activation up_activation = Activation::kRelu;
  int64_t kernel_size = 4;
  NormKind norm = NormKind::kBatch;
  int64_t channels = 3;  ///< C_in = C_out
  int64_t layers = 4;
  int64_t opset = 17;
  bool dynamic_axes = true;
  bool unit_range = true;

  /// Training size: the smallest multiple of 2^layers that is at least 16 px.
  int64_t image_size() const { return std::max<int64_t>(16, int64_t{1} << layers); }
  /// A readable, filename-safe name, e.g. "leaky_relu-relu_k4_batch_c3_l5_op17_dyn_unit".
  std::string name() const {
    return std::string(to_string(down_activation)) + "-" + to_string(up_activation) + "_k" +
           std::to_string(kernel_size) + "_" + to_string(norm) + "_c" + std::to_string(channels) + "_l" +
           std::to_string(layers) + "_op" + std::to_string(opset) + (dynamic_axes ? "_dyn" : "_fixed") +
           (unit_range ? "_unit" : "_raw");
  }
  OnnxExportOptions export_options() const {
    OnnxExportOptions o;
    o.opset = opset, o.dynamic_axes = dynamic_axes, o.unit_range = unit_range, o.image_size = image_size();
    o.iteration = 42;
    return o;
  }
};

/// gtest prints a case by its name (not its bytes).
inline void PrintTo(const OnnxCase& c, std::ostream* os) { *os << c.name(); }

/// Every activation down and up, kernels 3/4/5 with each norm, 1/3/4 channels, layers 3..8, opsets
/// 11 and 17, dynamic axes on and off, both value ranges.
inline std::vector<OnnxCase> onnx_cases() {
  using A = Activation;
  using N = NormKind;
  auto c = [](A down, A up, int64_t k, N norm, int64_t ch, int64_t layers, int64_t opset, bool dyn, bool unit) {
    OnnxCase x;
    x.down_activation = down, x.up_activation = up, x.kernel_size = k, x.norm = norm, x.channels = ch;
    x.layers = layers, x.opset = opset, x.dynamic_axes = dyn, x.unit_range = unit;
    return x;
  };
  return {
      c(A::kLeakyRelu, A::kRelu, 4, N::kBatch, 3, 5, 17, true, true),  // pix2pix
      c(A::kElu, A::kSelu, 3, N::kInstance, 1, 3, 11, false, true),
      c(A::kGelu, A::kSilu, 5, N::kNone, 4, 4, 17, true, false),
      c(A::kTanh, A::kSigmoid, 4, N::kInstance, 3, 6, 11, true, true),
      c(A::kSilu, A::kGelu, 3, N::kBatch, 4, 7, 17, false, true),
      c(A::kSelu, A::kElu, 5, N::kBatch, 1, 8, 11, true, true),
      c(A::kRelu, A::kLeakyRelu, 4, N::kNone, 3, 3, 17, false, true),
      c(A::kSigmoid, A::kTanh, 5, N::kInstance, 4, 5, 17, false, false),
      c(A::kLeakyRelu, A::kGelu, 3, N::kNone, 1, 4, 11, true, true),
      c(A::kGelu, A::kLeakyRelu, 4, N::kBatch, 3, 3, 11, false, true),
  };
}

/// A generator of `c`'s architecture (channels min(4 * 2^i, 16)) with random weights and random
/// batch-norm statistics (so the norms are not the identity), in eval mode.
inline UnetGenerator make_onnx_case_generator(const OnnxCase& c) {
  std::vector<int64_t> channels;
  for (int64_t i = 0; i < c.layers; ++i) channels.push_back(std::min<int64_t>(int64_t{4} << i, 16));
  UnetGenerator g(UnetGeneratorOptions(c.channels, c.channels)
                      .channels(channels)
                      .kernel_size(c.kernel_size)
                      .down_activation(c.down_activation)
                      .up_activation(c.up_activation)
                      .norm(c.norm)
                      .dropout(0.5));
  torch::NoGradGuard no_grad;
  for (auto& m : g->modules(/*include_self=*/false)) {
    if (auto* bn = m->as<torch::nn::BatchNorm2dImpl>()) {
      bn->running_mean.normal_(0.0, 0.2);
      bn->running_var.uniform_(0.5, 2.0);
      bn->weight.uniform_(0.5, 1.5);
      bn->bias.normal_(0.0, 0.2);
    }
  }
  g->eval();
  return g;
}

/// LibTorch's eval-mode output for `c`'s interface: `x` in the model's input range ([0, 1] with
/// unit_range, else [-1, 1]) -> output in the same range.
inline torch::Tensor onnx_case_reference(UnetGenerator& g, const OnnxCase& c, const torch::Tensor& x) {
  torch::NoGradGuard no_grad;
  if (!c.unit_range) return g->forward(x);
  return (g->forward(x * 2 - 1) + 1) * 0.5;
}

}  // namespace img2img::test
