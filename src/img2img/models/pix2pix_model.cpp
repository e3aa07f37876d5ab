#include "img2img/models/pix2pix_model.h"

#include <torch/nn/functional/loss.h>  // l1_loss

#include <cmath>  // std::nan

#include "img2img/metrics/ssim.h"
#include "img2img/models/factory.h"  // init_weights
#include "img2img/models/gan_loss.h"

namespace img2img {

Pix2PixModel::Pix2PixModel(const Pix2PixOptions& options, const torch::Device& device)
    : generator(options.generator),
      discriminator(options.discriminator),
      gan_loss_kind_(options.gan_loss),
      l1_lambda_(options.l1_lambda) {
  init_weights(*generator, options.init, options.init_gain);
  init_weights(*discriminator, options.init, options.init_gain);
  generator->to(device);
  discriminator->to(device);
}

std::vector<NamedNetwork> Pix2PixModel::networks() {
  return {{"generator", 0, generator.ptr()}, {"discriminator", 0, discriminator.ptr()}};
}

std::vector<ParameterGroup> Pix2PixModel::parameter_groups() {
  return {{"generator", generator->parameters()}, {"discriminator", discriminator->parameters()}};
}

std::vector<StatisticInfo> Pix2PixModel::statistics() const {
  return {{"g_gan", "G_GAN", 4, "g_gan", "loss", "g_gan"},
          {"g_l1", "G_L1", 4, "g_l1", "loss", "g_l1", /*headline=*/true},
          {"d_real", "D_real", 4, "d_real", "loss", "d_real"},
          {"d_fake", "D_fake", 4, "d_fake", "loss", "d_fake"},
          {"score_real", "D(real)", 3, "score_real", "score", "real"},
          {"score_fake", "D(fake)", 3, "score_fake", "score", "generated"},
          {"ssim", "SSIM", 4, "train_ssim", "ssim", "train"}};
}

std::vector<double> Pix2PixModel::train_step(const std::vector<torch::Tensor>& batch, StepUpdater& updater) {
  const torch::Tensor& input = batch.at(0);       // [N, C, S, S] in [-1, 1]
  const torch::Tensor& reference = batch.at(1);   // [N, C, S, S] in [-1, 1]
  const torch::Tensor fake = generator(input);    // [N, C, S, S] in [-1, 1]
  constexpr size_t kGenerator = 0, kDiscriminator = 1;

  // Discriminator: real pairs -> 1, generated pairs -> 0; loss halved (pix2pix backward_D).
  set_requires_grad(*discriminator, true);
  updater.zero_grad(kDiscriminator);
  const torch::Tensor pred_fake = discriminator(torch::cat({input, fake.detach()}, 1));  // [N, 1, H', W']
  const torch::Tensor pred_real = discriminator(torch::cat({input, reference}, 1));
  const torch::Tensor d_fake = gan_loss(gan_loss_kind_, pred_fake, false);
  const torch::Tensor d_real = gan_loss(gan_loss_kind_, pred_real, true);
  const torch::Tensor d_loss = (d_fake + d_real) * 0.5;
  const double d_fake_value = d_fake.item<double>(), d_real_value = d_real.item<double>();
  check_finite(d_fake_value, "discriminator fake");
  check_finite(d_real_value, "discriminator real");
  d_loss.backward();
  updater.step(kDiscriminator);

  // Generator: fool D (frozen) + l1_lambda * L1 to the reference (pix2pix backward_G).
  set_requires_grad(*discriminator, false);
  updater.zero_grad(kGenerator);
  const torch::Tensor pred = discriminator(torch::cat({input, fake}, 1));
  const torch::Tensor g_gan = gan_loss(gan_loss_kind_, pred, true);
  const torch::Tensor g_l1 = torch::nn::functional::l1_loss(fake, reference) * l1_lambda_;
  const double g_gan_value = g_gan.item<double>(), g_l1_value = g_l1.item<double>();
  check_finite(g_gan_value, "generator GAN");
  check_finite(g_l1_value, "generator L1");
  (g_gan + g_l1).backward();
  updater.step(kGenerator);

  // Train-set SSIM of this step's (train-mode) output, for the SSIM plot; NaN below the 11 px window.
  const torch::Tensor out = fake.detach();
  SsimOptions fast;
  fast.dtype = torch::kFloat32;
  const double ssim = out.size(2) >= 11 && out.size(3) >= 11
                          ? ssim_mean(signed_to_unit(out), signed_to_unit(reference), fast)
                          : std::nan("");
  return {g_gan_value,
          g_l1_value,
          d_real_value,
          d_fake_value,
          discriminator_score(gan_loss_kind_, pred_real),
          discriminator_score(gan_loss_kind_, pred_fake),
          ssim};
}

}  // namespace img2img
