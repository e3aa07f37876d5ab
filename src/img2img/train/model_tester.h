#pragma once
// Testing during training (spec test.*): SSIM of the generator on a held-out paired set.

#include <torch/types.h>  // torch::Device

#include <filesystem>  // std::filesystem::path
#include <map>         // std::map
#include <memory>      // std::unique_ptr
#include <random>      // std::mt19937_64
#include <string>      // std::string
#include <vector>      // std::vector

#include "img2img/config/run_config.h"
#include "img2img/data/paired_dataset.h"
#include "img2img/models/unet_generator.h"

namespace img2img {

/// One test image written by ModelTester::run.
struct TestImageFile {
  std::filesystem::path path;
  std::string role;        ///< "input", "generated" or "reference"
  int64_t sample = 0;      ///< index of the sample in the test set (sorted by name)
};

/// What one test produced.
struct TestResult {
  int64_t iteration = 0;
  double ssim = 0;          ///< mean SSIM of generated vs reference over the tested samples, in [-1, 1]
  int64_t samples = 0;      ///< samples tested
  double seconds = 0;
  std::vector<TestImageFile> files;  ///< 3 per sample (input, generated, reference); empty if output_dir is ""
};

/// Holds the decoded test set (test.* data source, decoded like data.*: data.channel_count and
/// data.image_size) and tests a generator on it: test.size random samples (0 = all), in eval mode
/// (no gradient, BatchNorm running statistics), batches of test.batch_size.
class ModelTester {
 public:
  /// Decodes the test set with test.worker_threads threads (to `device` if test.storage = device).
  /// Throws DataError for unreadable or inconsistent test files.
  ModelTester(const RunConfig& config, const torch::Device& device);

  /// Tests `generator` (restored to train mode afterwards) and writes each sample's input,
  /// generated and reference image to test.output_dir (expanded with `template_values` plus
  /// {iteration}), named `<iteration>_<name>_<role>.png` (.tif for float data) at the data's bit
  /// depth, so files sort by iteration and never overwrite. Throws WriteError if a file fails.
  TestResult run(UnetGenerator& generator, int64_t iteration, const std::map<std::string, std::string>& template_values);

  const PairedDataset& dataset() const { return dataset_; }

 private:
  std::vector<int64_t> draw_samples();

  RunConfig config_;
  torch::Device device_;
  PairedDataset dataset_;
  std::mt19937_64 rng_;  // its own stream: testing does not change the training sequence
};

}  // namespace img2img
