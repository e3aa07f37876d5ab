#pragma once
// A fixed pair of training runs (pix2pix and CycleGAN, a few steps each) built from LibTorch-only code, so
// the LibTorch-only build (IMG2IMG_TORCH_ONLY) and the full build can be compared weight for weight.

#include <torch/types.h>  // torch::Tensor, torch::Device

#include <string>   // std::string
#include <utility>  // std::pair
#include <vector>   // std::vector

#include "img2img/config/run_config.h"

namespace img2img::torch_only {

/// Named tensors in a fixed order ("pix2pix.generator.down.0.weight", ...), on the CPU.
using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

/// The small configuration of the reference runs: 32 px, batch 2, 5-layer U-Net with 8 initial channels.
RunConfig reference_config();

/// Weights of a Pix2PixModel and a CycleGanModel after `steps` training steps each on `device`: models built
/// after torch::manual_seed(0) from reference_config(), a fixed random batch (seed 1, made on the CPU),
/// gradients applied through ModelOptimizers (Adam). Runs with one intra-op thread (restored after), so
/// the result does not depend on the machine's core count. Returned on the CPU.
NamedTensors reference_step_weights(const torch::Device& device, int steps);

/// Writes `weights` as raw little-endian float32 with names and sizes (read_weights reads it back).
/// Throws std::runtime_error when the file cannot be written.
void write_weights(const std::string& path, const NamedTensors& weights);

/// Reads a file write_weights wrote. Throws std::runtime_error for a missing or malformed file.
NamedTensors read_weights(const std::string& path);

/// "" when `a` and `b` have the same names and shapes and bit-identical values, else what differs first.
std::string compare_bitwise(const NamedTensors& a, const NamedTensors& b);

}  // namespace img2img::torch_only
