#pragma once
// Averaged SGD (Polyak & Juditsky 1992) for LibTorch 1.13, whose C++ API lacks it. Numerically the
// same as PyTorch 1.13's torch.optim.ASGD single-tensor path (foreach=False), including its float32
// scalar state (step, eta, mu); checked by tests/unit/train/optim_test.cpp.

#include <torch/optim/optimizer.h>  // torch::optim::Optimizer
#include <torch/optim/serialize.h>  // _TORCH_OPTIM_SERIALIZE_WITH_TEMPLATE_ARG

#include <vector>  // std::vector

namespace img2img {

/// Hyper-parameters of ASGD; defaults are torch.optim.ASGD's.
///
/// Example:
///   Asgd opt(model->parameters(), AsgdOptions(/*lr=*/1e-2).t0(1e6));
struct AsgdOptions : public torch::optim::OptimizerCloneableOptions<AsgdOptions> {
  AsgdOptions(double lr = 1e-2);  // NOLINT: implicit like torch's options
  /// Learning rate (PyTorch default 1e-2; img2img passes train.learning_rate).
  TORCH_ARG(double, lr) = 1e-2;
  /// Decay term (PyTorch: 1e-4).
  TORCH_ARG(double, lambd) = 1e-4;
  /// Power of the eta update (PyTorch: 0.75).
  TORCH_ARG(double, alpha) = 0.75;
  /// Step at which averaging starts (PyTorch: 1e6).
  TORCH_ARG(double, t0) = 1e6;
  /// L2 penalty added to the gradient (PyTorch: 0).
  TORCH_ARG(double, weight_decay) = 0;

 public:
  void serialize(torch::serialize::InputArchive& archive) override;
  void serialize(torch::serialize::OutputArchive& archive) const override;
  friend bool operator==(const AsgdOptions& lhs, const AsgdOptions& rhs);
  double get_lr() const override;
  void set_lr(const double lr) override;
};

/// Per-parameter state: PyTorch's state['step'], ['eta'], ['mu'] (0-dim float32 tensors, as in
/// PyTorch, so rounding matches) and ['ax'] (the averaged parameter, same shape).
struct AsgdParamState : public torch::optim::OptimizerCloneableParamState<AsgdParamState> {
  TORCH_ARG(torch::Tensor, step);  ///< [] float32, steps taken
  TORCH_ARG(torch::Tensor, eta);   ///< [] float32, current step size
  TORCH_ARG(torch::Tensor, mu);    ///< [] float32, averaging weight (1 until t0)
  TORCH_ARG(torch::Tensor, ax);    ///< averaged parameter

 public:
  void serialize(torch::serialize::InputArchive& archive) override;
  void serialize(torch::serialize::OutputArchive& archive) const override;
  friend bool operator==(const AsgdParamState& lhs, const AsgdParamState& rhs);
};

/// ASGD, per step and parameter (PyTorch docs, torch.optim.ASGD):
///   p *= 1 - lambd eta;  p -= eta g;  ax += mu (p - ax) (ax = p while mu = 1);
///   eta = lr / (1 + lambd lr t)^alpha;  mu = 1 / max(1, t - t0).
/// Throws c10::Error (TORCH_CHECK) for a negative lr or weight_decay.
class Asgd : public torch::optim::Optimizer {
 public:
  explicit Asgd(std::vector<torch::optim::OptimizerParamGroup> param_groups, AsgdOptions defaults = {});
  explicit Asgd(std::vector<torch::Tensor> params, AsgdOptions defaults = {})
      : Asgd({torch::optim::OptimizerParamGroup(std::move(params))}, defaults) {}

  /// One update of every parameter that has a gradient; returns the closure's loss if given.
  torch::Tensor step(LossClosure closure = nullptr) override;
  /// Writes / reads options and per-parameter state (torch::serialize archives).
  void save(torch::serialize::OutputArchive& archive) const override;
  void load(torch::serialize::InputArchive& archive) override;

  /// The averaged copy of `param` (PyTorch state['ax']); undefined before its first step.
  torch::Tensor averaged(const torch::Tensor& param) const;

 private:
  template <typename Self, typename Archive>
  static void serialize(Self& self, Archive& archive) {
    _TORCH_OPTIM_SERIALIZE_WITH_TEMPLATE_ARG(Asgd);
  }
};

}  // namespace img2img
