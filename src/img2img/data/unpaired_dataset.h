#pragma once
// Unpaired (CycleGAN) data: two unrelated folders, domain A (data.input_dir) and domain B
// (data.reference_dir), of any sizes. Stored like PairedDataset: decoded once into host memory
// (data.storage = automatic, within the memory budget), streamed from disk by background threads
// (automatic, over the budget) or decoded onto the device (data.storage = device).

#include <torch/types.h>  // torch::Tensor

#include <cstdint>      // int64_t
#include <filesystem>   // std::filesystem::path
#include <memory>       // std::unique_ptr
#include <optional>     // std::optional
#include <random>       // std::mt19937_64
#include <string>       // std::string
#include <utility>      // std::pair
#include <vector>       // std::vector

#include "img2img/config/run_config.h"
#include "img2img/data/augment.h"
#include "img2img/data/batch_prefetcher.h"
#include "img2img/data/image_io.h"
#include "img2img/data/paired_dataset.h"

namespace img2img {

/// One domain of an unpaired data set.
struct ImageDomain {
  std::vector<std::filesystem::path> files;  ///< sorted by name, at most limit_count
  torch::Tensor images;                      ///< [N, C, S, S] float32 in [-1, 1]; undefined when streamed
  PixelDepth depth = PixelDepth::k8;         ///< deepest file
  int64_t max_channels = 0;                  ///< the most channels of any file, before the channel rule
  int64_t size() const { return static_cast<int64_t>(files.size()); }
};

/// Both domains of a multiple_unpaired source. Both use `channel_count` (the channel rule applies
/// to each file, so the domains always have the same channel count) and `image_size`.
class UnpairedDataset {
 public:
  /// Lists (list_image_files) both folders; each keeps its first `limit_count` files by name (0 =
  /// all). data.storage = device, or automatic when both decoded domains ((N_A + N_B) x C x S x S x 4
  /// bytes) fit memory_budget_bytes(source.memory_budget_mb): decoded into ImageDomain::images.
  /// Otherwise streamed: every file is decoded once up front (to check it and find the bit depths,
  /// nothing is kept) and decoded again when a batch needs it (UnpairedLoader). Decoding uses
  /// source.worker_threads threads; results depend neither on the count nor on the storage mode.
  /// Throws ConfigError if source.input_type is not multiple_unpaired, DataError for a missing
  /// folder, and one DataError listing every unreadable file (throw_data_problems).
  UnpairedDataset(const DataSource& source, int64_t channel_count, int64_t image_size, int64_t limit_count);

  const ImageDomain& domain_a() const { return a_; }  ///< input domain (generator 0 translates it)
  const ImageDomain& domain_b() const { return b_; }  ///< reference domain (generator 1 translates it)
  /// Domain `k`: 0 = A, 1 = B.
  const ImageDomain& domain(int k) const { return k == 0 ? a_ : b_; }
  /// Image `i` of domain `k` (0 = A, 1 = B), [C, S, S] in [-1, 1]: a view of the cache, or decoded
  /// now when streamed (thread-safe). Throws DataError naming a file that cannot be decoded.
  torch::Tensor image(int k, int64_t i) const;
  int64_t ignored_files() const { return stats_.ignored; }
  /// Subfolders of the data folders, which are not searched (said in the log line).
  int64_t skipped_subfolders() const { return stats_.subfolders; }
  /// Sizes and float ranges of the files (FileFacts), domain A's then B's, in name order.
  const FileFacts& file_facts() const { return facts_; }
  /// Bytes both decoded domains take (N_A + N_B) x C x S x S x sizeof(float).
  int64_t decoded_bytes() const { return decoded_bytes_; }
  /// The memory budget the storage was chosen with (memory_budget_bytes; 0 for device storage).
  int64_t budget_bytes() const { return budget_bytes_; }
  /// Whether images are decoded from disk per batch (automatic storage over the memory budget).
  bool streamed() const { return streamed_; }
  /// Background threads for decoding (the source's worker_threads).
  int64_t worker_threads() const { return worker_threads_; }
  /// "cached", "streamed" or "device": how images are stored (log and run_start event), as
  /// PairedDataset::storage_mode.
  std::string storage_mode() const;
  /// Moves the decoded tensors to `device` (data.storage = device; nothing when streamed).
  void to(const torch::Device& device);

 private:
  ListingStats stats_;
  ImageDomain a_, b_;
  FileFacts facts_;
  int64_t channel_count_ = 0, image_size_ = 0, decoded_bytes_ = 0, budget_bytes_ = 0, worker_threads_ = 0;
  bool streamed_ = false, on_device_ = false;
};

/// One batch of an unpaired pass: the A and B image indices of each batch position (a.size() ==
/// b.size() for training; the tester loads one domain at a time, the other list empty) and, when
/// augmentation is enabled, each side's draws (unset otherwise).
struct UnpairedBatch {
  std::vector<int64_t> a, b;
  std::optional<AugmentDraw> augment_a, augment_b;
};

/// Draws one training iteration (pass) of unpaired batches from `rng`, in the order the CycleGAN
/// trainer has always drawn them: the larger domain ("lead", A on a tie) is covered in order 0..n-1,
/// shuffled (std::shuffle) when config.shuffle; then per batch of config.batch_size positions (the
/// last may be shorter), the other domain's indices uniform in [0, n_other) (one draw each), then A's
/// augmentation draws and B's (draw_augmentation, only when augmentation_enabled). Drawing all of a
/// pass on the calling thread before any image is loaded lets streamed images be decoded ahead on
/// worker threads with batches identical to cached ones. `na`, `nb` >= 1.
std::vector<UnpairedBatch> draw_unpaired_pass(int64_t na, int64_t nb, const DataConfig& config, std::mt19937_64& rng);

/// Batches of an UnpairedDataset: index_select of the cache, or (streamed) images decoded ahead by
/// the data set's worker threads (BatchPrefetcher, up to max(2, threads) batches ahead). Both give
/// identical tensors, so results depend neither on the storage mode nor on the thread count.
class UnpairedLoader {
 public:
  /// `dataset` must outlive the loader.
  explicit UnpairedLoader(const UnpairedDataset& dataset);
  /// Starts a pass over `batches` (each with a non-empty `a` or `b`); discards what an earlier pass left.
  void start(const std::vector<UnpairedBatch>& batches);
  /// The pass's next batch {A images [Ba, C, S, S], B images [Bb, C, S, S]} in [-1, 1], not augmented,
  /// on the data set's device; a side with no indices is an undefined tensor. Throws DataError naming
  /// a file that cannot be decoded any more (streamed), std::logic_error past the end of the pass.
  std::pair<torch::Tensor, torch::Tensor> next();

 private:
  const UnpairedDataset& dataset_;
  std::unique_ptr<BatchPrefetcher> prefetcher_;  // streamed only
  std::vector<std::pair<std::vector<int64_t>, std::vector<int64_t>>> batches_;
  size_t position_ = 0;
};

}  // namespace img2img
