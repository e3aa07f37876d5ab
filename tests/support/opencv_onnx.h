#pragma once
// Runs exported ONNX graphs in OpenCV's DNN module (the second runtime the spec names).

#include <torch/types.h>  // torch::Tensor

#include <filesystem>  // std::filesystem::path

namespace img2img::test {

/// Runs the ONNX file at `path` on `x` ([N, C, H, W] float32) in OpenCV DNN (CPU, OpenCV backend);
/// returns the graph's output as a tensor of its shape.
torch::Tensor run_onnx_in_opencv(const std::filesystem::path& path, const torch::Tensor& x);

}  // namespace img2img::test
