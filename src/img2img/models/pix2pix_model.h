#pragma once

#include <torch/types.h>  // torch::Device

#include <vector>  // std::vector

#include "img2img/models/gan_model.h"
#include "img2img/models/kinds.h"
#include "img2img/models/patch_discriminator.h"
#include "img2img/models/unet_generator.h"

namespace img2img {

/// How a Pix2PixModel is built (models/factory.h makes it from the resolved configuration).
struct Pix2PixOptions {
  Pix2PixOptions(UnetGeneratorOptions generator, PatchDiscriminatorOptions discriminator)
      : generator(std::move(generator)), discriminator(std::move(discriminator)) {}
  UnetGeneratorOptions generator;              ///< C_in = C_out = channels
  PatchDiscriminatorOptions discriminator;     ///< in_channels = 2 x channels (input and output concatenated)
  InitKind init = InitKind::kNormal;           ///< pix2pix: normal
  double init_gain = 0.02;                     ///< pix2pix: 0.02
  GanLoss gan_loss = GanLoss::kVanilla;        ///< pix2pix: vanilla
  double l1_lambda = 100.0;                    ///< weight of L1(G(x), y) (pix2pix paper: 100)
};

/// pix2pix (Isola et al. 2017): a U-Net generator and a PatchGAN discriminator that sees the input
/// concatenated with the real or generated output. Weights initialised with options.init /
/// init_gain from torch's global RNG (generator, then discriminator). Parameter groups: 0 the
/// generator, 1 the discriminator. Statistics: g_gan, g_l1, d_real, d_fake, score_real, score_fake
/// (D's mean probability of "real", [0, 1]) and ssim (train SSIM of G(x) vs y; NaN below 11 px).
class Pix2PixModel : public GanModel {
 public:
  Pix2PixModel(const Pix2PixOptions& options, const torch::Device& device);

  std::vector<NamedNetwork> networks() override;
  std::vector<ParameterGroup> parameter_groups() override;
  std::vector<StatisticInfo> statistics() const override;
  /// As pix2pix_model.optimize_parameters: D step on (real, detached fake), then G step with D
  /// frozen. `batch` = {input, reference}, each [N, C, S, S] in [-1, 1] on the model's device.
  std::vector<double> train_step(const std::vector<torch::Tensor>& batch, StepUpdater& updater) override;
  std::vector<UnetGenerator> exported_generators() override { return {generator}; }

  UnetGenerator generator = nullptr;
  PatchDiscriminator discriminator = nullptr;

 private:
  GanLoss gan_loss_kind_;
  double l1_lambda_;
};

}  // namespace img2img
