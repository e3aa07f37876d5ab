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

ModelOptimizers::ModelOptimizers(GanModel& model, const TrainConfig& config) {
  for (ParameterGroup& g : model.parameter_groups()) {
    optimizers_.push_back(make_optimizer(config, std::move(g.parameters)));
    networks_.push_back(g.network);
  }
}

void ModelOptimizers::zero_grad(size_t group) { zero_grad_to_none(*optimizers_.at(group)); }

void ModelOptimizers::step(size_t group) { optimizers_.at(group)->step(); }

void ModelOptimizers::set_learning_rate(double lr) {
  for (auto& o : optimizers_) img2img::set_learning_rate(*o, lr);
}

}  // namespace img2img
