#include "img2img/data/unpaired_dataset.h"

#include <fmt/format.h>  // fmt::format

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

// Decodes the listed files of `d` into d.images ([N, C, S, S] float32 in [-1, 1]) and d.depth.
void decode_domain(ImageDomain& d, int64_t channel_count, int64_t image_size, int64_t threads) {
  const int64_t n = d.size();
  d.images = torch::empty({n, channel_count, image_size, image_size}, torch::kFloat32);
  std::vector<PixelDepth> depths(static_cast<size_t>(n));
  const int c = static_cast<int>(channel_count), s = static_cast<int>(image_size);
  parallel_for_samples(n, threads, [&](int64_t i) {
    const DecodedImage img = read_image(d.files[static_cast<size_t>(i)]);
    depths[static_cast<size_t>(i)] = img.depth;
    d.images[i].copy_(image_to_tensor(resize_square(apply_channel_rule(img.pixels, c), s)));
  });
  for (PixelDepth p : depths) d.depth = deeper_depth(d.depth, p);
}

double mib(int64_t bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0); }
}  // namespace

UnpairedDataset::UnpairedDataset(const DataSource& source, int64_t channel_count, int64_t image_size,
                                 int64_t limit_count, std::string_view section) {
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
  if (!on_device_ && decoded_bytes_ > budget_bytes_) {
    const std::string budget_source =
        source.memory_budget_mb > 0 ? fmt::format("{}.memory_budget_mb = {}", section, source.memory_budget_mb)
                                    : fmt::format("half of this machine's memory, {}.memory_budget_mb = 0", section);
    const std::string fewer =
        section == "data" ? fmt::format("data.limit_count (now {}, 0 = all)", limit_count)
                          : std::string("the number of images in the test folders");
    throw ConfigError(fmt::format(
        "{} (unpaired): the decoded images do not fit the memory budget: domain A ({} images in {}) takes "
        "{:.1f} MiB and domain B ({} images in {}) {:.1f} MiB, {:.1f} MiB in all at {} px and {} channel(s), "
        "over the {:.1f} MiB budget ({}). Unpaired (CycleGAN) data is always decoded into memory (it cannot be "
        "streamed from disk). Fix: raise {}.memory_budget_mb, lower data.image_size or {}.",
        section, a_.size(), source.input_dir, mib(a_.size() * image_bytes), b_.size(), source.reference_dir,
        mib(b_.size() * image_bytes), mib(decoded_bytes_), image_size, channel_count, mib(budget_bytes_),
        budget_source, section, fewer));
  }
  decode_domain(a_, channel_count, image_size, source.worker_threads);
  decode_domain(b_, channel_count, image_size, source.worker_threads);
}

void UnpairedDataset::to(const torch::Device& device) {
  a_.images = a_.images.to(device);
  b_.images = b_.images.to(device);
}

}  // namespace img2img
