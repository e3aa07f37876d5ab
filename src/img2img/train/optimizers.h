#pragma once
// The optimisers of a model (one per GanModel parameter group) and the one place a training step's
// gradients are applied.

#include <torch/optim/optimizer.h>  // torch::optim::Optimizer

#include <cstddef>  // size_t
#include <memory>   // std::unique_ptr
#include <optional>  // std::optional
#include <vector>   // std::vector

#include "img2img/config/run_config.h"
#include "img2img/core/process_group.h"
#include "img2img/models/gan_model.h"

namespace img2img {

/// Makes the optimiser train.optimizer for `params` with the config's hyper-parameters (Adam: betas
/// beta1/beta2; SGD: momentum; Adadelta: rho; ASGD: PyTorch defaults). Throws ConfigError for an
/// unknown kind.
std::unique_ptr<torch::optim::Optimizer> make_optimizer(const TrainConfig& config,
                                                        std::vector<torch::Tensor> params);

/// Sets the learning rate of every parameter group of `optimizer`.
void set_learning_rate(torch::optim::Optimizer& optimizer, double lr);

/// One optimiser per parameter group of a model (GanModel::parameter_groups(), same order), and the
/// StepUpdater that training steps apply their gradients through.
class ModelOptimizers : public StepUpdater {
 public:
  /// Makes train.optimizer for each parameter group of `model`. `group` (data-parallel runs; nullptr =
  /// alone) must outlive this object: step() then averages the group's gradients over its ranks.
  ModelOptimizers(GanModel& model, const TrainConfig& config, ProcessGroup* group = nullptr);

  /// Gradients of group `group` to none (the next backward writes fresh ones).
  void zero_grad(size_t group) override;
  /// THE gradient-application point of every model's step: between the model's backward of group
  /// `group` and its optimiser step. A data-parallel run averages the group's gradients over the ranks
  /// here, in one collective (ProcessGroup::average); when a peer's step failed with a non-finite loss
  /// (abandon_step) it throws NonFiniteLossError instead of stepping, as that peer does. Throws
  /// DistributedError when a peer is lost.
  void step(size_t group) override;
  /// Data-parallel runs: this rank's step failed (NonFiniteLossError) after zero_grad(g) and before
  /// step(g); takes part in g's gradient all-reduce with a failure flag so that no peer waits and every
  /// peer fails the same step. A no-op alone or when no group is pending.
  void abandon_step();
  /// Seconds this rank spent blocked in gradient all-reduces since the last call (0 alone).
  double take_allreduce_seconds();

  /// Sets the learning rate of every optimiser (the schedule, once per iteration).
  void set_learning_rate(double lr);
  /// The optimiser of group `group`, e.g. to save or load its state.
  torch::optim::Optimizer& optimizer(size_t group) { return *optimizers_.at(group); }
  size_t size() const { return optimizers_.size(); }
  /// The model network name (GanModel::ParameterGroup::network) of each group.
  const std::vector<std::string>& group_networks() const { return networks_; }

 private:
  std::vector<std::unique_ptr<torch::optim::Optimizer>> optimizers_;
  std::vector<std::string> networks_;
  ProcessGroup* group_ = nullptr;
  std::optional<size_t> pending_;  // zero_grad(g) called, step(g) not yet (data-parallel only)
  double allreduce_seconds_ = 0;
};

}  // namespace img2img
