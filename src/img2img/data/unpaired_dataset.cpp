#include "img2img/data/unpaired_dataset.h"

#include <fmt/format.h>  // fmt::format

#include "img2img/config/enum_names.h"
#include "img2img/core/error.h"

namespace img2img {
namespace fs = std::filesystem;

namespace {
ImageDomain decode_domain(const fs::path& dir, int64_t channel_count, int64_t image_size, int64_t limit_count,
                          int64_t threads, ListingStats* stats) {
  ImageDomain d;
  d.files = list_image_files(dir, stats);
  if (limit_count > 0 && d.size() > limit_count) d.files.resize(static_cast<size_t>(limit_count));
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
  return d;
}
}  // namespace

UnpairedDataset::UnpairedDataset(const DataSource& source, int64_t channel_count, int64_t image_size,
                                 int64_t limit_count) {
  if (!is_unpaired(source.input_type))
    throw ConfigError(fmt::format("unpaired (CycleGAN) training needs input_type = multiple_unpaired (two "
                                  "unrelated folders), got {}. Set --data.input_type=multiple_unpaired or use "
                                  "paired training.",
                                  to_string(source.input_type)));
  a_ = decode_domain(source.input_dir, channel_count, image_size, limit_count, source.worker_threads, &stats_);
  b_ = decode_domain(source.reference_dir, channel_count, image_size, limit_count, source.worker_threads, &stats_);
}

void UnpairedDataset::to(const torch::Device& device) {
  a_.images = a_.images.to(device);
  b_.images = b_.images.to(device);
}

}  // namespace img2img
