#pragma once
// The history of generated images shown to a CycleGAN discriminator (Shrivastava et al. 2017;
// CycleGAN util/image_pool.py), which keeps D from chasing only the generator's latest output.

#include <torch/serialize/archive.h>  // torch::serialize::{Input,Output}Archive
#include <torch/types.h>              // torch::Tensor

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

  /// Writes the pool's content for --resume: "images" ([size, C, S, S], or an empty tensor when
  /// the pool is empty) and "rng" (the draw engine's textual state).
  void save(torch::serialize::OutputArchive& archive) const;

  /// Restores what save() wrote (images on the archive's load device), so the next queries equal
  /// those of the saved pool bit for bit. Keeps at most `capacity` images (train.pool_size lowered
  /// on resume). Throws c10::Error if a key is missing.
  void load(torch::serialize::InputArchive& archive);

 private:
  int64_t capacity_;
  std::mt19937_64 rng_;
  std::vector<torch::Tensor> images_;  // each [1, C, S, S]
};

}  // namespace img2img
