#include "img2img/onnx/onnx_graph.h"

#include <fmt/format.h>  // fmt::format

#include <utility>  // std::move

#include "img2img/core/error.h"
#include "img2img/core/torch_compat.h"

namespace img2img {

OnnxAttribute OnnxAttribute::make_int(std::string name, int64_t value) {
  OnnxAttribute a;
  a.name = std::move(name), a.type = onnx::AttributeProto::INT, a.i = value;
  return a;
}

OnnxAttribute OnnxAttribute::make_float(std::string name, double value) {
  OnnxAttribute a;
  a.name = std::move(name), a.type = onnx::AttributeProto::FLOAT, a.f = static_cast<float>(value);
  return a;
}

OnnxAttribute OnnxAttribute::make_ints(std::string name, std::vector<int64_t> values) {
  OnnxAttribute a;
  a.name = std::move(name), a.type = onnx::AttributeProto::INTS, a.ints = std::move(values);
  return a;
}

OnnxGraph::OnnxGraph(int64_t opset) : opset_(opset) {}

std::string OnnxGraph::unique_name(const std::string& hint) {
  const int n = used_[hint]++;
  return n == 0 ? hint : fmt::format("{}_{}", hint, n);
}

std::string OnnxGraph::add_initializer(const std::string& hint, const torch::Tensor& tensor) {
  if (!tensor.defined()) throw ExportError(fmt::format("ONNX export: tensor '{}' is undefined", hint));
  const torch::Tensor t = tensor.detach().to(torch::kCPU, torch::kFloat32).contiguous();
  onnx::TensorProto* p = graph_.add_initializer();
  p->set_name(unique_name(hint));
  p->set_data_type(onnx::TensorProto::FLOAT);
  for (const int64_t d : t.sizes()) p->add_dims(d);
  // raw_data is little-endian float32, the layout of a contiguous CPU float tensor on x86/ARM.
  p->set_raw_data(t.data_ptr<float>(), static_cast<size_t>(t.numel()) * sizeof(float));
  return p->name();
}

std::string OnnxGraph::add_scalar(const std::string& hint, double value) {
  return add_initializer(hint, torch::full({1}, value, torch::kFloat32));
}

std::string OnnxGraph::add_node(const std::string& op_type, const std::string& hint,
                                const std::vector<std::string>& inputs, const std::vector<OnnxAttribute>& attributes) {
  onnx::NodeProto* node = graph_.add_node();
  const std::string name = unique_name(hint);
  node->set_name(name);
  node->set_op_type(op_type);
  for (const auto& in : inputs) node->add_input(in);
  node->add_output(name);  // node and value names share the namespace; unique_name keeps both distinct
  for (const auto& a : attributes) {
    onnx::AttributeProto* p = node->add_attribute();
    p->set_name(a.name);
    p->set_type(a.type);
    switch (a.type) {
      case onnx::AttributeProto::INT: p->set_i(a.i); break;
      case onnx::AttributeProto::FLOAT: p->set_f(a.f); break;
      case onnx::AttributeProto::INTS:
        for (const int64_t v : a.ints) p->add_ints(v);
        break;
      default:
        throw ExportError(fmt::format("ONNX export: node '{}' has an attribute '{}' of unsupported type {}", name,
                                      a.name, static_cast<int>(a.type)));
    }
  }
  return name;
}

namespace {
std::vector<int64_t> to_vector(torch::IntArrayRef a) { return a.vec(); }

// Explicit zero padding [pad_h, pad_w]; 'valid'/'same' are not exported.
std::vector<int64_t> explicit_padding(const std::string& hint, const torch::nn::detail::ConvNdOptions<2>::padding_t& p) {
  const auto* pad = compat::explicit_conv_padding(p);
  if (pad == nullptr)
    throw ExportError(fmt::format("ONNX export: {} uses 'valid'/'same' padding, which is not exported", hint));
  return to_vector(**pad);
}
}  // namespace

std::string OnnxGraph::add_conv2d(const std::string& hint, const torch::nn::Conv2dImpl& conv, const std::string& x) {
  const auto& o = conv.options;
  if (o.padding_mode().index() != 0 /* kZeros */)
    throw ExportError(fmt::format("ONNX export: {} uses a non-zero padding mode, which is not exported", hint));
  const std::vector<int64_t> p = explicit_padding(hint, o.padding());
  const std::string w = add_initializer(hint + ".weight", conv.weight);  // [C_out, C_in/g, kH, kW]
  const std::string b = o.bias() ? add_initializer(hint + ".bias", conv.bias) : std::string();  // [C_out]
  std::vector<std::string> inputs{x, w};
  if (!b.empty()) inputs.push_back(b);
  return add_node("Conv", hint, inputs,
                  {OnnxAttribute::make_ints("kernel_shape", to_vector(*o.kernel_size())),
                   OnnxAttribute::make_ints("strides", to_vector(*o.stride())),
                   OnnxAttribute::make_ints("pads", {p[0], p[1], p[0], p[1]}),
                   OnnxAttribute::make_ints("dilations", to_vector(*o.dilation())),
                   OnnxAttribute::make_int("group", o.groups())});
}

std::string OnnxGraph::add_conv_transpose2d(const std::string& hint, const torch::nn::ConvTranspose2dImpl& conv,
                                            const std::string& x) {
  const auto& o = conv.options;
  if (o.padding_mode().index() != 0 /* kZeros */)
    throw ExportError(fmt::format("ONNX export: {} uses a non-zero padding mode, which is not exported", hint));
  const std::vector<int64_t> p = explicit_padding(hint, o.padding()), op = to_vector(*o.output_padding());
  const std::string w = add_initializer(hint + ".weight", conv.weight);  // [C_in, C_out/g, kH, kW] as ONNX
  const std::string b = o.bias() ? add_initializer(hint + ".bias", conv.bias) : std::string();
  std::vector<std::string> inputs{x, w};
  if (!b.empty()) inputs.push_back(b);
  std::vector<OnnxAttribute> attributes{OnnxAttribute::make_ints("kernel_shape", to_vector(*o.kernel_size())),
                                        OnnxAttribute::make_ints("strides", to_vector(*o.stride())),
                                        OnnxAttribute::make_ints("pads", {p[0], p[1], p[0], p[1]}),
                                        OnnxAttribute::make_ints("dilations", to_vector(*o.dilation())),
                                        OnnxAttribute::make_int("group", o.groups())};
  // Output size (in-1)*s - 2p + k + output_padding, as PyTorch; omitted when 0 (the default).
  if (op[0] != 0 || op[1] != 0) attributes.push_back(OnnxAttribute::make_ints("output_padding", op));
  return add_node("ConvTranspose", hint, inputs, attributes);
}

}  // namespace img2img
