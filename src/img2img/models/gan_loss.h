#pragma once

#include <torch/types.h>  // torch::Tensor

#include "img2img/models/kinds.h"

namespace img2img {

/// GAN objective against a constant target (pix2pix networks.GANLoss): vanilla = BCE with logits,
/// lsgan = MSE; target 1 for real, 0 for fake. `prediction`: discriminator logits [N, 1, H', W'].
/// Returns a scalar (mean over patches).
torch::Tensor gan_loss(GanLoss kind, const torch::Tensor& prediction, bool target_is_real);

/// The discriminator's mean "probability of real" on `prediction`: sigmoid(logits) for vanilla, the
/// raw score clamped to [0, 1] for lsgan (whose targets are 0 and 1). Scalar in [0, 1].
double discriminator_score(GanLoss kind, const torch::Tensor& prediction);

}  // namespace img2img
