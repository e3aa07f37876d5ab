#pragma once
// Adam with a single fused pass per parameter on the CPU.
//
// LibTorch's torch::optim::Adam updates each parameter with ~7 separate tensor ops (mul_, add_,
// mul_, addcmul_, sqrt, div, add_, addcdiv_), two of which allocate; at pix2pix's unet_256 size
// (57 M parameters) that is ~0.5 s per training step of memory traffic on a 2-core machine. This
// class keeps torch::optim::Adam's options, per-parameter state and serialisation (checkpoints and
// resume are unchanged) and only replaces step() by one loop over the elements that reads p, g, m,
// v once and writes p, m, v once.

#include <torch/optim/adam.h>  // torch::optim::Adam, AdamOptions, AdamParamState

#include <vector>  // std::vector

namespace img2img {

/// torch::optim::Adam with a fused CPU step. The update is PyTorch's (docs, torch.optim.Adam,
/// amsgrad=False; Kingma & Ba 2015), per element, with t = step count:
///   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
///   p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps).
/// Agrees with torch.optim.Adam to float rounding (golden test within 1e-6 relative). Parameters that
/// are not dense contiguous float32 CPU tensors, amsgrad and weight_decay use torch::optim::Adam::step.
class FusedAdam : public torch::optim::Adam {
 public:
  using torch::optim::Adam::Adam;

  /// One update of every parameter that has a gradient; returns the closure's loss if given.
  torch::Tensor step(LossClosure closure = nullptr) override;
};

/// Sets every parameter gradient of `optimizer` to undefined (PyTorch's zero_grad(set_to_none=True),
/// the default since 2.0): the next backward writes the gradient instead of adding to zeros.
void zero_grad_to_none(torch::optim::Optimizer& optimizer);

}  // namespace img2img
