#include "img2img/train/lr_schedule.h"

#include <algorithm>  // std::max
#include <cmath>      // std::cos
#include <cstdio>     // std::snprintf
#include <string>     // std::string, std::to_string

#include "img2img/config/enum_names.h"

namespace img2img {

namespace {
// Python's a % b for b > 0 (non-negative result), used by CosineAnnealingLR's restart test.
int64_t python_mod(int64_t a, int64_t b) { return ((a % b) + b) % b; }
// printf's %.<precision>g (what the messages showed with fmt's {:.3g} / {:g}).
std::string g(double v, int precision = 6) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*g", precision, v);
  return buf;
}
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
  return "train.linear_decay = " + std::to_string(c.linear_decay) + " >= train.max_iterations = " +
         std::to_string(c.max_iterations) + ": the learning rate decays from the first iteration (" +
         g(scheduled_learning_rate(c, 0), 3) + " at iteration 1, " + g(scheduled_learning_rate(c, c.max_iterations - 1), 3) +
         " at the last, of train.learning_rate = " + g(c.learning_rate, 3) + "). For a short run lower it, " +
         "e.g. --train.linear_decay=" + std::to_string(c.max_iterations / 2) + ".";
}

std::string optimizer_warning(const TrainConfig& c) {
  if (c.optimizer != OptimizerKind::kAdadelta || !(c.learning_rate < 0.01)) return "";
  return "train.optimizer = adadelta with train.learning_rate = " + g(c.learning_rate) +
         ": Adadelta multiplies its adaptive step by the learning rate and PyTorch's default for it is 1.0, so at " +
         g(c.learning_rate) + " the weights barely change and the losses stay flat. Use --train.learning_rate=1.0.";
}

std::string resume_schedule_warning(const TrainConfig& before, const TrainConfig& now, int64_t done) {
  if (now.scheduler == SchedulerKind::kStep || before.scheduler != now.scheduler ||
      before.max_iterations == now.max_iterations || done < 1)
    return "";
  const double last = scheduled_learning_rate(before, done - 1), next = scheduled_learning_rate(now, done);
  const std::string change =
      last > 0 && next != last ? " (" + g(next / last, 3) + "x)" : next == last ? " (the same)" : "";
  return "train.scheduler = " + to_string(now.scheduler) + " follows train.max_iterations, which changed from " +
         std::to_string(before.max_iterations) + " (checkpoint) to " + std::to_string(now.max_iterations) +
         ": the learning-rate schedule restarts its shape over " + std::to_string(now.max_iterations) +
         " iterations instead of continuing. Iteration " + std::to_string(done) + " (the last trained) ran at " +
         g(last, 3) + ", iteration " + std::to_string(done + 1) + " (the next) runs at " + g(next, 3) + change +
         ". Only train.scheduler = step, or an unchanged train.max_iterations, continues the schedule seamlessly; to "
         "get one schedule over the whole run, start it with the final max_iterations.";
}

}  // namespace img2img
