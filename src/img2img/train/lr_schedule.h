#pragma once

#include <cstdint>  // int64_t
#include <string>   // std::string

#include "img2img/config/run_config.h"

namespace img2img {

/// Learning rate for iteration `iteration` (0-based epoch index; PyTorch's last_epoch), stepped once
/// per iteration. Reproduces PyTorch 1.13's schedulers bit for bit, including their recursive
/// (chainable) forms, so the value is computed by iterating from 0 (O(iteration), cheap):
/// - cosine: CosineAnnealingLR(T_max = max_iterations, eta_min = 0): lr_t = (1 + cos(pi t / T)) /
///   (1 + cos(pi (t - 1) / T)) * lr_{t-1};
/// - linear: LambdaLR with pix2pix's lambda_rule (networks.get_scheduler, epoch_count 1,
///   n_epochs = max_iterations - linear_decay, n_epochs_decay = linear_decay):
///   lr * (1 - max(0, t + 1 - n_epochs) / (linear_decay + 1)); it ends one step above 0, as pix2pix;
/// - step: StepLR(step_size, gamma): lr_{t} = lr_{t-1} * gamma when t % step_size == 0.
/// Golden test: tests/golden/lr_schedule/make_lr_golden.py.
double scheduled_learning_rate(const TrainConfig& config, int64_t iteration);

/// A warning for a schedule that is probably a mistake, or "" when there is none: scheduler linear with
/// linear_decay >= max_iterations decays from the first iteration (an example shrunk with
/// --train.max_iterations then trains at a tiny learning rate). Names both values, the first and last
/// learning rates, and the fix.
std::string schedule_warning(const TrainConfig& config);

/// A warning for an optimiser whose learning rate is probably far too small, or "" when there is none:
/// train.optimizer = adadelta with learning_rate < 0.01. Adadelta's step is learning_rate x its own
/// adaptive update (PyTorch's default lr for it is 1.0), so at the default 2e-4 the weights barely move
/// and the losses stay flat. Names the value, PyTorch's default and the fix --train.learning_rate=1.0.
std::string optimizer_warning(const TrainConfig& config);

/// A warning for a --resume whose learning-rate schedule does not continue the checkpoint's, or "" when
/// it does. cosine (T_max) and linear (where the decay starts) depend on train.max_iterations, so
/// resuming with another max_iterations reshapes the schedule: the rate jumps (linear, 4 iterations
/// ending at 6.67e-05, resumed with max_iterations 8: iteration 5 runs at 2e-04). `before`: the
/// checkpoint's train settings, `now`: the resumed run's, `done`: iterations completed. Names the
/// scheduler, both max_iterations, the rate of iteration `done` (under `before`) and of `done` + 1
/// (under `now`), and that only step (or an unchanged max_iterations) continues seamlessly.
std::string resume_schedule_warning(const TrainConfig& before, const TrainConfig& now, int64_t done);

}  // namespace img2img
