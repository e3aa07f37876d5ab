// The LibTorch-only build (IMG2IMG_TORCH_ONLY, scripts/gpu_check.sh) trains with the same code as this build:
// its runner's weights after the reference steps equal this build's bit for bit (same seed, batch and SGEMM).

#include <gtest/gtest.h>

#include <cstdlib>     // std::getenv
#include <filesystem>  // std::filesystem
#include <string>      // std::string

#include "img2img/core/sgemm.h"
#include "torch_only/reference_steps.h"

namespace {

namespace fs = std::filesystem;
using img2img::torch_only::NamedTensors;

// Written by `img2img_torch_tests --write-weights` in scripts/gpu_check.sh (DEVICE=cpu, Debian's LibTorch).
fs::path torch_only_weights() {
  const char* env = std::getenv("IMG2IMG_TORCH_ONLY_WEIGHTS");
  return env && *env ? fs::path(env) : fs::path(IMG2IMG_SOURCE_DIR) / "gpu_check" / "torch_only_weights.bin";
}

TEST(TorchOnlyStepTest, SameWeightsAsFullBuild) {
  const fs::path path = torch_only_weights();
  if (!fs::exists(path)) {
    const char* require = std::getenv("IMG2IMG_REQUIRE_TORCH_ONLY_WEIGHTS");
    if (require && std::string(require) == "1") FAIL() << path << " is missing: run scripts/gpu_check.sh first";
    GTEST_SKIP() << path << " is missing (scripts/gpu_check.sh writes it; scripts/test.sh runs it first)";
  }
  const NamedTensors full = img2img::torch_only::reference_step_weights(torch::kCPU, 2);
  const NamedTensors torch_only = img2img::torch_only::read_weights(path.string());
  ASSERT_GT(full.size(), 20u);
  EXPECT_EQ(img2img::torch_only::compare_bitwise(full, torch_only), "")
      << "the LibTorch-only build (" << path << ") trains differently from this build; both use SGEMM "
      << (img2img::sgemm_has_dnnl() ? "oneDNN" : "at::mm") << " here only if their IMG2IMG_DNNL_SGEMM agree";
}

TEST(TorchOnlyStepTest, WeightsFileRoundTrips) {
  const NamedTensors w = {{"a", torch::randn({2, 3})}, {"b", torch::arange(5).to(torch::kFloat32)}};
  const fs::path path = fs::temp_directory_path() / "img2img_torch_only_roundtrip.bin";
  img2img::torch_only::write_weights(path.string(), w);
  EXPECT_EQ(img2img::torch_only::compare_bitwise(w, img2img::torch_only::read_weights(path.string())), "");
  fs::remove(path);
}

}  // namespace
