#pragma once

#include <torch/types.h>  // torch::Device

#include <array>    // std::array
#include <cstdint>  // int64_t, uint64_t
#include <vector>   // std::vector

#include "img2img/models/gan_model.h"
#include "img2img/models/image_pool.h"
#include "img2img/models/kinds.h"
#include "img2img/models/patch_discriminator.h"
#include "img2img/models/unet_generator.h"

namespace img2img {

/// How a CycleGanModel is built (models/factory.h makes it from the resolved configuration).
struct CycleGanOptions {
  CycleGanOptions(UnetGeneratorOptions generator, PatchDiscriminatorOptions discriminator)
      : generator(std::move(generator)), discriminator(std::move(discriminator)) {}
  UnetGeneratorOptions generator;           ///< both generators: C_in = C_out = channels
  PatchDiscriminatorOptions discriminator;  ///< both discriminators: in_channels = channels (one image)
  InitKind init = InitKind::kNormal;
  double init_gain = 0.02;
  GanLoss gan_loss = GanLoss::kLsgan;       ///< CycleGAN reference: lsgan
  double l1_lambda = 10.0;                  ///< cycle-consistency weight (CycleGAN paper: 10)
  double identity_lambda = 0.5;             ///< identity weight as a fraction of l1_lambda (reference: 0.5)
  int64_t pool_size = 50;                   ///< images per discriminator's pool; 0 = off (reference: 50)
  uint64_t pool_seed = 0;                   ///< pool k draws from pool_seed ^ (0x9001 + k)
};

/// CycleGAN (Zhu et al. 2017, cycle_gan_model.py) with U-Net generators and PatchGAN
/// discriminators on one image. One parameter group for both generators (0), one for both
/// discriminators (1), as the reference's two optimisers. Weights initialised with options.init /
/// init_gain from torch's global RNG (in the order G0, G1, D0, D1). Networks in checkpoint order:
/// generator 0, discriminator 0, generator 1, discriminator 1. Statistics per direction k (0 = A -> B:
/// generator 0 judged by discriminator 0 on domain B; 1 = B -> A): g_gan_k, cycle_k, identity_k,
/// d_k, score_real_k, score_fake_k.
class CycleGanModel : public GanModel {
 public:
  CycleGanModel(const CycleGanOptions& options, const torch::Device& device);

  std::vector<NamedNetwork> networks() override;
  std::vector<ParameterGroup> parameter_groups() override;
  std::vector<StatisticInfo> statistics() const override;
  /// As the reference's optimize_parameters: generators (with both discriminators frozen), then both
  /// discriminators on real images and pooled fakes. `batch` = {A, B}, each [N, C, S, S] in [-1, 1].
  std::vector<double> train_step(const std::vector<torch::Tensor>& batch, StepUpdater& updater) override;
  std::vector<UnetGenerator> exported_generators() override { return {generators[0], generators[1]}; }
  /// Discriminator k's training state holds image pool k (key "image_pool").
  bool save_state(size_t i, torch::serialize::OutputArchive& archive) override;
  void load_state(size_t i, torch::serialize::InputArchive& archive) override;

  /// generators[0]: A -> B, [1]: B -> A; discriminators[0] judges B, [1] judges A.
  std::array<UnetGenerator, 2> generators{nullptr, nullptr};
  std::array<PatchDiscriminator, 2> discriminators{nullptr, nullptr};
  /// pools()[k] holds generated images shown to discriminators[k].
  std::array<ImagePool, 2>& pools() { return pools_; }

 private:
  GanLoss gan_loss_kind_;
  double l1_lambda_, identity_lambda_;
  std::array<ImagePool, 2> pools_;  // generated B images for D0, generated A images for D1
};

}  // namespace img2img
