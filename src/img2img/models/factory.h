#pragma once

#include "img2img/config/run_config.h"
#include "img2img/models/patch_discriminator.h"
#include "img2img/models/unet_generator.h"

namespace img2img {

/// Generator options from the resolved config: C_in = C_out = data.channel_count, channels from
/// generator_channels(). Modules never see RunConfig; this is the only translation.
UnetGeneratorOptions generator_options(const RunConfig& config);

/// Discriminator options: paired input is cat(input, output) -> 2 x data.channel_count channels;
/// unpaired (data.input_type multiple_unpaired) one image -> data.channel_count channels.
PatchDiscriminatorOptions discriminator_options(const RunConfig& config);

/// Applies train.init with train.init_gain to every conv (weights; biases 0) and batch norm
/// (weight N(1, gain), bias 0) of `module`, as pix2pix networks.init_weights. Uses torch's global RNG.
void init_weights(torch::nn::Module& module, InitKind kind, double gain);

}  // namespace img2img
