#pragma once

#include <torch/optim/optimizer.h>  // torch::optim::Optimizer

#include <array>   // std::array
#include <memory>  // std::unique_ptr

#include "img2img/config/run_config.h"
#include "img2img/models/patch_discriminator.h"
#include "img2img/models/unet_generator.h"
#include "img2img/train/image_pool.h"

namespace img2img {

/// Losses and scores of one CycleGAN step; index 0 = direction A -> B (generator 0, judged by
/// discriminator 0 on domain B), index 1 = B -> A (generator 1, discriminator 1 on domain A).
struct CycleStepStats {
  std::array<double, 2> g_gan{};     ///< generator GAN loss (fool its discriminator)
  std::array<double, 2> cycle{};     ///< l1_lambda * L1(G1(G0(a)), a) and l1_lambda * L1(G0(G1(b)), b)
  std::array<double, 2> identity{};  ///< identity_lambda * l1_lambda * L1(G0(b), b) and L1(G1(a), a); 0 if off
  std::array<double, 2> d_loss{};    ///< discriminator loss (real + pooled fake) / 2
  std::array<double, 2> score_real{};  ///< D's mean "real" score on real images of its domain, [0, 1]
  std::array<double, 2> score_fake{};  ///< same on this step's generated images
};

/// CycleGAN (Zhu et al. 2017, cycle_gan_model.py) with U-Net generators and PatchGAN
/// discriminators on one image (data.channel_count channels). One optimiser for both generators,
/// one for both discriminators, as the reference. Weights initialised with train.init / init_gain
/// from torch's global RNG (in the order G0, G1, D0, D1).
class CycleGanModel {
 public:
  /// Throws ConfigError if data.input_type is not multiple_unpaired.
  CycleGanModel(const RunConfig& config, const torch::Device& device);

  /// One optimisation step as the reference's optimize_parameters: generators (with both
  /// discriminators frozen), then both discriminators on real images and pooled fakes. `real_a`,
  /// `real_b`: [N, C, S, S] in [-1, 1] on the model's device. Throws Error if a loss is not finite.
  CycleStepStats train_step(const torch::Tensor& real_a, const torch::Tensor& real_b);

  /// generators[0]: A -> B, generators[1]: B -> A; discriminators[0] judges B, [1] judges A.
  std::array<UnetGenerator, 2> generators{nullptr, nullptr};
  std::array<PatchDiscriminator, 2> discriminators{nullptr, nullptr};
  std::unique_ptr<torch::optim::Optimizer> generator_optimizer, discriminator_optimizer;

  /// The image pools: pools()[k] holds generated images shown to discriminators[k] (saved and
  /// restored with the training state for --resume).
  std::array<ImagePool, 2>& pools() { return pools_; }

 private:
  GanLoss gan_loss_kind_;
  double l1_lambda_, identity_lambda_;
  std::array<ImagePool, 2> pools_;  // generated B images for D0, generated A images for D1
};

}  // namespace img2img
