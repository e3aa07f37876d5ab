#pragma once

#include <torch/types.h>  // torch::Tensor

#include <filesystem>  // std::filesystem::path
#include <functional>  // std::function
#include <memory>      // std::unique_ptr
#include <string>      // std::string
#include <vector>      // std::vector

#include "img2img/config/run_config.h"
#include "img2img/data/batch_prefetcher.h"
#include "img2img/core/image_files.h"  // list_image_files, ListingStats
#include "img2img/data/image_io.h"

namespace img2img {

/// The files of one paired sample. For composite_paired, `input` == `reference` (left | right halves).
struct PairedFiles {
  std::string name;  ///< file stem, the pairing key
  std::filesystem::path input;
  std::filesystem::path reference;
  bool composite = false;
};

/// Calls `fn(i)` for every i in [0, n) on `threads` threads (0 = on this thread). The first
/// exception `fn` throws stops the remaining work and is rethrown here (after all threads joined).
void parallel_for_samples(int64_t n, int64_t threads, const std::function<void(int64_t)>& fn);

/// The deeper of two pixel depths (k8 < k16 < kFloat): the depth a set of files is written back at.
PixelDepth deeper_depth(PixelDepth a, PixelDepth b);

/// The most problems one data set error lists; the rest are counted ("... and 5 more").
constexpr size_t kMaxListedDataProblems = 20;

/// Throws one DataError for the problems found by checking every file of a data set (each a message
/// naming the file, what is wrong and the fix), in order: a headline with their count and `checked`
/// (e.g. "12 training pairs"), the first kMaxListedDataProblems, and how many more there are. Returns
/// when `problems` is empty.
void throw_data_problems(const std::vector<std::string>& problems, const std::string& checked);

/// What decoding saw of a data set's files, for the warnings at the start of training (file_warnings).
struct FileFacts {
  int largest_side = 0;    ///< the largest width or height of any file (a composite image: of its halves)
  int64_t out_of_range = 0;  ///< float files with samples outside [0, 1]
  std::filesystem::path first_out_of_range;  ///< the first of them (in the order added)
  double min_value = 0, max_value = 1;       ///< the smallest and largest sample of those files
  int64_t files = 0;                          ///< files counted
  int64_t non_square = 0;  ///< files whose width and height differ by more than 1% (squashed when resized)
  std::filesystem::path first_non_square;     ///< the first of them, and its size in px
  int first_non_square_width = 0, first_non_square_height = 0;
  double max_aspect = 1;  ///< the largest long side / short side of any file (>= 1)
  /// Counts `image`, decoded from `file` (`composite`: input|reference halves side by side).
  void add(const std::filesystem::path& file, const DecodedImage& image, bool composite = false);
  /// Adds the facts of other files (after this one's).
  void merge(const FileFacts& other);
};

/// How the warnings name `facts`' float files with samples outside [0, 1]: "float image 'F' has samples
/// from A to B, outside [0, 1] (so do N other float files)"; "" when there are none. Training's warning
/// (file_warnings) and infer's note (infer/inference.h) go on with what that means for each.
std::string out_of_range_files(const FileFacts& facts);

/// The run-start warnings of `facts` for training at `image_size`: every image enlarged 2x or more
/// (image_size at least twice the largest side), float samples outside [0, 1] (named by their first
/// file), images that are not square (each is squashed to image_size x image_size, as pix2pix's
/// `--preprocess resize_and_crop` does; named by the first and the largest stretch). `files` names the
/// files in the message ("training image"). None when nothing applies.
std::vector<std::string> file_warnings(const FileFacts& facts, int64_t image_size, const std::string& files);

/// The samples of a paired source, sorted by name, at most `limit_count` (0 = all). Throws
/// DataError naming the files (names on one side only: up to 10 and the count).
std::vector<PairedFiles> list_paired_files(const DataSource& source, int64_t limit_count, ListingStats* stats = nullptr);

/// Decodes one paired sample: both sides at full precision, channel rule, resized to
/// image_size. Returns {input, reference}, each [C, S, S] float32 in [-1, 1]. Throws DataError
/// naming the file (unreadable, composite with odd width, sides of different aspect ratio).
/// `file_channels`: the most channels of its files before the channel rule (1-4); `facts`: its files added.
std::pair<torch::Tensor, torch::Tensor> load_paired_sample(const PairedFiles& files, int64_t channel_count,
                                                           int64_t image_size, PixelDepth* input_depth = nullptr,
                                                           PixelDepth* reference_depth = nullptr,
                                                           int* file_channels = nullptr, FileFacts* facts = nullptr);

/// Bytes of host memory data.storage = automatic may fill with decoded samples: `memory_budget_mb`
/// MiB when > 0, else half of the machine's memory (physical RAM from sysconf, or the cgroup v2
/// limit in /sys/fs/cgroup/memory.max when lower), leaving the rest to the networks and the system.
/// MiB values above kMaxMemoryBudgetMb count as kMaxMemoryBudgetMb (validation rejects them).
int64_t memory_budget_bytes(double memory_budget_mb);

/// The log line of a data set's storage choice: `mode` is storage_mode() ("device", "streamed" or
/// "cached"), sizes in bytes (printed as MiB with three significant digits below 100 MiB),
/// `budget_key` the key that sets the budget ("data.memory_budget_mb" or "test.memory_budget_mb").
std::string describe_storage(const std::string& mode, int64_t decoded_bytes, int64_t budget_bytes,
                             int64_t worker_threads, const std::string& budget_key);

/// The run-start warning for a batch larger than the data set, or "" when `batch_size` <= `samples`:
/// a step takes at most every sample once, so each step (one per iteration) uses all `samples` and the
/// batch holds fewer images than data.batch_size says. `what` names the samples ("training pairs", or
/// "images in the larger domain" for unpaired data). Names both numbers and the fix.
std::string batch_size_warning(int64_t batch_size, int64_t samples, const std::string& what);

/// A paired data set, decoded once. data.storage = device, or automatic when the decoded set
/// ([N, C, S, S] float32 for inputs and references) fits memory_budget_bytes: cached, i.e. inputs
/// and references as [N, C, S, S] float32 in [-1, 1] in memory. Otherwise streamed: every file is
/// decoded once up front (to check it and find the bit depths, nothing is kept) and samples are
/// decoded again when a batch needs them (PairedLoader). Decoding uses `worker_threads` threads
/// (results do not depend on the count, nor on cached vs streamed).
class PairedDataset {
 public:
  /// Decodes every sample; throws one DataError listing every unreadable or inconsistent file (see
  /// load_paired_sample and throw_data_problems), not only the first.
  PairedDataset(const DataSource& source, int64_t channel_count, int64_t image_size, int64_t limit_count);

  int64_t size() const { return static_cast<int64_t>(files_.size()); }
  const PairedFiles& files(int64_t i) const { return files_.at(static_cast<size_t>(i)); }
  /// [N, C, S, S] in [-1, 1]; undefined when streamed() (use PairedLoader or sample()).
  const torch::Tensor& inputs() const { return inputs_; }
  /// [N, C, S, S] in [-1, 1]; undefined when streamed() (use PairedLoader or sample()).
  const torch::Tensor& references() const { return references_; }
  /// Sample `i` as {input, reference}, each [C, S, S] in [-1, 1]: a view of the cache, or decoded
  /// now when streamed (thread-safe). Throws DataError naming a file that cannot be decoded.
  std::pair<torch::Tensor, torch::Tensor> sample(int64_t i) const;
  /// Whether samples are decoded from disk per batch (automatic storage over the memory budget).
  bool streamed() const { return streamed_; }
  /// Bytes the decoded set takes in memory (inputs and references).
  int64_t decoded_bytes() const { return decoded_bytes_; }
  /// The memory budget the storage was chosen with (memory_budget_bytes; 0 for device storage).
  int64_t budget_bytes() const { return budget_bytes_; }
  /// Background threads for decoding (the source's worker_threads).
  int64_t worker_threads() const { return worker_threads_; }
  /// "cached", "streamed" or "device": how samples are stored (log and run_start event).
  std::string storage_mode() const;
  PixelDepth input_depth() const { return input_depth_; }          ///< deepest input file
  PixelDepth reference_depth() const { return reference_depth_; }  ///< deepest reference file
  int64_t ignored_files() const { return stats_.ignored; }
  /// Subfolders of the data folders, which are not searched (said in the log line).
  int64_t skipped_subfolders() const { return stats_.subfolders; }
  /// The most channels of any file (input or reference side), 1-4, as decoded before the channel rule.
  int64_t max_file_channels() const { return max_file_channels_; }
  /// Sizes and float ranges of the files (FileFacts), inputs and references, in name order.
  const FileFacts& file_facts() const { return facts_; }
  /// Moves the decoded tensors to `device` (data.storage = device).
  void to(const torch::Device& device);

 private:
  ListingStats stats_;  // before files_: filled while files_ is initialised
  std::vector<PairedFiles> files_;
  torch::Tensor inputs_, references_;
  PixelDepth input_depth_ = PixelDepth::k8, reference_depth_ = PixelDepth::k8;
  int64_t channel_count_ = 0, image_size_ = 0, decoded_bytes_ = 0, budget_bytes_ = 0, worker_threads_ = 0;
  int64_t max_file_channels_ = 0;
  FileFacts facts_;
  bool streamed_ = false, on_device_ = false;
};

/// Batches of passes over a PairedDataset: slices of the cache, or (streamed) samples decoded ahead
/// by the data set's worker threads (BatchPrefetcher, up to max(2, threads) batches ahead). Both
/// give identical tensors, so results do not depend on the storage mode or the thread count.
class PairedLoader {
 public:
  /// `dataset` must outlive the loader.
  explicit PairedLoader(const PairedDataset& dataset);
  /// Starts a pass over the samples `order` (indices) in batches of `batch_size` (the last one may
  /// be shorter); discards what an earlier pass left.
  void start(const std::vector<int64_t>& order, int64_t batch_size);
  /// The pass's next batch {inputs, references}, each [B, C, S, S] float32 in [-1, 1], on the data
  /// set's device. Throws DataError naming a file that cannot be decoded any more (streamed).
  std::pair<torch::Tensor, torch::Tensor> next();

 private:
  const PairedDataset& dataset_;
  std::unique_ptr<BatchPrefetcher> prefetcher_;  // streamed only
  std::vector<int64_t> order_;
  int64_t batch_size_ = 1, position_ = 0;
};

}  // namespace img2img
