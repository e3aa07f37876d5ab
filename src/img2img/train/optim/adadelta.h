#pragma once
// Adadelta (Zeiler 2012) for LibTorch 1.13, whose C++ API lacks it. Numerically the same as
// PyTorch 1.13's torch.optim.Adadelta single-tensor path (foreach=False), checked by the golden
// test tests/unit/train/optim_test.cpp against tests/golden/optim/make_optim_golden.py.

#include <torch/optim/optimizer.h>  // torch::optim::Optimizer
#include <torch/optim/serialize.h>  // _TORCH_OPTIM_SERIALIZE_WITH_TEMPLATE_ARG

#include <vector>  // std::vector

namespace img2img {

/// Hyper-parameters of Adadelta; defaults are torch.optim.Adadelta's.
///
/// Example:
///   Adadelta opt(model->parameters(), AdadeltaOptions(/*lr=*/1.0).rho(0.9));
struct AdadeltaOptions : public torch::optim::OptimizerCloneableOptions<AdadeltaOptions> {
  AdadeltaOptions(double lr = 1.0);  // NOLINT: implicit like torch's options
  /// Scale applied to the update (PyTorch default 1.0; img2img passes train.learning_rate).
  TORCH_ARG(double, lr) = 1.0;
  /// Decay of the running averages of squared gradients and updates (PyTorch: 0.9).
  TORCH_ARG(double, rho) = 0.9;
  /// Added inside both square roots for stability (PyTorch: 1e-6).
  TORCH_ARG(double, eps) = 1e-6;
  /// L2 penalty added to the gradient (PyTorch: 0).
  TORCH_ARG(double, weight_decay) = 0;

 public:
  void serialize(torch::serialize::InputArchive& archive) override;
  void serialize(torch::serialize::OutputArchive& archive) const override;
  friend bool operator==(const AdadeltaOptions& lhs, const AdadeltaOptions& rhs);
  double get_lr() const override;
  void set_lr(const double lr) override;
};

/// Per-parameter state: PyTorch's state['step'], ['square_avg'], ['acc_delta'].
struct AdadeltaParamState : public torch::optim::OptimizerCloneableParamState<AdadeltaParamState> {
  TORCH_ARG(int64_t, step) = 0;              ///< steps taken
  TORCH_ARG(torch::Tensor, square_avg);      ///< E[g^2], same shape as the parameter
  TORCH_ARG(torch::Tensor, acc_delta);       ///< E[dx^2], same shape as the parameter

 public:
  void serialize(torch::serialize::InputArchive& archive) override;
  void serialize(torch::serialize::OutputArchive& archive) const override;
  friend bool operator==(const AdadeltaParamState& lhs, const AdadeltaParamState& rhs);
};

/// Adadelta, per step and parameter (PyTorch docs, torch.optim.Adadelta):
///   v = rho v + (1 - rho) g^2;  dx = sqrt(u + eps) / sqrt(v + eps) * g;
///   u = rho u + (1 - rho) dx^2;  p -= lr * dx.
/// Throws c10::Error (TORCH_CHECK) for negative lr, eps or weight_decay, or rho outside [0, 1].
class Adadelta : public torch::optim::Optimizer {
 public:
  explicit Adadelta(std::vector<torch::optim::OptimizerParamGroup> param_groups, AdadeltaOptions defaults = {});
  explicit Adadelta(std::vector<torch::Tensor> params, AdadeltaOptions defaults = {})
      : Adadelta({torch::optim::OptimizerParamGroup(std::move(params))}, defaults) {}

  /// One update of every parameter that has a gradient; returns the closure's loss if given.
  torch::Tensor step(LossClosure closure = nullptr) override;
  /// Writes / reads options and per-parameter state (torch::serialize archives).
  void save(torch::serialize::OutputArchive& archive) const override;
  void load(torch::serialize::InputArchive& archive) override;

 private:
  template <typename Self, typename Archive>
  static void serialize(Self& self, Archive& archive) {
    _TORCH_OPTIM_SERIALIZE_WITH_TEMPLATE_ARG(Adadelta);
  }
};

}  // namespace img2img
