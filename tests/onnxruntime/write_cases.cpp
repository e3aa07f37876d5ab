// Writes the ONNX export matrix (tests/unit/export/onnx_cases.h) for onnxruntime: per case the .onnx
// file, random inputs and LibTorch's eval-mode outputs as raw little-endian float32, and cases.json
// describing them. compare.mjs then runs every model in onnxruntime-node.
//   img2img_onnx_cases OUT_DIR

#include <nlohmann/json.hpp>   // nlohmann::json
#include <torch/utils.h>       // torch::manual_seed

#include <filesystem>  // std::filesystem
#include <iostream>    // std::cerr

#include "img2img/core/atomic_file.h"
#include "unit/export/onnx_cases.h"

namespace fs = std::filesystem;

namespace {
std::string tensor_bytes(const torch::Tensor& t) {
  const torch::Tensor c = t.contiguous();
  return std::string(static_cast<const char*>(c.data_ptr()), static_cast<size_t>(c.numel()) * sizeof(float));
}
}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: img2img_onnx_cases OUT_DIR\n";
    return 2;
  }
  const fs::path out = argv[1];
  torch::manual_seed(0);
  nlohmann::json cases = nlohmann::json::array();
  try {
    for (const img2img::test::OnnxCase& c : img2img::test::onnx_cases()) {
      img2img::UnetGenerator g = img2img::test::make_onnx_case_generator(c);
      const std::string name = c.name();
      img2img::export_generator_onnx(*g, c.export_options(), out / (name + ".onnx"));
      const int64_t s = c.image_size();
      std::vector<std::vector<int64_t>> shapes{{c.dynamic_axes ? 2 : 1, c.channels, s, s}};
      if (c.dynamic_axes) shapes.push_back({1, c.channels, 2 * s, 3 * s});  // not the training size
      nlohmann::json runs = nlohmann::json::array();
      for (size_t r = 0; r < shapes.size(); ++r) {
        torch::Tensor x = torch::rand(shapes[r]);
        if (!c.unit_range) x = x * 2 - 1;
        const torch::Tensor y = img2img::test::onnx_case_reference(g, c, x);
        const std::string stem = name + "_run" + std::to_string(r);
        img2img::write_file_atomic(out / (stem + ".input.bin"), tensor_bytes(x));
        img2img::write_file_atomic(out / (stem + ".expected.bin"), tensor_bytes(y));
        runs.push_back({{"input", stem + ".input.bin"},
                        {"expected", stem + ".expected.bin"},
                        {"input_shape", x.sizes().vec()},
                        {"output_shape", y.sizes().vec()}});
      }
      cases.push_back({{"name", name}, {"model", name + ".onnx"}, {"runs", runs}});
    }
    img2img::write_file_atomic(out / "cases.json", cases.dump(2));
  } catch (const std::exception& e) {
    std::cerr << "img2img_onnx_cases: " << e.what() << "\n";
    return 1;
  }
  std::cout << "wrote " << cases.size() << " ONNX case(s) to " << out << "\n";
  return 0;
}
