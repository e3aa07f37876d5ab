#include "img2img/train/cycle_gan_model.h"

#include <fmt/format.h>                // fmt::format
#include <torch/nn/functional/loss.h>  // l1_loss

#include "img2img/config/enum_names.h"
#include "img2img/core/error.h"
#include "img2img/models/factory.h"
#include "img2img/train/gan_loss.h"
#include "img2img/train/optim/fused_adam.h"
#include "img2img/train/pix2pix_model.h"  // make_optimizer, set_requires_grad, check_finite

namespace img2img {

namespace {
const RunConfig& checked_unpaired(const RunConfig& config) {
  if (!is_unpaired(config.data.input_type))
    throw ConfigError(fmt::format("unpaired (CycleGAN) training needs data.input_type = multiple_unpaired, got {}. "
                                  "Paired data trains a paired (pix2pix) model.",
                                  to_string(config.data.input_type)));
  return config;
}

std::vector<torch::Tensor> parameters_of(torch::nn::Module& a, torch::nn::Module& b) {
  std::vector<torch::Tensor> p = a.parameters();
  for (const auto& t : b.parameters()) p.push_back(t);
  return p;
}
}  // namespace

CycleGanModel::CycleGanModel(const RunConfig& config, const torch::Device& device)
    : gan_loss_kind_(checked_unpaired(config).train.gan_loss),
      l1_lambda_(config.generator.l1_lambda),
      identity_lambda_(config.train.identity_lambda),
      pools_{ImagePool(config.train.pool_size, static_cast<uint64_t>(config.train.seed) ^ 0x9001ULL),
             ImagePool(config.train.pool_size, static_cast<uint64_t>(config.train.seed) ^ 0x9002ULL)} {
  for (auto& g : generators) {
    g = UnetGenerator(generator_options(config));
    init_weights(*g, config.train.init, config.train.init_gain);
    g->to(device);
  }
  for (auto& d : discriminators) {
    d = PatchDiscriminator(discriminator_options(config));
    init_weights(*d, config.train.init, config.train.init_gain);
    d->to(device);
  }
  generator_optimizer = make_optimizer(config.train, parameters_of(*generators[0], *generators[1]));
  discriminator_optimizer = make_optimizer(config.train, parameters_of(*discriminators[0], *discriminators[1]));
}

CycleStepStats CycleGanModel::train_step(const torch::Tensor& real_a, const torch::Tensor& real_b) {
  namespace F = torch::nn::functional;
  CycleStepStats s;
  const torch::Tensor real[2] = {real_a, real_b};  // [N, C, S, S] in [-1, 1]
  // fake[0] = G0(a) in domain B, fake[1] = G1(b) in domain A; rec[k] goes back to real[k].
  const torch::Tensor fake[2] = {generators[0](real_a), generators[1](real_b)};
  const torch::Tensor rec[2] = {generators[1](fake[0]), generators[0](fake[1])};

  // Generators, discriminators frozen (backward_G): GAN + cycle + identity for both directions.
  for (auto& d : discriminators) set_requires_grad(*d, false);
  zero_grad_to_none(*generator_optimizer);
  torch::Tensor g_total = torch::zeros({}, real_a.options());
  torch::Tensor pred_fake[2];
  for (int k = 0; k < 2; ++k) {
    const torch::Tensor& other = real[1 - k];  // the target domain of generator k
    pred_fake[k] = discriminators[k](fake[k]);  // [N, 1, H', W']
    const torch::Tensor gan = gan_loss(gan_loss_kind_, pred_fake[k], true);
    const torch::Tensor cycle = F::l1_loss(rec[k], real[k]) * l1_lambda_;
    g_total = g_total + gan + cycle;
    s.g_gan[k] = gan.item<double>(), s.cycle[k] = cycle.item<double>();
    check_finite(s.g_gan[k], k == 0 ? "generator 0 GAN" : "generator 1 GAN");
    check_finite(s.cycle[k], k == 0 ? "cycle A" : "cycle B");
    if (identity_lambda_ > 0) {  // G_k of an image already in its target domain should not change it
      const torch::Tensor idt = F::l1_loss(generators[k](other), other) * (l1_lambda_ * identity_lambda_);
      g_total = g_total + idt;
      s.identity[k] = idt.item<double>();
      check_finite(s.identity[k], k == 0 ? "identity 0" : "identity 1");
    }
  }
  g_total.backward();
  generator_optimizer->step();

  // Discriminators (backward_D_basic): real images of the domain -> 1, pooled fakes -> 0, halved.
  for (auto& d : discriminators) set_requires_grad(*d, true);
  zero_grad_to_none(*discriminator_optimizer);
  for (int k = 0; k < 2; ++k) {
    const torch::Tensor pred_real = discriminators[k](real[1 - k]);
    const torch::Tensor pooled = pools_[k].query(fake[k].detach());
    const torch::Tensor d_loss =
        (gan_loss(gan_loss_kind_, pred_real, true) + gan_loss(gan_loss_kind_, discriminators[k](pooled), false)) * 0.5;
    s.d_loss[k] = d_loss.item<double>();
    check_finite(s.d_loss[k], k == 0 ? "discriminator 0" : "discriminator 1");
    d_loss.backward();
    s.score_real[k] = discriminator_score(gan_loss_kind_, pred_real);
    s.score_fake[k] = discriminator_score(gan_loss_kind_, pred_fake[k].detach());
  }
  discriminator_optimizer->step();
  return s;
}

}  // namespace img2img
