#include "img2img/train/optim/fused_adam.h"

#include <ATen/Parallel.h>       // at::parallel_for
#include <torch/utils.h>         // torch::NoGradGuard

#include <cmath>  // std::pow, std::sqrt
#include <cstdint>  // int64_t

#include "img2img/core/torch_compat.h"

namespace img2img {
namespace {

// One Adam update of elements [begin, end): m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
// p -= step_size * m / (sqrt(v) / sqrt(bc2) + eps), as torch/optim/_functional.py adam() computes it.
// Memory-bound (7 floats moved per element), so it is compiled for AVX2 as well as the baseline and
// picked at load time (GCC function multi-versioning); this file is built with -fno-math-errno so that
// sqrt vectorises, and with -ffp-contract=off (CMakeLists.txt; GCC contracts to FMA by default even in
// ISO C++ mode): every operation is then correctly rounded and none fused, so both versions give
// identical bits.
__attribute__((target_clones("avx2", "default"))) void adam_update(
    float* __restrict__ pd, const float* __restrict__ gd, float* __restrict__ md, float* __restrict__ vd,
    int64_t begin, int64_t end, float b1, float one_minus_b1, float b2, float one_minus_b2, float inv_sqrt_bc2,
    float eps, float step_size) {
  for (int64_t i = begin; i < end; ++i) {
    const float g = gd[i];
    const float m = md[i] * b1 + one_minus_b1 * g;
    const float v = vd[i] * b2 + one_minus_b2 * g * g;
    md[i] = m;
    vd[i] = v;
    pd[i] -= step_size * (m / (std::sqrt(v) * inv_sqrt_bc2 + eps));
  }
}

bool fusable(const torch::Tensor& p) {
  const auto& g = p.grad();
  return p.device().is_cpu() && p.scalar_type() == torch::kFloat && p.is_contiguous() && !g.is_sparse() &&
         g.scalar_type() == torch::kFloat && g.is_contiguous() && g.device().is_cpu();
}

}  // namespace

torch::Tensor FusedAdam::step(LossClosure closure) {
  // Anything the fused loop does not cover goes to LibTorch's implementation, whole.
  for (auto& group : param_groups_) {
    const auto& o = static_cast<const torch::optim::AdamOptions&>(group.options());
    if (o.amsgrad() || o.weight_decay() != 0) return torch::optim::Adam::step(closure);
    for (auto& p : group.params())
      if (p.grad().defined() && !fusable(p)) return torch::optim::Adam::step(closure);
  }
  torch::NoGradGuard no_grad;
  torch::Tensor loss;
  if (closure != nullptr) {
    at::AutoGradMode enable_grad(true);
    loss = closure();
  }
  for (auto& group : param_groups_) {
    const auto& o = static_cast<const torch::optim::AdamOptions&>(group.options());
    const double beta1 = std::get<0>(o.betas()), beta2 = std::get<1>(o.betas());
    for (auto& p : group.params()) {
      if (!p.grad().defined()) continue;
      const auto key = compat::optimizer_state_key<decltype(state_)::key_type>(p);
      if (state_.find(key) == state_.end()) {
        auto s = std::make_unique<torch::optim::AdamParamState>();
        s->step(0);
        s->exp_avg(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        s->exp_avg_sq(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        state_[key] = std::move(s);
      }
      auto& s = static_cast<torch::optim::AdamParamState&>(*state_[key]);
      s.step(s.step() + 1);
      // Scalars as torch/optim/adam.py computes them (Python floats = double), then float.
      const double bias_correction1 = 1 - std::pow(beta1, static_cast<double>(s.step()));
      const double bias_correction2 = 1 - std::pow(beta2, static_cast<double>(s.step()));
      const float b1 = static_cast<float>(beta1), one_minus_b1 = static_cast<float>(1 - beta1);
      const float b2 = static_cast<float>(beta2), one_minus_b2 = static_cast<float>(1 - beta2);
      const float inv_sqrt_bc2 = static_cast<float>(1 / std::sqrt(bias_correction2));
      const float eps = static_cast<float>(o.eps());
      const float step_size = static_cast<float>(o.lr() / bias_correction1);
      float* pd = p.data_ptr<float>();
      const float* gd = p.grad().data_ptr<float>();
      float* md = s.exp_avg().data_ptr<float>();
      float* vd = s.exp_avg_sq().data_ptr<float>();
      at::parallel_for(0, p.numel(), 1 << 15, [&](int64_t begin, int64_t end) {
        adam_update(pd, gd, md, vd, begin, end, b1, one_minus_b1, b2, one_minus_b2, inv_sqrt_bc2, eps, step_size);
      });
    }
  }
  return loss;
}

void zero_grad_to_none(torch::optim::Optimizer& optimizer) {
  for (auto& group : optimizer.param_groups())
    for (auto& p : group.params())
      if (p.grad().defined()) p.mutable_grad() = torch::Tensor();
}

}  // namespace img2img
