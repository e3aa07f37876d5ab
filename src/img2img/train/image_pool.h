#pragma once
// The history of generated images shown to a CycleGAN discriminator (Shrivastava et al. 2017;
// CycleGAN util/image_pool.py), which keeps D from chasing only the generator's latest output.

#include <torch/types.h>  // torch::Tensor

#include <cstdint>  // int64_t
#include <random>   // std::mt19937_64
#include <vector>   // std::vector

namespace img2img {

/// A pool of up to `capacity` earlier generated images (train.pool_size; reference: 50).
class ImagePool {
 public:
  /// `capacity` 0 turns the pool off (query returns its input). `seed` drives the draws.
  ImagePool(int64_t capacity, uint64_t seed);

  /// For each image of `images` ([N, C, S, S], detached): while the pool is not full, stores it and
  /// returns it; afterwards, with probability 1/2 returns a random stored image and stores the new
  /// one in its place, else returns the new one (as the reference). Returns [N, C, S, S].
  torch::Tensor query(const torch::Tensor& images);

  int64_t size() const { return static_cast<int64_t>(images_.size()); }

 private:
  int64_t capacity_;
  std::mt19937_64 rng_;
  std::vector<torch::Tensor> images_;  // each [1, C, S, S]
};

}  // namespace img2img
