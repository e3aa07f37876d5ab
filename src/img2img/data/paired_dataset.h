#pragma once

#include <torch/types.h>  // torch::Tensor

#include <filesystem>  // std::filesystem::path
#include <functional>  // std::function
#include <string>      // std::string
#include <vector>      // std::vector

#include "img2img/config/run_config.h"
#include "img2img/data/image_io.h"

namespace img2img {

/// The files of one paired sample. For composite_paired, `input` == `reference` (left | right halves).
struct PairedFiles {
  std::string name;  ///< file stem, the pairing key
  std::filesystem::path input;
  std::filesystem::path reference;
  bool composite = false;
};

/// What list_image_files skipped (hidden files, ._* AppleDouble, Thumbs.db, non-images), for the log.
struct ListingStats {
  int64_t ignored = 0;
};

/// Calls `fn(i)` for every i in [0, n) on `threads` threads (0 = on this thread). The first
/// exception `fn` throws stops the remaining work and is rethrown here (after all threads joined).
void parallel_for_samples(int64_t n, int64_t threads, const std::function<void(int64_t)>& fn);

/// The deeper of two pixel depths (k8 < k16 < kFloat): the depth a set of files is written back at.
PixelDepth deeper_depth(PixelDepth a, PixelDepth b);

/// Image files of `dir` (not recursive), sorted by name; hidden files, `._*`, Thumbs.db / desktop.ini
/// and non-image extensions are skipped and counted. Throws DataError if `dir` is missing, has no
/// images, or holds two images with the same stem (e.g. a.png and a.jpg).
std::vector<std::filesystem::path> list_image_files(const std::filesystem::path& dir, ListingStats* stats = nullptr);

/// The samples of a paired source, sorted by name, at most `limit_count` (0 = all). Throws
/// DataError naming the files (names on one side only: up to 10 and the count).
std::vector<PairedFiles> list_paired_files(const DataSource& source, int64_t limit_count, ListingStats* stats = nullptr);

/// Decodes one paired sample: both sides at full precision, channel rule, resized to
/// image_size. Returns {input, reference}, each [C, S, S] float32 in [-1, 1]. Throws DataError
/// naming the file (unreadable, composite with odd width, sides of different aspect ratio).
std::pair<torch::Tensor, torch::Tensor> load_paired_sample(const PairedFiles& files, int64_t channel_count,
                                                           int64_t image_size, PixelDepth* input_depth = nullptr,
                                                           PixelDepth* reference_depth = nullptr);

/// A paired data set decoded once into memory: inputs and references as [N, C, S, S] float32 in
/// [-1, 1]. Decoding uses `worker_threads` threads (results do not depend on the count).
class PairedDataset {
 public:
  /// Throws DataError for any unreadable or inconsistent file (see load_paired_sample).
  PairedDataset(const DataSource& source, int64_t channel_count, int64_t image_size, int64_t limit_count);

  int64_t size() const { return static_cast<int64_t>(files_.size()); }
  const PairedFiles& files(int64_t i) const { return files_.at(static_cast<size_t>(i)); }
  const torch::Tensor& inputs() const { return inputs_; }          ///< [N, C, S, S] in [-1, 1]
  const torch::Tensor& references() const { return references_; }  ///< [N, C, S, S] in [-1, 1]
  PixelDepth input_depth() const { return input_depth_; }          ///< deepest input file
  PixelDepth reference_depth() const { return reference_depth_; }  ///< deepest reference file
  int64_t ignored_files() const { return stats_.ignored; }
  /// Moves the decoded tensors to `device` (data.storage = device).
  void to(const torch::Device& device);

 private:
  ListingStats stats_;  // before files_: filled while files_ is initialised
  std::vector<PairedFiles> files_;
  torch::Tensor inputs_, references_;
  PixelDepth input_depth_ = PixelDepth::k8, reference_depth_ = PixelDepth::k8;
};

}  // namespace img2img
