#pragma once
// The one translation from the resolved configuration to module options: modules and models see
// only their own options structs, never RunConfig (config/run_config.h is included by the .cpp only).

#include <torch/nn/module.h>  // torch::nn::Module

#include "img2img/models/cycle_gan_model.h"
#include "img2img/models/kinds.h"
#include "img2img/models/patch_discriminator.h"
#include "img2img/models/pix2pix_model.h"
#include "img2img/models/unet_generator.h"

namespace img2img {

struct RunConfig;

/// Generator options from the resolved config: C_in = C_out = data.channel_count, channels from
/// the U-Net channel rule (generator.initial_layer_size doubled per layer up to the cap).
UnetGeneratorOptions generator_options(const RunConfig& config);

/// Discriminator options: paired input is cat(input, output) -> 2 x data.channel_count channels;
/// unpaired (data.input_type multiple_unpaired) one image -> data.channel_count channels.
PatchDiscriminatorOptions discriminator_options(const RunConfig& config);

/// Pix2PixModel options from the resolved config (generator.*, discriminator.*, train.init,
/// init_gain, gan_loss, generator.l1_lambda).
Pix2PixOptions pix2pix_options(const RunConfig& config);

/// CycleGanModel options from the resolved config (as pix2pix_options, plus train.identity_lambda,
/// pool_size and seed). Throws ConfigError if data.input_type is not multiple_unpaired.
CycleGanOptions cycle_gan_options(const RunConfig& config);

/// Applies `kind` with `gain` to every conv (weights; biases 0) and batch norm (weight N(1, gain),
/// bias 0) of `module`, as pix2pix networks.init_weights. Uses torch's global RNG.
void init_weights(torch::nn::Module& module, InitKind kind, double gain);

}  // namespace img2img
