#include "img2img/train/optim/asgd.h"

#include <torch/serialize/archive.h>  // torch::serialize::{Input,Output}Archive

#include <algorithm>  // std::max
#include <cmath>      // std::pow

#include "img2img/core/torch_compat.h"

namespace img2img {

AsgdOptions::AsgdOptions(double lr) : lr_(lr) {}

bool operator==(const AsgdOptions& lhs, const AsgdOptions& rhs) {
  return lhs.lr() == rhs.lr() && lhs.lambd() == rhs.lambd() && lhs.alpha() == rhs.alpha() && lhs.t0() == rhs.t0() &&
         lhs.weight_decay() == rhs.weight_decay();
}

void AsgdOptions::serialize(torch::serialize::OutputArchive& archive) const {
  _TORCH_OPTIM_SERIALIZE_TORCH_ARG(lr);
  _TORCH_OPTIM_SERIALIZE_TORCH_ARG(lambd);
  _TORCH_OPTIM_SERIALIZE_TORCH_ARG(alpha);
  _TORCH_OPTIM_SERIALIZE_TORCH_ARG(t0);
  _TORCH_OPTIM_SERIALIZE_TORCH_ARG(weight_decay);
}

void AsgdOptions::serialize(torch::serialize::InputArchive& archive) {
  _TORCH_OPTIM_DESERIALIZE_TORCH_ARG(double, lr);
  _TORCH_OPTIM_DESERIALIZE_TORCH_ARG(double, lambd);
  _TORCH_OPTIM_DESERIALIZE_TORCH_ARG(double, alpha);
  _TORCH_OPTIM_DESERIALIZE_TORCH_ARG(double, t0);
  _TORCH_OPTIM_DESERIALIZE_TORCH_ARG(double, weight_decay);
}

double AsgdOptions::get_lr() const { return lr(); }
void AsgdOptions::set_lr(const double lr) { this->lr(lr); }

bool operator==(const AsgdParamState& lhs, const AsgdParamState& rhs) {
  return torch::equal(lhs.step(), rhs.step()) && torch::equal(lhs.eta(), rhs.eta()) &&
         torch::equal(lhs.mu(), rhs.mu()) && torch::equal(lhs.ax(), rhs.ax());
}

void AsgdParamState::serialize(torch::serialize::OutputArchive& archive) const {
  _TORCH_OPTIM_SERIALIZE_TORCH_ARG(step);
  _TORCH_OPTIM_SERIALIZE_TORCH_ARG(eta);
  _TORCH_OPTIM_SERIALIZE_TORCH_ARG(mu);
  _TORCH_OPTIM_SERIALIZE_TORCH_ARG(ax);
}

void AsgdParamState::serialize(torch::serialize::InputArchive& archive) {
  _TORCH_OPTIM_DESERIALIZE_TORCH_ARG(torch::Tensor, step);
  _TORCH_OPTIM_DESERIALIZE_TORCH_ARG(torch::Tensor, eta);
  _TORCH_OPTIM_DESERIALIZE_TORCH_ARG(torch::Tensor, mu);
  _TORCH_OPTIM_DESERIALIZE_TORCH_ARG(torch::Tensor, ax);
}

Asgd::Asgd(std::vector<torch::optim::OptimizerParamGroup> param_groups, AsgdOptions defaults)
    : Optimizer(std::move(param_groups), std::make_unique<AsgdOptions>(defaults)) {
  TORCH_CHECK(defaults.lr() >= 0, "Invalid learning rate: ", defaults.lr());
  TORCH_CHECK(defaults.weight_decay() >= 0, "Invalid weight_decay value: ", defaults.weight_decay());
}

torch::Tensor Asgd::step(LossClosure closure) {
  torch::NoGradGuard no_grad;
  torch::Tensor loss;
  if (closure != nullptr) {
    at::AutoGradMode enable_grad(true);
    loss = closure();
  }
  // PyTorch keeps step/eta/mu as 0-dim tensors of the default dtype (float32): torch.tensor(x).
  const auto scalar = [](double v) { return torch::tensor(static_cast<float>(v), torch::kFloat32); };
  for (auto& group : param_groups_) {
    const auto& o = static_cast<const AsgdOptions&>(group.options());
    for (auto& p : group.params()) {
      if (!p.grad().defined()) continue;
      torch::Tensor grad = p.grad();
      TORCH_CHECK(!grad.is_sparse(), "ASGD does not support sparse gradients");
      const auto key = compat::optimizer_state_key<decltype(state_)::key_type>(p);
      if (state_.find(key) == state_.end()) {
        auto s = std::make_unique<AsgdParamState>();
        s->step(scalar(0.0));
        s->eta(scalar(o.lr()));
        s->mu(scalar(1.0));
        s->ax(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        state_[key] = std::move(s);
      }
      auto& s = static_cast<AsgdParamState&>(*state_[key]);
      // The same ops, in the same order, as torch/optim/asgd.py _single_tensor_asgd.
      s.step().add_(1);
      const double step = s.step().item<double>();
      if (o.weight_decay() != 0) grad = grad.add(p, o.weight_decay());
      const double eta = s.eta().item<double>();
      p.mul_(1 - o.lambd() * eta);
      p.add_(grad, -eta);
      if (s.mu().item<double>() != 1) {
        s.ax().add_(p.sub(s.ax()).mul(s.mu()));
      } else {
        s.ax().copy_(p);
      }
      s.eta().copy_(scalar(o.lr() / std::pow(1 + o.lambd() * o.lr() * step, o.alpha())));
      s.mu().copy_(scalar(1 / std::max(1.0, step - o.t0())));
    }
  }
  return loss;
}

torch::Tensor Asgd::averaged(const torch::Tensor& param) const {
  const auto it = state_.find(compat::optimizer_state_key<decltype(state_)::key_type>(param));
  if (it == state_.end()) return {};
  return static_cast<const AsgdParamState&>(*it->second).ax();
}

void Asgd::save(torch::serialize::OutputArchive& archive) const { serialize(*this, archive); }
void Asgd::load(torch::serialize::InputArchive& archive) { serialize(*this, archive); }

}  // namespace img2img
