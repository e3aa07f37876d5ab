#pragma once

#include <torch/optim/optimizer.h>  // torch::optim::Optimizer

#include <memory>  // std::unique_ptr

#include "img2img/config/run_config.h"
#include "img2img/models/patch_discriminator.h"
#include "img2img/models/unet_generator.h"

namespace img2img {

/// Losses and scores of one optimisation step (scalars, averaged over the batch).
struct StepStats {
  double g_gan = 0;    ///< generator GAN loss (fool D)
  double g_l1 = 0;     ///< l1_lambda * L1(G(x), y)
  double d_real = 0;   ///< discriminator loss on real pairs
  double d_fake = 0;   ///< discriminator loss on generated pairs
  double score_real = 0;  ///< D's mean probability of "real" on real pairs, in [0, 1]
  double score_fake = 0;  ///< same on generated pairs
  double ssim = 0;        ///< SSIM (metrics/ssim.h) of G(input) vs reference; NaN if images < 11 px
};

/// Makes the optimiser train.optimizer for `params` with the config's hyper-parameters.
std::unique_ptr<torch::optim::Optimizer> make_optimizer(const TrainConfig& config,
                                                        std::vector<torch::Tensor> params);

/// Sets the learning rate of every parameter group of `optimizer`.
void set_learning_rate(torch::optim::Optimizer& optimizer, double lr);

/// Turns gradients of every parameter of `m` on or off (freezes D during the generator step).
void set_requires_grad(torch::nn::Module& m, bool on);

/// Throws NonFiniteLossError (train/non_finite.h) naming the loss `term` and the fix when `value` is NaN or infinite.
void check_finite(double value, const char* term);

/// pix2pix (Isola et al. 2017): a U-Net generator and a PatchGAN discriminator that sees the input
/// concatenated with the real or generated output. Built from the resolved config; weights
/// initialised with train.init / init_gain from torch's global RNG.
class Pix2PixModel {
 public:
  Pix2PixModel(const RunConfig& config, const torch::Device& device);

  /// One optimisation step on a batch, as pix2pix_model.optimize_parameters: D step on
  /// (real, detached fake), then G step with D frozen. `input`, `reference`: [N, C, S, S] in
  /// [-1, 1] on the model's device. Throws Error if a loss is not finite (naming the term).
  /// Data-parallel training all-reduces gradients between backward() and step() here.
  StepStats train_step(const torch::Tensor& input, const torch::Tensor& reference);

  UnetGenerator generator = nullptr;
  PatchDiscriminator discriminator = nullptr;
  std::unique_ptr<torch::optim::Optimizer> generator_optimizer, discriminator_optimizer;

 private:
  GanLoss gan_loss_kind_;
  double l1_lambda_;
};

}  // namespace img2img
