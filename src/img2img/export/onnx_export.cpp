#include "img2img/export/onnx_export.h"

#include <fmt/format.h>                               // fmt::format
#include <onnx/checker.h>                             // onnx::checker::check_model
#include <onnx/shape_inference/implementation.h>      // onnx::shape_inference::InferShapes

#include <string>  // std::string

#include "img2img/core/atomic_file.h"
#include "img2img/core/error.h"
#include "img2img/onnx/onnx_graph.h"

namespace img2img {
namespace {

// The newest IR version each opset's ONNX release wrote (onnx/docs/Versioning.md).
int64_t ir_version_for(int64_t opset) { return opset <= 11 ? 6 : opset <= 14 ? 7 : 8; }

void set_image_type(onnx::ValueInfoProto* value, int64_t channels, const OnnxExportOptions& o) {
  auto* tensor = value->mutable_type()->mutable_tensor_type();
  tensor->set_elem_type(onnx::TensorProto::FLOAT);
  auto* shape = tensor->mutable_shape();
  const auto add = [&](const char* symbol, int64_t fixed) {
    auto* d = shape->add_dim();
    if (o.dynamic_axes && symbol != nullptr) d->set_dim_param(symbol); else d->set_dim_value(fixed);
  };
  add("batch", 1), add(nullptr, channels), add("height", o.image_size), add("width", o.image_size);
}

void add_metadata(onnx::ModelProto& model, const std::string& key, const std::string& value) {
  auto* p = model.add_metadata_props();
  p->set_key(key), p->set_value(value);
}

}  // namespace

onnx::ModelProto build_generator_onnx(const UnetGeneratorImpl& generator, const OnnxExportOptions& options) {
  if (options.opset < kOnnxMinOpset || options.opset > kOnnxMaxOpset)
    throw ExportError(fmt::format("output.onnx_opset {} is not supported; expected {} to {}", options.opset,
                                  kOnnxMinOpset, kOnnxMaxOpset));
  const int64_t layers = static_cast<int64_t>(generator.down.size());
  const int64_t multiple = int64_t{1} << layers;
  if (options.image_size <= 0 || options.image_size % multiple != 0)
    throw ExportError(fmt::format("ONNX export: image size {} is not a positive multiple of 2^layers = {}",
                                  options.image_size, multiple));
  if (!options.direction.empty() && options.direction != "A->B" && options.direction != "B->A")
    throw ExportError(fmt::format("ONNX export: direction '{}' is not A->B, B->A or empty", options.direction));
  const int64_t c_in = generator.options.in_channels(), c_out = generator.options.out_channels();

  OnnxGraph graph(options.opset);
  graph.unique_name(kOnnxInputName), graph.unique_name(kOnnxOutputName);  // reserve the interface names
  onnx::GraphProto& g = graph.proto();
  g.set_name("img2img_generator");
  set_image_type(g.add_input(), c_in, options);
  g.mutable_input(0)->set_name(kOnnxInputName);

  std::string x = kOnnxInputName;  // [N, C_in, H, W]
  if (options.unit_range)  // [0, 1] -> [-1, 1]
    x = graph.add_node("Sub", "to_signed", {graph.add_node("Mul", "to_signed/scale", {x, graph.add_scalar("two", 2.0)}),
                                            graph.add_scalar("one", 1.0)});
  std::string y = generator.emit_onnx(graph, x);  // [N, C_out, H, W] in [-1, 1]
  if (options.unit_range)  // [-1, 1] -> [0, 1]
    y = graph.add_node("Mul", "to_unit", {graph.add_node("Add", "to_unit/shift", {y, graph.add_scalar("one", 1.0)}),
                                          graph.add_scalar("half", 0.5)});
  // Rename the last value to the documented output name; only the graph output consumes it.
  onnx::NodeProto* last = g.mutable_node(g.node_size() - 1);
  if (last->output(0) != y) throw ExportError("ONNX export: internal error, the output is not the last node's");
  last->set_output(0, kOnnxOutputName);
  set_image_type(g.add_output(), c_out, options);
  g.mutable_output(0)->set_name(kOnnxOutputName);

  const std::string range = options.unit_range ? "0,1" : "-1,1";
  g.set_doc_string(fmt::format(
      "img2img U-Net generator ({} layers, eval mode{}). input '{}': float32 NCHW [N, {}, H, W] in [{}]; "
      "output '{}': float32 NCHW [N, {}, H, W] in [{}]. {}",
      layers,
      options.direction == "A->B"   ? ", unpaired A->B: domain A (data.input_dir) to domain B (data.reference_dir)"
      : options.direction == "B->A" ? ", unpaired B->A: domain B (data.reference_dir) to domain A (data.input_dir)"
                                    : "",
      kOnnxInputName, c_in, range, kOnnxOutputName, c_out, range,
      options.dynamic_axes ? fmt::format("N, H, W are dynamic; H and W must be multiples of {}.", multiple)
                           : fmt::format("Fixed shape: N = 1, H = W = {}.", options.image_size)));

  onnx::ModelProto model;
  model.set_ir_version(ir_version_for(options.opset));
  model.set_producer_name("img2img");
  model.set_producer_version(IMG2IMG_VERSION);
  model.set_model_version(options.iteration);
  model.set_doc_string(g.doc_string());
  auto* opset = model.add_opset_import();
  opset->set_domain("");
  opset->set_version(options.opset);
  add_metadata(model, "channel_count", std::to_string(c_in));
  add_metadata(model, "output_channel_count", std::to_string(c_out));
  add_metadata(model, "image_size", std::to_string(options.image_size));
  add_metadata(model, "iteration", std::to_string(options.iteration));
  add_metadata(model, "layers", std::to_string(layers));
  add_metadata(model, "value_range", range);
  add_metadata(model, "layout", "NCHW float32");
  add_metadata(model, "dynamic_axes", options.dynamic_axes ? "batch,height,width" : "");
  if (!options.weights.empty()) add_metadata(model, "weights", options.weights);
  if (!options.direction.empty()) add_metadata(model, "direction", options.direction);
  *model.mutable_graph() = std::move(g);
  return model;
}

std::string onnx_direction(bool unpaired, int64_t index) {
  if (!unpaired) return "";
  return index == 0 ? "A->B" : "B->A";
}

void write_onnx_model(const onnx::ModelProto& model, const std::filesystem::path& out) {
  try {
    onnx::checker::check_model(model);
    onnx::ModelProto inferred = model;
    onnx::shape_inference::InferShapes(inferred, onnx::OpSchemaRegistry::Instance(),
                                       onnx::ShapeInferenceOptions(/*check_type=*/true, /*strict_mode=*/1));
  } catch (const std::exception& e) {
    throw ExportError(fmt::format("ONNX model for '{}' failed the ONNX checker / shape inference, so it was not "
                                  "written: {}",
                                  out.string(), e.what()));
  }
  std::string bytes;
  if (!model.SerializeToString(&bytes))
    throw ExportError(fmt::format("ONNX model for '{}' could not be serialised (over 2 GiB?)", out.string()));
  write_file_atomic(out, bytes);
}

void export_generator_onnx(UnetGeneratorImpl& generator, const OnnxExportOptions& options,
                           const std::filesystem::path& out) {
  write_onnx_model(build_generator_onnx(generator, options), out);
}

}  // namespace img2img
