#include "img2img/models/factory.h"

#include <torch/nn/init.h>                // torch::nn::init
#include <torch/nn/modules/batchnorm.h>  // torch::nn::BatchNorm2dImpl

#include "img2img/config/enum_names.h"  // to_string(InputType)
#include "img2img/config/run_config.h"
#include "img2img/core/error.h"
#include "img2img/models/shape_rules.h"  // unet_channels

namespace img2img {

UnetGeneratorOptions generator_options(const RunConfig& config) {
  const GeneratorConfig& g = config.generator;
  return UnetGeneratorOptions(config.data.channel_count, config.data.channel_count)
      .channels(unet_channels(g.initial_layer_size, g.max_layer_size, g.layers, config.data.image_size))
      .kernel_size(g.kernel_size)
      .down_activation(g.down_activation)
      .up_activation(g.up_activation)
      .norm(g.norm)
      .dropout(g.dropout);
}

PatchDiscriminatorOptions discriminator_options(const RunConfig& config) {
  const DiscriminatorConfig& d = config.discriminator;
  // Paired: D sees cat(input, output); unpaired: one image of its domain.
  const int64_t c = config.data.channel_count;
  return PatchDiscriminatorOptions(is_unpaired(config.data.input_type) ? c : 2 * c)
      .layers(d.layers)
      .initial_layer_size(d.initial_layer_size)
      .kernel_size(d.kernel_size)
      .activation(d.activation)
      .norm(d.norm);
}

Pix2PixOptions pix2pix_options(const RunConfig& config) {
  Pix2PixOptions o(generator_options(config), discriminator_options(config));
  o.init = config.train.init, o.init_gain = config.train.init_gain;
  o.gan_loss = config.train.gan_loss, o.l1_lambda = config.generator.l1_lambda;
  return o;
}

CycleGanOptions cycle_gan_options(const RunConfig& config) {
  if (!is_unpaired(config.data.input_type))
    throw ConfigError("unpaired (CycleGAN) training needs data.input_type = multiple_unpaired, got " +
                      to_string(config.data.input_type) + ". Paired data trains a paired (pix2pix) model.");
  CycleGanOptions o(generator_options(config), discriminator_options(config));
  o.init = config.train.init, o.init_gain = config.train.init_gain;
  o.gan_loss = config.train.gan_loss, o.l1_lambda = config.generator.l1_lambda;
  o.identity_lambda = config.train.identity_lambda, o.pool_size = config.train.pool_size;
  o.pool_seed = static_cast<uint64_t>(config.train.seed);
  return o;
}

void init_weights(torch::nn::Module& module, InitKind kind, double gain) {
  torch::NoGradGuard no_grad;
  for (auto& m : module.modules(/*include_self=*/true)) {
    torch::Tensor weight, bias;
    bool is_conv = false;
    if (auto* c = m->as<torch::nn::Conv2dImpl>()) {
      weight = c->weight, bias = c->bias, is_conv = true;
    } else if (auto* t = m->as<torch::nn::ConvTranspose2dImpl>()) {
      weight = t->weight, bias = t->bias, is_conv = true;
    } else if (auto* b = m->as<torch::nn::BatchNorm2dImpl>()) {
      if (b->weight.defined()) torch::nn::init::normal_(b->weight, 1.0, gain);
      if (b->bias.defined()) torch::nn::init::zeros_(b->bias);
      continue;
    }
    if (!is_conv) continue;
    switch (kind) {
      case InitKind::kNormal: torch::nn::init::normal_(weight, 0.0, gain); break;
      case InitKind::kXavier: torch::nn::init::xavier_normal_(weight, gain); break;
      case InitKind::kKaiming:
        torch::nn::init::kaiming_normal_(weight, /*a=*/0.0, torch::kFanIn);
        break;
      case InitKind::kOrthogonal: torch::nn::init::orthogonal_(weight, gain); break;
    }
    if (bias.defined()) torch::nn::init::zeros_(bias);
  }
}

}  // namespace img2img
