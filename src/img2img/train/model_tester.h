#pragma once
// Testing during training (spec test.*): SSIM of the generator on a held-out paired set.

#include <torch/types.h>  // torch::Device

#include <cstdint>     // int64_t, uint32_t
#include <filesystem>  // std::filesystem::path
#include <map>         // std::map
#include <memory>      // std::unique_ptr
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

/// The test.size samples tested at `iteration` out of `n` (0 or >= n: all), sorted: a shuffle by a
/// std::mt19937_64 seeded from (train.seed, iteration, stream) alone, so the choice at an iteration
/// is the same in a run and in its --resume continuation, whatever was tested before. `stream`
/// gives independent draws from one seed: 0 for a paired test set, 0 and 1 for the A and B images
/// of an unpaired one.
std::vector<int64_t> draw_test_samples(int64_t n, int64_t size, int64_t seed, int64_t iteration,
                                       uint32_t stream = 0);

/// Holds the decoded test set (test.* data source, decoded like data.*: data.channel_count and
/// data.image_size) and tests a generator on it: test.size random samples (0 = all), in eval mode
/// (no gradient, BatchNorm running statistics), batches of test.batch_size. The samples tested
/// at an iteration come from draw_test_samples (training's RNG is untouched).
class ModelTester {
 public:
  /// Decodes the test set with test.worker_threads threads (to `device` if test.storage = device;
  /// streamed from disk when automatic storage exceeds test.memory_budget_mb, see PairedDataset).
  /// Throws DataError for unreadable or inconsistent test files.
  ModelTester(const RunConfig& config, const torch::Device& device);

  /// Tests `generator` (restored to train mode afterwards) and writes each sample's input,
  /// generated and reference image to test.output_dir (expanded with `template_values` plus
  /// {iteration}, the plain number), named `<iteration>_<name>_<role>.png` (iteration zero-padded to
  /// 6 digits; .tif for float data) at the data's bit depth, so files sort by iteration and never
  /// overwrite. Throws WriteError if a file fails.
  TestResult run(UnetGenerator& generator, int64_t iteration, const std::map<std::string, std::string>& template_values);

  const PairedDataset& dataset() const { return dataset_; }

 private:
  RunConfig config_;
  torch::Device device_;
  PairedDataset dataset_;
  PairedLoader loader_;  // after dataset_, which it reads
};

}  // namespace img2img
