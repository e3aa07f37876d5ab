#pragma once
// Testing during training (spec test.*): the SSIM of a model's generators on a held-out set, and the
// test images of each test (written through the RunWriter).

#include <torch/types.h>  // torch::Device

#include <cstdint>     // int64_t, uint32_t
#include <filesystem>  // std::filesystem::path
#include <functional>  // std::function
#include <string>      // std::string
#include <vector>      // std::vector

#include "img2img/config/run_config.h"
#include "img2img/data/paired_dataset.h"
#include "img2img/data/unpaired_dataset.h"
#include "img2img/models/gan_model.h"
#include "img2img/run/run_writer.h"

namespace img2img {

/// One test image written by a test.
struct TestImageFile {
  std::filesystem::path path;
  /// "input", "generated", "reference" (unpaired: "translated", "reconstructed"), and "side_by_side"
  /// (the three next to each other, 8-bit PNG).
  std::string role;
  int64_t sample = 0;      ///< index of the sample in the test set (sorted by name)
};

/// What one test produced.
struct TestResult {
  int64_t iteration = 0;
  double ssim = 0;          ///< mean SSIM over the tested samples, in [-1, 1]
  int64_t samples = 0;      ///< samples tested
  double seconds = 0;
  bool stopped = false;     ///< a stop request ended the test early; ssim covers `samples` only
  std::vector<TestImageFile> files;  ///< the images written; empty without a writer or test.output_dir
};

/// `size` of the indices 0..n-1 (0 or >= n: all), sorted: a shuffle by a std::mt19937_64 seeded
/// from (train.seed, stream) alone, so every test of a run, and of its --resume continuation, uses
/// the same samples (the test SSIM curve compares like with like). `stream` gives independent draws
/// from one seed: 0 for a paired test set, 0 and 1 for the A and B images of an unpaired one; the
/// samples whose images are written are drawn from the tested ones with stream + 2 (test.image_count).
std::vector<int64_t> draw_test_samples(int64_t n, int64_t size, int64_t seed, uint32_t stream = 0);

/// A test pass over a held-out set, as the training loop runs it every test.frequency iterations.
class ModelTest {
 public:
  virtual ~ModelTest() = default;
  /// Log lines that describe the test set at run start.
  virtual std::vector<std::string> describe() const = 0;
  /// Samples in the test set (both domains for unpaired data), for the run_start event.
  virtual int64_t size() const = 0;
  /// "cached", "streamed" or "device".
  virtual std::string storage_mode() const = 0;
  /// What the SSIM compares, for the log and the early-stop reason: "SSIM" or "cycle SSIM".
  virtual std::string ssim_name() const = 0;
  /// The series of the test SSIM in the ssim plot: "test" or "test_cycle".
  virtual std::string plot_series() const = 0;
  /// Tests the generators of `model` (eval mode, no gradient; restored to train mode afterwards)
  /// at `iteration`; writes the images of test.image_count samples through `writer` (nullptr: none).
  /// `stop` (empty = never) is called after every batch: once true the test ends early with
  /// TestResult::stopped set. Throws DataError for a test file that cannot be decoded any more,
  /// WriteError if an image cannot be written.
  virtual TestResult run(GanModel& model, int64_t iteration, RunWriter* writer,
                         const std::function<bool()>& stop = {}) = 0;
};

/// What both test passes keep: the test.* settings, the seed of their sample draws (train.seed) and the
/// device the generators run on.
class HeldOutTest : public ModelTest {
 protected:
  HeldOutTest(const TestConfig& test, int64_t seed, const torch::Device& device)
      : test_(test), seed_(seed), device_(device) {}
  TestConfig test_;
  int64_t seed_;
  torch::Device device_;
};

/// Paired test (test.* data source, decoded like data.*): SSIM of generator 0's output against the
/// reference, test.size random samples (0 = all) in batches of test.batch_size. Images per written
/// sample: `<iteration>_<name>_{input,generated,reference}.png` (.tif for float data), zero-padded
/// iteration, and `<iteration>_<name>_side_by_side.png` (input | generated | reference).
class PairedModelTest : public HeldOutTest {
 public:
  /// Decodes the test set with test.worker_threads threads (to `device` if test.storage = device;
  /// streamed from disk over test.memory_budget_mb). Throws DataError for unreadable or inconsistent files.
  PairedModelTest(const TestConfig& test, const DataConfig& data, int64_t seed, const torch::Device& device);
  std::vector<std::string> describe() const override;
  int64_t size() const override { return dataset_.size(); }
  std::string storage_mode() const override { return dataset_.storage_mode(); }
  std::string ssim_name() const override { return "SSIM"; }
  std::string plot_series() const override { return "test"; }
  TestResult run(GanModel& model, int64_t iteration, RunWriter* writer,
                 const std::function<bool()>& stop = {}) override;

 private:
  PairedDataset dataset_;
  PairedLoader loader_;  // after dataset_, which it reads
};

/// Unpaired test: each test image of domain k goes through generator k and back through generator
/// 1 - k; SSIM(input, reconstruction) averaged over both domains: the cycle reconstruction, not a
/// comparison with a reference (unpaired data has none). Images per written sample:
/// `<iteration>_<A|B>_<name>_{input,translated,reconstructed,side_by_side}.png`.
class CycleModelTest : public HeldOutTest {
 public:
  /// Decodes both test domains (test.* as data.*). Throws as UnpairedDataset.
  CycleModelTest(const TestConfig& test, const DataConfig& data, int64_t seed, const torch::Device& device);
  std::vector<std::string> describe() const override;
  int64_t size() const override { return dataset_.domain_a().size() + dataset_.domain_b().size(); }
  std::string storage_mode() const override { return dataset_.storage_mode(); }
  std::string ssim_name() const override { return "cycle SSIM"; }
  std::string plot_series() const override { return "test_cycle"; }
  TestResult run(GanModel& model, int64_t iteration, RunWriter* writer,
                 const std::function<bool()>& stop = {}) override;

 private:
  UnpairedDataset dataset_;
};

}  // namespace img2img
