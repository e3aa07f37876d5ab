#pragma once
// Shared helpers for img2img's tests: seeded fixture, temporary folders, real photo crops.

#include <gtest/gtest.h>
#include <opencv2/core/mat.hpp>  // cv::Mat
#include <torch/types.h>         // torch::Tensor

#include <filesystem>  // std::filesystem::path
#include <string>      // std::string
#include <vector>      // std::vector

namespace img2img::test {

/// Fixture: seeds torch with 0 and gives each test an empty temporary folder, removed afterwards.
class TempDirTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;
  std::filesystem::path dir_;  ///< empty, unique per test
};

/// The folder of real photographs fetched by scripts/fetch_data.sh (data/photos). Fails the
/// current test (returns empty) when it is missing.
std::filesystem::path photos_dir();

/// Square crops of side `size` px from the real photographs, CV_32FC3 RGB in [0, 1]: `count`
/// crops, taken at a seeded random position and scale from the photos in name order.
std::vector<cv::Mat> photo_crops(int count, int size, unsigned seed);

/// Runs a shell command, returns its exit status; its stdout+stderr go to *output when given.
int run_command(const std::string& command, std::string* output = nullptr);

/// Path of the built `img2img` executable.
std::string img2img_binary();

/// The bytes of a w x h 8-bit grey + alpha PNG (colour type 4, which cv::imwrite cannot write; zlib
/// stored blocks): grey = (x * 8 + y) mod 256, alpha = 200 at column x, row y.
std::string gray_alpha_png(int w, int h);

}  // namespace img2img::test
