#include "img2img/train/optimizers.h"

#include <torch/optim/sgd.h>   // torch::optim::SGD

#include <string>  // std::to_string

#include "img2img/core/error.h"
#include "img2img/train/optim/adadelta.h"
#include "img2img/train/optim/asgd.h"
#include "img2img/train/optim/fused_adam.h"

namespace img2img {

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const TrainConfig& c, std::vector<torch::Tensor> params) {
  switch (c.optimizer) {
    case OptimizerKind::kAdam:
      return std::make_unique<FusedAdam>(
          std::move(params), torch::optim::AdamOptions(c.learning_rate).betas({c.beta1, c.beta2}));
    case OptimizerKind::kSgd:
      return std::make_unique<torch::optim::SGD>(std::move(params),
                                                 torch::optim::SGDOptions(c.learning_rate).momentum(c.momentum));
    case OptimizerKind::kAdadelta:  // eps 1e-6, weight_decay 0 (PyTorch defaults)
      return std::make_unique<Adadelta>(std::move(params), AdadeltaOptions(c.learning_rate).rho(c.rho));
    case OptimizerKind::kAsgd:  // lambd 1e-4, alpha 0.75, t0 1e6 (PyTorch defaults)
      return std::make_unique<Asgd>(std::move(params), AsgdOptions(c.learning_rate));
  }
  throw ConfigError("unknown train.optimizer " + std::to_string(static_cast<int>(c.optimizer)));
}

void set_learning_rate(torch::optim::Optimizer& optimizer, double lr) {
  for (auto& group : optimizer.param_groups()) group.options().set_lr(lr);
}

ModelOptimizers::ModelOptimizers(GanModel& model, const TrainConfig& config, ProcessGroup* group) : group_(group) {
  for (ParameterGroup& g : model.parameter_groups()) {
    optimizers_.push_back(make_optimizer(config, std::move(g.parameters)));
    networks_.push_back(g.network);
  }
}

void ModelOptimizers::zero_grad(size_t group) {
  zero_grad_to_none(*optimizers_.at(group));
  if (group_ != nullptr) pending_ = group;
}

namespace {
// The gradients of every parameter of `optimizer`, in parameter order; a parameter without one (unused
// by this step's backward) gets zeros, so every rank packs the same layout.
std::vector<torch::Tensor> gradients(torch::optim::Optimizer& optimizer) {
  std::vector<torch::Tensor> grads;
  for (auto& g : optimizer.param_groups())
    for (auto& p : g.params()) {
      if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
      grads.push_back(p.grad());
    }
  return grads;
}
}  // namespace

// Averages group `group`'s gradients over the ranks; returns how many ranks abandoned the step.
static int average_gradients(ProcessGroup& pg, torch::optim::Optimizer& optimizer, bool poison, double& seconds) {
  const auto t0 = std::chrono::steady_clock::now();
  const int failed = pg.average(gradients(optimizer), poison);
  seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return failed;
}

void ModelOptimizers::step(size_t group) {
  if (group_ != nullptr && group_->size() > 1) {
    pending_.reset();
    if (const int failed = average_gradients(*group_, *optimizers_.at(group), false, allreduce_seconds_); failed > 0)
      throw NonFiniteLossError(std::to_string(failed) + " other rank(s) of the data-parallel run had a non-finite "
                               "loss in this step (their own log names the term); train.nan_policy applies to the "
                               "whole group",
                               "another rank");
  }
  optimizers_.at(group)->step();
}

void ModelOptimizers::abandon_step() {
  if (group_ == nullptr || group_->size() <= 1 || !pending_) return;
  const size_t group = *pending_;
  pending_.reset();
  average_gradients(*group_, *optimizers_.at(group), true, allreduce_seconds_);
}

double ModelOptimizers::take_allreduce_seconds() {
  const double s = allreduce_seconds_;
  allreduce_seconds_ = 0;
  return s;
}

void ModelOptimizers::set_learning_rate(double lr) {
  for (auto& o : optimizers_) img2img::set_learning_rate(*o, lr);
}

}  // namespace img2img
