#include "img2img/train/pix2pix_model.h"

#include <fmt/format.h>                 // fmt::format
#include <torch/nn/functional/loss.h>   // l1_loss
#include <torch/optim/adam.h>           // torch::optim::Adam
#include <torch/optim/sgd.h>            // torch::optim::SGD

#include <cmath>  // std::isfinite

#include "img2img/config/enum_names.h"
#include "img2img/core/error.h"
#include "img2img/metrics/ssim.h"
#include "img2img/models/factory.h"
#include "img2img/train/gan_loss.h"
#include "img2img/train/non_finite.h"
#include "img2img/train/optim/adadelta.h"
#include "img2img/train/optim/asgd.h"
#include "img2img/train/optim/fused_adam.h"

namespace img2img {

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const TrainConfig& c, std::vector<torch::Tensor> params) {
  switch (c.optimizer) {
    case OptimizerKind::kAdam:
      return std::make_unique<FusedAdam>(
          std::move(params), torch::optim::AdamOptions(c.learning_rate).betas({c.beta1, c.beta2}));
    case OptimizerKind::kSgd:
      return std::make_unique<torch::optim::SGD>(std::move(params),
                                                 torch::optim::SGDOptions(c.learning_rate).momentum(c.momentum));
    case OptimizerKind::kAdadelta:  // eps 1e-6, weight_decay 0 (PyTorch defaults)
      return std::make_unique<Adadelta>(std::move(params), AdadeltaOptions(c.learning_rate).rho(c.rho));
    case OptimizerKind::kAsgd:  // lambd 1e-4, alpha 0.75, t0 1e6 (PyTorch defaults)
      return std::make_unique<Asgd>(std::move(params), AsgdOptions(c.learning_rate));
  }
  throw ConfigError(fmt::format("unknown train.optimizer {}", static_cast<int>(c.optimizer)));
}

void set_learning_rate(torch::optim::Optimizer& optimizer, double lr) {
  for (auto& group : optimizer.param_groups()) group.options().set_lr(lr);
}

Pix2PixModel::Pix2PixModel(const RunConfig& config, const torch::Device& device)
    : generator(generator_options(config)),
      discriminator(discriminator_options(config)),
      gan_loss_kind_(config.train.gan_loss),
      l1_lambda_(config.generator.l1_lambda) {
  init_weights(*generator, config.train.init, config.train.init_gain);
  init_weights(*discriminator, config.train.init, config.train.init_gain);
  generator->to(device);
  discriminator->to(device);
  generator_optimizer = make_optimizer(config.train, generator->parameters());
  discriminator_optimizer = make_optimizer(config.train, discriminator->parameters());
}

void set_requires_grad(torch::nn::Module& m, bool on) {
  for (auto& p : m.parameters()) p.set_requires_grad(on);
}

void check_finite(double value, const char* term) {
  if (!std::isfinite(value))
    throw NonFiniteLossError(fmt::format("the {} loss became {}; training diverged. Lower train.learning_rate or "
                                         "check float images for extreme values (NaN/inf pixels are rejected at load).",
                                         term, value),
                             term);
}

StepStats Pix2PixModel::train_step(const torch::Tensor& input, const torch::Tensor& reference) {
  StepStats s;
  const torch::Tensor fake = generator(input);  // [N, C, S, S] in [-1, 1]

  // Discriminator: real pairs -> 1, generated pairs -> 0; loss halved (pix2pix backward_D).
  set_requires_grad(*discriminator, true);
  zero_grad_to_none(*discriminator_optimizer);
  const torch::Tensor pred_fake = discriminator(torch::cat({input, fake.detach()}, 1));  // [N, 1, H', W']
  const torch::Tensor pred_real = discriminator(torch::cat({input, reference}, 1));
  const torch::Tensor d_fake = gan_loss(gan_loss_kind_, pred_fake, false);
  const torch::Tensor d_real = gan_loss(gan_loss_kind_, pred_real, true);
  const torch::Tensor d_loss = (d_fake + d_real) * 0.5;
  s.d_fake = d_fake.item<double>(), s.d_real = d_real.item<double>();
  check_finite(s.d_fake, "discriminator fake");
  check_finite(s.d_real, "discriminator real");
  d_loss.backward();
  discriminator_optimizer->step();

  // Generator: fool D (frozen) + l1_lambda * L1 to the reference (pix2pix backward_G).
  set_requires_grad(*discriminator, false);
  zero_grad_to_none(*generator_optimizer);
  const torch::Tensor pred = discriminator(torch::cat({input, fake}, 1));
  const torch::Tensor g_gan = gan_loss(gan_loss_kind_, pred, true);
  const torch::Tensor g_l1 = torch::nn::functional::l1_loss(fake, reference) * l1_lambda_;
  s.g_gan = g_gan.item<double>(), s.g_l1 = g_l1.item<double>();
  check_finite(s.g_gan, "generator GAN");
  check_finite(s.g_l1, "generator L1");
  (g_gan + g_l1).backward();
  generator_optimizer->step();

  s.score_real = discriminator_score(gan_loss_kind_, pred_real);
  s.score_fake = discriminator_score(gan_loss_kind_, pred_fake);
  // Train-set SSIM of this step's (train-mode) output, for the SSIM plot; NaN below the 11 px window.
  const torch::Tensor out = fake.detach();
  SsimOptions fast;
  fast.dtype = torch::kFloat32;
  s.ssim = out.size(2) >= 11 && out.size(3) >= 11 ? ssim_mean(signed_to_unit(out), signed_to_unit(reference), fast)
                                                  : std::nan("");
  return s;
}

}  // namespace img2img
