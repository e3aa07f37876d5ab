#pragma once
// A small builder over the ONNX GraphProto (Debian's libonnx-dev protobuf classes). Modules emit
// their eval-mode nodes through it in `emit_onnx(...)`, next to their `forward`.

#include <onnx/onnx_pb.h>               // onnx::GraphProto, onnx::NodeProto
#include <torch/nn/modules/conv.h>      // torch::nn::Conv2dImpl, ConvTranspose2dImpl
#include <torch/types.h>                // torch::Tensor

#include <cstdint>  // int64_t
#include <map>      // std::map
#include <string>   // std::string
#include <vector>   // std::vector

namespace img2img {

/// One attribute of an ONNX node: an int, a float or a list of ints (all img2img's ops need).
struct OnnxAttribute {
  /// An INT attribute.
  static OnnxAttribute make_int(std::string name, int64_t value);
  /// A FLOAT attribute (stored as float32, as ONNX does).
  static OnnxAttribute make_float(std::string name, double value);
  /// An INTS attribute.
  static OnnxAttribute make_ints(std::string name, std::vector<int64_t> values);

  std::string name;                                                     ///< e.g. "kernel_shape"
  onnx::AttributeProto::AttributeType type = onnx::AttributeProto::INT;  ///< which field holds the value
  int64_t i = 0;                                                        ///< INT value
  float f = 0;                                                          ///< FLOAT value
  std::vector<int64_t> ints;                                            ///< INTS value
};

/// Builds one ONNX graph for a fixed opset. Value and node names are made unique with a numeric
/// suffix, so emitters may pass readable hints ("down3/conv"). Tensors copied into initialisers
/// may live on any device; they are copied to CPU float32.
class OnnxGraph {
 public:
  /// `opset`: the default-domain opset the nodes are written for (emitters may branch on it).
  explicit OnnxGraph(int64_t opset);

  int64_t opset() const { return opset_; }  ///< the default-domain opset version

  /// A name not used yet by any value or node, derived from `hint`.
  std::string unique_name(const std::string& hint);

  /// Adds `tensor` (any shape, any floating dtype, any device) as a float32 initialiser; returns its
  /// value name. An undefined tensor throws ExportError.
  std::string add_initializer(const std::string& hint, const torch::Tensor& tensor);

  /// A float32 constant of shape [1] holding `value`, for element-wise arithmetic with broadcasting.
  std::string add_scalar(const std::string& hint, double value);

  /// Appends node `op_type` named after `hint`, with `inputs` (value names; "" = omitted optional
  /// input) and `attributes`; returns the name of its single output value.
  std::string add_node(const std::string& op_type, const std::string& hint, const std::vector<std::string>& inputs,
                       const std::vector<OnnxAttribute>& attributes = {});

  /// Emits torch's Conv2d `conv` (weights, bias, stride, padding, dilation, groups) on `x`
  /// ([N, C_in, H, W]); returns the [N, C_out, H', W'] output. Throws ExportError for padding
  /// modes other than zeros.
  std::string add_conv2d(const std::string& hint, const torch::nn::Conv2dImpl& conv, const std::string& x);

  /// Emits torch's ConvTranspose2d `conv` (incl. output_padding) on `x`; returns its output.
  std::string add_conv_transpose2d(const std::string& hint, const torch::nn::ConvTranspose2dImpl& conv,
                                   const std::string& x);

  onnx::GraphProto& proto() { return graph_; }  ///< the graph built so far (inputs/outputs: caller)

 private:
  int64_t opset_;
  onnx::GraphProto graph_;
  std::map<std::string, int> used_;  // name hint -> times used
};

}  // namespace img2img
