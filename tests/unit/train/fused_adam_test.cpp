#include "img2img/train/optim/fused_adam.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "img2img/config/run_config.h"
#include "img2img/train/optimizers.h"  // make_optimizer

namespace img2img {
namespace {

// FusedAdam against LibTorch's torch::optim::Adam (itself checked against Python by the optimiser
// golden test) on tensors large enough for the multi-threaded path, with changing gradients.
TEST(FusedAdamTest, MatchesTorchAdamOnLargeParameters) {
  torch::manual_seed(5);
  const torch::Tensor w0 = torch::randn({300, 700}), b0 = torch::randn({700});
  torch::Tensor w1 = w0.clone().requires_grad_(true), b1 = b0.clone().requires_grad_(true);
  torch::Tensor w2 = w0.clone().requires_grad_(true), b2 = b0.clone().requires_grad_(true);
  const auto options = torch::optim::AdamOptions(2e-3).betas({0.5, 0.999});
  torch::optim::Adam reference({w1, b1}, options);
  FusedAdam fused({w2, b2}, options);
  for (int step = 0; step < 6; ++step) {
    const torch::Tensor target = torch::randn({700});
    for (auto [opt, w, b] : {std::tuple<torch::optim::Optimizer*, torch::Tensor, torch::Tensor>{&reference, w1, b1},
                             {&fused, w2, b2}}) {
      opt->zero_grad();
      ((w.sum(0) * b - target).square().mean()).backward();
      opt->step();
    }
  }
  EXPECT_FALSE(torch::equal(w2, w0));
  EXPECT_LT((w2 - w1).abs().max().item<double>(), 1e-6 * w1.abs().max().item<double>());
  EXPECT_LT((b2 - b1).abs().max().item<double>(), 1e-6 * b1.abs().max().item<double>());
}

TEST(FusedAdamTest, TrainingUsesItForAdam) {
  TrainConfig config;  // train.optimizer = adam by default
  const auto opt = make_optimizer(config, {torch::zeros({2}, torch::requires_grad())});
  EXPECT_NE(dynamic_cast<FusedAdam*>(opt.get()), nullptr);
}

TEST(FusedAdamTest, ZeroGradToNoneClearsGradients) {
  torch::Tensor w = torch::ones({3}, torch::requires_grad());
  FusedAdam opt({w}, torch::optim::AdamOptions(0.1));
  (w * 2).sum().backward();
  ASSERT_TRUE(w.grad().defined());
  zero_grad_to_none(opt);
  EXPECT_FALSE(w.grad().defined());
  (w * 3).sum().backward();  // written fresh, not accumulated onto the old gradient
  EXPECT_TRUE(torch::allclose(w.grad(), torch::full({3}, 3.0)));
}

}  // namespace
}  // namespace img2img
