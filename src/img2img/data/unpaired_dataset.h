#pragma once
// Unpaired (CycleGAN) data: two unrelated folders, domain A (data.input_dir) and domain B
// (data.reference_dir), of any sizes, decoded once into memory like PairedDataset.

#include <torch/types.h>  // torch::Tensor

#include <filesystem>  // std::filesystem::path
#include <vector>      // std::vector

#include "img2img/config/run_config.h"
#include "img2img/data/image_io.h"
#include "img2img/data/paired_dataset.h"

namespace img2img {

/// One decoded domain of an unpaired data set.
struct ImageDomain {
  std::vector<std::filesystem::path> files;  ///< sorted by name, at most limit_count
  torch::Tensor images;                      ///< [N, C, S, S] float32 in [-1, 1]
  PixelDepth depth = PixelDepth::k8;         ///< deepest file
  int64_t size() const { return static_cast<int64_t>(files.size()); }
};

/// Both domains of a multiple_unpaired source. Both use `channel_count` (the channel rule applies
/// to each file, so the domains always have the same channel count) and `image_size`.
class UnpairedDataset {
 public:
  /// Lists (list_image_files) and decodes both folders with source.worker_threads threads; each
  /// keeps its first `limit_count` files by name (0 = all). Throws ConfigError if
  /// source.input_type is not multiple_unpaired, DataError for a missing folder or unreadable file.
  UnpairedDataset(const DataSource& source, int64_t channel_count, int64_t image_size, int64_t limit_count);

  const ImageDomain& domain_a() const { return a_; }  ///< input domain (generator 0 translates it)
  const ImageDomain& domain_b() const { return b_; }  ///< reference domain (generator 1 translates it)
  int64_t ignored_files() const { return stats_.ignored; }
  /// Moves the decoded tensors to `device` (data.storage = device).
  void to(const torch::Device& device);

 private:
  ListingStats stats_;
  ImageDomain a_, b_;
};

}  // namespace img2img
