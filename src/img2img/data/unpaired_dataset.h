#pragma once
// Unpaired (CycleGAN) data: two unrelated folders, domain A (data.input_dir) and domain B
// (data.reference_dir), of any sizes, decoded once into host memory (data.storage = automatic, within
// the memory budget) or onto the device (data.storage = device). Unlike PairedDataset it cannot stream.

#include <torch/types.h>  // torch::Tensor

#include <filesystem>   // std::filesystem::path
#include <string>       // std::string
#include <string_view>  // std::string_view
#include <vector>       // std::vector

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
  /// keeps its first `limit_count` files by name (0 = all). With source.storage = automatic the
  /// decoded size of both domains ((N_A + N_B) x C x S x S x 4 bytes) is checked against
  /// memory_budget_bytes(source.memory_budget_mb) after listing and before decoding anything.
  /// `section` ("data" or "test") names the config keys in messages. Throws ConfigError if
  /// source.input_type is not multiple_unpaired or the decoded domains exceed the budget (naming
  /// both sizes and the budget in MiB and the fixes), DataError for a missing folder or unreadable file.
  UnpairedDataset(const DataSource& source, int64_t channel_count, int64_t image_size, int64_t limit_count,
                  std::string_view section = "data");

  const ImageDomain& domain_a() const { return a_; }  ///< input domain (generator 0 translates it)
  const ImageDomain& domain_b() const { return b_; }  ///< reference domain (generator 1 translates it)
  int64_t ignored_files() const { return stats_.ignored; }
  /// Bytes both decoded domains take (N_A + N_B) x C x S x S x sizeof(float).
  int64_t decoded_bytes() const { return decoded_bytes_; }
  /// The memory budget the domains were checked against (memory_budget_bytes; 0 for device storage).
  int64_t budget_bytes() const { return budget_bytes_; }
  /// "cached" (host memory) or "device": how images are stored (log and run_start event), as
  /// PairedDataset::storage_mode; never "streamed".
  std::string storage_mode() const { return on_device_ ? "device" : "cached"; }
  /// Moves the decoded tensors to `device` (data.storage = device).
  void to(const torch::Device& device);

 private:
  ListingStats stats_;
  ImageDomain a_, b_;
  int64_t decoded_bytes_ = 0, budget_bytes_ = 0;
  bool on_device_ = false;
};

}  // namespace img2img
