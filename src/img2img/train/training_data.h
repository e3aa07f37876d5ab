#pragma once
// The training data of a model as the one training loop sees it: batches of an iteration, drawn from
// the run's RNG. Paired data feeds {input, reference}, unpaired data {A, B}.

#include <nlohmann/json.hpp>  // nlohmann::json
#include <torch/types.h>      // torch::Tensor, torch::Device

#include <cstdint>  // int64_t
#include <memory>   // std::unique_ptr
#include <random>   // std::mt19937_64
#include <string>   // std::string
#include <utility>  // std::pair
#include <vector>   // std::vector

#include "img2img/config/run_config.h"
#include "img2img/data/image_io.h"

namespace img2img {

/// The batches a model trains on (see the top of this file).
class TrainingData {
 public:
  virtual ~TrainingData() = default;
  /// Samples one iteration (epoch) covers: the pairs, or the larger domain's images.
  virtual int64_t size() const = 0;
  /// Log lines that describe the data at run start (counts, bit depths, storage).
  virtual std::vector<std::string> describe() const = 0;
  /// Fields of the run_start event (train_samples, data_storage, ...; docs/events.md).
  virtual nlohmann::json event_fields() const = 0;
  /// The run-start warning for a batch larger than the data (batch_size_warning), or "".
  virtual std::string batch_size_warning(int64_t batch_size) const = 0;
  /// The run-start warning when every file of the data has fewer channels than `channel_count`
  /// (e.g. a grey data set trained with the default 3), naming the fix; "" otherwise.
  virtual std::string channel_warning(int64_t channel_count) const = 0;
  /// The run-start warnings about the files themselves at `image_size` (file_warnings: images much
  /// smaller than data.image_size, float samples outside [0, 1]); none by default.
  virtual std::vector<std::string> file_warnings(int64_t /*image_size*/) const { return {}; }
  /// Starts an iteration in batches of data.batch_size: its order (data.shuffle) and, for unpaired
  /// data, its pairing and augmentation draws, from `rng`.
  virtual void start_iteration(std::mt19937_64& rng) = 0;
  /// The iteration's next batch on the training device, augmented; each [B, C, S, S] in [-1, 1].
  /// Paired data draws the batch's augmentation from `rng` here. Throws DataError naming a file that
  /// cannot be decoded any more (streamed data).
  virtual std::vector<torch::Tensor> next_batch(std::mt19937_64& rng) = 0;
  /// Data-parallel runs (docs/distributed.md): from the next start_iteration on, this process takes
  /// rank `rank`'s share of every iteration: all ranks draw the same order (and augmentation) from the
  /// same `rng` as one process with batches of batch_size x `world_size` would, and rank r takes the
  /// positions r, r + W, r + 2W, ... of it (PyTorch's DistributedSampler), the order padded by repeating
  /// its start when W does not divide it. `world_size` 1 = all (the default). This default throws
  /// ConfigError for world_size > 1 (data that cannot be shared out).
  virtual void shard(int64_t rank, int64_t world_size);
  /// Samples this process trains on per iteration: size(), or its share ceil(size() / W) after shard().
  virtual int64_t samples_per_iteration() const { return size(); }
  /// Bit depths recorded with the checkpoints of network index `index`: {its input, its output}.
  virtual std::pair<PixelDepth, PixelDepth> depths(int64_t index) const = 0;
};

/// Pairs (data.input_type single_paired, multiple_paired, composite_paired) for pix2pix: the decoded
/// PairedDataset (to `device` for data.storage = device), shuffled per iteration (data.shuffle), one
/// augmentation draw per pair (augment_pair). Throws DataError as PairedDataset.
std::unique_ptr<TrainingData> make_paired_training_data(const DataConfig& data, const torch::Device& device);

/// Two unrelated folders (data.input_type multiple_unpaired) for CycleGAN: an iteration covers the
/// larger domain while the other is drawn at random, each image with its own augmentation draw, all
/// drawn at the start of the iteration (draw_unpaired_pass). Throws ConfigError (not
/// multiple_unpaired) or DataError as UnpairedDataset.
std::unique_ptr<TrainingData> make_unpaired_training_data(const DataConfig& data, const torch::Device& device);

}  // namespace img2img
