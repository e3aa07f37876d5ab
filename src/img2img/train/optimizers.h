#pragma once
// The optimisers of a model (one per GanModel parameter group) and the one place a training step's
// gradients are applied.

#include <torch/optim/optimizer.h>  // torch::optim::Optimizer

#include <cstddef>  // size_t
#include <functional>  // std::function
#include <memory>   // std::unique_ptr
#include <optional>  // std::optional
#include <vector>   // std::vector

#include "img2img/config/run_config.h"
#include "img2img/core/process_group.h"
#include "img2img/models/gan_model.h"
#include "img2img/train/gradient_reducer.h"

namespace img2img {

/// Makes the optimiser train.optimizer for `params` with the config's hyper-parameters (Adam: betas
/// beta1/beta2; SGD: momentum; Adadelta: rho; ASGD: PyTorch defaults). Throws ConfigError for an
/// unknown kind.
std::unique_ptr<torch::optim::Optimizer> make_optimizer(const TrainConfig& config,
                                                        std::vector<torch::Tensor> params);

/// Sets the learning rate of every parameter group of `optimizer`.
void set_learning_rate(torch::optim::Optimizer& optimizer, double lr);

/// How a data-parallel run's ModelOptimizers averages gradients (docs/distributed.md, "Overlap").
struct GradientSyncOptions {
  /// Bucketed all-reduce during backward (GradientReducer, PyTorch DDP's scheme); false: one all-reduce
  /// of the group's gradients packed in one buffer after backward (IMG2IMG_OVERLAP=0).
  bool overlap = true;
  /// Bucket sizes for overlap (IMG2IMG_BUCKET_MB, IMG2IMG_FIRST_BUCKET_MB; DDP's 25 and 1 MiB).
  GradientReducerOptions buckets;
  /// One stderr line per step and network: backward, all-reduce in flight, blocked, hidden (ms).
  bool step_timing = false;
};

/// The GradientSyncOptions of the environment (IMG2IMG_OVERLAP = 0|1, IMG2IMG_BUCKET_MB and
/// IMG2IMG_FIRST_BUCKET_MB in MiB > 0, IMG2IMG_STEP_TIMING = 0|1), read through `get` (std::getenv by
/// default); unset variables keep the defaults. Throws ConfigError naming a variable with a bad value.
GradientSyncOptions gradient_sync_options_from_env(const std::function<const char*(const char*)>& get = {});

/// One optimiser per parameter group of a model (GanModel::parameter_groups(), same order), and the
/// StepUpdater that training steps apply their gradients through.
class ModelOptimizers : public StepUpdater {
 public:
  /// Makes train.optimizer for each parameter group of `model`. `group` (data-parallel runs; nullptr =
  /// alone) must outlive this object: step() then averages the group's gradients over its ranks, as
  /// `sync` says (with overlap, a GradientReducer per parameter group hooks the model's parameters).
  ModelOptimizers(GanModel& model, const TrainConfig& config, ProcessGroup* group = nullptr,
                  const GradientSyncOptions& sync = {});

  /// Gradients of group `group` to none (the next backward writes fresh ones).
  void zero_grad(size_t group) override;
  /// THE gradient-application point of every model's step: between the model's backward of group
  /// `group` and its optimiser step. A data-parallel run averages the group's gradients over the ranks
  /// here: it waits for the bucket all-reduces that backward started (overlap; zero_grad armed them)
  /// or runs one collective (ProcessGroup::average); when a peer's step failed with a non-finite loss
  /// (abandon_step) it throws NonFiniteLossError instead of stepping, as that peer does. Throws
  /// DistributedError when a peer is lost.
  void step(size_t group) override;
  /// Data-parallel runs: this rank's step failed (NonFiniteLossError) after zero_grad(g) and before
  /// step(g); takes part in g's gradient all-reduce with a failure flag so that no peer waits and every
  /// peer fails the same step. A no-op alone or when no group is pending.
  void abandon_step();
  /// Seconds this rank spent blocked in gradient all-reduces since the last call (0 alone).
  double take_allreduce_seconds();
  /// Seconds of gradient all-reduce that ran behind backward since the last call (0 without overlap).
  double take_allreduce_hidden_seconds();
  /// Whether gradients are all-reduced in buckets during backward (a data-parallel run with overlap).
  bool overlaps() const { return !reducers_.empty(); }

  /// Sets the learning rate of every optimiser (the schedule, once per iteration).
  void set_learning_rate(double lr);
  /// The optimiser of group `group`, e.g. to save or load its state.
  torch::optim::Optimizer& optimizer(size_t group) { return *optimizers_.at(group); }
  size_t size() const { return optimizers_.size(); }
  /// The model network name (GanModel::ParameterGroup::network) of each group.
  const std::vector<std::string>& group_networks() const { return networks_; }

 private:
  int finish_reduce(size_t group, bool poison);

  std::vector<std::unique_ptr<torch::optim::Optimizer>> optimizers_;
  std::vector<std::string> networks_;
  ProcessGroup* group_ = nullptr;
  std::optional<size_t> pending_;  // zero_grad(g) called, step(g) not yet (data-parallel only)
  std::vector<std::unique_ptr<GradientReducer>> reducers_;  // per group, with overlap
  bool step_timing_ = false;
  double allreduce_seconds_ = 0;
  double allreduce_hidden_seconds_ = 0;
};

}  // namespace img2img
