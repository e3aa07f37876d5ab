#include "img2img/train/lr_schedule.h"

#include <algorithm>  // std::max
#include <cmath>      // std::cos, std::pow

namespace img2img {

double scheduled_learning_rate(const TrainConfig& c, int64_t t) {
  switch (c.scheduler) {
    case SchedulerKind::kCosine:
      return c.learning_rate * 0.5 * (1.0 + std::cos(M_PI * static_cast<double>(t) / c.max_iterations));
    case SchedulerKind::kLinear: {
      const int64_t constant = c.max_iterations - c.linear_decay;
      return c.learning_rate *
             (1.0 - static_cast<double>(std::max<int64_t>(0, t + 1 - constant)) / static_cast<double>(c.linear_decay + 1));
    }
    case SchedulerKind::kStep:
      return c.learning_rate * std::pow(c.gamma, static_cast<double>(t / c.step_size));
  }
  return c.learning_rate;
}

}  // namespace img2img
