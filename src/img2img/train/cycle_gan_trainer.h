#pragma once

#include "img2img/config/run_config.h"
#include "img2img/train/trainer.h"  // TrainSummary, TrainOptions

namespace img2img {

/// Trains an unpaired (CycleGAN) model as configured (data.input_type = multiple_unpaired): like
/// train_pix2pix, but an iteration covers the larger domain while the smaller one is sampled at
/// random (train.seed); checkpoints are {network} x {index} (four files per save), ONNX files both
/// generators ({index} 0 and 1); tests report the mean cycle-reconstruction SSIM of both
/// directions. summary.last holds means of both directions (g_l1 = mean cycle term, d_real =
/// d_fake = mean D loss, ssim NaN); per-direction values are in plots/loss.csv and the events.
/// options.resume continues an unpaired checkpoint (four networks, both optimisers, image pools, RNG
/// states; bit for bit on the CPU); options.stop_requested ends the run after the current step with
/// a checkpoint, as train_pix2pix. `config` must be validated. Throws ConfigError for other input
/// types, CheckpointError for a paired resume point, Error as train_pix2pix.
TrainSummary train_cycle_gan(const RunConfig& config, const TrainOptions& options = {});

}  // namespace img2img
