#include "img2img/models/gan_loss.h"

#include <torch/nn/functional/loss.h>  // binary_cross_entropy_with_logits, mse_loss

namespace img2img {

torch::Tensor gan_loss(GanLoss kind, const torch::Tensor& prediction, bool target_is_real) {
  namespace F = torch::nn::functional;
  const torch::Tensor target = torch::full_like(prediction, target_is_real ? 1.0 : 0.0);
  if (kind == GanLoss::kLsgan) return F::mse_loss(prediction, target);
  return F::binary_cross_entropy_with_logits(prediction, target);
}

double discriminator_score(GanLoss kind, const torch::Tensor& prediction) {
  torch::NoGradGuard no_grad;
  if (kind == GanLoss::kLsgan) return prediction.mean().clamp(0.0, 1.0).item<double>();
  return torch::sigmoid(prediction).mean().item<double>();
}

}  // namespace img2img
