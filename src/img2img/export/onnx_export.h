#pragma once
// ONNX export of a trained U-Net generator (LibTorch's C++ API has no exporter; img2img writes the
// graph itself, each module through its `emit_onnx`).
//
// The exported model's interface (documented in the file's doc_string and metadata too):
//   input  "input"  float32 NCHW [N, C, H, W]  (unit_range: in [0, 1]; raw: in [-1, 1])
//   output "output" float32 NCHW [N, C, H, W]  (same range as the input)
// With dynamic axes N, H, W are symbolic ("batch", "height", "width"; H and W must be multiples of
// 2^layers), else fixed to [1, C, image_size, image_size]. Metadata properties: channel_count,
// output_channel_count, image_size, iteration, layers, value_range ("0,1" or "-1,1"), layout, and
// weights ("average" or "trained") and direction (unpaired generators: "A->B" or "B->A") when the
// options name them.

#include <onnx/onnx_pb.h>  // onnx::ModelProto

#include <cstdint>     // int64_t
#include <filesystem>  // std::filesystem::path
#include <string>      // std::string

#include "img2img/models/unet_generator.h"

namespace img2img {

constexpr int64_t kOnnxMinOpset = 11;  ///< oldest supported output.onnx_opset
constexpr int64_t kOnnxMaxOpset = 17;  ///< newest (the newest Debian 12's libonnx 1.12 checks)
constexpr const char* kOnnxInputName = "input";    ///< the graph's input value
constexpr const char* kOnnxOutputName = "output";  ///< the graph's output value

/// How a generator is exported (defaults: output.onnx_opset / onnx_dynamic_axes, data.image_size).
struct OnnxExportOptions {
  int64_t opset = 17;         ///< default-domain opset, kOnnxMinOpset..kOnnxMaxOpset
  bool dynamic_axes = true;   ///< batch, height, width symbolic; false: [1, C, image_size, image_size]
  bool unit_range = true;     ///< images in [0, 1] in and out (conversion in the graph); false: [-1, 1]
  int64_t image_size = 256;   ///< the training size (fixed shape without dynamic axes; metadata)
  int64_t iteration = 0;      ///< training iterations completed (metadata)
  /// Which weights the generator holds, "average" or "trained" (metadata `weights`; "" = none written).
  std::string weights;
  /// Unpaired (CycleGAN) generators: which way this one translates, "A->B" (generator 0: data.input_dir
  /// to data.reference_dir) or "B->A" (generator 1); metadata `direction` and the doc string ("" = paired,
  /// none written).
  std::string direction;
};

/// The `direction` of unpaired generator `index` (0: "A->B", 1: "B->A"), "" for a paired model.
std::string onnx_direction(bool unpaired, int64_t index);

/// Builds the eval-mode ONNX model of `generator` (dropout removed, batch norm with running stats)
/// without checking it. Throws ExportError if the opset is outside 11..17 (naming the range), the
/// image size is not a positive multiple of 2^layers, or a layer has no export.
onnx::ModelProto build_generator_onnx(const UnetGeneratorImpl& generator, const OnnxExportOptions& options);

/// Runs onnx::checker::check_model and strict shape inference on `model`, then writes it to `out`
/// atomically (write_file_atomic). Throws ExportError naming the failing node (nothing is written,
/// a previous file is left intact) or WriteError.
void write_onnx_model(const onnx::ModelProto& model, const std::filesystem::path& out);

/// build_generator_onnx + write_onnx_model: writes `generator`'s eval-mode graph to `out`. The
/// module itself is not changed (its train/eval mode and device are kept). Throws ExportError,
/// WriteError.
void export_generator_onnx(UnetGeneratorImpl& generator, const OnnxExportOptions& options,
                           const std::filesystem::path& out);

}  // namespace img2img
