#include "img2img/data/unpaired_dataset.h"

#include <fmt/format.h>  // fmt::format

#include <algorithm>  // std::shuffle, std::max, std::min
#include <numeric>    // std::iota
#include <stdexcept>  // std::logic_error

#include "img2img/config/enum_names.h"
#include "img2img/core/error.h"

namespace img2img {
namespace fs = std::filesystem;

namespace {
// The first `limit_count` image files of `dir` by name (0 = all).
ImageDomain list_domain(const fs::path& dir, int64_t limit_count, ListingStats* stats) {
  ImageDomain d;
  d.files = list_image_files(dir, stats);
  if (limit_count > 0 && d.size() > limit_count) d.files.resize(static_cast<size_t>(limit_count));
  return d;
}

// One decoded file: channel rule, resized to image_size; [C, S, S] float32 in [-1, 1].
torch::Tensor decode_image(const fs::path& file, int64_t channel_count, int64_t image_size, PixelDepth* depth,
                           int* channels = nullptr, FileFacts* facts = nullptr) {
  const DecodedImage img = read_image(file);
  if (depth != nullptr) *depth = img.depth;
  if (channels != nullptr) *channels = img.channels;
  if (facts != nullptr) facts->add(file, img);
  return image_to_tensor(
      resize_square(apply_channel_rule(img.pixels, static_cast<int>(channel_count)), static_cast<int>(image_size)));
}

// Decodes every listed file of `d` with `threads` threads to find d.depth; keeps the images in
// d.images ([N, C, S, S] float32 in [-1, 1]) unless `streamed` (then they are only checked). The
// message of every file that cannot be decoded is appended to `problems` (in name order); the files'
// sizes and float ranges are added to `facts`.
void decode_domain(ImageDomain& d, int64_t channel_count, int64_t image_size, int64_t threads, bool streamed,
                   std::vector<std::string>& problems, FileFacts& facts) {
  const int64_t n = d.size();
  if (!streamed) d.images = torch::empty({n, channel_count, image_size, image_size}, torch::kFloat32);
  std::vector<PixelDepth> depths(static_cast<size_t>(n));
  std::vector<int> channels(static_cast<size_t>(n), 0);
  std::vector<std::string> failed(static_cast<size_t>(n));  // "" = decoded
  std::vector<FileFacts> file_facts(static_cast<size_t>(n));
  parallel_for_samples(n, threads, [&](int64_t i) {
    try {
      const torch::Tensor image =
          decode_image(d.files[static_cast<size_t>(i)], channel_count, image_size, &depths[static_cast<size_t>(i)],
                       &channels[static_cast<size_t>(i)], &file_facts[static_cast<size_t>(i)]);
      if (!streamed) d.images[i].copy_(image);
    } catch (const DataError& e) {
      failed[static_cast<size_t>(i)] = e.what();
    }
  });
  for (const auto& f : failed)
    if (!f.empty()) problems.push_back(f);
  for (PixelDepth p : depths) d.depth = deeper_depth(d.depth, p);
  for (int c : channels) d.max_channels = std::max<int64_t>(d.max_channels, c);
  for (const FileFacts& f : file_facts) facts.merge(f);
}
}  // namespace

UnpairedDataset::UnpairedDataset(const DataSource& source, int64_t channel_count, int64_t image_size,
                                 int64_t limit_count)
    : channel_count_(channel_count), image_size_(image_size), worker_threads_(source.worker_threads) {
  if (!is_unpaired(source.input_type))
    throw ConfigError(fmt::format("unpaired (CycleGAN) training needs input_type = multiple_unpaired (two "
                                  "unrelated folders), got {}. Set --data.input_type=multiple_unpaired or use "
                                  "paired training.",
                                  to_string(source.input_type)));
  a_ = list_domain(source.input_dir, limit_count, &stats_);
  b_ = list_domain(source.reference_dir, limit_count, &stats_);
  const int64_t image_bytes = channel_count * image_size * image_size * static_cast<int64_t>(sizeof(float));
  decoded_bytes_ = (a_.size() + b_.size()) * image_bytes;
  on_device_ = source.storage == Storage::kDevice;
  budget_bytes_ = on_device_ ? 0 : memory_budget_bytes(source.memory_budget_mb);
  streamed_ = !on_device_ && decoded_bytes_ > budget_bytes_;
  std::vector<std::string> problems;  // every unreadable file of both domains, reported at once
  decode_domain(a_, channel_count, image_size, source.worker_threads, streamed_, problems, facts_);
  decode_domain(b_, channel_count, image_size, source.worker_threads, streamed_, problems, facts_);
  throw_data_problems(problems, fmt::format("{} + {} image(s)", a_.size(), b_.size()));
}

torch::Tensor UnpairedDataset::image(int k, int64_t i) const {
  const ImageDomain& d = domain(k);
  if (!streamed_) return d.images[i];
  return decode_image(d.files.at(static_cast<size_t>(i)), channel_count_, image_size_, nullptr);
}

std::string UnpairedDataset::storage_mode() const {
  return on_device_ ? "device" : streamed_ ? "streamed" : "cached";
}

void UnpairedDataset::to(const torch::Device& device) {
  if (streamed_) return;  // streamed batches are moved by the trainer
  a_.images = a_.images.to(device);
  b_.images = b_.images.to(device);
}

std::vector<UnpairedBatch> draw_unpaired_pass(int64_t na, int64_t nb, const DataConfig& config,
                                              std::mt19937_64& rng) {
  const bool a_leads = na >= nb;
  const int64_t n = std::max(na, nb), n_other = std::min(na, nb), batch = std::max<int64_t>(1, config.batch_size);
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  if (config.shuffle) std::shuffle(order.begin(), order.end(), rng);
  std::uniform_int_distribution<int64_t> pick(0, n_other - 1);
  const bool augment = augmentation_enabled(config);
  std::vector<UnpairedBatch> pass;
  for (int64_t begin = 0; begin < n; begin += batch) {
    const int64_t end = std::min(n, begin + batch);
    std::vector<int64_t> lead(order.begin() + begin, order.begin() + end), other;
    for (int64_t i = begin; i < end; ++i) other.push_back(pick(rng));
    UnpairedBatch b;
    b.a = a_leads ? lead : other;
    b.b = a_leads ? other : lead;
    if (augment) {  // A's draws first, then B's, as augment_unpaired
      b.augment_a = draw_augmentation(end - begin, config, rng);
      b.augment_b = draw_augmentation(end - begin, config, rng);
    }
    pass.push_back(std::move(b));
  }
  return pass;
}

UnpairedLoader::UnpairedLoader(const UnpairedDataset& dataset) : dataset_(dataset) {
  if (!dataset.streamed()) return;
  // Prefetcher sample index: i < N_A is image i of A, N_A + j is image j of B.
  const int64_t na = dataset.domain_a().size();
  prefetcher_ = std::make_unique<BatchPrefetcher>(
      [&dataset, na](int64_t i) {
        return std::vector<torch::Tensor>{i < na ? dataset.image(0, i) : dataset.image(1, i - na)};
      },
      dataset.worker_threads(), std::max<int64_t>(2, dataset.worker_threads()));
}

void UnpairedLoader::start(const std::vector<UnpairedBatch>& batches) {
  batches_.clear();
  position_ = 0;
  for (const UnpairedBatch& b : batches) {
    if (b.a.empty() && b.b.empty()) throw std::logic_error("UnpairedLoader::start: empty batch");
    batches_.emplace_back(b.a, b.b);
  }
  if (!prefetcher_) return;
  const int64_t na = dataset_.domain_a().size();
  std::vector<std::vector<int64_t>> samples;
  samples.reserve(batches_.size());
  for (const auto& [a, b] : batches_) {
    std::vector<int64_t> s(a);
    for (int64_t j : b) s.push_back(na + j);
    samples.push_back(std::move(s));
  }
  prefetcher_->start(std::move(samples));
}

std::pair<torch::Tensor, torch::Tensor> UnpairedLoader::next() {
  if (position_ >= batches_.size()) throw std::logic_error("UnpairedLoader::next: past the end of the pass");
  const auto& [ia, ib] = batches_[position_++];
  const auto count_a = static_cast<int64_t>(ia.size()), count_b = static_cast<int64_t>(ib.size());
  if (prefetcher_) {
    const torch::Tensor both = prefetcher_->next().at(0);  // [Ba + Bb, C, S, S]: A's images, then B's
    return {count_a ? both.slice(0, 0, count_a) : torch::Tensor(),
            count_b ? both.slice(0, count_a, count_a + count_b) : torch::Tensor()};
  }
  auto select = [](const torch::Tensor& images, const std::vector<int64_t>& indices) {
    if (indices.empty()) return torch::Tensor();
    const torch::Tensor idx =
        torch::tensor(indices, torch::kInt64).to(images.device());
    return images.index_select(0, idx);
  };
  return {select(dataset_.domain_a().images, ia), select(dataset_.domain_b().images, ib)};
}

}  // namespace img2img
