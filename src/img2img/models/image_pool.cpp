#include "img2img/models/image_pool.h"

#include <algorithm>  // std::min
#include <sstream>    // std::ostringstream, std::istringstream

namespace img2img {

ImagePool::ImagePool(int64_t capacity, uint64_t seed) : capacity_(capacity), rng_(seed) {}

torch::Tensor ImagePool::query(const torch::Tensor& images) {
  if (capacity_ <= 0) return images;
  std::vector<torch::Tensor> out;
  std::uniform_real_distribution<double> coin(0.0, 1.0);
  for (int64_t i = 0; i < images.size(0); ++i) {
    torch::Tensor image = images[i].unsqueeze(0).detach().clone();  // [1, C, S, S]
    if (size() < capacity_) {
      images_.push_back(image);
      out.push_back(image);
    } else if (coin(rng_) > 0.5) {
      const auto k = static_cast<size_t>(std::uniform_int_distribution<int64_t>(0, capacity_ - 1)(rng_));
      out.push_back(images_[k]);
      images_[k] = image;
    } else {
      out.push_back(image);
    }
  }
  return torch::cat(out, 0);
}

void ImagePool::save(torch::serialize::OutputArchive& archive) const {
  archive.write("images", images_.empty() ? torch::empty({0}) : torch::cat(images_, 0));
  std::ostringstream state;
  state << rng_;  // the standard's textual engine state, read back with operator>>
  archive.write("rng", c10::IValue(state.str()));
}

void ImagePool::load(torch::serialize::InputArchive& archive) {
  torch::Tensor images;
  archive.read("images", images);
  c10::IValue state;
  archive.read("rng", state);
  std::istringstream in(state.toStringRef());
  in >> rng_;
  images_.clear();
  const int64_t n = images.dim() == 4 ? std::min(images.size(0), capacity_) : 0;
  for (int64_t i = 0; i < n; ++i) images_.push_back(images.slice(0, i, i + 1).clone());  // each [1, C, S, S]
}

}  // namespace img2img
