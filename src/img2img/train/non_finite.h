#pragma once
// train.nan_policy: what a non-finite (NaN/inf) loss does to a run (stop, or skip that batch).

#include <torch/nn/module.h>  // torch::nn::Module

#include <cstdint>     // int64_t
#include <functional>  // std::function
#include <string>      // std::string
#include <vector>      // std::vector

#include "img2img/config/run_config.h"
#include "img2img/core/error.h"
#include "img2img/models/gan_model.h"  // NonFiniteLossError

namespace img2img {

/// Factor that turns an iteration's sums of (batch mean x batch size) into means over the `used`
/// samples of the batches that train.nan_policy = skip did not drop: 1 / used, NaN when every batch
/// was dropped (the iteration's losses then read "skipped" / null, never a made-up 0).
double used_samples_factor(int64_t used);

/// Runs training steps under train.nan_policy and train.nan_max_skips. Example:
///   NanGuard guard(config.train);
///   const std::string skipped = guard.run({g.get(), d.get()}, it + 1, step + 1, [&] { s = model.train_step(a, b); });
///   if (!skipped.empty()) { /* log the warning, drop the batch */ }
class NanGuard {
 public:
  explicit NanGuard(const TrainConfig& train) : policy_(train.nan_policy), max_skips_(train.nan_max_skips) {}

  /// Runs `step` (one training step of `modules`; `iteration`, `step_index` 1-based, for messages).
  /// Returns "" when it completes. On a NonFiniteLossError under kSkip, restores the buffers of
  /// `modules` (batch-norm running statistics, which the forward pass already updated) and returns
  /// a warning naming the iteration, step and term: no optimiser step used that loss, and the caller
  /// drops the batch. Throws Error "iteration I, step S: ..." for kStop, for the nan_max_skips-th
  /// consecutive skip, and for any other Error of the step.
  std::string run(const std::vector<torch::nn::Module*>& modules, int64_t iteration, int64_t step_index,
                  const std::function<void()>& step);

  /// Steps skipped so far in this run.
  int64_t skipped() const { return skipped_; }

 private:
  NanPolicy policy_;
  int64_t max_skips_;
  int64_t consecutive_ = 0;
  int64_t skipped_ = 0;
};

}  // namespace img2img
