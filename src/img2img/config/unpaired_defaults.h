#pragma once
// Per-model defaults as data (STYLE.md "How configuration flows"): unpaired (CycleGAN) runs start
// from different defaults than paired (pix2pix) runs. They are applied to the base configuration
// before the config file and flags, so anything given explicitly still wins.

#include <vector>  // std::vector

#include "img2img/config/config_keys.h"
#include "img2img/config/run_config.h"

namespace img2img {

/// The defaults of an unpaired run, as the CycleGAN reference (Zhu et al. 2017, cycle_gan_model.py):
/// data/test.input_type multiple_unpaired, train.gan_loss lsgan, generator.l1_lambda 10 (cycle
/// weight), generator.norm and discriminator.norm instance, generator.dropout 0 (--no_dropout).
/// Everything else as RunConfig{}. The generator stays our U-Net (the reference uses a ResNet).
RunConfig unpaired_defaults();

/// The base configuration for `assignments` (file, then flags): unpaired_defaults() when they set
/// data.input_type = multiple_unpaired, else RunConfig{}. Never throws; bad values are reported
/// later by apply_config on this base.
RunConfig base_config_for(const std::vector<ConfigAssignment>& assignments);

}  // namespace img2img
