#pragma once

#include <torch/types.h>  // torch::Tensor

#include <cstdint>  // int64_t
#include <random>   // std::mt19937_64
#include <utility>  // std::pair
#include <vector>   // std::vector

#include "img2img/config/run_config.h"

namespace img2img {

/// The random draws for a batch of `n` samples (one draw per sample, shared by input and reference).
struct AugmentDraw {
  std::vector<uint8_t> flip_horizontal;  ///< per sample: mirror left-right
  std::vector<uint8_t> flip_vertical;    ///< per sample: mirror top-bottom
  /// [N, 2, 3] float32 affine from output to source coordinates (normalised, align_corners=false),
  /// for affine_grid; identity rows for samples without crop or rotation.
  torch::Tensor theta;
  bool any_warp = false;  ///< whether any sample is cropped or rotated (else theta is unused)
};

/// Draws crop / flips / rotation for `n` samples from `rng`, in sample order, 6 uniform draws per
/// sample whatever the outcomes (so the stream does not depend on settings that are off). Crop picks
/// a side s in [crop, 1] x S at a uniform centre; rotation an angle in [-180, 180) degrees, zoomed
/// in by 1 / (|cos a| + |sin a|) so the rotated square covers the output: every sampling point lies
/// inside the source square [-1, 1]^2 (no empty corners).
AugmentDraw draw_augmentation(int64_t n, const DataConfig& config, std::mt19937_64& rng);

/// Applies earlier draws `d` (draw_augmentation for images.size(0) samples) to `images` as batched
/// tensor ops (flip, affine_grid, grid_sample bilinear) on the tensors' device: what augment_images
/// does after drawing, for callers that draw ahead (unpaired streaming draws a whole pass first).
/// `images`: [N, C, S, S] in [-1, 1]; returns the same shape and device. Draws nothing.
torch::Tensor apply_augmentation(const torch::Tensor& images, const AugmentDraw& d, const DataConfig& config);

/// Random crop / flips / rotation (spec data.crop, flip_horizontal, flip_vertical, rotation), drawn
/// once per sample (draw_augmentation) and applied to input and reference alike as batched tensor
/// ops (flip, affine_grid, grid_sample bilinear) on the tensors' device. `input`, `reference`:
/// [N, C, S, S] in [-1, 1]; returns the augmented pair, same shapes and device. Draws come from
/// `rng` only, so results do not depend on threads; with no augmentation enabled nothing is drawn.
std::pair<torch::Tensor, torch::Tensor> augment_pair(const torch::Tensor& input, const torch::Tensor& reference,
                                                     const DataConfig& config, std::mt19937_64& rng);

/// Random crop / flips / rotation of a batch of independent images: one draw per sample
/// (draw_augmentation, n = images.size(0)), applied as in augment_pair. `images`: [N, C, S, S] in
/// [-1, 1]; returns the same shape and device. With no augmentation enabled nothing is drawn and
/// `images` is returned.
torch::Tensor augment_images(const torch::Tensor& images, const DataConfig& config, std::mt19937_64& rng);

/// Unpaired (CycleGAN) batches: the A and B images of a batch position are unrelated, so each image
/// gets its own draw (augment_images on `a`, then on `b`: N draws for A, then N for B from `rng`),
/// unlike augment_pair's shared draw. `a`, `b`: [N, C, S, S] in [-1, 1] (N may differ); returns
/// the augmented batches, same shapes and device.
std::pair<torch::Tensor, torch::Tensor> augment_unpaired(const torch::Tensor& a, const torch::Tensor& b,
                                                         const DataConfig& config, std::mt19937_64& rng);

/// The draws of chosen samples of earlier draws, in the given order: each entry is (draws, sample index
/// in them). any_warp is set when any source draw has it, so every sample is resampled exactly as in its
/// source batch (a data-parallel rank's share of a batch drawn for all ranks). Throws std::out_of_range
/// for an index outside its draws.
AugmentDraw gather_draws(const std::vector<std::pair<const AugmentDraw*, int64_t>>& samples);

/// Whether `config` enables any augmentation.
bool augmentation_enabled(const DataConfig& config);

}  // namespace img2img
