#include "img2img/train/training_data.h"

#include <fmt/format.h>  // fmt::format

#include <algorithm>  // std::shuffle, std::max
#include <numeric>    // std::iota

#include "img2img/core/error.h"
#include "img2img/data/augment.h"
#include "img2img/data/paired_dataset.h"
#include "img2img/data/unpaired_dataset.h"

namespace img2img {

namespace {
// The channel hints (spec data.channel_count: fewer channels repeat the last, extra ones are dropped):
// every file has fewer channels than the setting, or some file has more (its extra channels are lost).
// `files` names them all ("training file (input and reference)"), `some_file` one of them ("training
// file (input or reference)").
std::string fewer_channels_warning(int64_t file_channels, int64_t channel_count, const std::string& files,
                                   const std::string& some_file) {
  if (file_channels > channel_count)
    return fmt::format("some {} has {} channels but data.channel_count = {}: channels after the first {} are "
                       "dropped (the run follows the setting){}. If that is not what you want, {}",
                       some_file, file_channels, channel_count, channel_count,
                       channel_count == 1 ? "; an RGB image keeps only its red channel, not its brightness" : "",
                       channel_count == 1 ? "save the images as grey first, or set --data.channel_count=3"
                                          : fmt::format("set --data.channel_count={}", file_channels));
  if (file_channels <= 0 || file_channels >= channel_count) return "";
  return fmt::format("every {} has at most {} channel(s) but data.channel_count = {}: the last channel is repeated "
                     "to fill {} (the run follows the setting). If the data is {}, set --data.channel_count={} for a "
                     "smaller, faster model with {}-channel outputs",
                     files, file_channels, channel_count, channel_count,
                     file_channels == 1 ? "grey" : fmt::format("{}-channel", file_channels), file_channels,
                     file_channels);
}
// PyTorch's DistributedSampler share of `order` for rank `rank` of `world`: positions rank, rank + W,
// ... of `order` padded to a multiple of W by repeating its start.
std::vector<int64_t> shard_positions(const std::vector<int64_t>& order, int64_t rank, int64_t world) {
  const auto n = static_cast<int64_t>(order.size());
  const int64_t total = (n + world - 1) / world * world;
  std::vector<int64_t> mine;
  for (int64_t p = rank; p < total; p += world) mine.push_back(order[static_cast<size_t>(p % n)]);
  return mine;
}

// The end of the `data:` log line: what the folder listings skipped ("" when nothing).
std::string ignored_note(int64_t ignored, int64_t subfolders) {
  std::string note;
  if (ignored) note += fmt::format("; {} non-image/hidden files ignored", ignored);
  if (subfolders) note += fmt::format("; {} subfolder(s) not searched (images must be directly in the folder)", subfolders);
  return note;
}

template <typename Dataset>
std::string storage_line(const Dataset& d) {
  return "data storage: " + describe_storage(d.storage_mode(), d.decoded_bytes(), d.budget_bytes(),
                                             d.worker_threads(), "data.memory_budget_mb");
}

class PairedTrainingData : public TrainingData {
 public:
  PairedTrainingData(const DataConfig& data, const torch::Device& device)
      : data_(data), device_(device), dataset_(data, data.channel_count, data.image_size, data.limit_count),
        loader_(dataset_) {
    if (data.storage == Storage::kDevice) dataset_.to(device);
    order_.resize(static_cast<size_t>(dataset_.size()));
    std::iota(order_.begin(), order_.end(), 0);
  }

  int64_t size() const override { return dataset_.size(); }

  std::vector<std::string> describe() const override {
    const int64_t ignored = dataset_.ignored_files();
    return {fmt::format("data: {} pairs at {} px, {} channel(s); input {}, reference {}{}", dataset_.size(),
                        data_.image_size, data_.channel_count, to_string(dataset_.input_depth()),
                        to_string(dataset_.reference_depth()),
                        ignored_note(ignored, dataset_.skipped_subfolders())),
            storage_line(dataset_)};
  }

  std::string channel_warning(int64_t channel_count) const override {
    return fewer_channels_warning(dataset_.max_file_channels(), channel_count, "training file (input and reference)",
                                  "training file (input or reference)");
  }

  std::vector<std::string> file_warnings(int64_t image_size) const override {
    return img2img::file_warnings(dataset_.file_facts(), image_size, "training image");
  }

  nlohmann::json event_fields() const override {
    return {{"train_samples", dataset_.size()}, {"data_storage", dataset_.storage_mode()}};
  }

  std::string batch_size_warning(int64_t batch_size) const override {
    return img2img::batch_size_warning(batch_size, dataset_.size(), "training pairs");
  }

  void shard(int64_t rank, int64_t world_size) override { rank_ = rank, world_ = world_size; }
  int64_t samples_per_iteration() const override { return (size() + world_ - 1) / world_; }

  void start_iteration(std::mt19937_64& rng) override {
    if (data_.shuffle) {  // a fresh permutation of 0..n-1: the order depends only on the RNG (resume)
      std::iota(order_.begin(), order_.end(), 0);
      std::shuffle(order_.begin(), order_.end(), rng);
    }
    if (world_ == 1) return loader_.start(order_, data_.batch_size);
    loader_.start(shard_positions(order_, rank_, world_), data_.batch_size);
  }

  std::vector<torch::Tensor> next_batch(std::mt19937_64& rng) override {
    const auto [input, reference] = loader_.next();
    if (world_ == 1 || !augmentation_enabled(data_)) {
      auto [a, b] = augment_pair(input.to(device_), reference.to(device_), data_, rng);
      return {a, b};
    }
    // Every rank draws the augmentation of the whole batch of all ranks (batch_size x W samples, as one
    // process would) and applies its own samples' draws: positions rank, rank + W, ... of that batch.
    const int64_t count = input.size(0), c = input.size(1);
    const AugmentDraw all = draw_augmentation(count * world_, data_, rng);
    std::vector<std::pair<const AugmentDraw*, int64_t>> mine;
    for (int64_t j = 0; j < count; ++j) mine.emplace_back(&all, rank_ + j * world_);
    const torch::Tensor both =
        apply_augmentation(torch::cat({input.to(device_), reference.to(device_)}, 1), gather_draws(mine), data_);
    return {both.slice(1, 0, c), both.slice(1, c)};
  }

  std::pair<PixelDepth, PixelDepth> depths(int64_t /*index*/) const override {
    return {dataset_.input_depth(), dataset_.reference_depth()};
  }

 private:
  DataConfig data_;
  torch::Device device_;
  PairedDataset dataset_;
  PairedLoader loader_;  // after dataset_, which it reads
  std::vector<int64_t> order_;
  int64_t rank_ = 0, world_ = 1;
};

class UnpairedTrainingData : public TrainingData {
 public:
  UnpairedTrainingData(const DataConfig& data, const torch::Device& device)
      : data_(data), device_(device), dataset_(data, data.channel_count, data.image_size, data.limit_count),
        loader_(dataset_) {
    if (data.storage == Storage::kDevice) dataset_.to(device);
  }

  int64_t size() const override { return std::max(dataset_.domain_a().size(), dataset_.domain_b().size()); }

  std::vector<std::string> describe() const override {
    const ImageDomain &a = dataset_.domain_a(), &b = dataset_.domain_b();
    const int64_t ignored = dataset_.ignored_files();
    return {fmt::format("data (unpaired): domain A {} images ({}), domain B {} images ({}) at {} px, {} channel(s){}",
                        a.size(), to_string(a.depth), b.size(), to_string(b.depth), data_.image_size,
                        data_.channel_count,
                        ignored_note(ignored, dataset_.skipped_subfolders())),
            storage_line(dataset_)};
  }

  std::string channel_warning(int64_t channel_count) const override {
    return fewer_channels_warning(std::max(dataset_.domain_a().max_channels, dataset_.domain_b().max_channels),
                                  channel_count, "training file (both domains)", "training file (either domain)");
  }

  std::vector<std::string> file_warnings(int64_t image_size) const override {
    return img2img::file_warnings(dataset_.file_facts(), image_size, "training image");
  }

  nlohmann::json event_fields() const override {
    return {{"train_samples", size()},
            {"train_samples_per_domain", {dataset_.domain_a().size(), dataset_.domain_b().size()}},
            {"data_storage", dataset_.storage_mode()}};
  }

  std::string batch_size_warning(int64_t batch_size) const override {
    return img2img::batch_size_warning(batch_size, size(), "images of the larger domain");
  }

  void shard(int64_t rank, int64_t world_size) override { rank_ = rank, world_ = world_size; }
  int64_t samples_per_iteration() const override { return (size() + world_ - 1) / world_; }

  void start_iteration(std::mt19937_64& rng) override {
    if (world_ == 1) {
      pass_ = draw_unpaired_pass(dataset_.domain_a().size(), dataset_.domain_b().size(), data_, rng);
    } else {  // the pass of one process with batches of batch_size x W; this rank's share of it
      DataConfig all = data_;
      all.batch_size = data_.batch_size * world_;
      pass_ = shard_pass(draw_unpaired_pass(dataset_.domain_a().size(), dataset_.domain_b().size(), all, rng));
    }
    loader_.start(pass_);
    step_ = 0;
  }

  std::vector<torch::Tensor> next_batch(std::mt19937_64& /*rng*/) override {
    const auto [loaded_a, loaded_b] = loader_.next();
    // The A and B images of a batch position are unrelated: each has its own augmentation draw.
    const UnpairedBatch& drawn = pass_.at(step_++);
    torch::Tensor a = loaded_a.to(device_), b = loaded_b.to(device_);
    if (drawn.augment_a) a = apply_augmentation(a, *drawn.augment_a, data_);
    if (drawn.augment_b) b = apply_augmentation(b, *drawn.augment_b, data_);
    return {a, b};
  }

  // Generator k translates domain k into domain 1 - k.
  std::pair<PixelDepth, PixelDepth> depths(int64_t index) const override {
    const PixelDepth d[2] = {dataset_.domain_a().depth, dataset_.domain_b().depth};
    return {d[index == 0 ? 0 : 1], d[index == 0 ? 1 : 0]};
  }

 private:
  DataConfig data_;
  torch::Device device_;
  UnpairedDataset dataset_;
  // Positions rank, rank + W, ... of the samples of `all` (padded from its start), in batches of
  // data.batch_size, each sample with its own A and B augmentation draws.
  std::vector<UnpairedBatch> shard_pass(const std::vector<UnpairedBatch>& all) const {
    struct Sample {
      const UnpairedBatch* batch;
      int64_t i;
    };
    std::vector<Sample> samples;
    for (const UnpairedBatch& b : all)
      for (size_t i = 0; i < b.a.size(); ++i) samples.push_back({&b, static_cast<int64_t>(i)});
    std::vector<int64_t> positions(samples.size());
    std::iota(positions.begin(), positions.end(), 0);
    std::vector<UnpairedBatch> out;
    const std::vector<int64_t> mine = shard_positions(positions, rank_, world_);
    for (size_t begin = 0; begin < mine.size(); begin += static_cast<size_t>(data_.batch_size)) {
      const size_t end = std::min(mine.size(), begin + static_cast<size_t>(data_.batch_size));
      UnpairedBatch b;
      std::vector<std::pair<const AugmentDraw*, int64_t>> draws_a, draws_b;
      for (size_t k = begin; k < end; ++k) {
        const Sample& s = samples[static_cast<size_t>(mine[k])];
        b.a.push_back(s.batch->a[static_cast<size_t>(s.i)]);
        b.b.push_back(s.batch->b[static_cast<size_t>(s.i)]);
        if (s.batch->augment_a) draws_a.emplace_back(&*s.batch->augment_a, s.i);
        if (s.batch->augment_b) draws_b.emplace_back(&*s.batch->augment_b, s.i);
      }
      if (!draws_a.empty()) b.augment_a = gather_draws(draws_a);
      if (!draws_b.empty()) b.augment_b = gather_draws(draws_b);
      out.push_back(std::move(b));
    }
    return out;
  }

  UnpairedLoader loader_;  // after dataset_, which it reads
  std::vector<UnpairedBatch> pass_;
  size_t step_ = 0;
  int64_t rank_ = 0, world_ = 1;
};
}  // namespace

void TrainingData::shard(int64_t /*rank*/, int64_t world_size) {
  if (world_size > 1)
    throw ConfigError("this model's training data cannot be shared out over " + std::to_string(world_size) +
                      " processes; train it in one process (unset WORLD_SIZE)");
}

std::unique_ptr<TrainingData> make_paired_training_data(const DataConfig& data, const torch::Device& device) {
  return std::make_unique<PairedTrainingData>(data, device);
}

std::unique_ptr<TrainingData> make_unpaired_training_data(const DataConfig& data, const torch::Device& device) {
  return std::make_unique<UnpairedTrainingData>(data, device);
}

}  // namespace img2img
