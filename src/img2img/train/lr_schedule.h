#pragma once

#include <cstdint>  // int64_t

#include "img2img/config/run_config.h"

namespace img2img {

/// Learning rate for iteration `iteration` (0-based epoch index), stepped once per iteration:
/// - cosine: CosineAnnealingLR closed form, T_max = max_iterations, eta_min 0;
/// - linear: pix2pix lambda_rule, lr * (1 - max(0, t + 1 - (max_iterations - linear_decay)) / (linear_decay + 1));
/// - step: lr * gamma^floor(t / step_size) (StepLR).
double scheduled_learning_rate(const TrainConfig& config, int64_t iteration);

}  // namespace img2img
