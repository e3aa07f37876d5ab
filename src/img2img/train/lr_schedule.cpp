#include "img2img/train/lr_schedule.h"

#include <fmt/format.h>  // fmt::format

#include <algorithm>  // std::max
#include <cmath>      // std::cos

#include "img2img/config/enum_names.h"

namespace img2img {

namespace {
// Python's a % b for b > 0 (non-negative result), used by CosineAnnealingLR's restart test.
int64_t python_mod(int64_t a, int64_t b) { return ((a % b) + b) % b; }
}  // namespace

double scheduled_learning_rate(const TrainConfig& c, int64_t t) {
  switch (c.scheduler) {
    case SchedulerKind::kCosine: {
      // torch/optim/lr_scheduler.py CosineAnnealingLR.get_lr, evaluated in the same order.
      const double base = c.learning_rate, eta_min = 0.0;
      const auto t_max = static_cast<double>(c.max_iterations);
      double lr = base;
      for (int64_t e = 1; e <= t; ++e) {
        if (python_mod(e - 1 - c.max_iterations, 2 * c.max_iterations) == 0) {
          lr = lr + (base - eta_min) * (1 - std::cos(M_PI / t_max)) / 2;
        } else {
          lr = (1 + std::cos(M_PI * static_cast<double>(e) / t_max)) /
                   (1 + std::cos(M_PI * static_cast<double>(e - 1) / t_max)) * (lr - eta_min) +
               eta_min;
        }
      }
      return lr;
    }
    case SchedulerKind::kLinear: {
      const int64_t constant = c.max_iterations - c.linear_decay;
      return c.learning_rate *
             (1.0 - static_cast<double>(std::max<int64_t>(0, t + 1 - constant)) / static_cast<double>(c.linear_decay + 1));
    }
    case SchedulerKind::kStep: {
      double lr = c.learning_rate;  // StepLR.get_lr multiplies the previous rate (not gamma^k)
      for (int64_t e = c.step_size; e <= t; e += c.step_size) lr = lr * c.gamma;
      return lr;
    }
  }
  return c.learning_rate;
}

std::string schedule_warning(const TrainConfig& c) {
  if (c.scheduler != SchedulerKind::kLinear || c.linear_decay < c.max_iterations || c.max_iterations < 1) return "";
  return fmt::format(
      "train.linear_decay = {} >= train.max_iterations = {}: the learning rate decays from the first iteration "
      "({:.3g} at iteration 1, {:.3g} at the last, of train.learning_rate = {:.3g}). For a short run lower it, "
      "e.g. --train.linear_decay={}.",
      c.linear_decay, c.max_iterations, scheduled_learning_rate(c, 0), scheduled_learning_rate(c, c.max_iterations - 1),
      c.learning_rate, c.max_iterations / 2);
}

std::string optimizer_warning(const TrainConfig& c) {
  if (c.optimizer != OptimizerKind::kAdadelta || !(c.learning_rate < 0.01)) return "";
  return fmt::format(
      "train.optimizer = adadelta with train.learning_rate = {:g}: Adadelta multiplies its adaptive step by the "
      "learning rate and PyTorch's default for it is 1.0, so at {:g} the weights barely change and the losses stay "
      "flat. Use --train.learning_rate=1.0.",
      c.learning_rate, c.learning_rate);
}

std::string resume_schedule_warning(const TrainConfig& before, const TrainConfig& now, int64_t done) {
  if (now.scheduler == SchedulerKind::kStep || before.scheduler != now.scheduler ||
      before.max_iterations == now.max_iterations || done < 1)
    return "";
  const double last = scheduled_learning_rate(before, done - 1), next = scheduled_learning_rate(now, done);
  const std::string change =
      last > 0 && next != last ? fmt::format(" ({:.3g}x)", next / last) : next == last ? " (the same)" : "";
  return fmt::format(
      "train.scheduler = {} follows train.max_iterations, which changed from {} (checkpoint) to {}: the learning-rate "
      "schedule restarts its shape over {} iterations instead of continuing. Iteration {} (the last trained) ran at "
      "{:.3g}, iteration {} (the next) runs at {:.3g}{}. Only train.scheduler = step, or an unchanged "
      "train.max_iterations, continues the schedule seamlessly; to get one schedule over the whole run, start it "
      "with the final max_iterations.",
      to_string(now.scheduler), before.max_iterations, now.max_iterations,
      now.max_iterations, done, last, done + 1, next, change);
}

}  // namespace img2img
