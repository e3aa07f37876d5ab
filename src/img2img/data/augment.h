#pragma once

#include <torch/types.h>  // torch::Tensor

#include <cstdint>  // uint64_t
#include <random>   // std::mt19937_64

#include "img2img/config/run_config.h"

namespace img2img {

/// Random crop / flips / rotation (spec data.crop, flip_horizontal, flip_vertical, rotation), drawn
/// once per sample and applied to input and reference alike. `input`, `reference`: [N, C, S, S] in
/// [-1, 1] on any device; returns the augmented pair, same shapes. Draws come from `rng` only, in
/// sample order, so results do not depend on threads or device. Crop picks a side in [crop, 1] x S
/// and resizes back; rotation picks an angle in [-180, 180) degrees and zooms by
/// 1 / (|cos a| + |sin a|) so the rotated square covers the output (no empty corners).
std::pair<torch::Tensor, torch::Tensor> augment_pair(const torch::Tensor& input, const torch::Tensor& reference,
                                                     const DataConfig& config, std::mt19937_64& rng);

/// Whether `config` enables any augmentation.
bool augmentation_enabled(const DataConfig& config);

}  // namespace img2img
